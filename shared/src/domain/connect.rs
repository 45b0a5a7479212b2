//! Connecting a credential slot: the single-use OAuth `state`, the PKCE verifier derived from
//! it, and the pending connect stored between the operator's start and the provider's callback.
//!
//! Nothing secret is stored outside Secrets Manager: DynamoDB holds only a digest of the state,
//! the profile and slot it is bound to, and its expiry. The PKCE verifier is derived as
//! HMAC-SHA256(app secret, state), so only whoever can read the slot's secret (the operator and
//! the callback) can compute it, and it never needs storing.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The two credential slots of a Dropbox profile: each its own app, scopes and connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Slot {
    Sync,
    Reclaim,
}

impl Slot {
    pub fn scopes(self) -> &'static [&'static str] {
        match self {
            Slot::Sync => &[
                "members.read",
                "team_data.member",
                "events.read",
                "team_info.read",
                "sessions.list",
            ],
            Slot::Reclaim => &[
                "team_info.read",
                "members.write",
                "members.delete",
                "team_data.member",
            ],
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Slot::Sync => "sync",
            Slot::Reclaim => "reclaim",
        }
    }
}

impl std::str::FromStr for Slot {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sync" => Ok(Slot::Sync),
            "reclaim" => Ok(Slot::Reclaim),
            other => Err(format!(
                "unknown Dropbox credential slot {other:?} (sync or reclaim)"
            )),
        }
    }
}

/// How long a connect link stays usable.
pub const STATE_TTL: Duration = Duration::minutes(10);

/// A fresh `state`: 256 random bits, URL-safe.
pub fn new_state() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The key a state is stored under: its SHA-256, so the table never holds a usable state.
pub fn state_digest(state: &str) -> String {
    hex::encode(Sha256::digest(state.as_bytes()))
}

/// The PKCE verifier for a connect: 43 URL-safe characters (RFC 7636 allows 43-128).
pub fn pkce_verifier(app_secret: &SecretString, state: &str) -> SecretString {
    // HMAC accepts keys of any length; new_from_slice cannot fail for Hmac<Sha256>.
    let mut mac = match Hmac::<Sha256>::new_from_slice(app_secret.expose_secret().as_bytes()) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any size"),
    };
    mac.update(b"seatkeeper-pkce:");
    mac.update(state.as_bytes());
    SecretString::from(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// A pending connect, as stored (keyed by the state's digest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingConnect {
    pub profile_id: String,
    pub slot: Slot,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Who started it (the operator's AWS identity or a name), for the audit trail.
    pub started_by: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_unique_and_long_and_verifiers_deterministic_per_secret() {
        let (a, b) = (new_state(), new_state());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43, "256 bits");
        let s1 = SecretString::from("secret-1".to_owned());
        let s2 = SecretString::from("secret-2".to_owned());
        let v = pkce_verifier(&s1, &a);
        assert_eq!(v.expose_secret().len(), 43);
        assert_eq!(v.expose_secret(), pkce_verifier(&s1, &a).expose_secret());
        assert_ne!(v.expose_secret(), pkce_verifier(&s2, &a).expose_secret());
        assert_ne!(v.expose_secret(), pkce_verifier(&s1, &b).expose_secret());
        assert!(v
            .expose_secret()
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(state_digest(&a), a);
    }
}
