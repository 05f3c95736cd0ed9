//! Passkeys (WebAuthn, verified by webauthn-rs) as a PSU's possession factor.
//!
//! RTS Art. 5 dynamic linking: for a payment the challenge the authenticator
//! signs is the payment's digest (id, amount, currency, payee IBAN and name)
//! followed by 16 random bytes, so the signed client data names exactly this
//! payment; at the end the digest is computed again from the payment as it
//! stands, and any change voids the assertion. A signing basket's payments
//! are linked together by one digest over all of theirs (`linked_digest`).
//! Ceremony state stays on the
//! server, is taken once and lives [`CEREMONY_TTL`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fintechapi_domain::payment::{Execution, Payment};
use fintechapi_domain::psu::{Psu, PsuPasskey};
use fintechapi_domain::secret::{random_bytes, sha256};
use time::OffsetDateTime;
use url::Url;
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

/// How long the browser may take; the server keeps the state a little longer.
const AUTHENTICATOR_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);
pub(crate) const CEREMONY_TTL: time::Duration = time::Duration::seconds(150);

/// Length of the payment digest at the start of a linked challenge.
const DIGEST_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    #[error("passkeys need a host name as relying party, not {0}")]
    RelyingParty(String),
    #[error("the browser's answer is malformed: {0}")]
    Malformed(String),
    #[error("the passkey was not accepted: {0}")]
    Rejected(String),
    #[error("the payment changed after it was shown")]
    PaymentChanged,
    #[error("no random source")]
    Random,
    #[error("a stored passkey or ceremony state does not parse: {0}")]
    Stored(String),
}

/// The relying party: the bank's public origin.
pub struct PasskeyVerifier {
    webauthn: Webauthn,
}

/// What the page hands to the browser, and the state the server keeps.
pub(crate) struct Ceremony {
    pub options: String,
    pub state: String,
}

impl PasskeyVerifier {
    /// The relying party of `public_url` (`https://bank.example[:port]`). An IP
    /// address cannot be a WebAuthn RP id; such installations offer no passkeys.
    pub fn new(public_url: &str, bank_name: &str) -> Result<Self, PasskeyError> {
        let origin =
            Url::parse(public_url).map_err(|e| PasskeyError::RelyingParty(e.to_string()))?;
        let rp_id = match origin.host() {
            Some(url::Host::Domain(host)) => host.to_owned(),
            _ => return Err(PasskeyError::RelyingParty(public_url.to_owned())),
        };
        let webauthn = WebauthnBuilder::new(&rp_id, &origin)
            .and_then(|b| b.rp_name(bank_name).timeout(AUTHENTICATOR_TIMEOUT).build())
            .map_err(|e| PasskeyError::RelyingParty(e.to_string()))?;
        Ok(Self { webauthn })
    }

    /// Options for `navigator.credentials.create()`; the PSU's existing
    /// passkeys are excluded so one authenticator is registered once.
    pub(crate) fn start_registration(
        &self,
        psu: &Psu,
        existing: &[PsuPasskey],
    ) -> Result<Ceremony, PasskeyError> {
        let exclude = existing
            .iter()
            .map(|p| parse_passkey(p).map(|k| k.cred_id().clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let (options, state) = self
            .webauthn
            .start_passkey_registration(
                psu.id.as_uuid(),
                &psu.login,
                &psu.display_name,
                Some(exclude),
            )
            .map_err(|e| PasskeyError::Rejected(e.to_string()))?;
        Ok(Ceremony {
            options: to_json(&options)?,
            state: to_json(&state)?,
        })
    }

    /// The new passkey: its credential id (base64url) and its serialisation.
    pub(crate) fn finish_registration(
        &self,
        state: &str,
        response: &str,
    ) -> Result<(String, String), PasskeyError> {
        let state: PasskeyRegistration =
            serde_json::from_str(state).map_err(|e| PasskeyError::Stored(e.to_string()))?;
        let response: RegisterPublicKeyCredential =
            serde_json::from_str(response).map_err(|e| PasskeyError::Malformed(e.to_string()))?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(&response, &state)
            .map_err(|e| PasskeyError::Rejected(e.to_string()))?;
        Ok((
            URL_SAFE_NO_PAD.encode(passkey.cred_id()),
            to_json(&passkey)?,
        ))
    }

    /// Options for `navigator.credentials.get()` with the PSU's passkeys; for
    /// payments (`linked`: one, or a signing basket's) the challenge carries
    /// their digest.
    pub(crate) fn start_authentication(
        &self,
        passkeys: &[PsuPasskey],
        linked: &[Payment],
    ) -> Result<Ceremony, PasskeyError> {
        let keys = passkeys
            .iter()
            .map(parse_passkey)
            .collect::<Result<Vec<_>, _>>()?;
        let (mut options, state) = self
            .webauthn
            .start_passkey_authentication(&keys)
            .map_err(|e| PasskeyError::Rejected(e.to_string()))?;
        let mut state =
            serde_json::to_value(&state).map_err(|e| PasskeyError::Stored(e.to_string()))?;
        if let Some(mut challenge) = linked_digest(linked) {
            // webauthn-rs draws a random challenge of its own; a linked one
            // replaces it in both what the browser gets and what the server keeps.
            challenge.extend(random_bytes(16).map_err(|_| PasskeyError::Random)?);
            let slot = state
                .get_mut("ast")
                .and_then(|ast| ast.get_mut("challenge"))
                .ok_or_else(|| PasskeyError::Stored("no challenge in the state".into()))?;
            *slot = serde_json::Value::String(URL_SAFE_NO_PAD.encode(&challenge));
            options.public_key.challenge = challenge;
        }
        Ok(Ceremony {
            options: to_json(&options)?,
            state: state.to_string(),
        })
    }

    /// Verifies the browser's assertion against the kept state: signature,
    /// origin, user verification, counter, and for a payment that the signed
    /// challenge still matches the payments. Returns the passkey used, updated.
    pub(crate) fn finish_authentication(
        &self,
        state: &str,
        response: &str,
        passkeys: &[PsuPasskey],
        linked: &[Payment],
    ) -> Result<(String, String), PasskeyError> {
        let value: serde_json::Value =
            serde_json::from_str(state).map_err(|e| PasskeyError::Stored(e.to_string()))?;
        let challenge = value
            .get("ast")
            .and_then(|ast| ast.get("challenge"))
            .and_then(|c| c.as_str())
            .and_then(|c| URL_SAFE_NO_PAD.decode(c).ok())
            .ok_or_else(|| PasskeyError::Stored("no challenge in the state".into()))?;
        let is_linked = challenge.len() == DIGEST_LEN + 16;
        match linked_digest(linked) {
            Some(digest) if !is_linked || challenge[..DIGEST_LEN] != digest[..] => {
                return Err(PasskeyError::PaymentChanged);
            }
            None if is_linked => return Err(PasskeyError::PaymentChanged),
            _ => {}
        }
        let state: PasskeyAuthentication =
            serde_json::from_value(value).map_err(|e| PasskeyError::Stored(e.to_string()))?;
        let response: PublicKeyCredential =
            serde_json::from_str(response).map_err(|e| PasskeyError::Malformed(e.to_string()))?;
        let result = self
            .webauthn
            .finish_passkey_authentication(&response, &state)
            .map_err(|e| PasskeyError::Rejected(e.to_string()))?;
        let used = URL_SAFE_NO_PAD.encode(result.cred_id());
        let stored = passkeys
            .iter()
            .find(|p| p.credential_id == used)
            .ok_or_else(|| PasskeyError::Rejected("not one of this customer's passkeys".into()))?;
        let mut passkey = parse_passkey(stored)?;
        passkey.update_credential(&result);
        Ok((used, to_json(&passkey)?))
    }
}

/// Whether a ceremony begun `at` may still be finished `now`.
pub(crate) fn ceremony_live(at: OffsetDateTime, now: OffsetDateTime) -> bool {
    now - at <= CEREMONY_TTL
}

/// SHA-256 over exactly what the PSU is shown and approves: id, amount,
/// currency, payee IBAN and name (each payee's and amount, for a bulk
/// payment), and when it executes unless that is now.
pub fn payment_digest(payment: &Payment) -> Vec<u8> {
    let mut text = format!(
        "{}|{}|{}|{}|{}",
        payment.id,
        payment.amount.to_decimal_string(),
        payment.amount.currency().code(),
        payment.creditor_iban.as_str(),
        payment.creditor_name
    );
    match &payment.execution {
        Execution::Immediate => {}
        Execution::OnDate(date) => text.push_str(&format!("|on {date}")),
        Execution::Periodic(order) => text.push_str(&format!(
            "|{} from {} to {} on day {}",
            order.frequency,
            order.start_date,
            order
                .end_date
                .map_or_else(|| "-".to_owned(), |d| d.to_string()),
            order.day_of_execution.unwrap_or(order.start_date.day())
        )),
    }
    for entry in payment.bulk.iter().flat_map(|b| &b.entries) {
        text.push_str(&format!(
            "|{}|{}|{}",
            entry.amount.to_decimal_string(),
            entry.creditor_iban.as_str(),
            entry.creditor_name
        ));
    }
    sha256(text.as_bytes())
}

/// The digest a second factor is linked to: none without payments, the
/// payment's own for one, and for a signing basket's several SHA-256 over
/// each one's digest in the basket's order, so changing any of them, or the
/// set, gives another.
pub fn linked_digest(payments: &[Payment]) -> Option<Vec<u8>> {
    match payments {
        [] => None,
        [one] => Some(payment_digest(one)),
        several => {
            let mut all = b"signing basket".to_vec();
            for payment in several {
                all.extend(payment_digest(payment));
            }
            Some(sha256(&all))
        }
    }
}

fn parse_passkey(stored: &PsuPasskey) -> Result<Passkey, PasskeyError> {
    serde_json::from_str(&stored.credential).map_err(|e| PasskeyError::Stored(e.to_string()))
}

fn to_json(value: &impl serde::Serialize) -> Result<String, PasskeyError> {
    serde_json::to_string(value).map_err(|e| PasskeyError::Stored(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ip_address_cannot_be_the_relying_party() {
        assert!(matches!(
            PasskeyVerifier::new("https://127.0.0.1:8443", "Demo Bank"),
            Err(PasskeyError::RelyingParty(_))
        ));
        assert!(PasskeyVerifier::new("https://localhost:8443", "Demo Bank").is_ok());
    }
}
