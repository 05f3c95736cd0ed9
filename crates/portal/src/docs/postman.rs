//! The reference's examples as a Postman collection (v2.1): a folder per
//! section, a request per offered operation with the ids as collection
//! variables (`{{consentId}}`), which the requests that create them set from
//! their answers, and a fresh `X-Request-ID` (`{{$guid}}`) on every call.

use serde_json::{Value, json};

use super::examples::{Example, Examples, REQUEST_ID, pretty};
use super::{OfferedGroup, Operation};

pub const SCHEMA: &str = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json";

/// The collection of `groups`' examples, for the deployment at `base`.
pub fn collection(
    title: &str,
    groups: &[OfferedGroup<'_>],
    examples: &Examples,
    base: &str,
) -> Value {
    let folders: Vec<Value> = groups
        .iter()
        .map(|g| {
            let items: Vec<Value> = g
                .operations
                .iter()
                .filter_map(|o| examples.of(&o.operation_id).map(|e| item(examples, o, e)))
                .collect();
            json!({"name": g.name, "item": items})
        })
        .collect();
    let mut variables = vec![json!({"key": "baseUrl", "value": base, "description": "This bank."})];
    variables.extend(examples.variables.iter().map(|v| {
        json!({"key": v.name, "value": "", "description": format!("{} Example: {}", v.description, v.example)})
    }));
    json!({
        "info": {
            "name": title,
            "description": "The XS2A operations this bank offers, each with a request and this bank's answer. \
                            Set accessToken and redirectUri, then run the requests in order: each sets the ids \
                            it creates; a request's description says when the PSU acts at the bank.",
            "schema": SCHEMA,
        },
        "variable": variables,
        "item": folders,
    })
}

fn item(examples: &Examples, operation: &Operation, example: &Example) -> Value {
    let vars = |text: &str| examples.substitute(text, |v| format!("{{{{{}}}}}", v.name));
    let request = &example.request;
    let path = vars(&request.path);
    let (route, query) = path.split_once('?').unwrap_or((path.as_str(), ""));
    let query: Vec<Value> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            json!({"key": k, "value": v})
        })
        .collect();
    let headers: Vec<Value> = request
        .headers
        .iter()
        .map(|(k, v)| {
            let value = if k == REQUEST_ID {
                "{{$guid}}".to_owned()
            } else {
                vars(v)
            };
            json!({"key": k, "value": value})
        })
        .collect();
    let mut sent = json!({
        "method": request.method,
        "header": headers,
        "url": {
            "raw": format!("{{{{baseUrl}}}}{path}"),
            "host": ["{{baseUrl}}"],
            "path": route.split('/').filter(|s| !s.is_empty()).collect::<Vec<_>>(),
            "query": query,
        },
    });
    if let Some(body) = &request.body {
        sent["body"] = json!({"mode": "raw", "raw": vars(&pretty(body)), "options": {"raw": {"language": "json"}}});
    }
    let response = &example.response;
    let answer = json!({
        "name": "This bank's answer",
        "originalRequest": sent,
        "code": response.status,
        "status": axum::http::StatusCode::from_u16(response.status).ok().and_then(|s| s.canonical_reason()),
        "header": response.headers.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
        "body": response.body.as_ref().map(pretty).unwrap_or_default(),
        "_postman_previewlanguage": "json",
    });
    let mut item = json!({"name": operation.summary, "request": sent, "response": [answer]});
    if let Some(then) = &example.then {
        item["description"] = json!(format!("Then: {then}"));
    }
    if !example.capture.is_empty() {
        let mut exec = vec!["const body = pm.response.json();".to_owned()];
        exec.extend(example.capture.iter().map(|(name, pointer)| {
            format!(
                "pm.collectionVariables.set({name:?}, body{});",
                accessor(pointer)
            )
        }));
        item["event"] =
            json!([{"listen": "test", "script": {"type": "text/javascript", "exec": exec}}]);
    }
    item
}

/// A JSON pointer (`/accounts/0/resourceId`) as a JavaScript accessor
/// (`["accounts"][0]["resourceId"]`).
fn accessor(pointer: &str) -> String {
    pointer
        .split('/')
        .skip(1)
        .map(|segment| match segment.parse::<usize>() {
            Ok(index) => format!("[{index}]"),
            Err(_) => format!("[{segment:?}]"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pointer_becomes_an_accessor() {
        assert_eq!(
            accessor("/accounts/0/resourceId"),
            r#"["accounts"][0]["resourceId"]"#
        );
        assert_eq!(accessor("/consentId"), r#"["consentId"]"#);
    }
}
