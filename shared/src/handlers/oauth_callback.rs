//! The oauth-callback function: `GET /oauth/{provider}/callback` from the admin's browser.
//! Answers a small HTML page; never a token, never a redirect.
use std::collections::HashMap;

use chrono::Utc;

use crate::connect::{ConnectError, ConnectService};
use crate::ports::Repos;

/// What the function answers (the HTTP layer adds the headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub status: u16,
    pub html: String,
}

/// Security headers for every answer: no caching, no scripts, no framing, no referrer.
pub const HEADERS: &[(&str, &str)] = &[
    ("content-type", "text/html; charset=utf-8"),
    ("cache-control", "no-store"),
    (
        "content-security-policy",
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
];

/// The `{provider}` of `/oauth/{provider}/callback`, for when no route template filled the path
/// parameter (a function URL, or `cargo lambda watch` locally).
pub fn provider_from_path(path: &str) -> Option<&str> {
    let rest = path.trim_end_matches('/');
    let rest = rest.strip_suffix("/callback")?;
    let (prefix, provider) = rest.rsplit_once('/')?;
    (prefix.ends_with("/oauth") || prefix == "/oauth" || prefix == "oauth")
        .then_some(provider)
        .filter(|p| !p.is_empty())
}

/// `request_url` is the callback URL as the browser reached it (scheme, host and path, no query);
/// it is the redirect URI when the deployment does not configure `OAUTH_REDIRECT_URL`.
pub async fn handle<R: Repos>(
    svc: &ConnectService<R>,
    provider: &str,
    query: &HashMap<String, String>,
    request_url: Option<&url::Url>,
) -> Page {
    if provider != "dropbox" {
        return page(
            404,
            "Unknown provider",
            &escape(&format!(
                "seatkeeper has no browser connect for {:?}. Box profiles connect with client credentials: seatctl credentials set-box.",
                provider
            )),
        );
    }
    match svc.complete(query, Utc::now(), request_url).await {
        Ok(c) => {
            tracing::info!(profile = %c.profile_id, slot = c.slot.as_str(), team_id = %c.team.team_id, "dropbox slot connected");
            let admin = c
                .admin_email
                .map(|e| {
                    format!(
                        " Files of reclaimed users will be transferred to {}.",
                        escape(&e)
                    )
                })
                .unwrap_or_default();
            page(
                200,
                "Dropbox connected",
                &format!(
                    "The <b>{}</b> slot of seatkeeper profile <b>{}</b> is connected to the Dropbox team <b>{}</b>.{} You can close this window.",
                    c.slot.as_str(),
                    escape(&c.profile_id),
                    escape(&c.team.name),
                    admin
                ),
            )
        }
        Err(e) => {
            tracing::warn!(error = %e, "dropbox connect failed");
            let status = e.status();
            let title = match e {
                ConnectError::Denied(_) => "Access denied",
                ConnectError::Authorize { .. } => "Dropbox ended the authorization",
                _ if status >= 500 => "seatkeeper could not finish",
                _ => "Connect failed",
            };
            page(status, title, &escape(&e.to_string()))
        }
    }
}

fn page(status: u16, title: &str, body_html: &str) -> Page {
    Page {
        status,
        html: format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>seatkeeper: {title}</title>\
             <style>body{{font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;line-height:1.5}}</style></head>\
             <body><h1>{title}</h1><p>{body_html}</p></body></html>"
        ),
    }
}

/// Minimal HTML escaping for text that came from Dropbox or the request.
pub fn escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_comes_from_the_callback_path() {
        assert_eq!(
            provider_from_path("/oauth/dropbox/callback"),
            Some("dropbox")
        );
        assert_eq!(provider_from_path("/prod/oauth/box/callback/"), Some("box"));
        assert_eq!(provider_from_path("/oauth//callback"), None);
        assert_eq!(provider_from_path("/other/dropbox/callback"), None);
        assert_eq!(provider_from_path("/"), None);
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<b>\"x\" & 'y'</b>"),
            "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;"
        );
        let p = page(400, "t", &escape("<script>"));
        assert!(!p.html.contains("<script>"));
    }

    #[test]
    fn the_csp_forbids_forms_too() {
        let csp = HEADERS
            .iter()
            .find(|(k, _)| *k == "content-security-policy")
            .unwrap()
            .1;
        assert!(csp.contains("form-action 'none'"), "{csp}");
    }
}
