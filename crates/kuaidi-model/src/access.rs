//! Who may see and write what: the roles behind API keys and the visibility rule for parcels.
//!
//! A carrier sees and writes only its own carrier's data. A regulator sees every carrier's parcels that touch its
//! jurisdiction: the sender's or receiver's division, or any facility the parcel was scanned at, lies inside one of
//! the jurisdiction's division codes. An admin sees everything. Only admins and regulators may reveal personal data.

use std::fmt;

use crate::{AdminCode, CarrierCode, InvalidValue};

/// The role an API key acts in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Runs the hub: every record, every key.
    Admin,
    /// A postal administration (邮政管理局) limited to its divisions (provinces, cities or counties).
    Regulator {
        /// Division codes; a province code covers the whole province.
        jurisdiction: Vec<AdminCode>,
    },
    /// A carrier's head office, bound to one carrier.
    Carrier {
        /// The only carrier whose data this key may read or write.
        carrier: CarrierCode,
    },
}

impl Role {
    /// The role's wire name.
    pub fn name(&self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Regulator { .. } => "regulator",
            Role::Carrier { .. } => "carrier",
        }
    }

    /// Builds a role from its parts, as given on the command line or stored in a key row.
    pub fn from_parts(name: &str, carrier: Option<&str>, jurisdiction: &[String]) -> Result<Role, InvalidValue> {
        match name {
            "admin" => Ok(Role::Admin),
            "regulator" => {
                if jurisdiction.is_empty() {
                    return Err(InvalidValue::new(name, "needs at least one jurisdiction division code"));
                }
                let jurisdiction =
                    jurisdiction.iter().map(|code| AdminCode::parse(code.trim())).collect::<Result<Vec<_>, _>>()?;
                Ok(Role::Regulator { jurisdiction })
            }
            "carrier" => {
                let carrier =
                    carrier.ok_or_else(|| InvalidValue::new(name, "needs the carrier code it is bound to"))?;
                Ok(Role::Carrier { carrier: CarrierCode::parse(carrier)? })
            }
            other => Err(InvalidValue::new(other, "must be one of admin, regulator, carrier")),
        }
    }

    /// Whether this role may write records belonging to `carrier` (`None`: shared reference data and carriers).
    pub fn can_write(&self, carrier: Option<&CarrierCode>) -> bool {
        match self {
            Role::Admin => true,
            Role::Regulator { .. } => false,
            Role::Carrier { carrier: own } => carrier == Some(own),
        }
    }

    /// Whether this role may file complaints and record verdicts on them: the administrator and regulators (who
    /// receive consumers' complaints through the postal complaint line), never a carrier about itself.
    pub fn can_file_complaints(&self) -> bool {
        matches!(self, Role::Admin | Role::Regulator { .. })
    }

    /// Whether this role may register carriers and shared facilities.
    pub fn can_register_carriers(&self) -> bool {
        matches!(self, Role::Admin)
    }

    /// Whether this role sees a parcel of `carrier` that touches `divisions` (its address and facility divisions).
    pub fn sees_parcel(&self, carrier: &CarrierCode, divisions: impl IntoIterator<Item = AdminCode>) -> bool {
        match self {
            Role::Admin => true,
            Role::Carrier { carrier: own } => own == carrier,
            Role::Regulator { jurisdiction } => {
                divisions.into_iter().any(|division| jurisdiction.iter().any(|area| area.contains(division)))
            }
        }
    }

    /// Whether this role may ask to see personal data in full (always audited).
    pub fn may_reveal_personal_data(&self) -> bool {
        matches!(self, Role::Admin | Role::Regulator { .. })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::Admin => f.write_str("admin"),
            Role::Regulator { jurisdiction } => {
                let codes: Vec<String> = jurisdiction.iter().map(ToString::to_string).collect();
                write!(f, "regulator of {}", codes.join(","))
            }
            Role::Carrier { carrier } => write!(f, "carrier {carrier}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles() {
        let code = |s: &str| AdminCode::parse(s).unwrap();
        let yto = CarrierCode::parse("yto").unwrap();
        let sf = CarrierCode::parse("sf").unwrap();
        let jiangsu = Role::from_parts("regulator", None, &["320000".into()]).unwrap();
        assert!(jiangsu.sees_parcel(&yto, [code("310101"), code("320505")]));
        assert!(!jiangsu.sees_parcel(&yto, [code("310101")]));
        assert!(!jiangsu.can_write(Some(&yto)));
        let carrier = Role::from_parts("carrier", Some("yto"), &[]).unwrap();
        assert!(carrier.sees_parcel(&yto, []));
        assert!(!carrier.sees_parcel(&sf, [code("320505")]));
        assert!(carrier.can_write(Some(&yto)) && !carrier.can_write(Some(&sf)) && !carrier.can_write(None));
        assert!(!carrier.may_reveal_personal_data());
        assert!(jiangsu.can_file_complaints() && Role::Admin.can_file_complaints() && !carrier.can_file_complaints());
        assert!(Role::from_parts("regulator", None, &[]).is_err());
        assert!(Role::from_parts("regulator", None, &["32".into()]).is_err());
        assert!(Role::from_parts("carrier", None, &[]).is_err());
        assert!(Role::from_parts("root", None, &[]).is_err());
        assert_eq!(jiangsu.to_string(), "regulator of 320000");
    }
}
