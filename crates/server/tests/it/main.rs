//! The server's integration tests, one module per area, in one test binary:
//! it links once instead of once per file, and `support` is shared without
//! each file compiling (and half using) its own copy. Test names keep the
//! area: `xs2a::<test>::sqlite`, `crash::<test>::postgres`. Nothing here needs a
//! process of its own: the tests that kill servers (`crash`, `cli`) kill the
//! `fintechapi` children they spawned, and no test sets environment variables.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

mod support;

mod admin;
mod aspsp_profile;
mod attacks;
mod card_accounts;
mod cli;
mod crash;
mod decoupled_approach;
mod fapi2;
mod http;
mod journeys;
mod journeys_b;
mod mail;
mod multilevel_sca;
mod notifications;
mod oauth;
mod pain001;
mod portal;
mod portal_api;
mod protection;
mod redirect_approach;
mod redirect_flow;
mod reference;
mod registry_cache;
mod scheduled_payments;
mod shared_limits;
mod signing_baskets;
mod site;
mod tls;
mod token_path;
mod xs2a;
