//! From a transaction's string arguments to typed parameters, the way fabric-contract-api's JSON serializer and
//! data marshall do it: the count first, then each argument converted by its schema's type and validated.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::schema::Schemas;
use super::validate::validate;

/// A transaction's arguments (after the function name), checked for count; `#[contract]` takes each in turn.
pub struct Args<'a> {
    args: &'a [Vec<u8>],
    schemas: Schemas,
}

impl<'a> Args<'a> {
    /// fabric-contract-api's count check and text.
    pub fn new(args: &'a [Vec<u8>], expected: usize) -> Result<Self, String> {
        if args.len() != expected {
            return Err(format!("Expected {expected} parameters, but {} have been supplied", args.len()));
        }
        Ok(Args { args, schemas: Schemas::new() })
    }

    /// Argument `index` as a `T`.
    pub fn get<T: DeserializeOwned + JsonSchema>(&mut self, index: usize) -> Result<T, String> {
        let schema = self.schemas.schema::<T>();
        let text = String::from_utf8_lossy(&self.args[index]);
        let value = convert(&text, &schema, &self.schemas)?;
        let errors = validate(&value, &schema, &self.schemas);
        if !errors.is_empty() {
            let list = serde_json::to_string(&errors).unwrap_or_default();
            return Err(format!("Unable to validate parameter due to {list}"));
        }
        serde_json::from_value(integral(value)).map_err(|e| e.to_string())
    }
}

/// The serializer's reading of the text, by the schema's `type` (a `$ref` to an object reads as JSON).
fn convert(text: &str, schema: &Value, schemas: &Schemas) -> Result<Value, String> {
    let target = schemas.resolve(schema).unwrap_or(schema);
    match target.get("type").and_then(Value::as_str) {
        Some("string") if target == schema => Ok(Value::String(text.to_owned())),
        Some("number") if target == schema => js_number(text)
            .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number))
            .ok_or_else(|| "fromBuffer could not convert data to number".to_owned()),
        Some("boolean") if target == schema => match text.trim().to_lowercase().as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err("fromBuffer could not convert data to boolean".to_owned()),
        },
        // Objects and arrays must be JSON.
        Some("object") | Some("array") => serde_json::from_str(text).map_err(|e| e.to_string()),
        // Anything else (integers, nullable types, enums): JSON if it parses, else the text as a string.
        _ => Ok(serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))),
    }
}

/// JavaScript's `Number(text)`: surrounding white space ignored, empty is 0, `0x`/`0o`/`0b` integers, `Infinity`;
/// `None` where JavaScript says `NaN`.
fn js_number(text: &str) -> Option<f64> {
    let t = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if t.is_empty() {
        return Some(0.0);
    }
    for (prefix, radix) in [("0x", 16), ("0X", 16), ("0o", 8), ("0O", 8), ("0b", 2), ("0B", 2)] {
        if let Some(digits) = t.strip_prefix(prefix) {
            return u128::from_str_radix(digits, radix).ok().map(|n| n as f64);
        }
    }
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    if unsigned == "Infinity" {
        return Some(if t.starts_with('-') { f64::NEG_INFINITY } else { f64::INFINITY });
    }
    // Rust also reads `inf`, `nan` and `infinity`; JavaScript reads only digits, a point and an exponent.
    let digits_only = unsigned.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    if !digits_only || !unsigned.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return None;
    }
    t.parse().ok()
}

/// JavaScript has one number type: `1e3` and `5.0` are integers there. serde_json keeps them as floats, which an
/// integer type then refuses, so integral floats become integers before deserializing.
fn integral(value: Value) -> Value {
    match value {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Value::from(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(integral).collect()),
        Value::Object(fields) => Value::Object(fields.into_iter().map(|(k, v)| (k, integral(v))).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::js_number;

    #[test]
    fn numbers_read_as_javascript_reads_them() {
        for (text, n) in [("", 0.0), (" 7 ", 7.0), ("1e3", 1000.0), ("0x10", 16.0), ("-2.5", -2.5), (".5", 0.5)] {
            assert_eq!(js_number(text), Some(n), "{text:?}");
        }
        assert_eq!(js_number("-Infinity"), Some(f64::NEG_INFINITY));
        for text in ["abc", "inf", "nan", "1_000", "0x", "--1", "1e", "12px"] {
            assert_eq!(js_number(text), None, "{text:?}");
        }
    }
}
