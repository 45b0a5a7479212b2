use super::{retry_after_from_headers, ErrorCode, ProviderError};

/// oauth2's HTTP hook for every provider's token endpoint: sends with our client (no redirects,
/// timeouts) and turns 429 and 5xx into typed, retryable errors (oauth2 itself would report them
/// as unparseable error bodies).
pub async fn send_oauth(
    provider: &'static str,
    http: &reqwest::Client,
    req: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, ProviderError> {
    let (parts, body) = req.into_parts();
    let resp = http
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(|e| ProviderError::from_reqwest(provider, &e))?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .bytes()
        .await
        .map_err(|e| ProviderError::from_reqwest(provider, &e))?;
    if status.as_u16() == 429 {
        return Err(ProviderError::RateLimited {
            provider,
            retry_after: retry_after_from_headers(&headers),
            request_id: None,
        });
    }
    if status.is_server_error() {
        return Err(ProviderError::Server {
            provider,
            status: status.as_u16(),
            code: ErrorCode::NoCode(status.as_u16()),
            request_id: None,
            retry_after: retry_after_from_headers(&headers),
        });
    }
    let mut out = oauth2::HttpResponse::new(body.to_vec());
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    Ok(out)
}

/// Maps oauth2's error for a token request to ours (no secret in any variant: oauth2's
/// `ServerResponse` holds the provider's error code and description only).
pub fn token_error<T>(
    provider: &'static str,
    e: oauth2::RequestTokenError<ProviderError, T>,
) -> ProviderError
where
    T: oauth2::ErrorResponse + 'static + AsOAuthError,
{
    match e {
        oauth2::RequestTokenError::ServerResponse(r) => {
            let (code, description) = r.code_and_description();
            ProviderError::Auth {
                provider,
                code,
                description,
            }
        }
        oauth2::RequestTokenError::Request(e) => e,
        // a cut token answer is retried like a cut connection; a wrong shape is not
        oauth2::RequestTokenError::Parse(e, _) => {
            ProviderError::from_body(provider, "oauth2/token", e.inner())
        }
        oauth2::RequestTokenError::Other(m) => ProviderError::Malformed {
            provider,
            endpoint: "oauth2/token".into(),
            message: m,
        },
    }
}

/// The error code and description of an OAuth error response.
pub trait AsOAuthError {
    fn code_and_description(&self) -> (String, String);
}

impl AsOAuthError for oauth2::basic::BasicErrorResponse {
    fn code_and_description(&self) -> (String, String) {
        (
            self.error().to_string(),
            self.error_description().cloned().unwrap_or_default(),
        )
    }
}
