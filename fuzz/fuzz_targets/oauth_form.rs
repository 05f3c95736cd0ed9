//! The form bodies of `/oauth2/token`, `/par`, `/introspect` and `/revoke`:
//! what the endpoints read is exactly what the body encodes, and a body that
//! repeats a parameter name is refused (RFC 6749 §3.2).
#![no_main]

use std::collections::HashSet;

use axum::body::Body;
use axum::http::{Request, header};
use libfuzzer_sys::fuzz_target;

mod block_on;

fuzz_target!(|body: &[u8]| {
    let Ok(request) = Request::post("/oauth2/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.to_vec()))
    else {
        return;
    };
    let expected: Vec<(String, String)> = url::form_urlencoded::parse(body)
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect();
    let mut names = HashSet::new();
    let repeated = !expected.iter().all(|(n, _)| names.insert(n.as_str()));
    match block_on::block_on(fintechapi_oauth::web::form_params(request)) {
        Ok(params) => {
            assert!(!repeated, "a repeated parameter was accepted");
            assert_eq!(params, expected);
        }
        Err(error) => {
            // A cap on the parameter count may refuse more; never a server error.
            let status = axum::response::IntoResponse::into_response(error).status();
            assert!(status.is_client_error(), "{status}");
        }
    }
});
