//! Input validation shared by the API, the pages and the CLI.

use crate::DomainError;

/// Normalises and checks an e-mail address: trimmed, lower-cased, one `@`,
/// a dot in the domain, at most 254 bytes.
pub fn email(raw: &str) -> Result<String, DomainError> {
    let e = raw.trim().to_lowercase();
    if e.is_empty() {
        return Err(DomainError::invalid("email", "is required"));
    }
    if e.len() > 254 {
        return Err(DomainError::invalid(
            "email",
            "is longer than 254 characters",
        ));
    }
    let Some((local, domain)) = e.split_once('@') else {
        return Err(DomainError::invalid("email", "must contain @"));
    };
    if local.is_empty()
        || domain.is_empty()
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || e.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(DomainError::invalid(
            "email",
            "is not a valid e-mail address",
        ));
    }
    Ok(e)
}

/// Checks a new password: 8 to 256 characters.
pub fn password(raw: &str) -> Result<(), DomainError> {
    let n = raw.chars().count();
    if n < 8 {
        return Err(DomainError::invalid(
            "password",
            "must have at least 8 characters",
        ));
    }
    if n > 256 {
        return Err(DomainError::invalid(
            "password",
            "must have at most 256 characters",
        ));
    }
    Ok(())
}

/// Longest profile name, in characters.
pub const MAX_PROFILE_NAME_CHARS: usize = 40;

/// Checks and trims a profile name: 1 to 40 characters, the hygiene of
/// [`crate::text::line`], and for non-staff accounts nothing that reads as
/// the service's staff.
pub fn profile_name(raw: &str, staff: bool) -> Result<String, DomainError> {
    crate::text::display_name("name", raw, MAX_PROFILE_NAME_CHARS, staff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(email("  Ann@Example.COM ").unwrap(), "ann@example.com");
        for bad in [
            "",
            "ann",
            "ann@",
            "@x.com",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            "a@.com",
        ] {
            let err = email(bad).unwrap_err();
            assert!(
                matches!(err, DomainError::Invalid { field: "email", .. }),
                "{bad}"
            );
        }
    }

    #[test]
    fn passwords_and_names() {
        assert!(password("short").is_err());
        assert!(password("long enough").is_ok());
        assert_eq!(profile_name(" Kids ", false).unwrap(), "Kids");
        assert!(profile_name("   ", false).is_err());
        assert!(profile_name(&"x".repeat(41), false).is_err());
        assert!(profile_name("Support", false).is_err());
        assert!(profile_name("Support", true).is_ok());
    }
}
