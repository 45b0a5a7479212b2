//! A reclaim candidate: a seat the rules picked, with the evidence and price that explain why,
//! and the digest that tells a re-sync whether anything about the finding changed.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::rules::Evidence;

/// A seat the rules picked, with its evidence and price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    pub profile_id: String,
    pub user_id: String,
    pub login: String,
    pub name: String,
    pub license_type: String,
    /// Monthly price of the seat (minor units) from the profile's entitlement, when known.
    #[serde(default)]
    pub unit_price_cents: Option<u64>,
    #[serde(default)]
    pub currency: Option<String>,
    pub evidence: Evidence,
    /// The sync run whose data produced it.
    pub run_id: String,
    pub listed_at: DateTime<Utc>,
    #[serde(default)]
    pub approved_by: Option<String>,
    #[serde(default)]
    pub approved_at: Option<DateTime<Utc>>,
    /// The reclaim request enqueued for it, if any.
    #[serde(default)]
    pub request_id: Option<String>,
    #[serde(default)]
    pub requested_at: Option<DateTime<Utc>>,
    /// Digest of the finding (see [`Candidate::finding_digest`]): equal means nothing to write.
    #[serde(default)]
    pub finding: String,
    /// Why the candidate waits unrequested (e.g. held by the blast-radius cap): the next auto
    /// run or `seatctl approve` picks it up. Cleared when a request is enqueued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
}

impl Candidate {
    /// A digest of what the candidate says (who, license, price, rule, evidence): a re-sync
    /// compares it with the stored one instead of holding every stored candidate in memory.
    pub fn finding_digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        let login = self.evidence.last_login.as_ref();
        for part in [
            self.user_id.as_str(),
            self.login.as_str(),
            self.license_type.as_str(),
            &format!("{:?}", self.unit_price_cents),
            self.evidence.rule.as_str(),
            login.map(|l| l.event_id.as_str()).unwrap_or(""),
            &login.map(|l| l.at.timestamp()).unwrap_or(0).to_string(),
            &self.evidence.inactive_since.timestamp().to_string(),
        ] {
            h.update(part.as_bytes());
            h.update([0x1f]);
        }
        hex::encode(&h.finalize()[..12])
    }
}
