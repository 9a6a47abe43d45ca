//! The vocabularies an EPCIS event is checked against: CBV 2.0 business steps, dispositions and the other bare-word
//! value lists, and Kuaidi's extension vocabulary for what CBV lacks (delivered, lost, out for delivery, into locker).
//!
//! A value is either a bare CBV word (`shipping`), a CBV URN (`urn:epcglobal:cbv:bizstep:shipping`), a CBV web URI
//! (`https://ref.gs1.org/cbv/BizStep-shipping`), or any other absolute URI (a private vocabulary such as Kuaidi's).

use kuaidi_model::EventKind;

/// Kuaidi's extension vocabulary namespace, published as a JSON-LD context by the API.
pub const KUAIDI_NS: &str = "https://kuaidi.example/voc/";

/// The prefix Kuaidi uses for its namespace in the documents it writes.
pub const KUAIDI_PREFIX: &str = "kd";

/// CBV 2.0 business steps, as bare words.
pub const CBV_BIZ_STEPS: &[&str] = &[
    "accepting",
    "arriving",
    "assembling",
    "collecting",
    "commissioning",
    "consigning",
    "creating_class_instance",
    "cycle_counting",
    "decommissioning",
    "departing",
    "destroying",
    "disassembling",
    "dispensing",
    "encoding",
    "entering_exiting",
    "holding",
    "inspecting",
    "installing",
    "killing",
    "loading",
    "other",
    "packing",
    "picking",
    "receiving",
    "removing",
    "repackaging",
    "repairing",
    "replacing",
    "reserving",
    "retail_selling",
    "shipping",
    "staging_outbound",
    "stock_taking",
    "stocking",
    "storing",
    "transporting",
    "unloading",
    "unpacking",
    "void_shipping",
    "sensor_reporting",
    "sampling",
];

/// CBV 2.0 dispositions, as bare words.
pub const CBV_DISPOSITIONS: &[&str] = &[
    "active",
    "container_closed",
    "damaged",
    "destroyed",
    "dispensed",
    "disposed",
    "encoded",
    "expired",
    "in_progress",
    "in_transit",
    "inactive",
    "no_pedigree_match",
    "non_sellable_other",
    "partially_dispensed",
    "recalled",
    "reserved",
    "retail_sold",
    "returned",
    "sellable_accessible",
    "sellable_not_accessible",
    "stolen",
    "unknown",
    "available",
    "completeness_verified",
    "completeness_inferred",
    "conformant",
    "container_open",
    "mismatch_instance",
    "mismatch_class",
    "mismatch_quantity",
    "needs_replacement",
    "non_conformant",
    "unavailable",
];

/// CBV 2.0 business transaction types.
pub const CBV_BIZ_TRANSACTION_TYPES: &[&str] = &[
    "bol",
    "cert",
    "desadv",
    "inv",
    "pedigree",
    "po",
    "poc",
    "prodorder",
    "recadv",
    "rma",
    "testprd",
    "testres",
    "upevt",
];

/// CBV 2.0 source and destination types.
pub const CBV_SOURCE_DEST_TYPES: &[&str] = &["owning_party", "possessing_party", "location"];

/// CBV 2.0 error reasons.
pub const CBV_ERROR_REASONS: &[&str] = &["did_not_occur", "incorrect_data"];

/// Kuaidi's business steps, for steps of express delivery that CBV has no word for.
pub const KUAIDI_BIZ_STEPS: &[&str] = &["security_scanning", "out_for_delivery", "into_locker", "delivering"];

/// Kuaidi's dispositions.
pub const KUAIDI_DISPOSITIONS: &[&str] = &["delivered", "refused", "lost", "exception"];

/// One of the CBV value lists that bare words are checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VocabKind {
    /// `bizStep`.
    BizStep,
    /// `disposition` and `persistentDisposition`.
    Disposition,
    /// The `type` of a business transaction.
    BizTransactionType,
    /// The `type` of a source or destination.
    SourceDestType,
    /// The `reason` of an error declaration.
    ErrorReason,
}

impl VocabKind {
    /// The bare words CBV defines for this list.
    pub fn words(self) -> &'static [&'static str] {
        match self {
            VocabKind::BizStep => CBV_BIZ_STEPS,
            VocabKind::Disposition => CBV_DISPOSITIONS,
            VocabKind::BizTransactionType => CBV_BIZ_TRANSACTION_TYPES,
            VocabKind::SourceDestType => CBV_SOURCE_DEST_TYPES,
            VocabKind::ErrorReason => CBV_ERROR_REASONS,
        }
    }

    /// The URN prefix of the list (`urn:epcglobal:cbv:bizstep:`).
    pub fn urn_prefix(self) -> &'static str {
        match self {
            VocabKind::BizStep => "urn:epcglobal:cbv:bizstep:",
            VocabKind::Disposition => "urn:epcglobal:cbv:disp:",
            VocabKind::BizTransactionType => "urn:epcglobal:cbv:btt:",
            VocabKind::SourceDestType => "urn:epcglobal:cbv:sdt:",
            VocabKind::ErrorReason => "urn:epcglobal:cbv:er:",
        }
    }

    /// The web URI prefix of the list (`https://ref.gs1.org/cbv/BizStep-`).
    pub fn web_prefix(self) -> &'static str {
        match self {
            VocabKind::BizStep => "https://ref.gs1.org/cbv/BizStep-",
            VocabKind::Disposition => "https://ref.gs1.org/cbv/Disp-",
            VocabKind::BizTransactionType => "https://ref.gs1.org/cbv/BTT-",
            VocabKind::SourceDestType => "https://ref.gs1.org/cbv/SDT-",
            VocabKind::ErrorReason => "https://ref.gs1.org/cbv/ER-",
        }
    }

    /// Kuaidi's URI prefix for its own words of this list, if it defines any.
    pub fn kuaidi_prefix(self) -> Option<&'static str> {
        match self {
            VocabKind::BizStep => Some("https://kuaidi.example/voc/BizStep-"),
            VocabKind::Disposition => Some("https://kuaidi.example/voc/Disp-"),
            _ => None,
        }
    }

    /// A short description for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            VocabKind::BizStep => "a CBV business step",
            VocabKind::Disposition => "a CBV disposition",
            VocabKind::BizTransactionType => "a CBV business transaction type",
            VocabKind::SourceDestType => "a CBV source or destination type",
            VocabKind::ErrorReason => "a CBV error reason",
        }
    }
}

/// A vocabulary value with its CBV word resolved, when it is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VocabValue {
    /// A CBV word, however it was written.
    Cbv(&'static str),
    /// A Kuaidi extension word.
    Kuaidi(&'static str),
    /// Any other URI, kept as written.
    Other(String),
}

impl VocabValue {
    /// The value as a URN for CBV words (the form the GS1 event hash uses), as a URI otherwise.
    pub fn canonical(&self, kind: VocabKind) -> String {
        match self {
            VocabValue::Cbv(word) => format!("{}{word}", kind.urn_prefix()),
            VocabValue::Kuaidi(word) => format!("{}{word}", kind.kuaidi_prefix().unwrap_or(KUAIDI_NS)),
            VocabValue::Other(uri) => uri.clone(),
        }
    }
}

/// Resolves a vocabulary value whose CURIE prefixes are already expanded.
///
/// Returns `Err` with the reason when it is a bare word CBV does not define, or a CBV URI with an unknown word.
pub fn resolve(kind: VocabKind, value: &str) -> Result<VocabValue, String> {
    let find = |word: &str| kind.words().iter().copied().find(|w| *w == word);
    let unknown = || {
        format!(
            "is not {}; a bare word must be one of CBV's ({}), and a private value must be an absolute URI",
            kind.describe(),
            kind.words().join(", ")
        )
    };
    if let Some(word) = value.strip_prefix(kind.urn_prefix()).or_else(|| value.strip_prefix(kind.web_prefix())) {
        return find(word).map(VocabValue::Cbv).ok_or_else(unknown);
    }
    if let Some(word) = kind.kuaidi_prefix().and_then(|prefix| value.strip_prefix(prefix)) {
        let words = match kind {
            VocabKind::BizStep => KUAIDI_BIZ_STEPS,
            _ => KUAIDI_DISPOSITIONS,
        };
        return words
            .iter()
            .copied()
            .find(|w| *w == word)
            .map(VocabValue::Kuaidi)
            .ok_or_else(|| format!("is not a word of Kuaidi's vocabulary; Kuaidi defines {}", words.join(", ")));
    }
    if !value.contains(':') {
        return find(value).map(VocabValue::Cbv).ok_or_else(unknown);
    }
    Ok(VocabValue::Other(value.to_owned()))
}

/// The business step and disposition Kuaidi writes for an event kind.
pub fn kind_to_vocab(kind: EventKind) -> (VocabValue, Option<VocabValue>) {
    use VocabValue::{Cbv, Kuaidi};
    match kind {
        EventKind::Accept => (Cbv("accepting"), Some(Cbv("in_progress"))),
        EventKind::Inspect => (Cbv("inspecting"), Some(Cbv("in_progress"))),
        EventKind::SecurityScan => (Kuaidi("security_scanning"), Some(Cbv("in_progress"))),
        EventKind::Depart => (Cbv("departing"), Some(Cbv("in_transit"))),
        EventKind::Arrive => (Cbv("arriving"), Some(Cbv("in_progress"))),
        EventKind::OutForDelivery => (Kuaidi("out_for_delivery"), Some(Cbv("in_transit"))),
        EventKind::IntoLocker => (Kuaidi("into_locker"), Some(Cbv("sellable_accessible"))),
        EventKind::Delivered => (Kuaidi("delivering"), Some(Kuaidi("delivered"))),
        EventKind::Refused => (Kuaidi("delivering"), Some(Kuaidi("refused"))),
        EventKind::Returned => (Cbv("departing"), Some(Cbv("returned"))),
        EventKind::Exception => (Cbv("holding"), Some(Kuaidi("exception"))),
        EventKind::Damaged => (Cbv("inspecting"), Some(Cbv("damaged"))),
        EventKind::Lost => (Cbv("holding"), Some(Kuaidi("lost"))),
    }
}

/// The event kind of a business step and disposition: the disposition decides first, because it says what became
/// of the parcel (a damage found while inspecting is a damage), then the business step.
pub fn vocab_to_kind(biz_step: Option<&VocabValue>, disposition: Option<&VocabValue>) -> Option<EventKind> {
    use VocabValue::{Cbv, Kuaidi};
    let by_disposition = match disposition {
        Some(Kuaidi("lost")) => Some(EventKind::Lost),
        Some(Cbv("damaged")) => Some(EventKind::Damaged),
        Some(Kuaidi("refused")) => Some(EventKind::Refused),
        Some(Cbv("returned")) => Some(EventKind::Returned),
        Some(Kuaidi("exception")) => Some(EventKind::Exception),
        Some(Kuaidi("delivered")) => Some(EventKind::Delivered),
        _ => None,
    };
    by_disposition.or(match biz_step {
        Some(Cbv("accepting")) => Some(EventKind::Accept),
        Some(Cbv("inspecting")) => Some(EventKind::Inspect),
        Some(Kuaidi("security_scanning")) => Some(EventKind::SecurityScan),
        Some(Cbv("departing" | "shipping")) => Some(EventKind::Depart),
        Some(Cbv("arriving" | "receiving")) => Some(EventKind::Arrive),
        Some(Kuaidi("out_for_delivery")) => Some(EventKind::OutForDelivery),
        Some(Kuaidi("into_locker")) => Some(EventKind::IntoLocker),
        Some(Kuaidi("delivering")) => Some(EventKind::Delivered),
        _ => None,
    })
}

/// The JSON-LD context that publishes Kuaidi's vocabulary, served by the API at `/v1/epcis/context/kuaidi.jsonld`.
pub fn kuaidi_context() -> serde_json::Value {
    let mut context = serde_json::Map::new();
    context.insert(KUAIDI_PREFIX.into(), KUAIDI_NS.into());
    for (name, description) in [
        ("carrier", "the carrier code of the parcel"),
        ("waybillNo", "the waybill number of the parcel"),
        ("eventId", "the carrier's id of the scan event"),
        ("facility", "the Kuaidi facility code where the event happened"),
        ("operator", "the courier or employee id"),
        ("vehicle", "the vehicle plate or flight number"),
        ("nextFacility", "for a departure, the facility the parcel is bound for"),
        ("exceptionCode", "the carrier's problem code"),
        ("signer", "for a delivery: self, locker, station or other"),
    ] {
        context.insert(
            name.into(),
            serde_json::json!({ "@id": format!("{KUAIDI_NS}{name}"), "rdfs:comment": description }),
        );
    }
    for word in KUAIDI_BIZ_STEPS {
        context.insert(format!("BizStep-{word}"), format!("{KUAIDI_NS}BizStep-{word}").into());
    }
    for word in KUAIDI_DISPOSITIONS {
        context.insert(format!("Disp-{word}"), format!("{KUAIDI_NS}Disp-{word}").into());
    }
    context.insert("rdfs".into(), "http://www.w3.org/2000/01/rdf-schema#".into());
    serde_json::json!({ "@context": context })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_the_vocabulary() {
        for kind in EventKind::ALL {
            let (biz_step, disposition) = kind_to_vocab(kind);
            assert_eq!(vocab_to_kind(Some(&biz_step), disposition.as_ref()), Some(kind), "{kind:?}");
        }
    }

    #[test]
    fn values_resolve_in_every_spelling() {
        let check = |value: &str, expected: Result<VocabValue, ()>| {
            assert_eq!(resolve(VocabKind::BizStep, value).map_err(|_| ()), expected, "{value}");
        };
        check("shipping", Ok(VocabValue::Cbv("shipping")));
        check("urn:epcglobal:cbv:bizstep:shipping", Ok(VocabValue::Cbv("shipping")));
        check("https://ref.gs1.org/cbv/BizStep-shipping", Ok(VocabValue::Cbv("shipping")));
        check("https://kuaidi.example/voc/BizStep-into_locker", Ok(VocabValue::Kuaidi("into_locker")));
        check("https://example.com/steps/x", Ok(VocabValue::Other("https://example.com/steps/x".into())));
        check("transforming", Err(()));
        check("urn:epcglobal:cbv:bizstep:teleporting", Err(()));
        check("https://kuaidi.example/voc/BizStep-flying", Err(()));
        assert!(resolve(VocabKind::Disposition, "in_transport").is_err());
    }
}
