//! The Berlin Group NextGenPSD2 OpenAPI (shipped in `specs/`, CC BY 4.0),
//! turned into a browsable reference: operations grouped by tag with their
//! parameters and responses. Parsed once, on first view.

use axum::body::Bytes;
use serde_json::Value;

pub mod examples;
pub mod openapi;
pub mod postman;

/// The specification as published, byte for byte.
pub const SPEC_YAML: &str = include_str!("../../../../specs/psd2-api_v1.3.12-2022-07-06.yaml");

pub struct Reference {
    /// The whole document, for the downloads made from it.
    pub spec: Value,
    pub title: String,
    pub version: String,
    pub groups: Vec<Group>,
    pub operations: usize,
}

pub struct Group {
    pub name: String,
    pub anchor: String,
    pub operations: Vec<Operation>,
}

pub struct Operation {
    pub anchor: String,
    pub operation_id: String,
    pub method: String,
    pub path: String,
    pub summary: String,
    pub description: String,
    pub parameters: Vec<Parameter>,
    pub responses: Vec<(String, String)>,
}

pub struct Parameter {
    pub name: String,
    pub location: String,
    pub required: bool,
    pub description: String,
}

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn anchor(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// A section of the reference with the operations this bank offers.
pub struct OfferedGroup<'a> {
    pub name: &'a str,
    pub anchor: &'a str,
    pub operations: Vec<&'a Operation>,
}

impl Reference {
    /// The reference without the operations the bank refuses (named by
    /// `operationId`); a section left empty is dropped.
    pub fn offered<'a>(&'a self, refused: &[&str]) -> Vec<OfferedGroup<'a>> {
        self.groups
            .iter()
            .map(|g| OfferedGroup {
                name: &g.name,
                anchor: &g.anchor,
                operations: g
                    .operations
                    .iter()
                    .filter(|o| !refused.contains(&o.operation_id.as_str()))
                    .collect(),
            })
            .filter(|g| !g.operations.is_empty())
            .collect()
    }
}

/// The reference's downloads for one deployment, serialized once.
pub struct Downloads {
    /// The OpenAPI document of the operations offered (`openapi::subset`).
    pub openapi: Bytes,
    /// The Postman collection of the examples.
    pub postman: Bytes,
}

impl Downloads {
    /// For the deployment at `base`, without the `refused` operations.
    pub fn build(
        reference: &Reference,
        refused: &[&str],
        examples: &examples::Examples,
        base: &str,
    ) -> Result<Self, String> {
        let subset = openapi::subset(&reference.spec, refused, examples, base);
        let title = format!("{} (this bank)", reference.title);
        let collection = postman::collection(&title, &reference.offered(refused), examples, base);
        Ok(Self {
            openapi: serde_json::to_vec_pretty(&subset)
                .map_err(|e| e.to_string())?
                .into(),
            postman: serde_json::to_vec_pretty(&collection)
                .map_err(|e| e.to_string())?
                .into(),
        })
    }
}

/// Follows a local `$ref` (`#/components/…`).
fn resolve<'a>(root: &'a Value, v: &'a Value) -> &'a Value {
    match v
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/"))
    {
        Some(path) => path
            .split('/')
            .try_fold(root, |node, key| node.get(key))
            .unwrap_or(v),
        None => v,
    }
}

/// The parsed reference of the shipped spec, built on first use.
pub fn reference() -> Result<&'static Reference, &'static str> {
    static REFERENCE: std::sync::OnceLock<Result<Reference, String>> = std::sync::OnceLock::new();
    REFERENCE
        .get_or_init(|| parse(SPEC_YAML))
        .as_ref()
        .map_err(String::as_str)
}

pub fn parse(yaml: &str) -> Result<Reference, String> {
    let root: Value = serde_norway::from_str(yaml).map_err(|e| e.to_string())?;
    let info = &root["info"];
    let mut groups: Vec<Group> = Vec::new();
    let mut count = 0;
    let paths = root
        .get("paths")
        .and_then(Value::as_object)
        .ok_or("the spec has no paths")?;
    for (path, item) in paths {
        let shared: Vec<&Value> = item
            .get("parameters")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(op) = item.get(method) else { continue };
            count += 1;
            let parameters = shared
                .iter()
                .copied()
                .chain(
                    op.get("parameters")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten(),
                )
                .map(|p| {
                    let p = resolve(&root, p);
                    Parameter {
                        name: text(p, "name"),
                        location: text(p, "in"),
                        required: p.get("required").and_then(Value::as_bool).unwrap_or(false),
                        description: text(p, "description"),
                    }
                })
                .collect();
            let responses = op
                .get("responses")
                .and_then(Value::as_object)
                .map(|r| {
                    r.iter()
                        .map(|(code, resp)| {
                            (code.clone(), text(resolve(&root, resp), "description"))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let operation_id = text(op, "operationId");
            let operation = Operation {
                anchor: anchor(&format!("{method}-{path}")),
                operation_id: operation_id.clone(),
                method: method.to_uppercase(),
                path: path.clone(),
                summary: if operation_id.is_empty() {
                    text(op, "summary")
                } else {
                    format!("{} ({operation_id})", text(op, "summary"))
                },
                description: text(op, "description"),
                parameters,
                responses,
            };
            let tag = op
                .get("tags")
                .and_then(|t| t.get(0))
                .and_then(Value::as_str)
                .unwrap_or("Other")
                .to_owned();
            match groups.iter_mut().find(|g| g.name == tag) {
                Some(group) => group.operations.push(operation),
                None => groups.push(Group {
                    anchor: anchor(&tag),
                    name: tag,
                    operations: vec![operation],
                }),
            }
        }
    }
    Ok(Reference {
        title: text(info, "title"),
        version: text(info, "version"),
        groups,
        operations: count,
        spec: root,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_spec_parses_into_every_operation() {
        let reference = parse(SPEC_YAML).unwrap();
        assert_eq!(reference.version, "1.3.12_2022-07-01");
        assert_eq!(reference.operations, 38, "every operation of the file");
        let consents = reference
            .groups
            .iter()
            .flat_map(|g| &g.operations)
            .find(|o| o.method == "POST" && o.path == "/v1/consents")
            .unwrap();
        assert!(
            consents
                .parameters
                .iter()
                .any(|p| p.name == "X-Request-ID" && p.required),
            "shared header parameters are resolved"
        );
        assert!(consents.responses.iter().any(|(code, _)| code == "201"));
    }

    #[test]
    fn refused_operations_and_their_empty_sections_leave_the_reference() {
        let reference = parse(SPEC_YAML).unwrap();
        let refused = ["createSigningBasket", "getSigningBasket", "deleteConsent"];
        let offered = reference.offered(&refused);
        let ids: Vec<&str> = offered
            .iter()
            .flat_map(|g| &g.operations)
            .map(|o| o.operation_id.as_str())
            .collect();
        assert_eq!(ids.len(), 35);
        assert!(ids.contains(&"createConsent") && !ids.contains(&"deleteConsent"));
        let every_basket = reference
            .groups
            .iter()
            .find(|g| {
                g.operations
                    .iter()
                    .any(|o| o.operation_id == "createSigningBasket")
            })
            .unwrap();
        let basket_ids: Vec<&str> = every_basket
            .operations
            .iter()
            .map(|o| o.operation_id.as_str())
            .collect();
        let offered = reference.offered(&basket_ids);
        assert!(
            offered.iter().all(|g| g.name != every_basket.name),
            "an empty section is dropped"
        );
    }
}
