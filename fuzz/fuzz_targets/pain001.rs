//! pain.001.001.03 documents: the reader, then the single or bulk payment
//! they initiate (the first byte picks which).
#![no_main]

use fintechapi_domain::payment::PaymentService;
use fintechapi_xs2a::pain001;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&service, body)) = data.split_first() else {
        return;
    };
    match pain001::parse(body) {
        Ok(document) => {
            assert!(!document.transactions.is_empty());
            assert!(document.message_id.chars().count() <= 35);
            assert!(document.debtor_name.chars().count() <= 70);
            for t in &document.transactions {
                assert!(t.amount.is_positive(), "{:?}", t.amount);
                assert!(t.end_to_end_id.chars().count() <= 35);
                assert!(t.creditor_name.chars().count() <= 70);
                assert!(
                    t.remittance
                        .as_ref()
                        .is_none_or(|r| r.chars().count() <= 140)
                );
                assert_eq!(
                    t.creditor_iban.as_str().parse().ok().as_ref(),
                    Some(&t.creditor_iban)
                );
            }
        }
        // Errors about the root (not XML, no namespace) name no path yet.
        Err(error) => assert!(!error.to_string().is_empty()),
    }
    let service = if service % 2 == 0 {
        PaymentService::Single
    } else {
        PaymentService::Bulk
    };
    if let Err(error) = fintechapi_xs2a::fuzz::pain001_payment(body, service) {
        assert!(error.status.is_client_error(), "{error:?}");
    }
});
