//! Periodic pain.001 initiations: `multipart/form-data` with the parts
//! `xml_sct` and `json_standingorderType`. The input's first line is the
//! boundary, the rest the body.
#![no_main]

use axum::body::Bytes;
use libfuzzer_sys::fuzz_target;

mod block_on;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (boundary, body) = text.split_once('\n').unwrap_or(("b", &text));
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let body = Bytes::from(body.as_bytes().to_vec());
    let result = block_on::block_on(fintechapi_xs2a::fuzz::periodic_pain001(&content_type, body));
    if let Err(error) = result {
        assert!(error.status.is_client_error(), "{error:?}");
    }
});
