//! Notification preferences: the kinds of notification a customer can tell
//! apart, the channels they arrive by, the defaults, and who wants what.
//!
//! A notification row's `kind` (`idea.status_changed`, `decision`, `perk`,
//! …) is what produced it; [`NotifyKind::for_notification`] maps it to the
//! customer-facing kind the preferences are kept by. A new producer adds its
//! row kind there (or a new [`NotifyKind`]), and the in-app and e-mail rules
//! below apply to it with no other change.

use crate::DomainError;
use serde::{Deserialize, Serialize};

/// How a notification reaches the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The bell (`/notifications`).
    InApp,
    /// An e-mail (a digest when several are waiting).
    Email,
}

/// The two channels' settings for one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Channels {
    /// Shown in the bell.
    pub in_app: bool,
    /// Sent by e-mail.
    pub email: bool,
}

impl Channels {
    /// The setting of one channel.
    pub fn get(self, channel: Channel) -> bool {
        match channel {
            Channel::InApp => self.in_app,
            Channel::Email => self.email,
        }
    }
}

/// The kinds of notification, as a customer understands them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyKind {
    /// Status changes and merges of ideas the customer wrote, voted for or
    /// commented on.
    Ideas,
    /// "We heard you": a decision taken on evidence the customer is behind.
    Decisions,
    /// Surprises and perks awarded to the customer.
    Perks,
    /// Announcements about the customer's plan and the service (price or
    /// product changes). Reserved: no producer yet; the announcements of
    /// issue #25 write rows of kind `announcement` and honour these settings.
    Announcements,
    /// Password and e-mail changes, resets and confirmations: sent by e-mail
    /// always (they are how an owner learns of a takeover), never switchable.
    Account,
}

/// Every kind, in the order pages list them.
pub const NOTIFY_KINDS: [NotifyKind; 5] = [
    NotifyKind::Ideas,
    NotifyKind::Decisions,
    NotifyKind::Perks,
    NotifyKind::Announcements,
    NotifyKind::Account,
];

impl NotifyKind {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyKind::Ideas => "ideas",
            NotifyKind::Decisions => "decisions",
            NotifyKind::Perks => "perks",
            NotifyKind::Announcements => "announcements",
            NotifyKind::Account => "account",
        }
    }

    /// Parses [`NotifyKind::as_str`].
    pub fn parse(s: &str) -> Option<NotifyKind> {
        NOTIFY_KINDS.into_iter().find(|k| k.as_str() == s)
    }

    /// What a customer reads.
    pub fn label(self) -> &'static str {
        match self {
            NotifyKind::Ideas => "Updates on ideas you follow",
            NotifyKind::Decisions => "We heard you (decisions)",
            NotifyKind::Perks => "Surprises and perks",
            NotifyKind::Announcements => "Announcements about your plan and the service",
            NotifyKind::Account => "Account and security",
        }
    }

    /// One line on what it covers.
    pub fn description(self) -> &'static str {
        match self {
            NotifyKind::Ideas => {
                "An idea you wrote, voted for or commented on changes status or is merged."
            }
            NotifyKind::Decisions => "We decide something based on what you told us.",
            NotifyKind::Perks => "A surprise or a perk is waiting for you.",
            NotifyKind::Announcements => "A change to your plan, its price or the service.",
            NotifyKind::Account => {
                "Password and e-mail changes, resets and confirmations: always e-mailed, \
                 so that you hear of anyone else using your account."
            }
        }
    }

    /// The settings of an account that changed nothing. In-app is on for
    /// all; e-mail is on only where missing it costs the customer: changes
    /// to their plan or price, and their account's security. The rest is
    /// in the bell and can be mailed on request.
    pub fn defaults(self) -> Channels {
        match self {
            NotifyKind::Ideas | NotifyKind::Decisions | NotifyKind::Perks => Channels {
                in_app: true,
                email: false,
            },
            NotifyKind::Announcements | NotifyKind::Account => Channels {
                in_app: true,
                email: true,
            },
        }
    }

    /// Whether the customer may change a channel.
    pub fn switchable(self, _channel: Channel) -> bool {
        self != NotifyKind::Account
    }

    /// The preference kind of a notification row's `kind`; `None` for a
    /// row kind no producer writes.
    pub fn for_notification(row_kind: &str) -> Option<NotifyKind> {
        let family = row_kind.split('.').next().unwrap_or(row_kind);
        match family {
            "idea" => Some(NotifyKind::Ideas),
            "decision" => Some(NotifyKind::Decisions),
            "perk" => Some(NotifyKind::Perks),
            "announcement" => Some(NotifyKind::Announcements),
            "account" => Some(NotifyKind::Account),
            _ => None,
        }
    }
}

/// Whether an account wants `kind` by `channel`, given its stored setting
/// for the kind (`None`: it kept the defaults). Account and security
/// e-mail is always wanted.
pub fn wants(kind: NotifyKind, channel: Channel, pref: Option<Channels>) -> bool {
    if !kind.switchable(channel) {
        return kind.defaults().get(channel);
    }
    pref.unwrap_or_else(|| kind.defaults()).get(channel)
}

/// Checks a requested setting: a kind that cannot be switched must keep its
/// defaults. The error names the field, e.g. `account.email`.
pub fn check_setting(kind: NotifyKind, want: Channels) -> Result<(), DomainError> {
    let d = kind.defaults();
    if kind == NotifyKind::Account && (want.email != d.email || want.in_app != d.in_app) {
        return Err(DomainError::Invalid {
            field: "account",
            message: "account and security notices are always sent and cannot be switched off"
                .into(),
        });
    }
    Ok(())
}

/// What to store for a requested setting: `None` when it equals the
/// defaults (no row), else the setting.
pub fn to_store(kind: NotifyKind, want: Channels) -> Option<Channels> {
    (want != kind.defaults()).then_some(want)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_until_changed_and_account_mail_is_forced() {
        assert!(wants(NotifyKind::Decisions, Channel::InApp, None));
        assert!(!wants(NotifyKind::Ideas, Channel::Email, None));
        assert!(wants(NotifyKind::Announcements, Channel::Email, None));
        let off = Channels {
            in_app: false,
            email: false,
        };
        assert!(!wants(NotifyKind::Decisions, Channel::InApp, Some(off)));
        assert!(wants(NotifyKind::Account, Channel::Email, Some(off)));
        assert!(check_setting(NotifyKind::Account, off).is_err());
        assert!(check_setting(NotifyKind::Perks, off).is_ok());
        assert_eq!(
            to_store(NotifyKind::Perks, NotifyKind::Perks.defaults()),
            None
        );
        assert_eq!(to_store(NotifyKind::Perks, off), Some(off));
    }

    #[test]
    fn row_kinds_map_to_preference_kinds() {
        assert_eq!(
            NotifyKind::for_notification("idea.status_changed"),
            Some(NotifyKind::Ideas)
        );
        assert_eq!(
            NotifyKind::for_notification("decision"),
            Some(NotifyKind::Decisions)
        );
        assert_eq!(
            NotifyKind::for_notification("perk"),
            Some(NotifyKind::Perks)
        );
        assert_eq!(NotifyKind::for_notification("other"), None);
        for k in NOTIFY_KINDS {
            assert_eq!(NotifyKind::parse(k.as_str()), Some(k));
        }
    }
}
