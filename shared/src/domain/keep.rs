//! A keep: a person (through the keep page), an operator (`seatctl restore`) or the admin said
//! this user keeps their seat. While a keep is active the user is exempt from the rules, with the
//! reason recorded; it ends by itself after the profile's `keep_days`, and the user is judged by
//! their activity again from then on.
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Who asked for the keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeepSource {
    /// The user pressed "Keep my license" on the page linked from their notice.
    KeepPage,
    /// An operator restored a suspended or removed user (`seatctl restore`).
    Restore,
    /// An operator exempted the user by hand.
    Operator,
}

impl KeepSource {
    pub fn as_str(self) -> &'static str {
        match self {
            KeepSource::KeepPage => "keep_page",
            KeepSource::Restore => "restore",
            KeepSource::Operator => "operator",
        }
    }
}

/// One user's keep (the newest replaces an older one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keep {
    pub profile_id: String,
    pub user_id: String,
    pub login: String,
    pub kept_at: DateTime<Utc>,
    /// The user is exempt until then.
    pub until: DateTime<Utc>,
    /// What the person typed (the keep page) or the operator's `--reason`.
    #[serde(default)]
    pub reason: Option<String>,
    /// Who: the user's login (keep page) or the operator's identity.
    pub by: String,
    pub source: KeepSource,
    /// The candidacy (notice) the keep answered, if any.
    #[serde(default)]
    pub candidacy: Option<String>,
}

/// Longest reason kept (a keep page's text box is free text).
pub const MAX_REASON_CHARS: usize = 500;

impl Keep {
    /// A keep from `now` for `days` days. The reason is trimmed, emptied to None, and cut to
    /// [`MAX_REASON_CHARS`] characters.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        profile_id: &str,
        user_id: &str,
        login: &str,
        now: DateTime<Utc>,
        days: u32,
        reason: Option<&str>,
        by: &str,
        source: KeepSource,
    ) -> Self {
        // free text from a web form, printed later in an admin's terminal: control characters
        // (escape sequences, newlines) become spaces
        let reason = reason
            .map(|r| {
                r.chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect::<String>()
            })
            .map(|r| r.trim().chars().take(MAX_REASON_CHARS).collect::<String>())
            .filter(|r| !r.is_empty());
        Self {
            profile_id: profile_id.to_owned(),
            user_id: user_id.to_owned(),
            login: login.to_owned(),
            kept_at: now,
            until: now + Duration::days(i64::from(days)),
            reason,
            by: by.to_owned(),
            source,
            candidacy: None,
        }
    }

    pub fn with_candidacy(mut self, candidacy: impl Into<String>) -> Self {
        self.candidacy = Some(candidacy.into());
        self
    }

    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        now < self.until
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keep_lasts_its_days_and_keeps_a_trimmed_bounded_reason() {
        let now: DateTime<Utc> = "2026-11-29T12:00:00Z".parse().unwrap();
        let k = Keep::new(
            "acme",
            "42",
            "a@example.com",
            now,
            90,
            Some("  still on parental leave  "),
            "a@example.com",
            KeepSource::KeepPage,
        );
        assert_eq!(k.reason.as_deref(), Some("still on parental leave"));
        assert!(k.is_active(now + Duration::days(89)));
        assert!(!k.is_active(now + Duration::days(90)));
        let blank = Keep::new(
            "acme",
            "42",
            "a",
            now,
            1,
            Some("   "),
            "op",
            KeepSource::Operator,
        );
        assert_eq!(blank.reason, None);
        let long = "x".repeat(2 * MAX_REASON_CHARS);
        let cut = Keep::new(
            "acme",
            "42",
            "a",
            now,
            1,
            Some(&long),
            "op",
            KeepSource::Restore,
        );
        assert_eq!(
            cut.reason.map(|r| r.chars().count()),
            Some(MAX_REASON_CHARS)
        );
    }
}
