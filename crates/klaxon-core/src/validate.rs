//! Field-level validation errors, shared by every input path.
//!
//! A rejected request names the field it rejects (`escalation_policy.name`), so the caller can fix it
//! without guessing; the HTTP layer turns a list of these into PagerDuty's error body.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field, self.message)
    }
}

/// Checks a required, non-blank string of bounded length.
pub fn required_text(field: &str, value: Option<&str>, max_chars: usize) -> Result<String, FieldError> {
    match value.map(str::trim) {
        None => Err(FieldError::new(field, "is required")),
        Some("") => Err(FieldError::new(field, "must not be blank")),
        Some(v) if v.chars().count() > max_chars => {
            Err(FieldError::new(field, format!("must be at most {max_chars} characters")))
        }
        Some(v) => Ok(v.to_string()),
    }
}

/// A loose but honest email check: one `@`, something on both sides, a dot in the domain, no spaces.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else { return false };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !s.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_text_names_the_field() {
        assert_eq!(required_text("user.name", None, 10).unwrap_err().to_string(), "user.name is required");
        assert_eq!(required_text("user.name", Some("   "), 10).unwrap_err().to_string(), "user.name must not be blank");
        assert!(required_text("user.name", Some("12345678901"), 10).is_err());
        assert_eq!(required_text("user.name", Some(" Ada "), 10).unwrap(), "Ada");
    }

    #[test]
    fn emails() {
        assert!(is_email("ada@example.com"));
        assert!(!is_email("ada@example"));
        assert!(!is_email("ada example.com"));
        assert!(!is_email("@example.com"));
        assert!(!is_email("a b@example.com"));
    }
}
