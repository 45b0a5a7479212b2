//! oauth-callback: `GET /oauth/{provider}/callback` (API Gateway HTTP API). Finishes a Dropbox
//! connect and answers a small HTML page.
use lambda_http::{service_fn, tracing, Body, Error, Request, RequestExt, Response};
use seatkeeper::functions::oauth_callback::{handle, HEADERS};
use seatkeeper::runtime::{connect_service, AwsClients};
use seatkeeper::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let aws = AwsClients::from_env().await;
    let svc = connect_service(&config, &aws)?;
    let svc = &svc;
    lambda_http::run(service_fn(move |req: Request| async move {
        let provider = req
            .path_parameters()
            .first("provider")
            .unwrap_or_default()
            .to_owned();
        let query = req
            .query_string_parameters()
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let page = handle(svc, &provider, &query).await;
        let mut resp = Response::builder().status(page.status);
        for (k, v) in HEADERS {
            resp = resp.header(*k, *v);
        }
        resp.body(Body::from(page.html)).map_err(Error::from)
    }))
    .await
}
