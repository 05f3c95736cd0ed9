//! A software WebAuthn authenticator for the tests: a P-256 key in memory that
//! answers creation and request options the way a platform authenticator
//! does ("none" attestation, user present and verified, a signature counter).

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

pub struct SoftPasskey {
    key: EcdsaKeyPair,
    pub credential_id: Vec<u8>,
    origin: String,
    counter: u32,
    user_handle: Vec<u8>,
}

const USER_PRESENT: u8 = 0x01;
const USER_VERIFIED: u8 = 0x04;
const ATTESTED_CREDENTIAL: u8 = 0x40;

impl SoftPasskey {
    /// An authenticator for pages served at `origin` (`https://localhost:port`).
    pub fn new(origin: &str) -> Self {
        Self {
            key: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap(),
            credential_id: aws_lc_rs_random(16),
            origin: origin.to_owned(),
            counter: 0,
            user_handle: Vec::new(),
        }
    }

    /// The answer of `navigator.credentials.create()` to `options`, as the
    /// bank's page posts it.
    pub fn create(&mut self, options: &Value) -> String {
        let public = &options["publicKey"];
        self.user_handle = b64(public["user"]["id"].as_str().unwrap());
        let client_data = self.client_data("webauthn.create", public);
        let point = self.key.public_key().as_ref(); // 0x04 ‖ x ‖ y
        let mut cose = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20];
        cose.extend(&point[1..33]);
        cose.extend([0x22, 0x58, 0x20]);
        cose.extend(&point[33..65]);
        let mut auth_data = self.auth_data(
            public["rp"]["id"].as_str().unwrap(),
            USER_PRESENT | USER_VERIFIED | ATTESTED_CREDENTIAL,
        );
        auth_data.extend([0_u8; 16]); // AAGUID
        auth_data.extend(
            u16::try_from(self.credential_id.len())
                .unwrap()
                .to_be_bytes(),
        );
        auth_data.extend(&self.credential_id);
        auth_data.extend(cose);
        // {"fmt": "none", "attStmt": {}, "authData": auth_data}
        let mut attestation = vec![0xa3, 0x63];
        attestation.extend(b"fmt");
        attestation.extend([0x64]);
        attestation.extend(b"none");
        attestation.extend([0x67]);
        attestation.extend(b"attStmt");
        attestation.extend([0xa0, 0x68]);
        attestation.extend(b"authData");
        attestation.extend([0x59]);
        attestation.extend(u16::try_from(auth_data.len()).unwrap().to_be_bytes());
        attestation.extend(auth_data);
        self.credential(json!({
            "attestationObject": URL_SAFE_NO_PAD.encode(attestation),
            "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data),
            "transports": ["internal"],
        }))
    }

    /// The answer of `navigator.credentials.get()` to `options`.
    pub fn get(&mut self, options: &Value) -> String {
        let public = &options["publicKey"];
        self.counter += 1;
        let client_data = self.client_data("webauthn.get", public);
        let auth_data = self.auth_data(
            public["rpId"].as_str().unwrap(),
            USER_PRESENT | USER_VERIFIED,
        );
        let mut signed = auth_data.clone();
        signed.extend(digest(&SHA256, &client_data).as_ref());
        let signature = self.key.sign(&SystemRandom::new(), &signed).unwrap();
        self.credential(json!({
            "authenticatorData": URL_SAFE_NO_PAD.encode(auth_data),
            "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data),
            "signature": URL_SAFE_NO_PAD.encode(signature.as_ref()),
            "userHandle": URL_SAFE_NO_PAD.encode(&self.user_handle),
        }))
    }

    /// This authenticator's public-key credential with `response`, as JSON.
    fn credential(&self, response: Value) -> String {
        let id = URL_SAFE_NO_PAD.encode(&self.credential_id);
        json!({
            "id": id, "rawId": id, "type": "public-key",
            "response": response,
            "clientExtensionResults": {},
        })
        .to_string()
    }

    fn client_data(&self, kind: &str, public: &Value) -> Vec<u8> {
        json!({"type": kind, "challenge": public["challenge"], "origin": self.origin, "crossOrigin": false})
            .to_string()
            .into_bytes()
    }

    fn auth_data(&self, rp_id: &str, flags: u8) -> Vec<u8> {
        let mut data = digest(&SHA256, rp_id.as_bytes()).as_ref().to_vec();
        data.push(flags);
        data.extend(self.counter.to_be_bytes());
        data
    }
}

/// The challenge the options ask to sign.
pub fn challenge(options: &Value) -> Vec<u8> {
    b64(options["publicKey"]["challenge"].as_str().unwrap())
}

/// The WebAuthn options a bank page hands its script (`data-options`).
pub fn options_on(page: &str) -> Value {
    let at = page
        .find(r#"data-options=""#)
        .expect("passkey options on the page")
        + r#"data-options=""#.len();
    let escaped = &page[at..at + page[at..].find('"').unwrap()];
    let text = escaped
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    serde_json::from_str(&text).unwrap()
}

fn b64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).unwrap()
}

fn aws_lc_rs_random(n: usize) -> Vec<u8> {
    let mut bytes = vec![0_u8; n];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    bytes
}
