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

/// Checks and trims a profile name: 1 to 40 characters, no control characters.
pub fn profile_name(raw: &str) -> Result<String, DomainError> {
    let n = raw.trim();
    if n.is_empty() {
        return Err(DomainError::invalid("name", "is required"));
    }
    if n.chars().count() > 40 {
        return Err(DomainError::invalid(
            "name",
            "must have at most 40 characters",
        ));
    }
    if n.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            "name",
            "must not contain control characters",
        ));
    }
    Ok(n.to_string())
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
        assert_eq!(profile_name(" Kids ").unwrap(), "Kids");
        assert!(profile_name("   ").is_err());
        assert!(profile_name(&"x".repeat(41)).is_err());
    }
}
