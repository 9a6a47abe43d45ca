//! Each compliance rule with passing, failing and pending chains, and permutation invariance.

use proptest::prelude::*;

use super::*;
use crate::test_support::{chain, registry, waybill, CLEAN};

fn render(outcome: &Outcome) -> String {
    let events: Vec<&str> = outcome.events().iter().map(EventId::as_str).collect();
    match outcome.reason() {
        Some(reason) => format!("{} {reason} [{}]", outcome.status(), events.join(" ")),
        None => format!("{} [{}]", outcome.status(), events.join(" ")),
    }
}

/// Checks one chain; `real_name` as in `test_support::waybill`, `None` inside `Some` for a missing waybill.
fn check(real_name: Option<Option<bool>>, events: &str, expected: [&str; 3]) {
    let waybill = real_name.map(|real_name| waybill(real_name, "服装", "T恤 1件"));
    let res = check_compliance(waybill.as_ref(), &chain(events), &registry());
    let actual = [render(&res.real_name), render(&res.inspection), render(&res.security_scan)];
    assert_eq!(actual, expected.map(str::to_owned), "chain: {events}");
}

#[test]
fn clean_chain_passes_all_three() {
    check(Some(Some(true)), CLEAN, ["passed [e1]", "passed [e2]", "passed [e5]"]);
}

#[test]
fn real_name_rules() {
    check(Some(None), CLEAN, ["failed real_name_missing [e1]", "passed [e2]", "passed [e5]"]);
    check(Some(Some(false)), CLEAN, ["failed real_name_unverified [e1]", "passed [e2]", "passed [e5]"]);
    check(None, CLEAN, ["pending waybill_missing []", "passed [e2]", "passed [e5]"]);
    // Without an accept scan, the earliest scan stands for acceptance.
    check(
        Some(None),
        "depart OUT-SZ 60 >SC-SZ",
        ["failed real_name_missing [e1]", "failed inspection_missing [e1]", "pending not_past_sorting_centre []"],
    );
    check(Some(Some(true)), "", ["pending not_accepted []", "pending not_accepted []", "pending not_accepted []"]);
}

#[test]
fn inspection_rules() {
    let missing = "accept OUT-SZ 0; depart OUT-SZ 60 >SC-SZ; arrive SC-SZ 110; security_scan SC-SZ 125";
    check(Some(Some(true)), missing, ["passed [e1]", "failed inspection_missing [e2]", "passed [e4]"]);
    let late = "accept OUT-SZ 0; depart OUT-SZ 60 >SC-SZ; arrive SC-SZ 110; inspect SC-SZ 115";
    check(
        Some(Some(true)),
        late,
        ["passed [e1]", "failed inspection_after_departure [e2 e4]", "pending not_past_sorting_centre []"],
    );
    // Inspected a minute before the accept scan, at the same outlet: still at acceptance.
    check(
        Some(Some(true)),
        "inspect OUT-SZ -1; accept OUT-SZ 0",
        ["passed [e2]", "passed [e1]", "pending not_past_sorting_centre []"],
    );
    // Not moved, not inspected: undecided.
    check(
        Some(Some(true)),
        "accept OUT-SZ 0",
        ["passed [e1]", "pending not_departed []", "pending not_past_sorting_centre []"],
    );
    // Inspected in the same second as the departure: in order.
    check(
        Some(Some(true)),
        "accept OUT-SZ 0; depart OUT-SZ 60 >SC-SZ; inspect OUT-SZ 60",
        ["passed [e1]", "passed [e3]", "pending not_past_sorting_centre []"],
    );
    // A scan at another facility is a move even without a departure scan.
    check(
        Some(Some(true)),
        "accept OUT-SZ 0; arrive SC-SZ 110",
        ["passed [e1]", "failed inspection_missing [e2]", "pending not_past_sorting_centre []"],
    );
    // Inspected only at the sorting centre, with no departure scan: the inspection is itself the move.
    check(
        Some(Some(true)),
        "accept OUT-SZ 0; inspect SC-SZ 115",
        ["passed [e1]", "failed inspection_after_departure [e2]", "pending not_past_sorting_centre []"],
    );
    // Delivered straight from the outlet without inspection.
    check(
        Some(Some(true)),
        "accept OUT-SZ 0; out_for_delivery OUT-SZ 30",
        ["passed [e1]", "failed inspection_missing [e2]", "failed security_scan_missing [e2]"],
    );
}

#[test]
fn security_scan_rules() {
    let missing = "accept OUT-SZ 0; inspect OUT-SZ 3; depart OUT-SZ 60 >SC-SZ; arrive SC-SZ 110; \
                   depart SC-SZ 180 >HUB-SH; arrive HUB-SH 300";
    check(Some(Some(true)), missing, ["passed [e1]", "passed [e2]", "failed security_scan_missing [e5]"]);
    let late = "accept OUT-SZ 0; inspect OUT-SZ 3; depart OUT-SZ 60 >SC-SZ; arrive SC-SZ 110; \
                depart SC-SZ 180 >HUB-SH; arrive HUB-SH 300; security_scan HUB-SH 310";
    check(Some(Some(true)), late, ["passed [e1]", "passed [e2]", "failed security_scan_after_departure [e5 e7]"]);
    // At the first sorting centre and not yet departed: undecided.
    let waiting = "accept OUT-SZ 0; inspect OUT-SZ 3; depart OUT-SZ 60 >SC-SZ; arrive SC-SZ 110";
    check(Some(Some(true)), waiting, ["passed [e1]", "passed [e2]", "pending not_past_sorting_centre []"]);
    // Left the sorting centre without a departure scan: the next scan elsewhere decides.
    let no_depart = "accept OUT-SZ 0; inspect OUT-SZ 3; depart OUT-SZ 60 >SC-SZ; arrive SC-SZ 110; \
                     arrive HUB-SH 300";
    check(Some(Some(true)), no_depart, ["passed [e1]", "passed [e2]", "failed security_scan_missing [e5]"]);
    // Left the sorting centre unscanned; a scan at the hub in the very second of arrival is still after leaving.
    // (In that second the scan sorts before the arrival, so the scan itself is the first event elsewhere.)
    let same_second = "accept OUT-SZ 0; inspect OUT-SZ 3; depart OUT-SZ 60 >SC-SZ; arrive SC-SZ 110; \
                       arrive HUB-SH 300; security_scan HUB-SH 300";
    check(Some(Some(true)), same_second, ["passed [e1]", "passed [e2]", "failed security_scan_after_departure [e6]"]);
    // Scanned at the outlet before leaving: earlier than required, passes.
    let at_outlet = "accept OUT-SZ 0; inspect OUT-SZ 3; security_scan OUT-SZ 10; depart OUT-SZ 60 >SC-SZ; \
                     arrive SC-SZ 110; depart SC-SZ 180 >HUB-SH";
    check(Some(Some(true)), at_outlet, ["passed [e1]", "passed [e2]", "passed [e3]"]);
    // A first facility unknown to the reference is not a sorting centre; the hub after it is.
    let unknown = "accept OUT-SZ 0; inspect OUT-SZ 3; depart OUT-SZ 60; arrive XX-1 100; depart XX-1 130; \
                   arrive HUB-SH 300; security_scan HUB-SH 320; depart HUB-SH 400";
    check(Some(Some(true)), unknown, ["passed [e1]", "passed [e2]", "passed [e7]"]);
}

fn arbitrary_chain() -> impl Strategy<Value = Vec<ScanEvent>> {
    let kinds = prop::sample::select(EventKind::ALL.to_vec());
    let facilities = prop::sample::select(vec!["OUT-SZ", "SC-SZ", "HUB-SH", "SC-HZ", "OUT-HZ", "XX-9"]);
    prop::collection::vec((kinds, facilities, 0i64..2000), 0..14).prop_map(|items| {
        let text: Vec<String> =
            items.iter().map(|(kind, facility, minutes)| format!("{} {facility} {minutes}", kind.as_str())).collect();
        chain(&text.join(";"))
    })
}

proptest! {
    #[test]
    fn permutation_and_repeats_do_not_change_the_outcome(
        events in arbitrary_chain(),
        seed in any::<u64>(),
        real_name in prop::option::of(prop::option::of(any::<bool>())),
    ) {
        let waybill = real_name.map(|r| waybill(r, "服装", "T恤 1件"));
        let reference = registry();
        let expected = check_compliance(waybill.as_ref(), &events, &reference);
        let mut shuffled = events.clone();
        // A deterministic shuffle from the seed, then every third event repeated.
        let mut state = seed | 1;
        for idx in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(idx, (state % (idx as u64 + 1)) as usize);
        }
        let repeats: Vec<ScanEvent> = shuffled.iter().step_by(3).cloned().collect();
        shuffled.extend(repeats);
        prop_assert_eq!(check_compliance(waybill.as_ref(), &shuffled, &reference), expected);
    }
}
