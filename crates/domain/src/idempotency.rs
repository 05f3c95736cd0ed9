//! Idempotent creation on the XS2A API: an application's `X-Request-ID` names
//! one consent or payment for a while.

use time::Duration;

/// How long an application's `X-Request-ID` stays bound to the consent or
/// payment it created: within it the same ID with the same body answers with
/// that resource and another body is refused; from then on the ID creates anew.
pub const IDEMPOTENCY_WINDOW: Duration = Duration::hours(24);
