use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::Profile;

/// Per-license-type counts built while a roster streams by (never holding the seats).
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LicenseTally {
    by_type: BTreeMap<String, Counts>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Counts {
    assigned: u32,
    active: u32,
    never_logged_in: u32,
    managed: bool,
}

impl LicenseTally {
    /// Counts one present seat. Active means a login within `inactive_after_days`.
    pub fn add(
        &mut self,
        license_type: &str,
        managed: bool,
        last_login: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        inactive_after_days: u32,
    ) {
        let c = self.by_type.entry(license_type.to_owned()).or_default();
        c.assigned += 1;
        c.managed = managed;
        match last_login {
            None => c.never_logged_in += 1,
            Some(at) if now - at <= Duration::days(i64::from(inactive_after_days)) => c.active += 1,
            Some(_) => {}
        }
    }

    /// One summary per license type seen or entitled.
    pub fn summaries(
        &self,
        profile: &Profile,
        now: DateTime<Utc>,
        run_id: &str,
        inactive_after_days: u32,
    ) -> Vec<LicenseSummary> {
        let mut types: Vec<String> = self.by_type.keys().cloned().collect();
        for e in &profile.entitlements {
            if !types.contains(&e.license_type) {
                types.push(e.license_type.clone());
            }
        }
        types.sort();
        types
            .into_iter()
            .map(|t| {
                let c = self.by_type.get(&t).copied().unwrap_or(Counts {
                    managed: profile.manages(&t),
                    ..Counts::default()
                });
                let ent = profile.entitlement(&t);
                let purchased = ent.map(|e| e.purchased);
                let price = ent.and_then(|e| e.unit_price_cents);
                let inactive = c.assigned - c.active;
                let unassigned = purchased.map(|p| p.saturating_sub(c.assigned));
                LicenseSummary {
                    profile_id: profile.id.clone(),
                    license_type: t.clone(),
                    managed: c.managed,
                    purchased,
                    assigned: c.assigned,
                    active: c.active,
                    inactive,
                    never_logged_in: c.never_logged_in,
                    unassigned,
                    over_assigned: purchased.map(|p| c.assigned.saturating_sub(p)),
                    unit_price_cents: price,
                    currency: ent.and_then(|e| e.currency.clone()),
                    monthly_cost_cents: price.zip(purchased).map(|(p, n)| p * u64::from(n)),
                    monthly_waste_cents: price
                        .map(|p| p * u64::from(inactive + unassigned.unwrap_or(0))),
                    inactive_after_days,
                    computed_at: now,
                    run_id: run_id.to_owned(),
                }
            })
            .collect()
    }
}

/// License information for one license type of a profile: purchased vs assigned vs active.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseSummary {
    pub profile_id: String,
    pub license_type: String,
    pub managed: bool,
    pub purchased: Option<u32>,
    pub assigned: u32,
    pub active: u32,
    pub inactive: u32,
    pub never_logged_in: u32,
    pub unassigned: Option<u32>,
    pub over_assigned: Option<u32>,
    pub unit_price_cents: Option<u64>,
    pub currency: Option<String>,
    /// What the purchased seats cost per month.
    pub monthly_cost_cents: Option<u64>,
    /// What inactive and unassigned seats cost per month.
    pub monthly_waste_cents: Option<u64>,
    pub inactive_after_days: u32,
    pub computed_at: DateTime<Utc>,
    pub run_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{BoxPlan, Entitlement, LoginEvidence};

    #[test]
    fn summarises_purchased_assigned_active_and_waste() {
        let now = Utc::now();
        let mut p = Profile::new_box("p", "p", "1", BoxPlan::Business, now).unwrap();
        p.set_entitlement(Entitlement {
            license_type: "business".into(),
            purchased: 10,
            unit_price_cents: Some(2000),
            currency: Some("USD".into()),
        });
        let recent = LoginEvidence {
            at: now - Duration::days(5),
            event_id: "e".into(),
            event_type: "LOGIN".into(),
        };
        let old = LoginEvidence {
            at: now - Duration::days(90),
            event_id: "f".into(),
            event_type: "LOGIN".into(),
        };
        let mut t = LicenseTally::default();
        t.add("business", true, Some(recent.at), now, 60);
        t.add("business", true, Some(old.at), now, 60);
        t.add("business", true, None, now, 60);
        t.add("enterprise", false, Some(recent.at), now, 60);
        let s = t.summaries(&p, now, "r", 60);
        assert_eq!(s.len(), 2);
        let b = &s[0];
        assert_eq!(
            (b.assigned, b.active, b.inactive, b.never_logged_in),
            (3, 1, 2, 1)
        );
        assert_eq!(b.unassigned, Some(7));
        assert_eq!(b.monthly_cost_cents, Some(20_000));
        assert_eq!(b.monthly_waste_cents, Some(2000 * 9));
        assert!(!s[1].managed);
        assert_eq!(s[1].purchased, None);
    }
}
