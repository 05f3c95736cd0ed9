//! The OpenAPI document of what this bank offers, made from the shipped spec:
//! only the offered operations, each with its example (the bodies as the
//! media types' `examples`, the whole exchange as `x-fintechapi-example`),
//! the components nothing refers to any more left out, and `servers` this
//! deployment.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::examples::{Example, Examples};

/// The operations of a path item.
pub const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The name the examples carry in a media type's `examples`.
const EXAMPLE_NAME: &str = "This bank";

fn operation_id(op: &Value) -> &str {
    op.get("operationId")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// `spec` without the `refused` operations, with `examples`, served at `base`.
pub fn subset(spec: &Value, refused: &[&str], examples: &Examples, base: &str) -> Value {
    let mut doc = spec.clone();
    let mut tags = BTreeSet::new();
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        paths.retain(|_, item| {
            let Some(item) = item.as_object_mut() else {
                return false;
            };
            item.retain(|key, op| {
                !METHODS.contains(&key.as_str()) || !refused.contains(&operation_id(op))
            });
            for method in METHODS {
                let Some(op) = item.get_mut(method) else {
                    continue;
                };
                tags.extend(
                    op.get("tags")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .map(str::to_owned),
                );
                if let Some(example) = examples.of(operation_id(op)) {
                    attach(spec, op, example);
                }
            }
            METHODS.iter().any(|m| item.contains_key(*m))
        });
    }
    if let Some(listed) = doc.get_mut("tags").and_then(Value::as_array_mut) {
        listed.retain(|t| {
            t.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| tags.contains(n))
        });
    }
    doc["servers"] = json!([{"url": base, "description": "This bank"}]);
    if let Some(info) = doc.get_mut("info").and_then(Value::as_object_mut) {
        let original = info
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let description = format!(
            "The operations of this specification that this bank offers, each with a request \
             and this bank's answer, generated from the unmodified file: the operations the \
             bank refuses (see its ASPSP profile at /aspsp-profile) and what only they use \
             are left out.\n\n{original}"
        );
        info.insert("description".into(), description.into());
    }
    prune(&mut doc);
    doc
}

/// Puts `example` on `op`: the bodies in place of the spec's examples of the
/// same request body and status (the `$ref`'d object copied in first).
fn attach(spec: &Value, op: &mut Value, example: &Example) {
    let exchange = json!({"request": example.request, "response": example.response});
    if let Some(body) = &example.request.body {
        with_example(spec, op.get_mut("requestBody"), body);
    }
    if let Some(body) = &example.response.body {
        let status = example.response.status.to_string();
        with_example(spec, op.pointer_mut(&format!("/responses/{status}")), body);
    }
    if let Some(op) = op.as_object_mut() {
        op.insert("x-fintechapi-example".into(), exchange);
    }
}

fn with_example(spec: &Value, at: Option<&mut Value>, body: &Value) {
    let Some(at) = at else { return };
    let mut resolved = resolve(spec, at).clone();
    let Some(media) = resolved.pointer_mut("/content/application~1json") else {
        return;
    };
    if let Some(media) = media.as_object_mut() {
        media.remove("example");
        media.insert(
            "examples".into(),
            json!({EXAMPLE_NAME: {"summary": "Sent to and answered by this bank", "value": body}}),
        );
        *at = resolved;
    }
}

/// Follows a local `$ref`.
fn resolve<'a>(root: &'a Value, v: &'a Value) -> &'a Value {
    v.get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|pointer| root.pointer(pointer))
        .unwrap_or(v)
}

/// Leaves out the components (but security schemes, named by `security`)
/// that nothing outside them refers to, directly or through other components.
fn prune(doc: &mut Value) {
    let mut todo = Vec::new();
    if let Some(root) = doc.as_object() {
        for (key, v) in root {
            if key != "components" {
                refs(v, &mut todo);
            }
        }
    }
    let mut wanted = BTreeSet::new();
    while let Some(r) = todo.pop() {
        if wanted.insert(r.clone())
            && let Some(target) = r.strip_prefix('#').and_then(|p| doc.pointer(p))
        {
            refs(target, &mut todo);
        }
    }
    let Some(components) = doc.get_mut("components").and_then(Value::as_object_mut) else {
        return;
    };
    for (section, entries) in components.iter_mut() {
        if section == "securitySchemes" {
            continue;
        }
        if let Some(entries) = entries.as_object_mut() {
            entries.retain(|name, _| {
                let escaped = name.replace('~', "~0").replace('/', "~1");
                wanted.contains(&format!("#/components/{section}/{escaped}"))
            });
        }
    }
    components.retain(|_, entries| entries.as_object().is_none_or(|e| !e.is_empty()));
}

/// The `$ref`s in `v`, pushed on `out`.
pub fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r.clone());
            }
            m.values().for_each(|v| refs(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}
