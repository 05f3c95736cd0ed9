//! What an issued token looks like and the key it is stored under.
//!
//! A token is its prefix, the hexadecimal milliseconds of its issue, then 32
//! random bytes. Its key is that stamp followed by the keyed hash of the whole
//! token, so a node's new keys are appended at the end of the tokens' index:
//! a group commit writes a few pages, not one random page per token (whose
//! reads and WAL frames dominated the SQLite token endpoint), the index's hot
//! part stays in cache however many tokens it holds, and expired keys are
//! pruned from its other end. The stamp tells the holder nothing it did not
//! know (the token's issue); the secret is the random part.
//!
//! Tokens issued before stamps carry none, and their keys are the bare keyed
//! hash, as they were stored.

use fintechapi_domain::oauth::TokenKind;
use fintechapi_domain::secret::{KeyedHash, Pepper};
use time::OffsetDateTime;

use super::base::fresh_random;
use crate::error::OAuthError;

/// Token prefixes, so secret scanners can recognise a leaked one.
pub(super) const ACCESS_TOKEN_PREFIX: &str = "ftat_";
const REFRESH_TOKEN_PREFIX: &str = "ftrt_";

/// Twelve hexadecimal digits of Unix milliseconds: in order until the year 10889.
const STAMP_LEN: usize = 12;
/// 32 random bytes in base64url without padding.
const RANDOM_LEN: usize = 43;

/// A new token of `kind` issued at `now`.
pub(super) fn new_token(kind: TokenKind, now: OffsetDateTime) -> Result<String, OAuthError> {
    let prefix = match kind {
        TokenKind::Access => ACCESS_TOKEN_PREFIX,
        TokenKind::Refresh => REFRESH_TOKEN_PREFIX,
    };
    let millis = u64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    Ok(format!("{prefix}{millis:012x}{}", fresh_random()?))
}

/// The key a presented token is stored under; any string has one, and one
/// that was never issued is simply not found.
pub(super) fn token_key(pepper: &Pepper, token: &str) -> KeyedHash {
    match stamp_of(token) {
        Some(stamp) => pepper.stamped_hash(stamp, token),
        None => pepper.hash(token),
    }
}

/// The stamp of a token of the stamped shape, `None` for any other string.
fn stamp_of(token: &str) -> Option<&str> {
    let rest = token
        .strip_prefix(ACCESS_TOKEN_PREFIX)
        .or_else(|| token.strip_prefix(REFRESH_TOKEN_PREFIX))?;
    let stamp = rest.get(..STAMP_LEN)?;
    let stamped = rest.len() == STAMP_LEN + RANDOM_LEN
        && stamp
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    stamped.then_some(stamp)
}

#[cfg(test)]
mod tests {
    use time::Duration;
    use time::macros::datetime;

    use super::*;

    fn pepper() -> Pepper {
        Pepper::from_bytes(&[7; 32]).unwrap()
    }

    #[test]
    fn a_token_carries_its_issue_time_and_its_key_starts_with_it() {
        let now = datetime!(2026-12-05 13:30:00.123 UTC);
        let token = new_token(TokenKind::Access, now).unwrap();
        // 2026-12-05T13:30:00.123Z is 1796477400123 ms after the epoch.
        assert_eq!(&token[..17], "ftat_01a24665b43b");
        assert_eq!(token.len(), 5 + STAMP_LEN + RANDOM_LEN);
        let key = token_key(&pepper(), &token);
        assert!(key.as_str().starts_with("01a24665b43b"), "{key:?}");
        assert_eq!(key.as_str().len(), STAMP_LEN + 43);
        assert_eq!(key, token_key(&pepper(), &token));
        assert!(
            new_token(TokenKind::Refresh, now)
                .unwrap()
                .starts_with("ftrt_01a24665b43b")
        );
    }

    #[test]
    fn later_tokens_have_keys_that_sort_after_earlier_ones() {
        let pepper = pepper();
        let mut at = datetime!(2026-12-05 13:30:00 UTC);
        let mut previous = token_key(&pepper, &new_token(TokenKind::Access, at).unwrap());
        for step in [1, 15, 4_096, 86_400_000] {
            at += Duration::milliseconds(step);
            let key = token_key(&pepper, &new_token(TokenKind::Access, at).unwrap());
            assert!(key.as_str() > previous.as_str(), "{step} ms later");
            previous = key;
        }
    }

    #[test]
    fn the_key_depends_on_the_whole_token_and_the_pepper() {
        let now = datetime!(2026-12-05 13:30:00 UTC);
        let token = new_token(TokenKind::Access, now).unwrap();
        let other = new_token(TokenKind::Access, now).unwrap();
        assert_ne!(token_key(&pepper(), &token), token_key(&pepper(), &other));
        let foreign = Pepper::from_bytes(&[8; 32]).unwrap();
        assert_ne!(token_key(&pepper(), &token), token_key(&foreign, &token));
        // The same stamp and random part under the other prefix is another token.
        let as_refresh = token.replacen(ACCESS_TOKEN_PREFIX, REFRESH_TOKEN_PREFIX, 1);
        assert_ne!(
            token_key(&pepper(), &token),
            token_key(&pepper(), &as_refresh)
        );
    }

    #[test]
    fn tokens_without_a_stamp_keep_the_bare_keyed_hash_they_were_stored_under() {
        let pepper = pepper();
        let issued_before_stamps = "ftat_q3Jx8WbV0hTz5mKpL2yR7nCdE4sGuA9fYiNoX1vBe6w";
        for token in [
            issued_before_stamps,
            "ftrt_q3Jx8WbV0hTz5mKpL2yR7nCdE4sGuA9fYiNoX1vBe6w",
            "",
            "ftat_",
            "ftat_01a24665b43b",
            // Not hexadecimal, or upper case: not the stamped shape.
            "ftat_01a24665b43gq3Jx8WbV0hTz5mKpL2yR7nCdE4sGuA9fYiNoX1vBe6w",
            "ftat_01A24665B43Bq3Jx8WbV0hTz5mKpL2yR7nCdE4sGuA9fYiNoX1vBe6w",
            // A multi-byte character across where the stamp would end.
            "ftat_01a24665b43éq3Jx8WbV0hTz5mKpL2yR7nCdE4sGuA9fYiNoX1vBe6",
            "01a24665b43bq3Jx8WbV0hTz5mKpL2yR7nCdE4sGuA9fYiNoX1vBe6w",
        ] {
            assert_eq!(token_key(&pepper, token), pepper.hash(token), "{token}");
        }
    }
}
