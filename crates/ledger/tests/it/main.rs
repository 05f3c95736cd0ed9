//! The ledger against real stores (SQLite and PostgreSQL), in one test
//! binary: transfers and balances, card accounts, the payment lifecycle.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly
#![allow(clippy::inconsistent_digit_grouping)] // amounts read as euros_cents

/// Asserts that `$result` is an `Err` matching the pattern, and shows it if not.
macro_rules! assert_refused {
    ($result:expr, $error:pat if $guard:expr) => {{
        let result = $result;
        assert!(matches!(result, Err($error) if $guard), "{result:?}");
    }};
    ($result:expr, $error:pat) => {{
        let result = $result;
        assert!(matches!(result, Err($error)), "{result:?}");
    }};
}

mod bank;
mod cards;
mod concurrency;
mod history;
mod lifecycle;
mod model;
mod transfers;
