//! Query strings of the transaction reports (`bookingStatus`, dates,
//! `entryReferenceFrom`, `deltaList`, paging and the sealed `cursor`); the
//! first byte picks an account or a card account.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&card, query)) = data.split_first() else {
        return;
    };
    let Ok(query) = std::str::from_utf8(query) else {
        return;
    };
    let uri = format!("/v1/accounts/a/transactions?{query}");
    if let Err(error) = fintechapi_xs2a::fuzz::transactions_query(&uri, card % 2 == 1) {
        assert!(error.status.is_client_error(), "{error:?}");
    }
});
