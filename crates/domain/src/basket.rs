//! Berlin Group signing baskets: payments and consents of one TPP
//! application, each awaiting its authorisation, authorised together by one
//! SCA of the PSU. While a basket is open (RCVD) its entries belong to it:
//! no other basket may take them and none is authorised on its own.

use std::future::Future;

use time::OffsetDateTime;

use crate::consent::AccountGrant;
use crate::ids::{ApplicationId, BasketId, ConsentId, PaymentId, PsuId};
use crate::ledger::text_enum;
use crate::store::StoreError;

/// The most entries (payments and consents together) one basket holds.
pub const MAX_BASKET_ENTRIES: usize = 20;

text_enum!(
    /// The basket's `transactionStatus`: received (open), authorised by the
    /// PSU (ACTC), declined (RJCT) or deleted by the TPP before (CANC).
    BasketStatus {
        Received = "RCVD",
        AcceptedTechnical = "ACTC",
        Rejected = "RJCT",
        Cancelled = "CANC",
    }
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningBasket {
    pub id: BasketId,
    pub application_id: ApplicationId,
    pub payments: Vec<PaymentId>,
    pub consents: Vec<ConsentId>,
    pub status: BasketStatus,
    /// The PSU who decided it.
    pub psu_id: Option<PsuId>,
    /// The TPP's `X-Request-ID` and the keyed hash of the request (idempotency).
    pub request_id: String,
    pub request_hash: String,
    pub created_at: OffsetDateTime,
    pub status_changed_at: OffsetDateTime,
}

/// What storing a new basket came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BasketCreation {
    Created,
    /// The same `X-Request-ID` created this basket within the window.
    Existing(Box<SigningBasket>),
    /// An entry belongs to another basket; nothing was stored.
    Taken,
}

pub trait BasketRepository: Send + Sync {
    /// Stores the basket and claims its entries, in one transaction: a
    /// resource is claimed by one basket at a time (a unique key, so two
    /// concurrent baskets cannot both take it).
    fn create_basket(
        &self,
        basket: SigningBasket,
    ) -> impl Future<Output = Result<BasketCreation, StoreError>> + Send;

    fn basket(
        &self,
        id: BasketId,
    ) -> impl Future<Output = Result<Option<SigningBasket>, StoreError>> + Send;

    /// The basket `application` created under `request_id` since `since`
    /// (the idempotency window), if any.
    fn basket_by_request(
        &self,
        application: ApplicationId,
        request_id: &str,
        since: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<SigningBasket>, StoreError>> + Send;

    /// The basket that holds a payment or consent (by its id), if any.
    fn basket_of(
        &self,
        resource_id: &str,
    ) -> impl Future<Output = Result<Option<BasketId>, StoreError>> + Send;

    /// The TPP deletes an open basket: CANC, its entries released. False
    /// when it was no longer open.
    fn cancel_basket(
        &self,
        id: BasketId,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The PSU approved: RCVD → ACTC with the PSU, and each consent received
    /// → valid with its grants, in one transaction. The payments are
    /// authorised after it, each once (`unfinished_baskets` finishes them
    /// after a crash). False when the basket was no longer open.
    fn approve_basket(
        &self,
        id: BasketId,
        psu: PsuId,
        consents: Vec<(ConsentId, Vec<AccountGrant>)>,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The PSU declined: RCVD → RJCT and its received consents rejected, in
    /// one transaction; the payments are rejected after it.
    fn reject_basket(
        &self,
        id: BasketId,
        psu: Option<PsuId>,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Decided baskets (ACTC, RJCT) with a payment still awaiting its
    /// authorisation (RCVD): a crash came between the decision and the
    /// payments. At most `limit`.
    fn unfinished_baskets(
        &self,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<SigningBasket>, StoreError>> + Send;
}
