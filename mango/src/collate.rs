//! CouchDB's collation of JSON values: the order Mango's comparison operators and `sort` use.
//!
//! Values of different types order by type: `null` < `false` < `true` < numbers < strings < arrays < objects.
//! Within a type: numbers by value (`1` equals `1.0`), strings by Unicode code point (CouchDB uses ICU collation,
//! where `"a" < "B"`; here `"B" < "a"`), arrays element by element and then by length, objects key by key in
//! sorted key order (key, then value), then by size.

use std::cmp::Ordering;

use serde_json::{Number, Value};

/// Compares two JSON values in collation order.
pub fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => compare_numbers(x, y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            x.iter().zip(y).map(|(p, q)| compare(p, q)).find(|o| o.is_ne()).unwrap_or_else(|| x.len().cmp(&y.len()))
        }
        (Value::Object(x), Value::Object(y)) => x
            .iter()
            .zip(y)
            .map(|((ka, va), (kb, vb))| ka.cmp(kb).then_with(|| compare(va, vb)))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| x.len().cmp(&y.len())),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Whether two values collate equal (so `1` equals `1.0`, unlike `==` on `Value`).
pub fn equal(a: &Value, b: &Value) -> bool {
    compare(a, b).is_eq()
}

fn rank(value: &Value) -> u8 {
    match value {
        Value::Null => 0,
        Value::Bool(false) => 1,
        Value::Bool(true) => 2,
        Value::Number(_) => 3,
        Value::String(_) => 4,
        Value::Array(_) => 5,
        Value::Object(_) => 6,
    }
}

fn compare_numbers(x: &Number, y: &Number) -> Ordering {
    if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
        return a.cmp(&b);
    }
    if let (Some(a), Some(b)) = (x.as_u64(), y.as_u64()) {
        return a.cmp(&b);
    }
    let (a, b) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn types_order_before_values() {
        let ordered = [
            json!(null),
            json!(false),
            json!(true),
            json!(-5),
            json!(1),
            json!(1.5),
            json!(u64::MAX),
            json!(""),
            json!("B"),
            json!("a"),
            json!([]),
            json!([1]),
            json!([1, 2]),
            json!([2]),
            json!({}),
            json!({"a": 1}),
            json!({"a": 2}),
            json!({"b": 0}),
        ];
        for (i, a) in ordered.iter().enumerate() {
            for (j, b) in ordered.iter().enumerate() {
                assert_eq!(compare(a, b), i.cmp(&j), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn integers_and_floats_compare_by_value() {
        assert!(equal(&json!(1), &json!(1.0)));
        assert_eq!(compare(&json!(-1), &json!(u64::MAX)), Ordering::Less);
        assert_eq!(compare(&json!(2), &json!(1.5)), Ordering::Greater);
    }
}
