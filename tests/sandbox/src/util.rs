//! Small helpers shared by the providers: URL-encoded parsing, base64, timestamps, request ids.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use rand::Rng;

/// State that every clone of a handle sees. A panic while it was locked (a failed assertion in
/// a test) does not poison it: the next test request still gets an answer.
#[derive(Debug, Default)]
pub(crate) struct Shared<T>(Arc<Mutex<T>>);

impl<T> Shared<T> {
    pub(crate) fn new(value: T) -> Self {
        Shared(Arc::new(Mutex::new(value)))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

// Not derived: a derive would require `T: Clone`.
impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared(Arc::clone(&self.0))
    }
}

/// Decoded `application/x-www-form-urlencoded` pairs (a query string or a form body), in order.
#[derive(Debug, Default, Clone)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(raw: &str) -> Self {
        Params(
            raw.split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| match pair.split_once('=') {
                    Some((k, v)) => (percent_decode(k), percent_decode(v)),
                    None => (percent_decode(pair), String::new()),
                })
                .collect(),
        )
    }

    /// The first value given for `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The query string's parameters (none if there is no query).
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Params {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Params::parse(parts.uri.query().unwrap_or("")))
    }
}

/// Percent-decodes one component; `+` is a space. Malformed escapes are kept as they are.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

const B64_STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
pub(crate) const B64_URL: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// URL-safe base64 without padding (the alphabet Box's markers use).
pub(crate) fn b64url_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(B64_URL[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// Decodes standard or URL-safe base64, padded or not. `None` if it is not base64.
pub(crate) fn b64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for c in s.bytes() {
        let v = B64_STD
            .iter()
            .position(|&x| x == c)
            .or_else(|| B64_URL.iter().position(|&x| x == c))? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // A single leftover character (6 bits) can't come from any byte string.
    if bits >= 6 {
        return None;
    }
    Some(out)
}

/// Box renders timestamps as RFC 3339 with an offset, e.g. `2012-12-12T10:53:43-08:00`.
/// The sandbox uses the fixed offset of the spec's examples (Pacific standard time).
pub(crate) fn box_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&PACIFIC)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

const PACIFIC: FixedOffset = match FixedOffset::west_opt(8 * 3600) {
    Some(offset) => offset,
    None => panic!("-08:00 is a valid offset"),
};

/// Parses an RFC 3339 timestamp. A `+` offset that arrived unescaped in a query string has
/// become a space; that is forgiven.
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_rfc3339(&s.replace(' ', "+")))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A fresh id shaped like Box's `request_id` values (`1063648633582d352dd9890`).
pub(crate) fn request_id() -> String {
    let n: u128 = rand::rng().random();
    let hex = format!("{n:032x}");
    hex[..23].to_string()
}

/// A fresh `X-Dropbox-Request-Id` value (32 lowercase hex digits).
pub(crate) fn dropbox_request_id() -> String {
    let n: u128 = rand::rng().random();
    format!("{n:032x}")
}

/// Dropbox's `common.DropboxTimestamp` format.
pub(crate) const DROPBOX_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// `2017-01-25T15:51:30Z`.
pub(crate) fn dropbox_time(t: DateTime<Utc>) -> String {
    t.format(DROPBOX_TIME_FORMAT).to_string()
}

/// Parses exactly `%Y-%m-%dT%H:%M:%SZ` (what Stone's Timestamp validator accepts).
pub(crate) fn parse_dropbox_time(s: &str) -> Option<DateTime<Utc>> {
    chrono::NaiveDateTime::parse_from_str(s, DROPBOX_TIME_FORMAT)
        .ok()
        .filter(|t| t.format(DROPBOX_TIME_FORMAT).to_string() == s)
        .map(|t| t.and_utc())
}

/// Percent-encodes a query component (everything but RFC 3986 unreserved characters).
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `(client_id, client_secret)` from an HTTP Basic `Authorization` header.
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let decoded = String::from_utf8(b64_decode(authorization(headers, "basic")?)?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// The token of an `Authorization: Bearer <token>` header.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    authorization(headers, "bearer").filter(|t| !t.is_empty())
}

/// The credentials of an `Authorization: <scheme> <credentials>` header (the scheme in any
/// case, the credentials trimmed).
fn authorization<'h>(headers: &'h HeaderMap, scheme: &str) -> Option<&'h str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (given, credentials) = value.split_once(' ')?;
    given
        .eq_ignore_ascii_case(scheme)
        .then(|| credentials.trim())
}

/// SplitMix64's finalizer: a cheap, well-mixed hash of `x` (for values derived from a seed
/// without drawing from the generators' random streams).
pub(crate) fn mix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A random opaque token of `len` alphanumeric characters.
pub(crate) fn random_token(len: usize) -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_decode() {
        let p =
            Params::parse("a=1&b=x%2By+z&c&fields=id,name&bad=%zz&t=2024-01-01T00:00:00%2B02:00");
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), Some("x+y z"));
        assert_eq!(p.get("c"), Some(""));
        assert_eq!(p.get("fields"), Some("id,name"));
        assert_eq!(p.get("bad"), Some("%zz"));
        assert_eq!(p.get("t"), Some("2024-01-01T00:00:00+02:00"));
        assert_eq!(p.get("missing"), None);
        assert_eq!(Params::parse("x=%4").get("x"), Some("%4"));
    }

    #[test]
    fn base64_round_trip() {
        for s in [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            r#"{"type":"id","dir":"next","tail":"10000123"}"#,
        ] {
            let enc = b64url_encode(s.as_bytes());
            assert!(!enc.contains('='));
            assert_eq!(b64_decode(&enc).as_deref(), Some(s.as_bytes()), "{s}");
        }
        assert_eq!(
            b64_decode("c2FuZGJveC1ib3gtY2xpZW50OnNlY3JldA==").as_deref(),
            Some(&b"sandbox-box-client:secret"[..])
        );
        assert_eq!(b64_decode("not base64!"), None);
        assert_eq!(b64_decode("a"), None);
    }

    #[test]
    fn times() {
        let t = DateTime::parse_from_rfc3339("2012-12-12T18:53:43Z").map(|t| t.with_timezone(&Utc));
        let t = t.ok();
        assert_eq!(
            t.map(box_time).as_deref(),
            Some("2012-12-12T10:53:43-08:00")
        );
        assert_eq!(parse_time("2012-12-12T10:53:43-08:00"), t);
        assert_eq!(parse_time("2012-12-12T19:53:43 01:00"), t);
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(request_id().len(), 23);
        assert_eq!(dropbox_request_id().len(), 32);
        let t = parse_dropbox_time("2017-01-25T15:51:30Z").expect("valid");
        assert_eq!(dropbox_time(t), "2017-01-25T15:51:30Z");
        assert_eq!(parse_dropbox_time("2017-01-25T15:51:30"), None);
        assert_eq!(parse_dropbox_time("2017-01-25T15:51:30.5Z"), None);
        assert_eq!(parse_dropbox_time("2017-01-25 15:51:30Z"), None);
        assert_eq!(parse_dropbox_time("2017-1-25T15:51:30Z"), None);
        assert_eq!(percent_encode("a b+c/~é"), "a%20b%2Bc%2F~%C3%A9");
    }
}
