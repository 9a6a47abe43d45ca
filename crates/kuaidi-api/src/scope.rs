//! What the reporting routes (indicators, compliance, alerts) let a caller see: a carrier key only its own carrier,
//! a regulator key only its jurisdiction, an admin everything.
//!
//! **Invariant**: every figure or alert these routes answer went through [`carrier_scope`] and one of the area
//! scopes here; a handler never builds a store filter from the query string alone.

use kuaidi_model::{AdminCode, CarrierCode, Role};

use crate::auth::Caller;
use crate::error::{ApiError, Code};

/// The carrier a query may name: a carrier key is held to its own carrier (naming another is `forbidden`); other
/// roles take what they asked for.
pub(crate) fn carrier_scope(caller: &Caller, asked: Option<CarrierCode>) -> Result<Option<CarrierCode>, ApiError> {
    match &caller.role {
        Role::Carrier { carrier } => match asked {
            Some(asked) if asked != *carrier => Err(ApiError::new(
                Code::Forbidden,
                format!(
                    "Key `{}` belongs to carrier `{carrier}` and may not read the figures of carrier `{asked}`.",
                    caller.key_id
                ),
            )),
            _ => Ok(Some(carrier.clone())),
        },
        Role::Admin | Role::Regulator { .. } => Ok(asked),
    }
}

fn outside(caller: &Caller, name: &str, area: AdminCode, jurisdiction: &[AdminCode]) -> ApiError {
    let codes: Vec<String> = jurisdiction.iter().map(|code| format!("`{code}`")).collect();
    ApiError::new(
        Code::Forbidden,
        format!(
            "The query parameter `{name}` is `{area}`, outside the jurisdiction of key `{}` ({}).",
            caller.key_id,
            codes.join(", ")
        ),
    )
}

/// The one region of the indicator cube a caller may slice. A regulator with one area is held to it (a narrower
/// region inside it is allowed); a regulator with several must name one region inside them, because summing
/// several regions would count twice the parcels that travel between them.
pub(crate) fn region_scope(caller: &Caller, asked: Option<AdminCode>) -> Result<Option<AdminCode>, ApiError> {
    let Role::Regulator { jurisdiction } = &caller.role else {
        return Ok(asked);
    };
    match (asked, jurisdiction.as_slice()) {
        (Some(region), areas) => {
            if areas.iter().any(|area| area.contains(region)) {
                Ok(Some(region))
            } else {
                Err(outside(caller, "region", region, jurisdiction))
            }
        }
        (None, [only]) => Ok(Some(*only)),
        (None, areas) => {
            let codes: Vec<String> = areas.iter().map(|code| format!("`{code}`")).collect();
            Err(ApiError::new(
                Code::RegionRequired,
                format!(
                    "Key `{}` covers several areas ({}); indicators are answered for one region at a time, since \
                     summing regions would count twice the parcels that travel between them.\n\
                     Hint: add `region=` with one of them, or a division inside one.",
                    caller.key_id,
                    codes.join(", ")
                ),
            ))
        }
    }
}

/// The areas a list (coverage rows, alerts) is limited to: a regulator's jurisdiction, or the one area it asked for
/// inside it; for other roles the area asked for, if any. Empty means anywhere.
pub(crate) fn areas_scope(caller: &Caller, asked: Option<AdminCode>) -> Result<Vec<AdminCode>, ApiError> {
    match (&caller.role, asked) {
        (Role::Regulator { jurisdiction }, Some(area)) => {
            if jurisdiction.iter().any(|own| own.contains(area)) {
                Ok(vec![area])
            } else {
                Err(outside(caller, "area", area, jurisdiction))
            }
        }
        (Role::Regulator { jurisdiction }, None) => Ok(jurisdiction.clone()),
        (_, asked) => Ok(asked.into_iter().collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role) -> Caller {
        Caller { key_id: "key_test".into(), role }
    }

    fn code(text: &str) -> AdminCode {
        AdminCode::parse(text).unwrap()
    }

    #[test]
    fn carriers_are_held_to_their_own() {
        let yto = CarrierCode::parse("yto").unwrap();
        let sf = CarrierCode::parse("sf").unwrap();
        let carrier = caller(Role::Carrier { carrier: yto.clone() });
        assert_eq!(carrier_scope(&carrier, None).unwrap(), Some(yto.clone()));
        assert_eq!(carrier_scope(&carrier, Some(yto.clone())).unwrap(), Some(yto.clone()));
        assert_eq!(carrier_scope(&carrier, Some(sf.clone())).unwrap_err().code, Code::Forbidden);
        assert_eq!(carrier_scope(&caller(Role::Admin), Some(sf.clone())).unwrap(), Some(sf));
        assert_eq!(carrier_scope(&caller(Role::Admin), None).unwrap(), None);
    }

    #[test]
    fn regulators_are_held_to_their_jurisdiction() {
        let one = caller(Role::Regulator { jurisdiction: vec![code("320000")] });
        assert_eq!(region_scope(&one, None).unwrap(), Some(code("320000")));
        assert_eq!(region_scope(&one, Some(code("320500"))).unwrap(), Some(code("320500")));
        assert_eq!(region_scope(&one, Some(code("310000"))).unwrap_err().code, Code::Forbidden);
        let two = caller(Role::Regulator { jurisdiction: vec![code("320000"), code("330000")] });
        assert_eq!(region_scope(&two, None).unwrap_err().code, Code::RegionRequired);
        assert_eq!(region_scope(&two, Some(code("330100"))).unwrap(), Some(code("330100")));
        assert_eq!(areas_scope(&two, None).unwrap(), vec![code("320000"), code("330000")]);
        assert_eq!(areas_scope(&two, Some(code("330100"))).unwrap(), vec![code("330100")]);
        assert!(areas_scope(&two, Some(code("310000"))).unwrap_err().message.contains("`area`"));
        assert_eq!(areas_scope(&caller(Role::Admin), None).unwrap(), vec![]);
        assert_eq!(region_scope(&caller(Role::Admin), None).unwrap(), None);
    }
}
