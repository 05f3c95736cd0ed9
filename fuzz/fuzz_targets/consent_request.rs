//! `POST /v1/consents` bodies.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Err(error) = fintechapi_xs2a::fuzz::consent_request(body) {
        assert!(error.status.is_client_error(), "{error:?}");
    }
});
