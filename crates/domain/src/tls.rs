//! A client's TLS certificate as the listener verified it: what mutual-TLS
//! client authentication (RFC 8705) and certificate-bound tokens work with.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The verified leaf certificate (DER) of a mutual-TLS connection; a request
/// extension on every request that arrived over such a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate(pub Vec<u8>);

impl ClientCertificate {
    /// RFC 8705 §3.1 `x5t#S256`: base64url SHA-256 of the DER certificate.
    pub fn thumbprint(&self) -> String {
        URL_SAFE_NO_PAD.encode(crate::secret::sha256(&self.0))
    }
}
