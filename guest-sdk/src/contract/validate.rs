//! Validation of a converted parameter against its schema, with the messages of ajv 6 (what fabric-contract-api 2.5
//! validates with, `allErrors` on), so a client sees the same `Unable to validate parameter due to [...]` as from a
//! Node contract.
//!
//! Only the keywords schemars writes are checked: `type`, `enum`, `const`, `minimum`, `maximum`, `minItems`,
//! `maxItems`, `required`, `properties`, `additionalProperties`, `items`, `anyOf`, `oneOf`, `allOf` and `$ref` into
//! the components. Anything else is accepted here and left to serde, whose error then fails the transaction.

use serde_json::{Map, Value};

use super::schema::Schemas;

/// Every failed keyword's message, in ajv's order; empty when `value` is valid.
pub(crate) fn validate(value: &Value, schema: &Value, schemas: &Schemas) -> Vec<String> {
    let mut errors = Vec::new();
    check(value, schema, schemas, &mut errors);
    errors
}

fn check(value: &Value, schema: &Value, schemas: &Schemas, errors: &mut Vec<String>) {
    let Value::Object(s) = schema else {
        // `false` admits nothing, `true` everything.
        if schema == &Value::Bool(false) {
            errors.push("boolean schema is false".into());
        }
        return;
    };
    // Draft 7 ignores the siblings of a `$ref` (ajv 6's `extendRefs: "ignore"`).
    if s.contains_key("$ref") {
        if let Some(target) = schemas.resolve(schema) {
            check(value, target, schemas, errors);
        }
        return;
    }
    if let Some(types) = s.get("type") {
        let names: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !names.iter().any(|t| has_type(value, t)) {
            errors.push(format!("should be {}", names.join(",")));
        }
    }
    match value {
        Value::Number(n) => numbers(n.as_f64().unwrap_or(f64::NAN), s, errors),
        Value::Array(items) => arrays(items, s, schemas, errors),
        Value::Object(fields) => objects(fields, s, schemas, errors),
        _ => {}
    }
    if let Some(Value::Array(allowed)) = s.get("enum") {
        if !allowed.contains(value) {
            errors.push("should be equal to one of the allowed values".into());
        }
    }
    if let Some(constant) = s.get("const") {
        if constant != value {
            errors.push("should be equal to constant".into());
        }
    }
    if let Some(Value::Array(branches)) = s.get("allOf") {
        branches.iter().for_each(|b| check(value, b, schemas, errors));
    }
    if let Some(Value::Array(branches)) = s.get("anyOf") {
        let mut failed = Vec::new();
        if !branches.iter().any(|b| passes(value, b, schemas, &mut failed)) {
            errors.append(&mut failed);
            errors.push("should match some schema in anyOf".into());
        }
    }
    if let Some(Value::Array(branches)) = s.get("oneOf") {
        let mut failed = Vec::new();
        let passing = branches.iter().filter(|b| passes(value, b, schemas, &mut failed)).count();
        if passing == 0 {
            errors.append(&mut failed);
        }
        if passing != 1 {
            errors.push("should match exactly one schema in oneOf".into());
        }
    }
}

/// Checks one branch, collecting its errors into `failed` when it does not pass.
fn passes(value: &Value, schema: &Value, schemas: &Schemas, failed: &mut Vec<String>) -> bool {
    let errors = validate(value, schema, schemas);
    let ok = errors.is_empty();
    failed.extend(errors);
    ok
}

fn has_type(value: &Value, name: &str) -> bool {
    match (name, value) {
        ("null", Value::Null) | ("boolean", Value::Bool(_)) | ("string", Value::String(_)) => true,
        ("array", Value::Array(_)) | ("object", Value::Object(_)) | ("number", Value::Number(_)) => true,
        ("integer", Value::Number(n)) => n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => false,
    }
}

fn numbers(n: f64, s: &Map<String, Value>, errors: &mut Vec<String>) {
    if let Some(max) = s.get("maximum").and_then(Value::as_f64) {
        if n > max {
            errors.push(format!("should be <= {}", s["maximum"]));
        }
    }
    if let Some(min) = s.get("minimum").and_then(Value::as_f64) {
        if n < min {
            errors.push(format!("should be >= {}", s["minimum"]));
        }
    }
}

fn arrays(items: &[Value], s: &Map<String, Value>, schemas: &Schemas, errors: &mut Vec<String>) {
    if let Some(max) = s.get("maxItems").and_then(Value::as_u64) {
        if items.len() as u64 > max {
            errors.push(format!("should NOT have more than {max} items"));
        }
    }
    if let Some(min) = s.get("minItems").and_then(Value::as_u64) {
        if (items.len() as u64) < min {
            errors.push(format!("should NOT have fewer than {min} items"));
        }
    }
    match s.get("items") {
        Some(Value::Array(tuple)) => {
            items.iter().zip(tuple).for_each(|(item, schema)| check(item, schema, schemas, errors));
        }
        Some(each) => items.iter().for_each(|item| check(item, each, schemas, errors)),
        None => {}
    }
}

/// ajv 6's order: required properties the schema does not describe, then each described property in the schema's
/// order (missing and required, or its own errors), then the properties it does not describe.
fn objects(fields: &Map<String, Value>, s: &Map<String, Value>, schemas: &Schemas, errors: &mut Vec<String>) {
    let empty = Map::new();
    let properties = s.get("properties").and_then(Value::as_object).unwrap_or(&empty);
    let required: Vec<&str> = match s.get("required") {
        Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let missing = |name: &str| format!("should have required property '{name}'");
    for name in required.iter().filter(|n| !properties.contains_key(**n) && !fields.contains_key(**n)) {
        errors.push(missing(name));
    }
    for (name, schema) in properties {
        match fields.get(name) {
            Some(value) => check(value, schema, schemas, errors),
            None if required.contains(&name.as_str()) => errors.push(missing(name)),
            None => {}
        }
    }
    for (_, value) in fields.iter().filter(|(name, _)| !properties.contains_key(*name)) {
        match s.get("additionalProperties") {
            Some(Value::Bool(false)) => errors.push("should NOT have additional properties".into()),
            Some(extra @ Value::Object(_)) => check(value, extra, schemas, errors),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::validate;
    use crate::contract::schema::Schemas;

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[allow(non_snake_case, dead_code)]
    struct Asset {
        AppraisedValue: i64,
        Color: String,
        ID: String,
        Owner: String,
        Size: i64,
    }

    /// Each case's messages are what ajv 6.15 (`allErrors`, as fabric-contract-api compiles it) answered.
    #[test]
    fn messages_and_their_order_are_ajv_6s() {
        let mut schemas = Schemas::new();
        let asset = schemas.schema::<Asset>();
        let cases: Vec<(Value, Value, Vec<&str>)> = vec![
            (json!({"type": "integer"}), json!("abc"), vec!["should be integer"]),
            (json!({"type": "integer"}), json!(5.5), vec!["should be integer"]),
            (json!({"type": "integer"}), json!(null), vec!["should be integer"]),
            (json!({"type": "integer", "minimum": 0, "maximum": 255}), json!(-1), vec!["should be >= 0"]),
            (json!({"type": "integer", "minimum": 0, "maximum": 255}), json!(300), vec!["should be <= 255"]),
            (json!({"type": ["string", "null"]}), json!(5), vec!["should be string,null"]),
            (json!({"type": "boolean"}), json!("x"), vec!["should be boolean"]),
            (
                json!({"type": "array", "items": {"type": "integer"}}),
                json!([1, "a", 2.5]),
                vec!["should be integer", "should be integer"],
            ),
            (json!({"type": "array", "items": {"type": "integer"}}), json!({}), vec!["should be array"]),
            (
                asset.clone(),
                json!({}),
                vec![
                    "should have required property 'AppraisedValue'",
                    "should have required property 'Color'",
                    "should have required property 'ID'",
                    "should have required property 'Owner'",
                    "should have required property 'Size'",
                ],
            ),
            (
                asset.clone(),
                json!({"ID": 5}),
                vec![
                    "should have required property 'AppraisedValue'",
                    "should have required property 'Color'",
                    "should be string",
                    "should have required property 'Owner'",
                    "should have required property 'Size'",
                ],
            ),
            (
                asset.clone(),
                json!({"ID": "a", "Color": "b", "Size": "big", "Owner": "o", "AppraisedValue": 1, "Extra": 1}),
                vec!["should be integer"],
            ),
            (json!({"enum": ["Red", "Green"]}), json!("Blue"), vec!["should be equal to one of the allowed values"]),
            (
                json!({"anyOf": [asset, {"type": "null"}]}),
                json!(5),
                vec!["should be object", "should be null", "should match some schema in anyOf"],
            ),
            (
                json!({"oneOf": [{"type": "string", "enum": ["A"]}, {"type": "object", "required": ["B"], "properties": {"B": {"type": "integer"}}}]}),
                json!({"B": "x"}),
                vec![
                    "should be string",
                    "should be equal to one of the allowed values",
                    "should be integer",
                    "should match exactly one schema in oneOf",
                ],
            ),
            (json!({"type": "number"}), json!("1"), vec!["should be number"]),
        ];
        for (schema, value, expected) in cases {
            assert_eq!(validate(&value, &schema, &schemas), expected, "{value} against {schema}");
        }
    }
}
