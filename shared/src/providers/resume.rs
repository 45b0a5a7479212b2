//! Resume tokens: where a roster or activity read continues after a page, as a small versioned
//! JSON string (`{"v":1,"read":"box_users","at":{...}}`). Only the adapter that wrote a token
//! reads it; `read` names the provider and the read so a token handed to another read is refused
//! rather than misread. Tokens hold the provider's own paging values (markers, positions,
//! cursors), never a credential.
use futures::Stream;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::http::ProviderError;

/// The token format; a different one (an older deployment's) is refused, not guessed at.
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Token<T> {
    v: u32,
    read: String,
    at: T,
}

/// The token of position `at` in `read`.
fn encode<T: Serialize>(
    provider: &'static str,
    read: &str,
    at: &T,
) -> Result<String, ProviderError> {
    serde_json::to_string(&Token {
        v: VERSION,
        read: read.to_owned(),
        at,
    })
    .map_err(|e| {
        invalid(
            provider,
            format!("cannot write a resume token for {read}: {e}"),
        )
    })
}

/// The position a token of `read` names; anything else is a permanent error, made before any
/// call.
fn decode<T: DeserializeOwned>(
    provider: &'static str,
    read: &str,
    token: &str,
) -> Result<T, ProviderError> {
    let bad = |why: String| invalid(provider, format!("bad resume token for {read}: {why}"));
    let t: Token<serde_json::Value> =
        serde_json::from_str(token).map_err(|e| bad(e.to_string()))?;
    if t.v != VERSION {
        return Err(bad(format!("version {} (this build reads {VERSION})", t.v)));
    }
    if t.read != read {
        return Err(bad(format!("it is a token of {}", t.read)));
    }
    serde_json::from_value(t.at).map_err(|e| bad(e.to_string()))
}

/// The token of the position after a page (`None` after the last page: no token).
pub(crate) fn token_after<T: Serialize>(
    provider: &'static str,
    read: &str,
    next: Option<T>,
) -> Result<Option<String>, ProviderError> {
    next.map(|at| encode(provider, read, &at)).transpose()
}

/// The position a read's `from` names (`None`: from the start).
pub(crate) fn position<T: DeserializeOwned>(
    provider: &'static str,
    read: &str,
    from: Option<String>,
) -> Result<Option<T>, ProviderError> {
    from.map(|t| decode(provider, read, &t)).transpose()
}

/// A read refused before any call (its token was bad): that one error.
pub(crate) fn refused<T>(e: ProviderError) -> impl Stream<Item = Result<T, ProviderError>> {
    futures::stream::iter([Err(e)])
}

fn invalid(provider: &'static str, message: String) -> ProviderError {
    ProviderError::InvalidInput { provider, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct At {
        marker: String,
    }

    #[test]
    fn a_token_reads_back_only_as_its_own_read_and_version() {
        let at = At {
            marker: "m\"1".into(),
        };
        let t = encode("box", "box_users", &at).unwrap();
        assert_eq!(t, r#"{"v":1,"read":"box_users","at":{"marker":"m\"1"}}"#);
        assert_eq!(decode::<At>("box", "box_users", &t).unwrap(), at);
        for (read, token) in [
            ("box_events", t.as_str()),
            (
                "box_users",
                r#"{"v":2,"read":"box_users","at":{"marker":"m"}}"#,
            ),
            (
                "box_users",
                r#"{"v":1,"read":"box_users","at":{"cursor":"m"}}"#,
            ),
            ("box_users", "3"),
            ("box_users", ""),
        ] {
            let e = decode::<At>("box", read, token).unwrap_err();
            assert!(
                matches!(
                    e,
                    ProviderError::InvalidInput {
                        provider: "box",
                        ..
                    }
                ),
                "{token}: {e}"
            );
            assert!(!e.is_transient());
        }
    }
}
