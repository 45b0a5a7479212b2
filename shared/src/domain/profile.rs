use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::ids::ProfileId;
use super::ReclaimRules;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Box,
    Dropbox,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Box => "box",
            Provider::Dropbox => "dropbox",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Box plans. Box has no API for the plan, so the profile declares it; it names the license type
/// every managed Box seat carries unless a tracking code says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoxPlan {
    BusinessStarter,
    Business,
    BusinessPlus,
    Enterprise,
    EnterprisePlus,
}

impl BoxPlan {
    pub const ALL: [BoxPlan; 5] = [
        BoxPlan::BusinessStarter,
        BoxPlan::Business,
        BoxPlan::BusinessPlus,
        BoxPlan::Enterprise,
        BoxPlan::EnterprisePlus,
    ];

    /// The license type name seats on this plan carry.
    pub fn license_type(self) -> &'static str {
        match self {
            BoxPlan::BusinessStarter => "business_starter",
            BoxPlan::Business => "business",
            BoxPlan::BusinessPlus => "business_plus",
            BoxPlan::Enterprise => "enterprise",
            BoxPlan::EnterprisePlus => "enterprise_plus",
        }
    }
}

impl FromStr for BoxPlan {
    type Err = ProfileError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        BoxPlan::ALL
            .into_iter()
            .find(|p| p.license_type() == norm)
            .ok_or_else(|| ProfileError::UnknownPlan(s.to_owned()))
    }
}

impl fmt::Display for BoxPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.license_type())
    }
}

/// What the customer bought for one license type: seats and the price of one seat per month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entitlement {
    pub license_type: String,
    pub purchased: u32,
    /// Price of one seat per month in the currency's minor unit (cents), if known.
    #[serde(default)]
    pub unit_price_cents: Option<u64>,
    #[serde(default)]
    pub currency: Option<String>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ProfileError {
    #[error("profile id {0:?} is not valid: use 1-64 lowercase letters, digits and '-'")]
    InvalidId(String),
    #[error("unknown Box plan {0:?} (expected one of business_starter, business, business_plus, enterprise, enterprise_plus)")]
    UnknownPlan(String),
    #[error("a Box profile needs an enterprise id (digits)")]
    MissingEnterpriseId,
}

/// The last finished sync of a profile. Seats not removed were present in it, which is how
/// `last_seen_at` stays true without rewriting every unchanged seat every day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastSync {
    pub run_id: String,
    pub finished_at: DateTime<Utc>,
    /// Activity (of the kinds the rules count) has been read without a gap since this instant:
    /// no verdict reaches further back. None: not known (a sync before this was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_since: Option<DateTime<Utc>>,
}

/// An integration profile: one Box enterprise or one Dropbox team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub id: String,
    pub provider: Provider,
    pub name: String,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    /// Secrets Manager name of the provider credentials (never the credentials themselves).
    pub credentials_secret: String,
    #[serde(default)]
    pub box_enterprise_id: Option<String>,
    #[serde(default)]
    pub plan: Option<BoxPlan>,
    /// License types this profile manages; seats of other types are kept but flagged. Empty: all.
    #[serde(default)]
    pub managed_license_types: Vec<String>,
    /// Box: the name of a user tracking code whose value names the seat's license type.
    #[serde(default)]
    pub license_tracking_code: Option<String>,
    #[serde(default)]
    pub entitlements: Vec<Entitlement>,
    /// Activity backfill for the first sync; the deployment default when unset.
    #[serde(default)]
    pub backfill_days: Option<u32>,
    #[serde(default)]
    pub last_sync: Option<LastSync>,
    /// Reclamation rules (the defaults for profiles stored before rules existed).
    #[serde(default)]
    pub rules: ReclaimRules,
    /// Bumped by every write of the profile (edits and `last_sync`): edits are optimistic
    /// read-modify-writes, so an operator's edit never erases what a sync recorded, or vice versa.
    #[serde(default)]
    pub version: u64,
    /// The roster-drop guard: a sync that would mark more seats removed than this allows holds
    /// the removals (issue 10, section 3).
    #[serde(default)]
    pub roster_guard: RosterGuard,
    /// Set by `seatctl sync ID --accept-removals`: the next finished roster applies its removals
    /// whatever their number, then the flag is cleared.
    #[serde(default)]
    pub accept_removals: bool,
    /// Dropbox: the team the profile is pinned to, at its first connect of either slot; a
    /// connect to another team is refused.
    #[serde(default)]
    pub dropbox_team_id: Option<String>,
}

/// A sync may mark at most `max(min_seats, percent % of the present seats)` removed at once;
/// more is held for the operator's confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RosterGuard {
    pub min_seats: u32,
    pub percent: u32,
}

impl Default for RosterGuard {
    fn default() -> Self {
        Self {
            min_seats: 10,
            percent: 5,
        }
    }
}

impl RosterGuard {
    /// How many removals one sync may apply to a profile of `present` seats.
    pub fn allowed(&self, present: usize) -> usize {
        let share = (present as u64 * u64::from(self.percent)).div_ceil(100);
        usize::try_from(share)
            .unwrap_or(usize::MAX)
            .max(self.min_seats as usize)
    }

    pub fn describe(&self) -> String {
        format!("max({} seats, {} %)", self.min_seats, self.percent)
    }
}

impl Profile {
    /// The rule is [`ProfileId::parse`]'s; this keeps the profile's own error for its callers.
    pub fn validate_id(id: &str) -> Result<(), ProfileError> {
        ProfileId::parse(id)
            .map(|_| ())
            .map_err(|_| ProfileError::InvalidId(id.to_owned()))
    }

    /// The Secrets Manager name for a profile's credentials: prefixed so IAM can scope access.
    pub fn secret_name(id: &str, provider: Provider) -> String {
        format!("seatkeeper/{id}/{provider}")
    }

    /// A new Box profile with the defaults a customer expects: enabled, managing its plan's type.
    pub fn new_box(
        id: &str,
        name: &str,
        enterprise_id: &str,
        plan: BoxPlan,
        now: DateTime<Utc>,
    ) -> Result<Self, ProfileError> {
        Self::validate_id(id)?;
        let enterprise_id = enterprise_id.trim();
        if enterprise_id.is_empty() || !enterprise_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ProfileError::MissingEnterpriseId);
        }
        Ok(Self {
            id: id.to_owned(),
            provider: Provider::Box,
            name: name.to_owned(),
            enabled: true,
            created_at: now,
            credentials_secret: Self::secret_name(id, Provider::Box),
            box_enterprise_id: Some(enterprise_id.to_owned()),
            plan: Some(plan),
            managed_license_types: vec![plan.license_type().to_owned()],
            license_tracking_code: None,
            entitlements: Vec::new(),
            backfill_days: None,
            last_sync: None,
            rules: ReclaimRules::default(),
            version: 0,
            roster_guard: RosterGuard::default(),
            accept_removals: false,
            dropbox_team_id: None,
        })
    }

    /// A new Dropbox profile: enabled, managing `full` seats (`limited` members use no license).
    /// Its two credential slots live in `seatkeeper/<id>/dropbox-sync` and `…/dropbox-reclaim`.
    pub fn new_dropbox(id: &str, name: &str, now: DateTime<Utc>) -> Result<Self, ProfileError> {
        Self::validate_id(id)?;
        Ok(Self {
            id: id.to_owned(),
            provider: Provider::Dropbox,
            name: name.to_owned(),
            enabled: true,
            created_at: now,
            credentials_secret: Self::dropbox_secret_name(id, "sync"),
            box_enterprise_id: None,
            plan: None,
            managed_license_types: vec!["full".to_owned()],
            license_tracking_code: None,
            entitlements: Vec::new(),
            backfill_days: None,
            last_sync: None,
            rules: ReclaimRules::default(),
            version: 0,
            roster_guard: RosterGuard::default(),
            accept_removals: false,
            dropbox_team_id: None,
        })
    }

    /// The Secrets Manager name of a Dropbox credential slot (`sync` or `reclaim`).
    pub fn dropbox_secret_name(id: &str, slot: &str) -> String {
        format!("seatkeeper/{id}/dropbox-{slot}")
    }

    /// The license type of a Box seat: the tracking code's value when the profile names one and
    /// the user carries it, else the plan's type.
    pub fn box_license_type(&self, tracking_codes: &[(String, String)]) -> String {
        if let Some(code) = &self.license_tracking_code {
            if let Some((_, v)) = tracking_codes
                .iter()
                .find(|(k, v)| k.eq_ignore_ascii_case(code) && !v.trim().is_empty())
            {
                return v.trim().to_ascii_lowercase();
            }
        }
        self.plan
            .map(|p| p.license_type().to_owned())
            .unwrap_or_else(|| "unknown".to_owned())
    }

    pub fn manages(&self, license_type: &str) -> bool {
        self.managed_license_types.is_empty()
            || self.managed_license_types.iter().any(|t| t == license_type)
    }

    /// License types the rules may reclaim: the rules' list, or else the managed types.
    pub fn reclaimable(&self, license_type: &str) -> bool {
        if self.rules.license_types.is_empty() {
            self.manages(license_type)
        } else {
            self.rules.license_types.iter().any(|t| t == license_type)
        }
    }

    pub fn entitlement(&self, license_type: &str) -> Option<&Entitlement> {
        self.entitlements
            .iter()
            .find(|e| e.license_type == license_type)
    }

    /// Adds or replaces the entitlement for its license type.
    pub fn set_entitlement(&mut self, e: Entitlement) {
        match self
            .entitlements
            .iter_mut()
            .find(|x| x.license_type == e.license_type)
        {
            Some(x) => *x = e,
            None => self.entitlements.push(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        Profile::new_box(
            "acme-box",
            "Acme",
            "900001",
            BoxPlan::BusinessPlus,
            Utc::now(),
        )
        .unwrap()
    }

    #[test]
    fn ids_and_plans_are_validated() {
        assert!(Profile::validate_id("acme-box-2").is_ok());
        for bad in ["", "Acme", "a/b", "-x", &"a".repeat(65)] {
            assert!(Profile::validate_id(bad).is_err(), "{bad}");
        }
        assert_eq!(
            "Business Plus".parse::<BoxPlan>().unwrap(),
            BoxPlan::BusinessPlus
        );
        assert!("gold".parse::<BoxPlan>().is_err());
        assert_eq!(
            Profile::new_box("x", "x", "abc", BoxPlan::Business, Utc::now()),
            Err(ProfileError::MissingEnterpriseId)
        );
    }

    #[test]
    fn license_type_comes_from_plan_or_tracking_code() {
        let mut p = profile();
        assert_eq!(p.box_license_type(&[]), "business_plus");
        p.license_tracking_code = Some("License".into());
        let codes = vec![("license".to_string(), "Enterprise".to_string())];
        assert_eq!(p.box_license_type(&codes), "enterprise");
        assert!(!p.manages("enterprise"));
        assert!(p.manages("business_plus"));
        p.managed_license_types.clear();
        assert!(p.manages("anything"));
    }

    #[test]
    fn entitlements_replace_by_type() {
        let mut p = profile();
        let e = |n| Entitlement {
            license_type: "business_plus".into(),
            purchased: n,
            unit_price_cents: Some(3300),
            currency: Some("USD".into()),
        };
        p.set_entitlement(e(10));
        p.set_entitlement(e(20));
        assert_eq!(p.entitlements.len(), 1);
        assert_eq!(p.entitlement("business_plus").unwrap().purchased, 20);
        assert_eq!(p.credentials_secret, "seatkeeper/acme-box/box");
    }
}
