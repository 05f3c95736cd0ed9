//! The request and response examples of the XS2A reference, one per offered
//! operation (`static/reference-examples.json`), in the order a TPP makes
//! the calls: the server's integration tests replay them against the demo
//! bank, so what the reference shows is what this bank answers.
//!
//! Ids that a call creates are the file's `variables`: each has one example
//! value, written wherever the id appears; a replay or a Postman collection
//! puts its own value (or `{{name}}`) in its place. `capture` names where an
//! answer carries a variable's value for the calls after it.

use std::collections::{BTreeMap, HashMap};

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The examples as shipped.
pub const EXAMPLES_JSON: &str = include_str!("../../static/reference-examples.json");

#[derive(Debug, Deserialize)]
pub struct Examples {
    pub variables: Vec<Variable>,
    pub examples: Vec<Example>,
}

#[derive(Debug, Deserialize)]
pub struct Variable {
    pub name: String,
    /// The value the examples show.
    pub example: String,
    pub description: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Example {
    pub operation_id: String,
    pub request: Request,
    pub response: Response,
    /// Variable name → JSON pointer into the response body.
    #[serde(default)]
    pub capture: BTreeMap<String, String>,
    /// What happens before the next call (the PSU's part at the bank).
    #[serde(default)]
    pub then: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub method: String,
    /// Path and query.
    pub path: String,
    pub headers: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    pub status: u16,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Keys of the body that some answers leave out (a card statement's
    /// settlement has no counterparty account).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sometimes: Vec<String>,
}

/// The header every XS2A call carries with a fresh value of the TPP's own.
pub const REQUEST_ID: &str = "X-Request-ID";

impl Examples {
    pub fn parse(json: &str) -> Result<Self, String> {
        let examples: Self = serde_json::from_str(json).map_err(|e| e.to_string())?;
        for (i, e) in examples.examples.iter().enumerate() {
            if examples.examples[..i]
                .iter()
                .any(|o| o.operation_id == e.operation_id)
            {
                return Err(format!("{} has two examples", e.operation_id));
            }
            if let Some(name) = e
                .capture
                .keys()
                .find(|name| examples.variable(name).is_none())
            {
                return Err(format!("{} captures the undeclared {name}", e.operation_id));
            }
        }
        Ok(examples)
    }

    pub fn variable(&self, name: &str) -> Option<&Variable> {
        self.variables.iter().find(|v| v.name == name)
    }

    pub fn of(&self, operation_id: &str) -> Option<&Example> {
        self.examples
            .iter()
            .find(|e| e.operation_id == operation_id)
    }

    /// `text` with each variable's example value replaced by `value(variable)`.
    pub fn substitute(&self, text: &str, value: impl Fn(&Variable) -> String) -> String {
        self.variables.iter().fold(text.to_owned(), |text, v| {
            text.replace(&v.example, &value(v))
        })
    }
}

/// A body as the examples show it.
pub fn pretty(body: &Value) -> String {
    serde_json::to_string_pretty(body).unwrap_or_default()
}

impl Example {
    /// The request as it goes over the wire (HTTP/1.1 without `Host`).
    pub fn request_text(&self) -> String {
        let r = &self.request;
        message(
            &format!("{} {}", r.method, r.path),
            &r.headers,
            r.body.as_ref(),
        )
    }

    /// The answer: status line, the headers worth checking, body.
    pub fn response_text(&self) -> String {
        let r = &self.response;
        let reason = StatusCode::from_u16(r.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or_default();
        message(
            &format!("HTTP/1.1 {} {reason}", r.status),
            &r.headers,
            r.body.as_ref(),
        )
    }
}

fn message(first: &str, headers: &[(String, String)], body: Option<&Value>) -> String {
    let mut text = first.to_owned();
    for (name, value) in headers {
        text.push_str(&format!("\n{name}: {value}"));
    }
    if let Some(body) = body {
        text.push_str("\n\n");
        text.push_str(&pretty(body));
    }
    text
}

/// An example as the reference page shows it.
pub struct Shown {
    pub request: String,
    pub response: String,
    pub then: Option<String>,
}

/// The shipped examples as the reference shows them, by `operationId`,
/// prepared on first use.
pub fn shown() -> Result<&'static HashMap<String, Shown>, &'static str> {
    static SHOWN: std::sync::OnceLock<Result<HashMap<String, Shown>, String>> =
        std::sync::OnceLock::new();
    SHOWN
        .get_or_init(|| {
            let examples = examples().map_err(str::to_owned)?;
            Ok(examples
                .examples
                .iter()
                .map(|e| {
                    let shown = Shown {
                        request: e.request_text(),
                        response: e.response_text(),
                        then: e.then.clone(),
                    };
                    (e.operation_id.clone(), shown)
                })
                .collect())
        })
        .as_ref()
        .map_err(String::as_str)
}

/// The shipped examples, parsed on first use.
pub fn examples() -> Result<&'static Examples, &'static str> {
    static EXAMPLES: std::sync::OnceLock<Result<Examples, String>> = std::sync::OnceLock::new();
    EXAMPLES
        .get_or_init(|| Examples::parse(EXAMPLES_JSON))
        .as_ref()
        .map_err(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_examples_parse_and_show_as_http_messages() {
        let examples = examples().unwrap();
        let create = examples.of("createConsent").unwrap();
        let request = create.request_text();
        assert!(request.starts_with("POST /v1/consents\n"), "{request}");
        assert!(request.contains("\nX-Request-ID: "), "{request}");
        assert!(create.response_text().starts_with("HTTP/1.1 201 Created\n"));
        assert!(create.capture.contains_key("consentId"));
    }

    #[test]
    fn a_second_example_of_an_operation_or_an_undeclared_capture_is_refused() {
        let one = r#"{"operationId":"getConsentStatus","request":{"method":"GET","path":"/","headers":[]},"response":{"status":200}}"#;
        let twice = format!(r#"{{"variables":[],"examples":[{one},{one}]}}"#);
        assert!(
            Examples::parse(&twice)
                .unwrap_err()
                .contains("two examples")
        );
        let capturing = r#"{"variables":[],"examples":[{"operationId":"a","request":{"method":"GET","path":"/","headers":[]},"response":{"status":200},"capture":{"id":"/id"}}]}"#;
        assert!(
            Examples::parse(capturing)
                .unwrap_err()
                .contains("undeclared")
        );
    }
}
