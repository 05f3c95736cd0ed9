//! The XS2A reference's examples (`crates/portal/static/reference-examples.json`)
//! replayed in their order against the demo bank, with the ids each call
//! creates put in place of the examples' own and the PSU's part driven at the
//! bank's pages: each answer must have the example's status, headers and
//! shape. And the reference's downloads (OpenAPI subset, Postman collection)
//! describe exactly the operations offered.

use std::collections::{BTreeSet, HashMap};

use fintechapi_portal::docs::examples::{Example, Examples, REQUEST_ID, examples};
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::xs2a::{Answer, REDIRECT, Tpp, demo_tpp};
use crate::support::{Browser, Page, TestServer, param, redirect_params};

const PSU: (&str, &str) = ("alice", "alice-demo-2026");

/// Values whose change says the example is stale: compared, not just typed.
const STATUSES: [&str; 4] = [
    "consentStatus",
    "transactionStatus",
    "scaStatus",
    "fundsAvailable",
];

/// The operations of the shipped spec this bank offers.
fn offered() -> BTreeSet<String> {
    let refused: Vec<&str> = fintechapi_xs2a::REFUSED_OPERATIONS
        .iter()
        .map(|o| o.operation_id)
        .collect();
    let reference = fintechapi_portal::docs::reference().unwrap();
    reference
        .offered(&refused)
        .iter()
        .flat_map(|g| &g.operations)
        .map(|o| o.operation_id.clone())
        .collect()
}

async fn every_example_of_the_xs2a_reference_is_what_this_bank_answers(db: TestDb) {
    let examples = examples().unwrap();
    let (server, tpp, token) = demo_tpp(db, "ais,pis,piis").await;
    let today = fintechapi_domain::Clock::now(&fintechapi_domain::SystemClock).date();
    let next_week = today + time::Duration::days(7);
    let mut values: HashMap<String, String> = HashMap::from([
        ("accessToken".to_owned(), token),
        ("redirectUri".to_owned(), REDIRECT.to_owned()),
        ("executionDate".to_owned(), next_week.to_string()),
    ]);
    let mut acted_on = Vec::new();
    for example in &examples.examples {
        let answer = replay(&tpp, examples, example, &values).await;
        for (name, pointer) in &example.capture {
            let value = match answer.body.pointer(pointer) {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => panic!("{}: no {pointer} in {}", example.operation_id, answer.body),
            };
            values.insert(name.clone(), value);
        }
        check(examples, example, &answer, &values);
        // What the example's `then` tells the reader happens next.
        let op = example.operation_id.as_str();
        match op {
            "startConsentAuthorisation" | "startPaymentAuthorisation" => {
                approve(&server, &tpp.sca_link(&answer))
                    .await
                    .assert_redirect(REDIRECT);
            }
            "cancelPayment" => {
                let scope = format!("PIS:{}", values["paymentId"]);
                let link = tpp.link(&tpp.par_scope(&scope).await);
                let back = approve(&server, &link).await.location.unwrap();
                assert!(param(&redirect_params(&back, REDIRECT), "code").is_some());
            }
            "getPaymentCancellationScaStatus" => {
                let consent = funds_consent(&server, &tpp, &values["debtorIban"]).await;
                values.insert("piisConsentId".to_owned(), consent);
            }
            _ => continue,
        }
        acted_on.push(op);
    }
    let with_then: Vec<&str> = examples
        .examples
        .iter()
        .filter(|e| e.then.is_some())
        .map(|e| e.operation_id.as_str())
        .collect();
    assert_eq!(acted_on, with_then, "each step between calls is told");

    let shown: BTreeSet<String> = examples
        .examples
        .iter()
        .map(|e| e.operation_id.clone())
        .collect();
    assert_eq!(shown, offered(), "one example per operation offered");
    assert_eq!(shown.len(), 33);
    server.stop().await;
}
both_stores!(every_example_of_the_xs2a_reference_is_what_this_bank_answers);

/// `text` with the values the replay has so far in place of the examples'.
fn substituted(examples: &Examples, text: &str, values: &HashMap<String, String>) -> String {
    examples.substitute(text, |v| match values.get(&v.name) {
        Some(value) => value.clone(),
        None if text.contains(&v.example) => panic!("{} is used before it is known", v.name),
        None => v.example.clone(),
    })
}

/// The example's request as written, with this run's ids and a fresh `X-Request-ID`.
async fn replay(
    tpp: &Tpp,
    examples: &Examples,
    example: &Example,
    values: &HashMap<String, String>,
) -> Answer {
    let request = &example.request;
    let headers: Vec<(&str, String)> = request
        .headers
        .iter()
        .map(|(name, value)| match name.as_str() {
            REQUEST_ID => (REQUEST_ID, uuid::Uuid::new_v4().to_string()),
            _ => (name.as_str(), substituted(examples, value, values)),
        })
        .collect();
    let body = request
        .body
        .as_ref()
        .map(|b| serde_json::from_str(&substituted(examples, &b.to_string(), values)).unwrap());
    let method = Method::from_bytes(request.method.as_bytes()).unwrap();
    let path = substituted(examples, &request.path, values);
    tpp.send(method, &path, &headers, body.as_ref()).await
}

fn check(
    examples: &Examples,
    example: &Example,
    answer: &Answer,
    values: &HashMap<String, String>,
) {
    let op = &example.operation_id;
    let expected = &example.response;
    assert_eq!(
        answer.status.as_u16(),
        expected.status,
        "{op}: {}",
        answer.text
    );
    for (name, value) in &expected.headers {
        let actual = answer.headers.get(name).map(|v| v.to_str().unwrap());
        let value = substituted(examples, value, values);
        assert_eq!(actual, Some(value.as_str()), "{op}: {name}");
    }
    match &expected.body {
        Some(body) => same_shape(op, &expected.sometimes, "", body, &answer.body),
        None => assert_eq!(answer.text, "", "{op}: no body"),
    }
}

/// The example's keys in every object, but those that some answers leave
/// out, and no other (every element of an array against the example's
/// first); the same JSON types; the same [`STATUSES`].
fn same_shape(op: &str, sometimes: &[String], at: &str, expected: &Value, actual: &Value) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            let unknown: Vec<&String> = a.keys().filter(|k| !e.contains_key(*k)).collect();
            assert!(
                unknown.is_empty(),
                "{op}: {at}/ has {unknown:?}, the example not"
            );
            for (key, value) in e {
                let at = format!("{at}/{key}");
                match a.get(key) {
                    Some(actual) => same_shape(op, sometimes, &at, value, actual),
                    None => assert!(sometimes.contains(key), "{op}: no {at} in {actual}"),
                }
                // `_links.scaStatus` is a link, not a status.
                if STATUSES.contains(&key.as_str()) && !value.is_object() {
                    assert_eq!(Some(value), a.get(key), "{op}: {at}");
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            assert_eq!(e.is_empty(), a.is_empty(), "{op}: {at} in {actual}");
            if let Some(first) = e.first() {
                for (i, element) in a.iter().enumerate() {
                    same_shape(op, sometimes, &format!("{at}/{i}"), first, element);
                }
            }
        }
        _ => assert_eq!(
            std::mem::discriminant(expected),
            std::mem::discriminant(actual),
            "{op}: {at} is {actual}"
        ),
    }
}

/// The PSU follows `link` to the bank's pages, authenticates and approves:
/// where the bank sends the browser.
async fn approve(server: &TestServer, link: &str) -> Page {
    let mut psu = Browser::new(server);
    let screen = psu.authorise(link, PSU.0, PSU.1).await;
    psu.decide(&screen, "approve").await
}

/// A funds-confirmation consent on `iban` that the PSU approves (RFC 9396
/// `authorization_details` in a pushed request): its id.
async fn funds_consent(server: &TestServer, tpp: &Tpp, iban: &str) -> String {
    let details = json!([{"type": "funds_confirmation", "account": {"iban": iban}}]);
    let request_uri = tpp.par_details(&details).await;
    let mut psu = Browser::new(server);
    let screen = psu.authorise(&tpp.link(&request_uri), PSU.0, PSU.1).await;
    let tokens = tpp.approve_for_tokens(&mut psu, &screen).await;
    tokens.body["authorization_details"][0]["consentId"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn the_openapi_subset_and_the_postman_collection_hold_exactly_the_offered_operations(
    db: TestDb,
) {
    let server = crate::support::demo_server(db).await;
    let offered = offered();

    let answer = server.get("/portal/docs/xs2a-supported.openapi.json").await;
    assert_eq!(answer.status(), StatusCode::OK);
    let document: Value = answer.json().await.unwrap();
    assert_eq!(
        document["servers"],
        json!([{"url": server.base_url, "description": "This bank"}])
    );
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            let id = op["operationId"].as_str().unwrap().to_owned();
            assert!(
                op["x-fintechapi-example"]["request"]["path"].is_string(),
                "{method} {path} has its example"
            );
            operations.insert(id);
        }
    }
    assert_eq!(operations, offered, "exactly the offered operations");
    let mut refs = Vec::new();
    fintechapi_portal::docs::openapi::refs(&document, &mut refs);
    assert!(
        refs.len() > 100,
        "the document still refers to its components"
    );
    for r in &refs {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("a local $ref: {r}"));
        assert!(document.pointer(pointer).is_some(), "{r} resolves");
    }
    let schemas = document["components"]["schemas"].as_object().unwrap();
    assert!(
        !schemas.contains_key("updatePsuAuthenticationResponse"),
        "components only refused operations use are pruned"
    );
    assert!(
        schemas.contains_key("signingBasket"),
        "signing baskets are offered"
    );

    let answer = server
        .get("/portal/docs/xs2a.postman_collection.json")
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    let collection: Value = answer.json().await.unwrap();
    assert_eq!(
        collection["info"]["schema"],
        "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
    );
    let declared: BTreeSet<&str> = collection["variable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["key"].as_str().unwrap())
        .collect();
    let base = collection["variable"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["key"] == "baseUrl")
        .unwrap();
    assert_eq!(base["value"], server.base_url.as_str());
    let mut requests = BTreeSet::new();
    for folder in collection["item"].as_array().unwrap() {
        for item in folder["item"].as_array().unwrap() {
            let request = &item["request"];
            assert!(
                request["url"]["raw"]
                    .as_str()
                    .unwrap()
                    .starts_with("{{baseUrl}}/v1/")
            );
            requests.insert(item["name"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(requests.len(), offered.len(), "one request per operation");
    let text = collection.to_string();
    for used in text.split("{{").skip(1) {
        let name = &used[..used.find("}}").unwrap()];
        assert!(
            name == "$guid" || declared.contains(name),
            "{{{{{name}}}}} is declared"
        );
    }
    assert!(declared.contains("consentId") && declared.contains("accessToken"));
    server.stop().await;
}
both_stores!(the_openapi_subset_and_the_postman_collection_hold_exactly_the_offered_operations);
