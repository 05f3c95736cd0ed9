//! The end of a Decoupled authorisation's decision (started by
//! `fintechapi_oauth::decoupled`, answered on online banking's pending
//! approvals, `online/approvals.rs`): final without a code, and with no
//! browser to send back to the TPP, which learns the outcome by polling
//! `scaStatus`; the PSU returns to the pending approvals.

use axum::http::StatusCode;
use axum::response::Response;
use fintechapi_domain::oauth::Authorization;

use crate::error::{BankError, secured, see_other};
use crate::service::{BankService, BankStore};

/// Online banking's list of the requests awaiting the PSU.
pub(crate) const APPROVALS_PATH: &str = "/bank/online/approvals";

/// A request no longer awaiting this PSU: answered, expired, or never theirs.
pub(crate) fn not_pending() -> BankError {
    BankError::page(
        StatusCode::NOT_FOUND,
        "This request is no longer waiting for you: it was answered already or has expired.",
    )
}

/// The PSU approved: the authorisation is final.
pub(crate) async fn approved<R: BankStore>(
    service: &BankService<R>,
    authorization: &Authorization,
) -> Result<Response, BankError> {
    if !service.finalise_without_code(authorization).await? {
        return Err(not_pending());
    }
    Ok(answered("approved"))
}

/// The PSU declined (the decision code has denied the authorisation).
pub(crate) fn declined() -> Response {
    answered("declined")
}

fn answered(outcome: &str) -> Response {
    secured(
        see_other(&format!("{APPROVALS_PATH}?answered={outcome}")),
        None,
    )
}
