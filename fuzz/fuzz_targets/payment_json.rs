//! JSON bodies of `POST /v1/{payments,periodic-payments,bulk-payments}/…`;
//! the first byte picks the service.
#![no_main]

use fintechapi_domain::payment::PaymentService;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&service, body)) = data.split_first() else {
        return;
    };
    let service = match service % 3 {
        0 => PaymentService::Single,
        1 => PaymentService::Periodic,
        _ => PaymentService::Bulk,
    };
    if let Err(error) = fintechapi_xs2a::fuzz::payment_request(body, service) {
        assert!(error.status.is_client_error(), "{error:?}");
    }
});
