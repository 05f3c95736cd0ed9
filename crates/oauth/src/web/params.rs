//! The form body of the OAuth endpoints, read before the client is
//! authenticated: capped in bytes and parameters, repeats refused.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};

use crate::error::OAuthError;

/// OAuth requests carry about a dozen parameters; a few dozen is plenty.
const MAX_PARAMS: usize = 40;
/// A client assertion, a DPoP-bound PAR and its `authorization_details` fit
/// well within this; anything larger is refused before it is parsed.
pub(super) const MAX_FORM_BYTES: usize = 64 * 1024;

/// A form body as name/value pairs; RFC 6749 §3.2 forbids repeated parameters.
/// Read before the client is authenticated, so it costs linear time at most:
/// the body is capped, and so is the number of parameters.
pub(crate) struct Params(pub(super) Vec<(String, String)>);

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &S) -> Result<Self, OAuthError> {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let too_large =
            || OAuthError::too_large(format!("the body is larger than {MAX_FORM_BYTES} bytes"));
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > MAX_FORM_BYTES) {
            // Read to the end, unparsed (the server's body limit and read timeout
            // bound it): a client still sending would miss an earlier answer.
            let _ = axum::body::to_bytes(req.into_body(), usize::MAX).await;
            return Err(too_large());
        }
        // The router caps the body at MAX_FORM_BYTES (DefaultBodyLimit), answering 413.
        let body = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                OAuthError::invalid_request(format!(
                    "the body could not be read: {}",
                    e.body_text()
                ))
            }
        })?;
        Self::parse(&body)
    }
}

impl Params {
    pub(super) fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (name, value) in url::form_urlencoded::parse(body) {
            if pairs.len() == MAX_PARAMS {
                return Err(OAuthError::invalid_request(format!(
                    "more than {MAX_PARAMS} parameters"
                )));
            }
            // At most MAX_PARAMS earlier names: bounded work per parameter.
            if pairs.iter().any(|(earlier, _)| *earlier == name) {
                return Err(OAuthError::invalid_request(format!(
                    "parameter {name:?} is repeated"
                )));
            }
            pairs.push((name.into_owned(), value.into_owned()));
        }
        Ok(Self(pairs))
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    pub(super) fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("parameter {name:?} is missing")))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn a_form_is_read_once_and_repeats_are_refused() {
        let params = Params::parse(b"grant_type=client_credentials&scope=a+b").unwrap();
        assert_eq!(params.get("grant_type"), Some("client_credentials"));
        assert_eq!(params.get("scope"), Some("a b"));
        let e = Params::parse(b"scope=a&grant_type=x&scope=b")
            .err()
            .unwrap();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(e.description.contains("\"scope\" is repeated"), "{e}");
    }

    #[test]
    fn a_form_with_too_many_parameters_is_refused_without_reading_it_all() {
        let fine: String = (0..MAX_PARAMS).map(|i| format!("p{i}=v&")).collect();
        assert!(Params::parse(fine.as_bytes()).is_ok());
        let huge: String = (0..125_000).map(|i| format!("p{i}=&")).collect();
        let started = std::time::Instant::now();
        let e = Params::parse(huge.as_bytes()).err().unwrap();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(e.description.contains("more than 40 parameters"), "{e}");
        assert!(started.elapsed() < std::time::Duration::from_millis(50));
    }
}
