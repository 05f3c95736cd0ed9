//! Identifier newtypes. Each is a UUID on the wire and in storage; a malformed id
//! is refused when it is parsed, before any handler or query sees it.

use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid {kind}: expected a UUID")]
pub struct InvalidId {
    pub kind: &'static str,
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            pub fn random() -> Self {
                Self(Uuid::new_v4())
            }

            /// An id from caller-supplied random bytes (deterministic seeding).
            pub fn from_random_bytes(bytes: [u8; 16]) -> Self {
                Self(uuid::Builder::from_random_bytes(bytes).into_uuid())
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// Appends the id as `Display` writes it, without the formatter
            /// (hot paths build keys and headers from ids).
            pub fn push_to(&self, out: &mut String) {
                out.push_str(self.0.hyphenated().encode_lower(&mut Uuid::encode_buffer()));
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::try_parse(s).map(Self).map_err(|_| InvalidId { kind: $kind })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
            }
        }

        // Stored as the hyphenated text on both stores (TEXT columns), as `Display` writes it.
        #[cfg(feature = "sqlx")]
        impl<DB: sqlx::Database> sqlx::Type<DB> for $name
        where
            String: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <String as sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <String as sqlx::Type<DB>>::compatible(ty)
            }
        }

        #[cfg(feature = "sqlx")]
        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $name
        where
            String: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut DB::ArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <String as sqlx::Encode<'q, DB>>::encode(self.to_string(), buf)
            }
        }

        #[cfg(feature = "sqlx")]
        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $name
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(value: DB::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                Ok(<&str as sqlx::Decode<'r, DB>>::decode(value)?.parse()?)
            }
        }
    };
}

uuid_id!(
    /// A bank customer (payment service user).
    PsuId,
    "PSU id"
);
uuid_id!(
    /// An account in the ledger; the Berlin Group `resourceId` of an account.
    AccountId,
    "account id"
);
uuid_id!(
    /// A journal entry of the ledger; the Berlin Group `transactionId`.
    TransactionId,
    "transaction id"
);

uuid_id!(
    /// A portal user: a TPP developer or a bank operator.
    UserId,
    "user id"
);
uuid_id!(
    /// A TPP organisation.
    OrganisationId,
    "organisation id"
);
uuid_id!(
    /// A TPP application (an OAuth client).
    ApplicationId,
    "application id"
);
uuid_id!(
    /// An application's subscription to an API product.
    SubscriptionId,
    "subscription id"
);
uuid_id!(
    /// A consumer key/secret pair.
    CredentialId,
    "credential id"
);
uuid_id!(
    /// A Berlin Group account-information consent (`consentId`).
    ConsentId,
    "consent id"
);
uuid_id!(
    /// A payment initiation (`paymentId`).
    PaymentId,
    "payment id"
);
uuid_id!(
    /// A signing basket (`basketId`): payments and consents under one SCA.
    BasketId,
    "basket id"
);
uuid_id!(
    /// One OAuth authorization: from the pushed request through the PSU's
    /// decision to the code and the tokens issued from it (the grant).
    AuthorizationId,
    "authorization id"
);
uuid_id!(
    /// A demo request left on the public site.
    LeadId,
    "demo request id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text_and_refuse_garbage() {
        let id = AccountId::random();
        assert_eq!(id.to_string().parse::<AccountId>(), Ok(id));
        assert_eq!(
            "not-a-uuid".parse::<AccountId>(),
            Err(InvalidId { kind: "account id" })
        );
    }

    #[test]
    fn push_to_appends_what_display_writes() {
        let id = ApplicationId::random();
        let mut out = String::from("rate:");
        id.push_to(&mut out);
        assert_eq!(out, format!("rate:{id}"));
        assert_eq!(out.len(), "rate:".len() + 36);
    }
}
