//! The Berlin Group Decoupled SCA approach end to end over HTTPS, on both
//! stores: the TPP asks for it on the initiation (or an explicit start) with
//! the PSU's `PSU-ID`, the PSU finds the request among the pending approvals
//! of online banking and approves or declines it with a second factor, and
//! the TPP polls `scaStatus` and reads with its own client-credentials token.

mod consents;
mod payments;

use crate::support::xs2a::{Answer, Tpp};
use crate::support::{Browser, Page, SANDBOX_CODE, TestServer};
use reqwest::StatusCode;
use serde_json::Value;

/// The TPP's preference for the Decoupled approach, naming the demo PSU Carol.
const FOR_CAROL: [(&str, &str); 2] = [("tpp-decoupled-preferred", "true"), ("psu-id", "carol")];

/// The demo PSU `login` signed in to online banking with both factors.
pub(crate) async fn signed_in(server: &TestServer, login: &str, password: &str) -> Browser {
    let mut psu = Browser::new(server);
    psu.online_login(login, password)
        .await
        .assert_redirect("/bank/online/sca");
    psu.online_second_factor(SANDBOX_CODE)
        .await
        .assert_redirect("/bank/online/consents");
    psu
}

/// The pending approvals as the page's script reads them.
pub(crate) async fn pending(psu: &mut Browser) -> Vec<Value> {
    let list = psu.get("/bank/online/approvals.json").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let list: Value = serde_json::from_str(&list.body).unwrap();
    list["pending"].as_array().unwrap().clone()
}

/// The `scaStatus` the TPP polls at `link`.
pub(crate) async fn sca(tpp: &Tpp, token: &str, link: &str) -> Value {
    let polled = tpp.get(link, token, &[]).await;
    assert_eq!(polled.status, StatusCode::OK, "{}", polled.body);
    polled.body["scaStatus"].clone()
}

/// Answers the confirmation page at `href` with `decision` and `code`.
pub(crate) async fn answer(psu: &mut Browser, href: &str, decision: &str, code: &str) -> Page {
    let page = psu.get(href).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    psu.submit(
        href,
        &[("decision", decision), ("code", code)],
        &page.csrf(),
    )
    .await
}

/// The `scaStatus` link of a Decoupled answer, checked for the spec's shape:
/// `ASPSP-SCA-Approach: DECOUPLED`, a `psuMessage`, no `scaRedirect`.
pub(crate) fn decoupled_status_link(created: &Answer) -> String {
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.headers["aspsp-sca-approach"], "DECOUPLED");
    assert_eq!(created.body["scaStatus"], "received", "{}", created.body);
    assert!(
        created.body["psuMessage"]
            .as_str()
            .is_some_and(|m| m.contains("Pending approvals")),
        "{}",
        created.body
    );
    let links = &created.body["_links"];
    assert!(links.get("scaRedirect").is_none(), "{links}");
    assert!(links.get("scaOAuth").is_none(), "{links}");
    links["scaStatus"]["href"].as_str().unwrap().to_owned()
}
