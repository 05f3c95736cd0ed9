//! Idempotent creation under an `X-Request-ID`: the same id and body within
//! the idempotency window answer the first resource again and create nothing;
//! the same id with another body is refused.

use std::future::Future;

use fintechapi_domain::StoreError;
use fintechapi_domain::basket::SigningBasket;
use fintechapi_domain::consent::{Consent, ConsentCreation};
use fintechapi_domain::payment::{Payment, PaymentCreation};

use crate::Xs2aError;

/// A resource created under an `X-Request-ID`, with the keyed hash of the
/// request that created it.
pub(crate) trait Idempotent {
    /// The resource's name in the refusal ("consent", "payment").
    const NOUN: &'static str;

    fn request_hash(&self) -> &str;
}

/// What the store answered to a creation: created, or the resource the same
/// `X-Request-ID` created before.
pub(crate) trait Creation<T> {
    fn first(self) -> Option<T>;
}

impl Idempotent for Consent {
    const NOUN: &'static str = "consent";

    fn request_hash(&self) -> &str {
        &self.request_hash
    }
}

impl Creation<Consent> for ConsentCreation {
    fn first(self) -> Option<Consent> {
        match self {
            ConsentCreation::Created => None,
            ConsentCreation::Existing(first) => Some(*first),
        }
    }
}

impl Idempotent for Payment {
    const NOUN: &'static str = "payment";

    fn request_hash(&self) -> &str {
        &self.request_hash
    }
}

impl Creation<Payment> for PaymentCreation {
    fn first(self) -> Option<Payment> {
        match self {
            PaymentCreation::Created => None,
            PaymentCreation::Existing(first) => Some(*first),
        }
    }
}

impl Idempotent for SigningBasket {
    const NOUN: &'static str = "signing basket";

    fn request_hash(&self) -> &str {
        &self.request_hash
    }
}

/// Creates `new` with `create`, or answers the resource the same request
/// created before.
pub(crate) async fn create_or_replay<T: Idempotent + Clone, C: Creation<T>>(
    new: &T,
    create: impl Future<Output = Result<C, StoreError>>,
) -> Result<T, Xs2aError> {
    replay(new.clone(), create.await?.first())
}

/// `new` if nothing was created before; the `first` resource again if its
/// request was the same; a refusal otherwise.
pub(crate) fn replay<T: Idempotent>(new: T, first: Option<T>) -> Result<T, Xs2aError> {
    match first {
        None => Ok(new),
        Some(first) if first.request_hash() == new.request_hash() => Ok(first),
        Some(_) => Err(Xs2aError::format(format!(
            "this X-Request-ID created a {} with another body within the last 24 hours; use a new one",
            T::NOUN
        ))
        .at("X-Request-ID")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MessageCode;

    #[derive(Debug, Clone, PartialEq)]
    struct Made {
        id: u32,
        hash: &'static str,
    }

    impl Idempotent for Made {
        const NOUN: &'static str = "thing";

        fn request_hash(&self) -> &str {
            self.hash
        }
    }

    #[test]
    fn a_new_request_creates() {
        let new = Made { id: 2, hash: "a" };
        assert_eq!(replay(new.clone(), None), Ok(new));
    }

    #[test]
    fn the_same_request_answers_the_first_resource() {
        let first = Made { id: 1, hash: "a" };
        assert_eq!(
            replay(Made { id: 2, hash: "a" }, Some(first.clone())),
            Ok(first)
        );
    }

    #[test]
    fn another_body_under_the_same_request_id_is_refused() {
        let refused = replay(Made { id: 2, hash: "b" }, Some(Made { id: 1, hash: "a" }));
        let e = refused.expect_err("a refusal");
        assert_eq!(
            (e.code, e.path.as_deref()),
            (MessageCode::FormatError, Some("X-Request-ID"))
        );
        assert!(
            e.text.contains("created a thing with another body"),
            "{}",
            e.text
        );
    }
}
