//! Time-based one-time passwords (RFC 6238: HMAC-SHA-1, 6 digits, 30 s),
//! with one step of clock skew allowed. Replay of an accepted step is the
//! caller's to refuse (store the last accepted step and only accept later ones).

use time::OffsetDateTime;
use totp_rs::{Builder, Secret as TotpSeed};

use crate::secret::{SecretError, random_bytes};

/// A TOTP seed (20 random bytes, as RFC 4226 recommends).
pub struct Seed(Vec<u8>);

impl Seed {
    pub fn generate() -> Result<Self, SecretError> {
        Ok(Self(random_bytes(20)?))
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn from_base32(text: &str) -> Option<Self> {
        TotpSeed::try_from_base32(text.trim())
            .ok()
            .map(|s| Self(s.as_bytes().to_vec()))
    }

    pub fn to_base32(&self) -> String {
        TotpSeed::new(self.0.clone().into_boxed_slice()).to_base32()
    }

    /// The `otpauth://` URI an authenticator app scans.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let enc = |s: &str| {
            url::form_urlencoded::byte_serialize(s.as_bytes())
                .collect::<String>()
                .replace('+', "%20")
        };
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits=6&period=30",
            enc(issuer),
            enc(account),
            self.to_base32(),
            enc(issuer)
        )
    }

    /// The time step `code` is valid for at `now` (±1 step), if any.
    pub fn matching_step(&self, code: &str, now: OffsetDateTime) -> Option<i64> {
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let totp = Builder::new()
            .with_secret(TotpSeed::new(self.0.clone().into_boxed_slice()))
            .build()
            .ok()?;
        let unix = u64::try_from(now.unix_timestamp()).ok()?;
        totp.check(code, unix)
            .and_then(|step| i64::try_from(step).ok())
    }

    /// The code for `now` (for tests and enrolment checks).
    pub fn code_at(&self, now: OffsetDateTime) -> Option<String> {
        let totp = Builder::new()
            .with_secret(TotpSeed::new(self.0.clone().into_boxed_slice()))
            .build()
            .ok()?;
        Some(
            totp.generate(u64::try_from(now.unix_timestamp()).ok()?)
                .to_string(),
        )
    }
}

/// RFC 6287 suite of the challenge-response used for dynamic linking: the
/// authenticator signs an 8-digit numeric challenge derived from the payment.
pub const OCRA_SUITE: &str = "OCRA-1:HOTP-SHA1-6:QN08";

impl Seed {
    /// The 6-digit OCRA response to an 8-digit numeric challenge (`OCRA_SUITE`).
    pub fn ocra_response(&self, challenge: &str) -> Option<String> {
        if challenge.len() != 8 || !challenge.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // RFC 6287 §5.2: Q as hex of the number, left-aligned in 128 bytes.
        let value: u64 = challenge.parse().ok()?;
        let mut hex = format!("{value:X}");
        while hex.len() < 256 {
            hex.push('0');
        }
        let mut message = Vec::with_capacity(OCRA_SUITE.len() + 1 + 128);
        message.extend_from_slice(OCRA_SUITE.as_bytes());
        message.push(0);
        for pair in hex.as_bytes().chunks(2) {
            let text = std::str::from_utf8(pair).ok()?;
            message.push(u8::from_str_radix(text, 16).ok()?);
        }
        let key =
            aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &self.0);
        let tag = aws_lc_rs::hmac::sign(&key, &message);
        let mac = tag.as_ref();
        // RFC 4226 §5.3 dynamic truncation.
        let offset = usize::from(mac.last()? & 0x0f);
        let bytes: [u8; 4] = mac.get(offset..offset + 4)?.try_into().ok()?;
        let code = (u32::from_be_bytes(bytes) & 0x7fff_ffff) % 1_000_000;
        Some(format!("{code:06}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ocra_matches_rfc_6287_appendix_c_one_way_vectors() {
        let seed = Seed::from_bytes(b"12345678901234567890".to_vec());
        for (q, expected) in [
            ("00000000", "237653"),
            ("11111111", "243178"),
            ("22222222", "653583"),
            ("33333333", "740991"),
            ("44444444", "608993"),
        ] {
            assert_eq!(seed.ocra_response(q).as_deref(), Some(expected), "Q={q}");
        }
        assert_eq!(seed.ocra_response("1234"), None);
    }
    use time::macros::datetime;

    #[test]
    fn rfc6238_sha1_vector_matches() {
        // RFC 6238 Appendix B: seed "12345678901234567890", T = 59 s → 94287082 (8 digits);
        // the 6-digit code is its last six digits.
        let seed = Seed::from_bytes(b"12345678901234567890".to_vec());
        let at = OffsetDateTime::from_unix_timestamp(59).unwrap();
        assert_eq!(seed.code_at(at).unwrap(), "287082");
        assert_eq!(seed.matching_step("287082", at), Some(1));
    }

    #[test]
    fn codes_work_one_step_either_side_only() {
        let seed = Seed::generate().unwrap();
        let now = datetime!(2026-11-25 12:00:00 UTC);
        let code = seed.code_at(now).unwrap();
        assert!(
            seed.matching_step(&code, now + time::Duration::seconds(30))
                .is_some()
        );
        assert!(
            seed.matching_step(&code, now + time::Duration::seconds(90))
                .is_none()
        );
        assert!(seed.matching_step("12345", now).is_none());
        assert!(seed.matching_step("abcdef", now).is_none());
        let round = Seed::from_base32(&seed.to_base32()).unwrap();
        assert_eq!(round.as_bytes(), seed.as_bytes());
        assert!(
            seed.otpauth_uri("FinTechAPI", "dev@tpp.example")
                .starts_with("otpauth://totp/FinTechAPI:dev%40tpp.example?secret=")
        );
    }
}
