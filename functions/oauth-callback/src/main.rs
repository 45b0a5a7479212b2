//! oauth-callback: `GET /oauth/{provider}/callback` (API Gateway HTTP API). Finishes a Dropbox
//! connect and answers a small HTML page.
use lambda_http::{service_fn, tracing, Body, Error, Request, RequestExt, Response};
use seatkeeper::handlers::oauth_callback::{handle, provider_from_path, HEADERS};
use seatkeeper::wiring::{connect_service, AwsClients};
use seatkeeper::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let aws = AwsClients::from_env().await;
    let svc = connect_service(&config, &aws)?;
    let svc = &svc;
    lambda_http::run(service_fn(move |req: Request| async move {
        // The route's {provider}; from the raw path under a function URL or `cargo lambda watch`.
        let provider = req
            .path_parameters()
            .first("provider")
            .map(str::to_owned)
            .or_else(|| provider_from_path(req.uri().path()).map(str::to_owned))
            .unwrap_or_default();
        let query = req
            .query_string_parameters()
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        // API Gateway terminates TLS: the browser came over https to the Host it names.
        let request_url = req
            .headers()
            .get("host")
            .and_then(|h| h.to_str().ok())
            .and_then(|host| url::Url::parse(&format!("https://{host}{}", req.uri().path())).ok());
        let page = handle(svc, &provider, &query, request_url.as_ref()).await;
        let mut resp = Response::builder().status(page.status);
        for (k, v) in HEADERS {
            resp = resp.header(*k, *v);
        }
        resp.body(Body::from(page.html)).map_err(Error::from)
    }))
    .await
}
