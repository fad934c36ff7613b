//! What a valid brand is, and what an update may touch.

use pp_error::FieldViolation;

/// The fields a client sets on a brand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandFields {
    pub name: String,
    pub domain: String,
    pub currency_code: String,
    pub time_zone: String,
}

/// Paths `UpdateBrand` accepts in its field mask.
pub const UPDATABLE_PATHS: &[&str] = &["name", "domain", "currency_code", "time_zone"];

pub const DEFAULT_CURRENCY: &str = "USD";
pub const DEFAULT_TIME_ZONE: &str = "UTC";

impl BrandFields {
    /// Trims the input and fills defaults for a create.
    pub fn for_create(name: &str, domain: &str, currency_code: &str, time_zone: &str) -> Self {
        let or = |value: &str, default: &str| {
            let value = value.trim();
            if value.is_empty() {
                default.to_owned()
            } else {
                value.to_owned()
            }
        };
        BrandFields {
            name: name.trim().to_owned(),
            domain: domain.trim().to_lowercase(),
            currency_code: or(currency_code, DEFAULT_CURRENCY),
            time_zone: or(time_zone, DEFAULT_TIME_ZONE),
        }
    }

    /// Checks the fields named in `paths` (all when `None`). Field names are prefixed
    /// with `prefix` (e.g. `brand.`) as the client sent them.
    pub fn validate(
        &self,
        paths: Option<&[String]>,
        prefix: &str,
        violations: &mut Vec<FieldViolation>,
    ) {
        let wants = |path: &str| paths.is_none_or(|p| p.iter().any(|x| x == path));
        if wants("name") {
            let chars = self.name.chars().count();
            if chars == 0 {
                violations.push(FieldViolation::new(
                    format!("{prefix}name"),
                    "must not be empty",
                ));
            } else if chars > 200 {
                violations.push(FieldViolation::new(
                    format!("{prefix}name"),
                    "must have at most 200 characters",
                ));
            }
        }
        if wants("domain") && !self.domain.is_empty() && !is_hostname(&self.domain) {
            violations.push(FieldViolation::new(
                format!("{prefix}domain"),
                "must be a host name like shop.example.com",
            ));
        }
        if wants("currency_code")
            && !(self.currency_code.len() == 3
                && self.currency_code.bytes().all(|b| b.is_ascii_uppercase()))
        {
            violations.push(FieldViolation::new(
                format!("{prefix}currency_code"),
                "must be an ISO 4217 code like USD",
            ));
        }
        if wants("time_zone")
            && !(self.time_zone.len() <= 64
                && !self.time_zone.is_empty()
                && self
                    .time_zone
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b)))
        {
            violations.push(FieldViolation::new(
                format!("{prefix}time_zone"),
                "must be an IANA time zone like Europe/Berlin",
            ));
        }
    }
}

fn is_hostname(value: &str) -> bool {
    value.len() <= 253
        && value.contains('.')
        && value.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Checks an update mask: non-empty, only known paths, no duplicates.
pub fn validate_mask(paths: &[String], violations: &mut Vec<FieldViolation>) {
    if paths.is_empty() {
        violations.push(FieldViolation::new(
            "update_mask",
            "must name at least one field",
        ));
    }
    for path in paths {
        if !UPDATABLE_PATHS.contains(&path.as_str()) {
            violations.push(FieldViolation::new(
                "update_mask.paths",
                format!(
                    "unknown path {path:?}; allowed: {}",
                    UPDATABLE_PATHS.join(", ")
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_violations() {
        let fields = BrandFields::for_create("  Acme ", "", "", "");
        assert_eq!(fields.name, "Acme");
        assert_eq!(fields.currency_code, "USD");
        let mut violations = Vec::new();
        fields.validate(None, "brand.", &mut violations);
        assert!(violations.is_empty(), "{violations:?}");

        let bad = BrandFields::for_create("", "not a host", "usd", "Mars/Olympus Mons");
        let mut violations = Vec::new();
        bad.validate(None, "brand.", &mut violations);
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "brand.name",
                "brand.domain",
                "brand.currency_code",
                "brand.time_zone"
            ]
        );
    }

    #[test]
    fn masks() {
        let mut violations = Vec::new();
        validate_mask(&["name".into(), "owner".into()], &mut violations);
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].field, "update_mask.paths");
        let mut violations = Vec::new();
        validate_mask(&[], &mut violations);
        assert_eq!(violations[0].field, "update_mask");
    }
}
