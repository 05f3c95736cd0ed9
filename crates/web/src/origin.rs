//! Cross-site request defences of form posts.

use axum::http::{HeaderMap, header};

/// A form post from another site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("This form was submitted from another site and was refused.")]
pub struct CrossSite;

/// Refuses cross-site form posts: a browser's `Sec-Fetch-Site` must say
/// same-origin and any `Origin` must be this host.
pub fn check_origin(headers: &HeaderMap, host: Option<&str>) -> Result<(), CrossSite> {
    let refuse = || Err(CrossSite);
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.to_str(), Ok("same-origin" | "none"))
    {
        return refuse();
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let Ok(origin) = origin.to_str() else {
            return refuse();
        };
        // Browsers send `Origin: null` in privacy-sensitive contexts; trust it only
        // when they also vouch (a header pages cannot set) that the post is same-origin.
        let same_origin_null = origin == "null"
            && headers
                .get("sec-fetch-site")
                .is_some_and(|s| s.as_bytes() == b"same-origin");
        let expected = host.map(|h| format!("https://{h}"));
        if !same_origin_null && expected.as_deref() != Some(origin) {
            return refuse();
        }
    }
    Ok(())
}

/// The request's host (`Host` for HTTP/1.1, `:authority` for HTTP/2).
pub fn request_host<'a>(headers: &'a HeaderMap, uri: &'a axum::http::Uri) -> Option<&'a str> {
    uri.authority()
        .map(|a| a.as_str())
        .or_else(|| headers.get(header::HOST).and_then(|h| h.to_str().ok()))
}
