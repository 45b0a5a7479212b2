//! `seatctl entitlement set|remove`: what was purchased per license type (Box has no API for it).
use std::io::Write;

use clap::{Args, Subcommand};
use seatkeeper::domain::Entitlement;
use seatkeeper::ports::ProfileRepo;

use super::{parse_license_type, parse_profile_id, Ctx};
use crate::error::CliError;
use crate::money::{format_minor, group_thousands, Currency, MoneyError, Price};
use crate::output::{line, warn_user};

#[derive(Debug, Subcommand)]
pub enum EntitlementCommand {
    /// Set (add or replace) the purchased seats of one license type, optionally with its price.
    /// License summaries (cost, waste, unassigned seats) use it from the next sync on.
    Set(SetArgs),
    /// Remove the entitlement of one license type
    Remove(RemoveArgs),
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// The profile id.
    #[arg(value_parser = parse_profile_id)]
    pub id: String,

    /// The license type as seats carry it: for Box, the plan's type (e.g. business_plus) or the
    /// value of the profile's license tracking code. Case-insensitive.
    #[arg(long, value_name = "T", value_parser = parse_license_type)]
    pub license_type: String,

    /// Seats purchased of this license type (from the contract or invoice).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_seat_count)]
    pub purchased: u32,

    /// Price of one seat per month, as a decimal in the currency's major unit: 33 or 33.00
    /// (for an annual contract, divide by 12). Stored exactly in minor units (cents); no
    /// signs, currency symbols or thousands separators. Without --price, a price already set
    /// for this license type is kept.
    #[arg(long, value_name = "AMOUNT", allow_negative_numbers = true, value_parser = parse_price)]
    pub price: Option<Price>,

    /// ISO 4217 currency of --price, e.g. USD, EUR, JPY. Default: the currency already set for
    /// this license type, else USD.
    #[arg(long, value_name = "CODE", requires = "price", value_parser = parse_currency)]
    pub currency: Option<Currency>,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The profile id.
    #[arg(value_parser = parse_profile_id)]
    pub id: String,
    /// The license type whose entitlement to remove.
    #[arg(long, value_name = "T", value_parser = parse_license_type)]
    pub license_type: String,
}

fn parse_seat_count(s: &str) -> Result<u32, String> {
    s.trim().parse::<u32>().map_err(|_| {
        format!(
            "expected a whole number of seats from 0 to {}, got {s:?}",
            u32::MAX
        )
    })
}

fn parse_price(s: &str) -> Result<Price, MoneyError> {
    s.parse()
}

fn parse_currency(s: &str) -> Result<Currency, MoneyError> {
    s.parse()
}

pub async fn run(ctx: &Ctx, cmd: EntitlementCommand, out: &mut dyn Write) -> Result<(), CliError> {
    match cmd {
        EntitlementCommand::Set(a) => set(ctx, a, out).await,
        EntitlementCommand::Remove(a) => remove(ctx, a, out).await,
    }
}

/// The entitlement `set` stores, given what is stored for the license type now.
pub fn entitlement_from(
    a: &SetArgs,
    existing: Option<&Entitlement>,
) -> Result<Entitlement, CliError> {
    let (unit_price_cents, currency) = match &a.price {
        Some(price) => {
            let currency = match &a.currency {
                Some(c) => c.clone(),
                None => match existing.and_then(|e| e.currency.as_deref()) {
                    Some(c) => c.parse()?,
                    None => Currency::default(),
                },
            };
            let cents = price
                .minor_units(&currency)
                .map_err(|e| CliError::Usage(format!("invalid value for --price: {e}")))?;
            (Some(cents), Some(currency.code().to_owned()))
        }
        None => (
            existing.and_then(|e| e.unit_price_cents),
            existing.and_then(|e| e.currency.clone()),
        ),
    };
    Ok(Entitlement {
        license_type: a.license_type.clone(),
        purchased: a.purchased,
        unit_price_cents,
        currency,
    })
}

/// `business_plus: 50 seats at 33.00 USD per seat per month (1,650.00 USD per month)`
pub fn describe(e: &Entitlement) -> String {
    let seats = format!(
        "{}: {} seat{}",
        e.license_type,
        group_thousands(u64::from(e.purchased)),
        if e.purchased == 1 { "" } else { "s" }
    );
    match e.unit_price_cents {
        Some(p) => {
            let c = e.currency.as_deref();
            format!(
                "{seats} at {} per seat per month ({} per month)",
                format_minor(p, c),
                format_minor(p.saturating_mul(u64::from(e.purchased)), c)
            )
        }
        None => format!("{seats}, no price set"),
    }
}

async fn set(ctx: &Ctx, a: SetArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let p = ctx.profile(&a.id).await?;
    let e = entitlement_from(&a, p.entitlement(&a.license_type))?;
    if !p.manages(&e.license_type) {
        warn_user(format!(
            "profile {} does not manage license type {} (it manages: {}); its seats are reported \
             but never reclaimed",
            p.id,
            e.license_type,
            p.managed_license_types.join(", ")
        ));
    }
    let text = describe(&e);
    ctx.store
        .profiles
        .update(&a.id, |p| -> Result<(), CliError> {
            p.set_entitlement(e.clone());
            Ok(())
        })
        .await?
        .ok_or_else(|| CliError::UnknownProfile(a.id.clone()))?;
    line(out, format!("entitlement of profile {} set: {text}", p.id))
}

async fn remove(ctx: &Ctx, a: RemoveArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let mut p = ctx.profile(&a.id).await?;
    let before = p.entitlements.len();
    p.entitlements.retain(|e| e.license_type != a.license_type);
    if p.entitlements.len() == before {
        let have: Vec<&str> = p
            .entitlements
            .iter()
            .map(|e| e.license_type.as_str())
            .collect();
        return Err(CliError::Invalid(format!(
            "profile {} has no entitlement for license type {} (it has: {})",
            p.id,
            a.license_type,
            if have.is_empty() {
                "none".to_owned()
            } else {
                have.join(", ")
            }
        )));
    }
    ctx.store
        .profiles
        .update(&a.id, |p| -> Result<(), CliError> {
            p.entitlements.retain(|e| e.license_type != a.license_type);
            Ok(())
        })
        .await?
        .ok_or_else(|| CliError::UnknownProfile(a.id.clone()))?;
    line(
        out,
        format!(
            "entitlement of profile {} for {} removed; the license summary changes at the next sync",
            p.id, a.license_type
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: SetArgs,
    }

    fn args(extra: &[&str]) -> Result<SetArgs, clap::Error> {
        let mut v = vec![
            "t",
            "acme",
            "--license-type",
            "Business_Plus",
            "--purchased",
            "50",
        ];
        v.extend_from_slice(extra);
        T::try_parse_from(v).map(|t| t.a)
    }

    fn existing(price: Option<u64>, currency: Option<&str>) -> Entitlement {
        Entitlement {
            license_type: "business_plus".into(),
            purchased: 10,
            unit_price_cents: price,
            currency: currency.map(Into::into),
        }
    }

    #[test]
    fn price_defaults_to_usd_cents() {
        let e = entitlement_from(&args(&["--price", "33.00"]).unwrap(), None).unwrap();
        assert_eq!(e.license_type, "business_plus");
        assert_eq!(e.purchased, 50);
        assert_eq!(e.unit_price_cents, Some(3300));
        assert_eq!(e.currency.as_deref(), Some("USD"));
        assert_eq!(
            describe(&e),
            "business_plus: 50 seats at 33.00 USD per seat per month (1,650.00 USD per month)"
        );
    }

    #[test]
    fn explicit_and_kept_currency() {
        let e = entitlement_from(
            &args(&["--price", "4200", "--currency", "jpy"]).unwrap(),
            None,
        )
        .unwrap();
        assert_eq!(
            (e.unit_price_cents, e.currency.as_deref()),
            (Some(4200), Some("JPY"))
        );
        let old = existing(Some(2000), Some("EUR"));
        let e = entitlement_from(&args(&["--price", "21.5"]).unwrap(), Some(&old)).unwrap();
        assert_eq!(
            (e.unit_price_cents, e.currency.as_deref()),
            (Some(2150), Some("EUR"))
        );
    }

    #[test]
    fn without_price_the_stored_price_is_kept() {
        let old = existing(Some(2000), Some("EUR"));
        let e = entitlement_from(&args(&[]).unwrap(), Some(&old)).unwrap();
        assert_eq!((e.purchased, e.unit_price_cents), (50, Some(2000)));
        let e = entitlement_from(&args(&[]).unwrap(), None).unwrap();
        assert_eq!((e.unit_price_cents, e.currency.as_deref()), (None, None));
        assert_eq!(describe(&e), "business_plus: 50 seats, no price set");
    }

    #[test]
    fn bad_prices_are_usage_errors_with_reasons() {
        let msg = |extra: &[&str]| args(extra).map(|_| ()).unwrap_err().to_string();
        assert!(msg(&["--price", "-5"]).contains("cannot be negative"));
        assert!(msg(&["--price", "abc"]).contains("not a decimal number"));
        assert!(msg(&["--price", "3,50"]).contains("not a decimal number"));
        assert!(msg(&["--price", "1", "--currency", "dollars"]).contains("ISO 4217"));
        assert!(msg(&["--currency", "EUR"]).contains("--price"));
        let e = T::try_parse_from(["t", "acme", "--license-type", "x", "--purchased", "-3"])
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(e.contains("whole number of seats"), "{e}");
        // decimals the currency does not have are caught once the currency is known
        let e = entitlement_from(
            &args(&["--price", "1.5", "--currency", "JPY"]).unwrap(),
            None,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value for --price: JPY prices have no decimal places: \"1.5\""
        );
        assert_eq!(e.exit_code(), 2);
    }
}
