//! Subject DNs of client certificates (`tls_client_auth`): a certificate's DN
//! as text, and the comparison with the registered DN.
#![no_main]

use fintechapi_domain::tls::ClientCertificate;
use fintechapi_oauth::server::{same_dn, subject_dn};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The input is a DER certificate, or two DNs separated by a NUL byte.
    if let Some(dn) = subject_dn(&ClientCertificate(data.to_vec())) {
        assert!(same_dn(&dn, &dn));
    }
    let text = String::from_utf8_lossy(data);
    let (a, b) = text.split_once('\0').unwrap_or((&text, ""));
    assert!(same_dn(a, a), "a DN differs from itself: {a:?}");
    assert_eq!(same_dn(a, b), same_dn(b, a), "{a:?} vs {b:?}");
});
