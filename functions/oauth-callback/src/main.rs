//! oauth-callback: the HTTP API's pages. `GET /oauth/{provider}/callback` finishes a Dropbox
//! connect; `GET /keep?t=...` and `POST /keep` are notify mode's keep page. Each answers a
//! small HTML page with its security headers.
use lambda_http::{service_fn, tracing, Body, Error, Request, RequestExt, Response};
use seatkeeper::handlers::oauth_callback::{handle, provider_from_path, HEADERS};
use seatkeeper::handlers::{keep, oauth_callback::Page};
use seatkeeper::wiring::{connect_service, store, AwsClients};
use seatkeeper::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let aws = AwsClients::from_env().await;
    let svc = connect_service(&config, &aws)?;
    let repos = store(&config, &aws);
    let (svc, repos) = (&svc, &repos);
    lambda_http::run(service_fn(move |req: Request| async move {
        let query = req
            .query_string_parameters()
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        if keep::is_keep_path(req.uri().path()) {
            let page =
                keep::handle(repos, req.method().as_str(), &query, req.body().as_ref()).await;
            return respond(page, keep::HEADERS);
        }
        // The route's {provider}; from the raw path under a function URL or `cargo lambda watch`.
        let provider = req
            .path_parameters()
            .first("provider")
            .map(str::to_owned)
            .or_else(|| provider_from_path(req.uri().path()).map(str::to_owned))
            .unwrap_or_default();
        // API Gateway terminates TLS: the browser came over https to the Host it names.
        let request_url = req
            .headers()
            .get("host")
            .and_then(|h| h.to_str().ok())
            .and_then(|host| url::Url::parse(&format!("https://{host}{}", req.uri().path())).ok());
        let page = handle(svc, &provider, &query, request_url.as_ref()).await;
        respond(page, HEADERS)
    }))
    .await
}

fn respond(page: Page, headers: &[(&str, &str)]) -> Result<Response<Body>, Error> {
    let mut resp = Response::builder().status(page.status);
    for (k, v) in headers {
        resp = resp.header(*k, *v);
    }
    resp.body(Body::from(page.html)).map_err(Error::from)
}
