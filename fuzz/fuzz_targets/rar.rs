//! `authorization_details` (RFC 9396) of a pushed request.
#![no_main]

use fintechapi_oauth::rar::{self, Requested};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match rar::parse(text) {
        Ok((requested, value)) => {
            // Exactly one detail, stored as compact JSON that parses the same again.
            assert_eq!(value.as_array().map(Vec::len), Some(1));
            let (again, _) = rar::parse(&value.to_string())
                .unwrap_or_else(|e| panic!("stored details do not parse again: {e:?}"));
            assert_eq!(again, requested);
            if let Requested::FundsConfirmation { iban, .. } = requested {
                assert_eq!(iban.as_str().parse().ok(), Some(iban));
            }
        }
        Err(error) => {
            let status = axum::response::IntoResponse::into_response(error).status();
            assert!(status.is_client_error(), "{status}");
        }
    }
});
