//! TLS: the server configuration (FAPI cipher suites, ALPN, optional client
//! certificates) and the development CA generated on first start.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::crypto::{CryptoProvider, aws_lc_rs};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use time::{Duration, OffsetDateTime};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{setting}: cannot read {path}: {message}")]
    Read {
        setting: &'static str,
        path: String,
        message: String,
    },
    #[error("{setting}: {path} holds no usable {what}")]
    Empty {
        setting: &'static str,
        path: String,
        what: &'static str,
    },
    #[error("cannot write the development certificate to {path}: {message}")]
    Write { path: String, message: String },
    #[error("generating the development certificate failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("tls: {0}")]
    Config(#[from] rustls::Error),
    #[error("tls.client_ca_file: {0}")]
    ClientVerifier(String),
}

/// Where the generated development PKI lives in the data directory.
#[derive(Debug, Clone)]
pub struct DevPki {
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

impl DevPki {
    pub fn in_data_dir(data_dir: &Path) -> Self {
        let dir = data_dir.join("tls");
        Self {
            ca_cert: dir.join("dev-ca.pem"),
            ca_key: dir.join("dev-ca-key.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server-key.pem"),
        }
    }

    /// Creates the CA and a server certificate for localhost, 127.0.0.1 and ::1
    /// unless they exist. Returns true when it created anything.
    pub fn ensure(&self, now: OffsetDateTime) -> Result<bool, TlsError> {
        let have_ca = self.ca_cert.exists() && self.ca_key.exists();
        let have_server = self.server_cert.exists() && self.server_key.exists();
        if have_ca && have_server {
            return Ok(false);
        }
        let ca_params = ca_params(now);
        let ca_key = if have_ca {
            let pem = read_text("tls (development CA key)", &self.ca_key)?;
            KeyPair::from_pem(&pem)?
        } else {
            let key = KeyPair::generate()?;
            let cert = ca_params.self_signed(&key)?;
            write_file(&self.ca_cert, cert.pem().as_bytes(), 0o644)?;
            write_file(&self.ca_key, key.serialize_pem().as_bytes(), 0o600)?;
            key
        };
        let issuer = Issuer::new(ca_params, ca_key);
        let server_key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec!["localhost".to_string()])?;
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        params
            .subject_alt_names
            .push(SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()));
        params.distinguished_name = dn("localhost");
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(397);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&server_key, &issuer)?;
        write_file(&self.server_cert, cert.pem().as_bytes(), 0o644)?;
        write_file(
            &self.server_key,
            server_key.serialize_pem().as_bytes(),
            0o600,
        )?;
        Ok(true)
    }
}

impl DevPki {
    /// Issues a client certificate for mutual TLS, signed by the development CA.
    /// Returns the certificate and its private key, both PEM.
    pub fn issue_client_certificate(
        &self,
        common_name: &str,
        now: OffsetDateTime,
    ) -> Result<(String, String), TlsError> {
        let ca_key = KeyPair::from_pem(&read_text("tls (development CA key)", &self.ca_key)?)?;
        let issuer = Issuer::new(ca_params(now), ca_key);
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(common_name);
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(365);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}

/// The development CA's parameters; rebuilt identically to re-sign with a stored key.
fn ca_params(now: OffsetDateTime) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = dn("FinTechAPI Development CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(3650);
    params
}

fn dn(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "FinTechAPI development");
    dn.push(DnType::CommonName, common_name);
    dn
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TlsError> {
    let err = |e: std::io::Error| TlsError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(err)?;
    }
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(err)?;
    // `mode` applies only to a new file, and through the umask.
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(err)?;
    file.write_all(bytes).map_err(err)
}

fn read_text(setting: &'static str, path: &Path) -> Result<String, TlsError> {
    fs::read_to_string(path).map_err(|e| TlsError::Read {
        setting,
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

fn read_certs(
    setting: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let text = read_text(setting, path)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(text.as_bytes())
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(TlsError::Empty {
            setting,
            path: path.display().to_string(),
            what: "PEM certificate",
        });
    }
    Ok(certs)
}

fn read_key(setting: &'static str, path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let text = read_text(setting, path)?;
    PrivateKeyDer::from_pem_slice(text.as_bytes()).map_err(|_| TlsError::Empty {
        setting,
        path: path.display().to_string(),
        what: "PEM private key",
    })
}

/// aws-lc-rs restricted to what FAPI 2.0 allows: TLS 1.3, and TLS 1.2 only with
/// ECDHE and AES-GCM.
pub fn fapi_provider() -> CryptoProvider {
    use aws_lc_rs::cipher_suite as cs;
    CryptoProvider {
        cipher_suites: vec![
            cs::TLS13_AES_256_GCM_SHA384,
            cs::TLS13_AES_128_GCM_SHA256,
            cs::TLS13_CHACHA20_POLY1305_SHA256,
            cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ],
        ..aws_lc_rs::default_provider()
    }
}

/// Files the listener serves with.
pub struct TlsFiles<'a> {
    pub cert: &'a Path,
    pub key: &'a Path,
    /// CA bundle for optional client certificates; none means no client auth is offered.
    pub client_ca: Option<&'a Path>,
}

/// The server's certificate and key as a resolver rustls asks at each
/// handshake. `reload` swaps them whole; connections already established keep
/// the keys they were made with.
#[derive(Debug)]
pub struct ReloadingCert {
    cert_file: PathBuf,
    key_file: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Loaded>,
}

#[derive(Debug)]
struct Loaded {
    key: Arc<CertifiedKey>,
    /// The files' modification times and sizes when they were read.
    stamp: Option<[(SystemTime, u64); 2]>,
}

impl ReloadingCert {
    fn load(files: &TlsFiles<'_>, provider: Arc<CryptoProvider>) -> Result<Self, TlsError> {
        let stamp = stamp(files.cert, files.key);
        let key = certified_key(files.cert, files.key, &provider)?;
        Ok(Self {
            cert_file: files.cert.to_owned(),
            key_file: files.key.to_owned(),
            provider,
            current: RwLock::new(Loaded {
                key: Arc::new(key),
                stamp,
            }),
        })
    }

    /// Reads the files again when they changed (or always, when `force`d);
    /// true when new keys are in use. On an error the previous keys stay,
    /// so a half-written pair is simply tried again later.
    pub fn reload(&self, force: bool) -> Result<bool, TlsError> {
        let stamp = stamp(&self.cert_file, &self.key_file);
        let unchanged = stamp.is_some() && stamp == self.loaded().stamp;
        if unchanged && !force {
            return Ok(false);
        }
        let key = Arc::new(certified_key(
            &self.cert_file,
            &self.key_file,
            &self.provider,
        )?);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Loaded { key, stamp };
        Ok(true)
    }

    fn loaded(&self) -> std::sync::RwLockReadGuard<'_, Loaded> {
        self.current.read().unwrap_or_else(|p| p.into_inner())
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.loaded().key.clone())
    }
}

fn stamp(cert: &Path, key: &Path) -> Option<[(SystemTime, u64); 2]> {
    let one = |path: &Path| {
        let meta = fs::metadata(path).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    };
    Some([one(cert)?, one(key)?])
}

/// The chain and its private key, which must belong together.
fn certified_key(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain = read_certs("tls.cert_file", cert)?;
    let key = read_key("tls.key_file", key)?;
    Ok(CertifiedKey::from_der(chain, key, provider)?)
}

/// The server configuration and the resolver that reloads its certificate.
pub fn server_config(files: &TlsFiles<'_>) -> Result<(ServerConfig, Arc<ReloadingCert>), TlsError> {
    let provider = Arc::new(fapi_provider());
    let certificate = Arc::new(ReloadingCert::load(files, provider.clone())?);
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
    let builder = match files.client_ca {
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for cert in read_certs("tls.client_ca_file", path)? {
                roots
                    .add(cert)
                    .map_err(|e| TlsError::ClientVerifier(e.to_string()))?;
            }
            // Optional at the TLS layer; clients that must use mTLS are checked per request.
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| TlsError::ClientVerifier(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(certificate.clone());
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((config, certificate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_development_pki_is_created_once_and_serves() {
        let dir = tempfile::tempdir().unwrap();
        let pki = DevPki::in_data_dir(dir.path());
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        assert!(pki.ensure(now).unwrap());
        assert!(!pki.ensure(now).unwrap());
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode(&pki.ca_key).mode() & 0o777, 0o600);
        assert_eq!(mode(&pki.server_key).mode() & 0o777, 0o600);
        let files = TlsFiles {
            cert: &pki.server_cert,
            key: &pki.server_key,
            client_ca: Some(&pki.ca_cert),
        };
        let (config, _) = server_config(&files).unwrap();
        assert_eq!(config.alpn_protocols[0], b"h2");
    }

    #[test]
    fn a_changed_pair_is_reloaded_and_a_mismatched_one_keeps_the_previous() {
        let dir = tempfile::tempdir().unwrap();
        let pki = DevPki::in_data_dir(dir.path());
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        pki.ensure(now).unwrap();
        let files = TlsFiles {
            cert: &pki.server_cert,
            key: &pki.server_key,
            client_ca: None,
        };
        let (_, certificate) = server_config(&files).unwrap();
        let serving = || certificate.loaded().key.cert[0].clone();
        let first = serving();
        assert!(!certificate.reload(false).unwrap(), "unchanged files");
        fs::remove_file(&pki.server_cert).unwrap();
        pki.ensure(now).unwrap();
        assert!(certificate.reload(false).unwrap());
        let second = serving();
        assert_ne!(first, second);
        // A key that is not the certificate's (as while files are being replaced).
        fs::copy(&pki.ca_key, &pki.server_key).unwrap();
        assert!(certificate.reload(true).is_err());
        assert_eq!(serving(), second, "the previous pair stays in use");
    }

    #[test]
    fn a_missing_server_certificate_is_reissued_by_the_existing_ca() {
        let dir = tempfile::tempdir().unwrap();
        let pki = DevPki::in_data_dir(dir.path());
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        pki.ensure(now).unwrap();
        let ca_before = fs::read(&pki.ca_cert).unwrap();
        fs::remove_file(&pki.server_cert).unwrap();
        assert!(pki.ensure(now).unwrap());
        assert_eq!(fs::read(&pki.ca_cert).unwrap(), ca_before);
    }

    #[test]
    fn unreadable_files_name_the_setting() {
        let files = TlsFiles {
            cert: Path::new("/nonexistent/cert.pem"),
            key: Path::new("/nonexistent/key.pem"),
            client_ca: None,
        };
        let Err(err) = server_config(&files) else {
            panic!("missing files were accepted");
        };
        let err = err.to_string();
        assert!(
            err.starts_with("tls.cert_file: cannot read /nonexistent/cert.pem"),
            "{err}"
        );
    }

    #[test]
    fn only_fapi_cipher_suites_are_offered() {
        let names: Vec<String> = fapi_provider()
            .cipher_suites
            .iter()
            .map(|s| format!("{:?}", s.suite()))
            .collect();
        for name in &names {
            assert!(
                name.starts_with("TLS13_") || (name.contains("ECDHE") && name.contains("GCM")),
                "{name} is not a FAPI suite"
            );
        }
    }
}
