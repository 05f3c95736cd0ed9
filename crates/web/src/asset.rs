//! Files the pages load (stylesheets, scripts, downloads): one answer shape,
//! cacheable by browsers for `max_age` seconds.

use axum::http::header;
use axum::response::{IntoResponse, Response};

pub fn asset(content_type: &'static str, max_age: u32, body: impl IntoResponse) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CACHE_CONTROL, format!("public, max-age={max_age}")),
        ],
        body,
    )
        .into_response()
}
