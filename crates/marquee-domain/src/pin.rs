//! Profile PINs: an optional 4-digit PIN that keeps a child in a kids
//! profile and keeps others out of a locked profile.
//!
//! The rule, in one place ([`needed`]):
//! - opening a profile that has a PIN asks for that PIN;
//! - leaving a kids profile that has a PIN asks for the kids profile's PIN
//!   (unless the profile being opened has its own, which is asked instead:
//!   whoever knows it may open it from anywhere).
//!
//! Wrong guesses are counted where the PIN is stored, so that every server
//! instance sees the same count: after [`TRIES`] wrong ones in a row the
//! profile is locked for [`LOCKOUT_MS`]. Ten thousand PINs are few; the
//! count, not the hash, is what protects them.

use crate::{DomainError, Millis, Profile};

/// Wrong PINs in a row before the profile is locked.
pub const TRIES: u32 = 5;

/// How long a profile stays locked after [`TRIES`] wrong PINs.
pub const LOCKOUT_MS: Millis = 15 * 60_000;

/// Checks a PIN's form: exactly four ASCII digits.
pub fn check(field: &'static str, pin: &str) -> Result<(), DomainError> {
    if pin.len() == 4 && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(DomainError::invalid(field, "a PIN is exactly 4 digits"))
    }
}

/// Whose PIN is needed to switch from `current` (the session's profile, if
/// any) to `target`: `None` when no PIN is needed.
pub fn needed<'a>(current: Option<&'a Profile>, target: &'a Profile) -> Option<&'a Profile> {
    if current.is_some_and(|c| c.id == target.id) {
        return None;
    }
    if target.has_pin {
        return Some(target);
    }
    current.filter(|c| c.is_kids && c.has_pin)
}

/// What a wrong PIN leads to, given the wrong ones in a row counted so far
/// (this one included): the tries left, or the time the lock ends.
pub fn after_wrong(failures: u32, now: Millis) -> Result<u32, Millis> {
    if failures >= TRIES {
        Err(now + LOCKOUT_MS)
    } else {
        Ok(TRIES - failures)
    }
}

/// Whether a new try may be made: it may unless `failures_before` already
/// used up [`TRIES`] (tries that raced past the lock are refused too).
pub fn may_try(failures_before: u32) -> bool {
    failures_before < TRIES
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(id: i64, is_kids: bool, has_pin: bool) -> Profile {
        Profile {
            id,
            account_id: 1,
            name: format!("p{id}"),
            is_kids,
            created_at: 0,
            avatar: None,
            has_pin,
        }
    }

    #[test]
    fn the_form_is_four_digits() {
        assert!(check("pin", "0420").is_ok());
        for bad in ["", "123", "12345", "12a4", "١٢٣٤", " 123", "12 4"] {
            assert!(check("pin", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn whose_pin_is_asked() {
        let kid_locked = p(1, true, true);
        let kid_open = p(2, true, false);
        let adult_open = p(3, false, false);
        let adult_locked = p(4, false, true);
        // Leaving a locked kids profile asks for its PIN.
        assert_eq!(
            needed(Some(&kid_locked), &adult_open).map(|x| x.id),
            Some(1)
        );
        assert_eq!(needed(Some(&kid_locked), &kid_open).map(|x| x.id), Some(1));
        // Opening a locked profile asks for its own, from anywhere.
        assert_eq!(needed(None, &adult_locked).map(|x| x.id), Some(4));
        assert_eq!(
            needed(Some(&kid_locked), &adult_locked).map(|x| x.id),
            Some(4)
        );
        assert_eq!(
            needed(Some(&adult_open), &kid_locked).map(|x| x.id),
            Some(1)
        );
        // Staying, an unlocked kids profile, and open profiles ask nothing.
        assert_eq!(needed(Some(&kid_locked), &kid_locked), None);
        assert_eq!(needed(Some(&kid_open), &adult_open), None);
        assert_eq!(needed(None, &adult_open), None);
        // An adult profile's PIN does not keep its owner in.
        assert_eq!(needed(Some(&adult_locked), &adult_open), None);
    }

    #[test]
    fn five_wrong_lock_for_fifteen_minutes() {
        assert_eq!(after_wrong(1, 0), Ok(4));
        assert_eq!(after_wrong(4, 0), Ok(1));
        assert_eq!(after_wrong(5, 1000), Err(1000 + 15 * 60_000));
        assert!(may_try(4));
        assert!(!may_try(5));
        assert!(!may_try(9));
    }
}
