//! Input rules for identity fields.

use pp_error::FieldViolation;

pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 1024;

pub fn email(field: &str, value: &str, violations: &mut Vec<FieldViolation>) {
    let value = value.trim();
    let valid = value.len() <= 254
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !value.chars().any(char::is_whitespace);
    if !valid {
        violations.push(FieldViolation::new(field, "must be an email address"));
    }
}

pub fn password(field: &str, value: &str, violations: &mut Vec<FieldViolation>) {
    let chars = value.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        violations.push(FieldViolation::new(
            field,
            format!("must have at least {MIN_PASSWORD_CHARS} characters"),
        ));
    } else if chars > MAX_PASSWORD_CHARS {
        violations.push(FieldViolation::new(
            field,
            format!("must have at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
}

pub fn name(field: &str, value: &str, max: usize, violations: &mut Vec<FieldViolation>) {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        violations.push(FieldViolation::new(field, "must not be empty"));
    } else if trimmed.chars().count() > max {
        violations.push(FieldViolation::new(
            field,
            format!("must have at most {max} characters"),
        ));
    }
}

pub fn normalize_email(value: &str) -> String {
    value.trim().to_lowercase()
}
