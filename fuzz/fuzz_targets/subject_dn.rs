//! Subject DNs of client certificates (`tls_client_auth`): registered RFC 4514
//! strings and certificate subjects, compared by `Dn`.
#![no_main]

use fintechapi_domain::dn::Dn;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The input is a DER certificate, or two DNs separated by a NUL byte.
    if let Ok((_, certificate)) = x509_parser::parse_x509_certificate(data) {
        let dn = Dn::from_x509(certificate.subject());
        assert_eq!(dn, dn.clone());
    }
    let text = String::from_utf8_lossy(data);
    let (a, b) = text.split_once('\0').unwrap_or((&text, ""));
    if let (Ok(x), Ok(y)) = (Dn::parse(a), Dn::parse(b)) {
        assert_eq!(x == y, y == x, "{a:?} vs {b:?}");
    }
    if let Ok(x) = Dn::parse(a) {
        assert_eq!(
            Dn::parse(a).ok(),
            Some(x),
            "parsing is deterministic: {a:?}"
        );
    }
});
