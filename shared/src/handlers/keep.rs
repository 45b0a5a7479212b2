//! The keep page, served by the oauth-callback function: `GET /keep?t=<token>` shows who and
//! what with a "Keep my license" form and changes nothing (mail scanners prefetch links);
//! `POST /keep` (form `t=...&reason=...`) records the keep. A bad link gets a plain page that
//! says why and names nobody. Everything shown is HTML-escaped.
use std::collections::HashMap;

use chrono::Utc;

use super::oauth_callback::Page;
use crate::domain::notice::{day, escape_html};
use crate::notify::keep::{self, KeepRefusal, KeepView, MAX_REASON_CHARS};
use crate::ports::Repos;

/// The oauth callback's headers, except that the keep form may post back to this origin.
pub const HEADERS: &[(&str, &str)] = &[
    ("content-type", "text/html; charset=utf-8"),
    ("cache-control", "no-store"),
    (
        "content-security-policy",
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
];

/// Whether a request path is the keep page's (`/keep`, also under a stage or a function URL
/// prefix such as `cargo lambda watch`'s `/lambda-url/oauth-callback/keep`).
pub fn is_keep_path(path: &str) -> bool {
    let p = path.trim_end_matches('/');
    p == "/keep" || p == "keep" || p.ends_with("/keep")
}

/// Dispatches by method. `query` is the request's query string parameters, `body` the raw
/// (already base64-decoded) request body.
pub async fn handle<R: Repos>(
    repos: &R,
    method: &str,
    query: &HashMap<String, String>,
    body: &[u8],
) -> Page {
    match method.to_ascii_uppercase().as_str() {
        "GET" | "HEAD" => get(repos, query.get("t").map(String::as_str)).await,
        "POST" => {
            let form: HashMap<String, String> =
                url::form_urlencoded::parse(body).into_owned().collect();
            post(
                repos,
                form.get("t").map(String::as_str),
                form.get("reason").map(String::as_str),
            )
            .await
        }
        _ => page(
            405,
            "Not allowed",
            "<p>This page only answers GET and POST.</p>",
        ),
    }
}

/// GET: the notice behind the link, with the form. Reads only.
pub async fn get<R: Repos>(repos: &R, token: Option<&str>) -> Page {
    let token = token.unwrap_or_default();
    match keep::inspect(repos, token, Utc::now()).await {
        Ok(Ok(view)) => form_page(&view, token),
        Ok(Err(refusal)) => refused(refusal),
        Err(e) => unavailable(&e),
    }
}

/// POST: records the keep.
pub async fn post<R: Repos>(repos: &R, token: Option<&str>, reason: Option<&str>) -> Page {
    let token = token.unwrap_or_default();
    match keep::keep(repos, token, reason, Utc::now()).await {
        Ok(Ok((k, view))) => {
            let reason = k
                .reason
                .as_deref()
                .map(|r| format!("<p>Your reason, as recorded: {}</p>", escape_html(r)))
                .unwrap_or_default();
            page(
                200,
                "License kept",
                &format!(
                    "<p>Thank you, {name}. Your {license} license ({login}) is kept.</p>\
                     <p id=\"kept\">It will not be reclaimed before <time datetime=\"{iso}\">{until}</time>.</p>{reason}\
                     <p>You can close this window.</p>",
                    name = escape_html(&view.name),
                    license = escape_html(&view.license_type),
                    login = escape_html(&view.login),
                    iso = escape_html(&k.until.to_rfc3339()),
                    until = day(k.until),
                ),
            )
        }
        Ok(Err(refusal)) => refused(refusal),
        Err(e) => unavailable(&e),
    }
}

fn form_page(v: &KeepView, token: &str) -> Page {
    page(
        200,
        "Keep your license?",
        &format!(
            "<p>{name} ({login}): your <b>{license}</b> license is due to be reclaimed on <b>{due}</b>, \
             because {activity}.</p>\
             <p>If you still need it, press the button. You may say why (optional); your IT administrators will see it.</p>\
             <form method=\"post\" action=\"keep\">\
             <input type=\"hidden\" name=\"t\" value=\"{token}\">\
             <p><label for=\"reason\">Why you still need it (optional)</label><br>\
             <textarea name=\"reason\" id=\"reason\" rows=\"3\" cols=\"50\" maxlength=\"{max}\"></textarea></p>\
             <p><button type=\"submit\" id=\"keep\">Keep my license</button></p>\
             </form>",
            name = escape_html(&v.name),
            login = escape_html(&v.login),
            license = escape_html(&v.license_type),
            due = day(v.due_at),
            activity = escape_html(&v.last_activity),
            token = escape_html(token),
            max = MAX_REASON_CHARS,
        ),
    )
}

fn refused(r: KeepRefusal) -> Page {
    page(
        r.status(),
        "This link cannot be used",
        &format!("<p>{}</p>", escape_html(r.message())),
    )
}

fn unavailable(e: &crate::ports::StoreError) -> Page {
    tracing::error!(error = %e, "keep page: store unavailable");
    page(
        503,
        "Try again later",
        "<p>seatkeeper could not answer just now. Nothing was changed; please try the link again in a few minutes.</p>",
    )
}

fn page(status: u16, title: &str, body_html: &str) -> Page {
    Page {
        status,
        html: format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>seatkeeper: {title}</title>\
             <style>body{{font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;line-height:1.5}}\
             button{{font-size:1.1em;padding:.4em 1.2em}}</style></head>\
             <body><h1>{title}</h1>{body_html}</body></html>"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    use crate::notify::tests::fixture;
    use crate::ports::{NoticeRepo, SeatRepo};

    #[test]
    fn keep_paths_under_any_prefix() {
        assert!(is_keep_path("/keep"));
        assert!(is_keep_path("/prod/keep/"));
        assert!(is_keep_path("/lambda-url/oauth-callback/keep"));
        assert!(!is_keep_path("/oauth/dropbox/callback"));
        assert!(!is_keep_path("/keeper"));
    }

    #[test]
    fn the_csp_allows_posting_the_form_to_this_origin_only() {
        let h: HashMap<_, _> = HEADERS.iter().copied().collect();
        assert!(h["content-security-policy"].contains("form-action 'self'"));
        assert!(h["content-security-policy"].contains("default-src 'none'"));
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["cache-control"], "no-store");
    }

    #[tokio::test]
    async fn the_page_get_changes_nothing_and_post_keeps() {
        let f = fixture(&["eve@acme.com"]).await;
        f.sync(Utc::now() - Duration::days(1)).await;
        let token = f.token("eve@acme.com");
        let before = f.repos.notices().notices("acme").await.unwrap();
        let q: HashMap<String, String> = [("t".to_owned(), token.clone())].into();

        // a scanner may fetch it any number of times
        for _ in 0..3 {
            let p = handle(&f.repos, "GET", &q, b"").await;
            assert_eq!(p.status, 200, "{}", p.html);
            assert!(p.html.contains("<form method=\"post\" action=\"keep\">"));
            assert!(p.html.contains(&format!(
                "<input type=\"hidden\" name=\"t\" value=\"{token}\">"
            )));
            assert!(p.html.contains("<textarea name=\"reason\" id=\"reason\""));
            assert!(p
                .html
                .contains("<button type=\"submit\" id=\"keep\">Keep my license</button>"));
            assert!(p.html.contains("eve@acme.com"));
        }
        assert_eq!(f.repos.notices().notices("acme").await.unwrap(), before);
        assert_eq!(f.repos.keep_of("acme", "2"), None);

        let body = format!("t={token}&reason=%3Cscript%3Ealert(1)%3C%2Fscript%3E+needed");
        let p = handle(&f.repos, "POST", &HashMap::new(), body.as_bytes()).await;
        assert_eq!(p.status, 200, "{}", p.html);
        assert!(p.html.contains("id=\"kept\""));
        let k = f.repos.keep_of("acme", "2").unwrap();
        assert!(p.html.contains(&day(k.until)));
        assert_eq!(
            k.reason.as_deref(),
            Some("<script>alert(1)</script> needed")
        );
        assert!(!p.html.contains("<script>"), "escaped: {}", p.html);
        assert!(p.html.contains("&lt;script&gt;"));

        // the same link again: a plain refusal naming nobody
        let p = handle(&f.repos, "GET", &q, b"").await;
        assert_eq!(p.status, 409);
        assert!(!p.html.contains("eve@acme.com"));
        let p = handle(&f.repos, "GET", &HashMap::new(), b"").await;
        assert_eq!(p.status, 400);
        let p = handle(&f.repos, "DELETE", &q, b"").await;
        assert_eq!(p.status, 405);
    }

    #[tokio::test]
    async fn a_roster_name_is_escaped_on_the_page() {
        let f = fixture(&["eve@acme.com"]).await;
        let mut s = f.repos.seats().get("acme", "2").await.unwrap().unwrap();
        s.name = "<script>alert('x')</script>".into();
        f.repos.seats().put_many(&[s]).await.unwrap();
        f.sync(Utc::now() - Duration::days(1)).await;
        let token = f.token("eve@acme.com");
        let p = get(&f.repos, Some(&token)).await;
        assert_eq!(p.status, 200);
        assert!(!p.html.contains("<script>"), "{}", p.html);
        assert!(p
            .html
            .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        let mail = &f.mailer.sent_to("eve@acme.com")[0];
        assert!(!mail.html.contains("<script>"));
    }
}
