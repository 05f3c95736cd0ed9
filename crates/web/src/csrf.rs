//! Double-submit CSRF tokens for forms shown before login (a session's forms
//! carry the session's own token instead).

use axum::http::{HeaderMap, HeaderValue};
use fintechapi_domain::secret::{SecretError, constant_time_eq, random_token};

use crate::cookie::{cookie, set_cookie};

/// The token in cookie `name`, or a fresh one and the cookie that sets it.
pub fn double_submit_token(
    headers: &HeaderMap,
    name: &str,
) -> Result<(String, Option<HeaderValue>), SecretError> {
    match cookie(headers, name) {
        Some(token) => Ok((token, None)),
        None => {
            let token = random_token(32)?;
            let set = set_cookie(name, &token);
            Ok((token, Some(set)))
        }
    }
}

/// Whether the form's token is the one in cookie `name` (compared in constant time).
pub fn double_submit_matches(headers: &HeaderMap, name: &str, form_token: &str) -> bool {
    cookie(headers, name).is_some_and(|token| constant_time_eq(&token, form_token))
}
