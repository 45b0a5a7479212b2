//! Prices: exact decimal parsing into minor units (cents) and formatting back. No floating point
//! anywhere, so `33.10` is 3310 cents, never 3309.
use std::fmt;
use std::str::FromStr;

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MoneyError {
    #[error("price is empty (expected a decimal number such as 33 or 33.00)")]
    Empty,
    #[error("price cannot be negative: {0:?}")]
    Negative(String),
    #[error(
        "price {0:?} is not a decimal number: expected digits with an optional '.' and decimals \
         (e.g. 33 or 33.00), without currency symbols, signs, exponents or thousands separators"
    )]
    Invalid(String),
    #[error("{currency} prices have {}: {price:?}", decimals_phrase(*.decimals))]
    TooPrecise {
        price: String,
        currency: String,
        decimals: u32,
    },
    #[error("price {0:?} is too large")]
    TooLarge(String),
    #[error("currency {0:?} is not a three-letter ISO 4217 code (e.g. USD, EUR, GBP, JPY)")]
    BadCurrency(String),
}

fn decimals_phrase(decimals: u32) -> String {
    match decimals {
        0 => "no decimal places".to_owned(),
        1 => "at most 1 decimal place".to_owned(),
        n => format!("at most {n} decimal places"),
    }
}

/// A non-negative decimal amount exactly as typed: integer digits and fraction digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    text: String,
    int: String,
    frac: String,
}

impl FromStr for Price {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        if text.is_empty() {
            return Err(MoneyError::Empty);
        }
        if let Some(rest) = text.strip_prefix('-') {
            // "-5" and "-0.5" are negative numbers, say so; "--" or "-abc" is just garbage
            if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                return Err(MoneyError::Negative(text.to_owned()));
            }
            return Err(MoneyError::Invalid(text.to_owned()));
        }
        let (int, frac) = match text.split_once('.') {
            Some((i, f)) => (i, f),
            None => (text, ""),
        };
        let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        let has_point = text.contains('.');
        if int.is_empty() || !digits(int) || !digits(frac) || (has_point && frac.is_empty()) {
            return Err(MoneyError::Invalid(text.to_owned()));
        }
        Ok(Price {
            text: text.to_owned(),
            int: int.to_owned(),
            frac: frac.to_owned(),
        })
    }
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Price {
    /// The amount in the currency's minor unit (cents for USD, yen for JPY, fils for KWD).
    /// Extra decimals are accepted only when they are zeros (`33.000` USD is 3300).
    pub fn minor_units(&self, currency: &Currency) -> Result<u64, MoneyError> {
        let decimals = currency.decimals();
        let frac = self.frac.trim_end_matches('0');
        if frac.len() > decimals as usize {
            return Err(MoneyError::TooPrecise {
                price: self.text.clone(),
                currency: currency.code().to_owned(),
                decimals,
            });
        }
        let too_large = || MoneyError::TooLarge(self.text.clone());
        let mut value: u64 = 0;
        let padded = format!("{frac:0<width$}", width = decimals as usize);
        for b in self.int.bytes().chain(padded.bytes()) {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(b - b'0')))
                .ok_or_else(too_large)?;
        }
        Ok(value)
    }
}

/// An ISO 4217 currency code, upper case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Currency(String);

impl FromStr for Currency {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let code = s.trim();
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(MoneyError::BadCurrency(s.to_owned()));
        }
        Ok(Currency(code.to_ascii_uppercase()))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Default for Currency {
    fn default() -> Self {
        Currency("USD".to_owned())
    }
}

/// ISO 4217 currencies whose minor unit is not 1/100 of the major unit.
const ZERO_DECIMALS: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
    "VUV", "XAF", "XOF", "XPF",
];
const THREE_DECIMALS: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
const FOUR_DECIMALS: &[&str] = &["CLF", "UYW"];

impl Currency {
    pub fn code(&self) -> &str {
        &self.0
    }

    /// Digits after the decimal point in this currency (2 for most).
    pub fn decimals(&self) -> u32 {
        decimals_of(&self.0)
    }
}

fn decimals_of(code: &str) -> u32 {
    let code = code.to_ascii_uppercase();
    if ZERO_DECIMALS.contains(&code.as_str()) {
        0
    } else if THREE_DECIMALS.contains(&code.as_str()) {
        3
    } else if FOUR_DECIMALS.contains(&code.as_str()) {
        4
    } else {
        2
    }
}

/// Formats an amount in minor units for people: `1,650.00 USD`. Without a currency, two decimals
/// and no code.
pub fn format_minor(amount: u64, currency: Option<&str>) -> String {
    let decimals = currency.map(decimals_of).unwrap_or(2);
    let scale = 10u64.pow(decimals);
    let major = group_thousands(amount / scale);
    let number = if decimals == 0 {
        major
    } else {
        format!(
            "{major}.{:0width$}",
            amount % scale,
            width = decimals as usize
        )
    };
    match currency {
        Some(c) => format!("{number} {c}"),
        None => number,
    }
}

/// `1234567` → `1,234,567`.
pub fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cents(s: &str, cur: &str) -> Result<u64, MoneyError> {
        s.parse::<Price>()?.minor_units(&cur.parse()?)
    }

    #[test]
    fn parses_exactly_without_float_rounding() {
        assert_eq!(cents("33.00", "USD"), Ok(3300));
        assert_eq!(cents("33", "USD"), Ok(3300));
        assert_eq!(cents("33.1", "USD"), Ok(3310));
        assert_eq!(cents("0.29", "USD"), Ok(29)); // 0.29 * 100 = 28.999999999999996 in f64
        assert_eq!(cents("4.35", "usd"), Ok(435)); // 434.99999999999994 in f64
        assert_eq!(cents(" 12.50 ", "EUR"), Ok(1250));
        assert_eq!(cents("0", "USD"), Ok(0));
        assert_eq!(cents("007.5", "USD"), Ok(750));
        assert_eq!(cents("33.000", "USD"), Ok(3300));
    }

    #[test]
    fn follows_the_currency_minor_unit() {
        assert_eq!(cents("3300", "JPY"), Ok(3300));
        assert_eq!(cents("3300.0", "JPY"), Ok(3300));
        assert_eq!(cents("1.234", "KWD"), Ok(1234));
        let e = cents("3300.5", "JPY").unwrap_err();
        assert_eq!(
            e.to_string(),
            "JPY prices have no decimal places: \"3300.5\""
        );
        let e = cents("33.001", "USD").unwrap_err();
        assert!(e.to_string().contains("at most 2 decimal places"), "{e}");
    }

    #[test]
    fn rejects_negatives_and_garbage_clearly() {
        assert_eq!(cents("-1", "USD"), Err(MoneyError::Negative("-1".into())));
        assert_eq!(
            cents("-0.50", "USD"),
            Err(MoneyError::Negative("-0.50".into()))
        );
        assert_eq!(cents("", "USD"), Err(MoneyError::Empty));
        assert_eq!(cents("   ", "USD"), Err(MoneyError::Empty));
        for bad in [
            "abc", "33,00", "1,000.00", "$33", "33 USD", "1e3", "NaN", "inf", "+5", ".5", "5.",
            "1.2.3", "--1", "-", "-abc", "３３",
        ] {
            assert!(
                matches!(cents(bad, "USD"), Err(MoneyError::Invalid(_))),
                "{bad}: {:?}",
                cents(bad, "USD")
            );
        }
        assert!(matches!(
            cents("184467440737095516.16", "USD"),
            Err(MoneyError::TooLarge(_))
        ));
        assert_eq!(cents("184467440737095516.15", "USD"), Ok(u64::MAX));
    }

    #[test]
    fn currencies_are_three_letters() {
        assert_eq!("eur".parse::<Currency>().unwrap().code(), "EUR");
        for bad in ["", "US", "USDX", "U$D", "12€"] {
            assert!(
                matches!(bad.parse::<Currency>(), Err(MoneyError::BadCurrency(_))),
                "{bad}"
            );
        }
        assert_eq!(Currency::default().code(), "USD");
    }

    #[test]
    fn formats_minor_units() {
        assert_eq!(format_minor(3300, Some("USD")), "33.00 USD");
        assert_eq!(format_minor(165_000, Some("USD")), "1,650.00 USD");
        assert_eq!(format_minor(5, None), "0.05");
        assert_eq!(format_minor(1_234_567, Some("JPY")), "1,234,567 JPY");
        assert_eq!(format_minor(1234, Some("KWD")), "1.234 KWD");
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1000), "1,000");
        assert_eq!(group_thousands(123_456_789), "123,456,789");
    }

    #[test]
    fn round_trips() {
        for (s, cur) in [
            ("33.00", "USD"),
            ("0.01", "EUR"),
            ("1650.00", "GBP"),
            ("3300", "JPY"),
        ] {
            let c = cents(s, cur).unwrap();
            let formatted = format_minor(c, Some(cur));
            let back = formatted.trim_end_matches(cur).trim().replace(',', "");
            assert_eq!(cents(&back, cur).unwrap(), c);
        }
    }
}
