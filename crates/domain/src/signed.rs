//! Tamper-evident tokens the server hands out and reads back unchanged (paging
//! cursors in links): the payload in base64url and a keyed hash over a purpose
//! and the payload, so a token works only for what it was issued for.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::secret::{KeyedHash, Pepper};

fn tagged(purpose: &str, payload: &str) -> String {
    // NUL cannot occur in either part as the server writes them.
    format!("{purpose}\0{payload}")
}

/// The token carrying `payload` for `purpose`.
pub fn sign(pepper: &Pepper, purpose: &str, payload: &str) -> String {
    let tag = pepper.hash(&tagged(purpose, payload));
    format!("{}.{}", URL_SAFE_NO_PAD.encode(payload), tag.as_str())
}

/// The payload of a token issued by [`sign`] for `purpose`; None for any other
/// text, a changed payload or another purpose.
pub fn open(pepper: &Pepper, purpose: &str, token: &str) -> Option<String> {
    let (payload, tag) = token.split_once('.')?;
    let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    pepper
        .verify(
            &tagged(purpose, &payload),
            &KeyedHash::from_stored(tag.to_owned()),
        )
        .then_some(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_opens_only_for_its_purpose_and_pepper_and_unchanged() {
        let pepper = Pepper::from_bytes(&[7; 32]).unwrap();
        let token = sign(&pepper, "account 1", "n|2026-11-25|42");
        assert_eq!(
            open(&pepper, "account 1", &token).as_deref(),
            Some("n|2026-11-25|42")
        );
        assert_eq!(open(&pepper, "account 2", &token), None);
        let other = Pepper::from_bytes(&[8; 32]).unwrap();
        assert_eq!(open(&other, "account 1", &token), None);
        let (_, tag) = token.split_once('.').unwrap();
        let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode("n|2026-11-25|41"));
        assert_eq!(open(&pepper, "account 1", &forged), None);
        for garbled in ["", ".", "abc", "%%%.%%%", &token[1..], &format!("{token}x")] {
            assert_eq!(open(&pepper, "account 1", garbled), None, "{garbled:?}");
        }
    }
}
