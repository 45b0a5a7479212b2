//! Ids that reach a URL path, a request body or a table key, parsed once at the edge (a queue
//! message, a CLI argument, a provider's answer) so nothing downstream handles an unchecked
//! string. Each `parse` states the rule; `as_str` gives the id back as the provider knows it.
use std::fmt;

use thiserror::Error;

/// An id that does not follow its rule. The offending value is kept (ids are not secrets),
/// shortened so a crafted megabyte does not end up in a log line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{kind} {value:?} is not valid: {rule}")]
pub struct IdError {
    pub kind: &'static str,
    pub value: String,
    pub rule: &'static str,
}

impl IdError {
    fn new(kind: &'static str, value: &str, rule: &'static str) -> Self {
        const SHOWN: usize = 80;
        let value = match value.char_indices().nth(SHOWN) {
            Some((cut, _)) => format!("{}…", &value[..cut]),
            None => value.to_owned(),
        };
        Self { kind, value, rule }
    }
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }
    };
}

string_id!(
    /// A Box user id: digits only (Box ids are decimal integers), so it is always one clean URL
    /// path segment.
    BoxUserId
);

string_id!(
    /// A Dropbox `team_member_id` (`dbmid:…`). The Stone spec types it as a plain `String`, so
    /// only what could break a request or a key is refused: empty, too long, whitespace or
    /// control characters, `/` and `#`.
    DropboxTeamMemberId
);

string_id!(
    /// An integration profile id: 1-64 lowercase letters, digits and '-', not starting with '-'
    /// (it is part of table keys and Secrets Manager names).
    ProfileId
);

string_id!(
    /// A reclaim request's idempotency key: 1-128 of `A-Z a-z 0-9 . _ : -`.
    RequestId
);

/// Box ids are 64-bit integers today; the bound leaves room and stops absurd input.
const BOX_USER_ID_MAX: usize = 32;
/// Real ids are ~45 characters; the bound matches what a reclaim message accepts for a user id.
const DROPBOX_MEMBER_ID_MAX: usize = 128;

impl BoxUserId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if !s.is_empty() && s.len() <= BOX_USER_ID_MAX && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::new(
                "Box user id",
                s,
                "a Box user id is 1-32 digits",
            ))
        }
    }
}

impl DropboxTeamMemberId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let ok = !s.is_empty()
            && s.len() <= DROPBOX_MEMBER_ID_MAX
            && s.chars()
                .all(|c| !c.is_whitespace() && !c.is_control() && c != '/' && c != '#');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::new(
                "Dropbox team member id",
                s,
                "use the team_member_id Dropbox lists (dbmid:…): 1-128 characters, no spaces, '/' or '#'",
            ))
        }
    }
}

impl ProfileId {
    pub const MAX_LEN: usize = 64;

    pub fn parse(s: &str) -> Result<Self, IdError> {
        let ok = !s.is_empty()
            && s.len() <= Self::MAX_LEN
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::new(
                "profile id",
                s,
                "use 1-64 lowercase letters, digits and '-'",
            ))
        }
    }
}

impl RequestId {
    pub const MAX_LEN: usize = 128;

    pub fn parse(s: &str) -> Result<Self, IdError> {
        let ok = !s.is_empty()
            && s.len() <= Self::MAX_LEN
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::new(
                "request id",
                s,
                "use 1-128 characters of A-Z a-z 0-9 . _ : -",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_user_ids_are_digits_only() {
        assert_eq!(BoxUserId::parse("11446498").unwrap().as_str(), "11446498");
        for bad in [
            "",
            "..",
            "12/..",
            "12%2F",
            "1 2",
            "abc",
            "-1",
            "１２",
            &"9".repeat(33),
        ] {
            assert!(BoxUserId::parse(bad).is_err(), "{bad:?}");
        }
        let e = BoxUserId::parse("../admin").unwrap_err();
        assert!(e.to_string().contains("Box user id"), "{e}");
    }

    #[test]
    fn dropbox_member_ids_refuse_only_what_breaks_a_request() {
        for good in [
            "dbmid:AAHhy7WsR0x-u4ZCqiDl5Fz5zvuL3kmspwU",
            "dbmid:AA_-x",
            "some-legacy-id",
        ] {
            assert_eq!(DropboxTeamMemberId::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "dbmid:a/b",
            "dbmid:a b",
            "dbmid:a\nb",
            "dbmid:\u{0}",
            "a#b",
            &"x".repeat(129),
        ] {
            assert!(DropboxTeamMemberId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn profile_ids_follow_the_profile_rule() {
        assert!(ProfileId::parse("acme-box-1").is_ok());
        for bad in ["", "-x", "Acme", "a_b", "a/b", &"a".repeat(65)] {
            assert!(ProfileId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn request_ids_follow_the_message_rule() {
        assert!(RequestId::parse("2026-01-01T00:00:00Z.abc_1").is_ok());
        assert!(RequestId::parse(&"a".repeat(128)).is_ok());
        for bad in ["", "a b", "a/b", "a#b", &"a".repeat(129)] {
            assert!(RequestId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn errors_shorten_long_values() {
        let e = RequestId::parse(&"é".repeat(500)).unwrap_err();
        assert!(e.value.chars().count() <= 81, "{}", e.value);
        assert!(e.value.ends_with('…'));
    }

    #[test]
    fn ids_display_and_compare_as_their_text() {
        let id: BoxUserId = "42".parse().unwrap();
        assert_eq!(id.to_string(), "42");
        assert_eq!(id.as_ref(), "42");
        assert_eq!(id.into_string(), "42");
    }
}
