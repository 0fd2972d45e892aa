//! Shared by the typed-summary tests: a summary.json reads back into the typed `Summary` and
//! serializes to the same bytes, validates against docs/summary.schema.json, and every property
//! it holds is described there.

use crate::common::schema_errors;
use serde_json::Value;
use stampede::summary::{self, Summary};
use std::path::Path;

fn schema() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/summary.schema.json"
        ))
        .unwrap(),
    )
    .unwrap()
}

fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    match node["$ref"].as_str().and_then(|r| r.strip_prefix("#/")) {
        Some(path) => path.split('/').fold(root, |n, k| &n[k]),
        None => node,
    }
}

/// Every object key of `v` must be described by the schema node (a named property, or an
/// `additionalProperties` schema for maps); `oneOf` takes the first branch that covers it.
fn undescribed(root: &Value, node: &Value, v: &Value, path: &str, out: &mut Vec<String>) {
    let node = resolve(root, node);
    if let Some(alts) = node["oneOf"].as_array() {
        for alt in alts {
            let alt = resolve(root, alt);
            if v.is_null() != (alt["type"] == "null") {
                continue;
            }
            let mut e = Vec::new();
            undescribed(root, alt, v, path, &mut e);
            if e.is_empty() {
                return;
            }
        }
        out.push(format!("{path}: no branch of oneOf describes {v}"));
        return;
    }
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let sub = match (&node["properties"][k], &node["additionalProperties"]) {
                    (p, _) if p.is_object() => p,
                    (_, a) if a.is_object() => a,
                    _ => {
                        out.push(format!("{path}.{k}"));
                        continue;
                    }
                };
                undescribed(root, sub, x, &format!("{path}.{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                if node["items"].is_object() {
                    undescribed(root, &node["items"], x, &format!("{path}[{i}]"), out);
                } else if x.is_object() || x.is_array() {
                    out.push(format!("{path}[{i}] (no `items`)"));
                }
            }
        }
        _ => {}
    }
}

/// The typed reader reads the file and writes the same bytes back; every property written is
/// in the schema; the file validates.
pub fn check_typed(file: &Path) -> Summary {
    let text = std::fs::read_to_string(file).unwrap();
    let typed = summary::read(file).unwrap_or_else(|e| panic!("{e}"));
    let again = serde_json::to_string_pretty(&typed).unwrap() + "\n";
    assert!(
        again == text,
        "{} does not round-trip byte for byte",
        file.display()
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    let errors = schema_errors(&v);
    assert!(errors.is_empty(), "{errors:#?}");
    let root = schema();
    let mut missing = Vec::new();
    undescribed(&root, &root, &v, "", &mut missing);
    assert!(missing.is_empty(), "not in the schema: {missing:#?}");
    typed
}
