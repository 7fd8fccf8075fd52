//! From a transaction function's return value to the response payload, as fabric-contract-api's JSON serializer
//! writes it: strings as they are, numbers and booleans as their text, nothing for `()`/`None`, JSON otherwise.

use std::fmt::Display;

use serde::Serialize;

/// The payload of a function returning a plain value.
pub fn value_payload<T: Serialize>(value: &T) -> Result<Vec<u8>, String> {
    let json = serde_json::to_vec(value).map_err(|e| format!("cannot serialize the return value: {e}"))?;
    Ok(match json.first() {
        Some(b'"') => serde_json::from_slice::<String>(&json).map_err(|e| e.to_string())?.into_bytes(),
        Some(b'{' | b'[') => json,
        _ if json == b"null" => Vec::new(),
        // A number or a boolean. JavaScript writes an integral float without its `.0`.
        _ => match json.strip_suffix(b".0") {
            Some(integral) => integral.to_vec(),
            None => json,
        },
    })
}

/// The payload of a function returning `Result`: `Err` fails the transaction with the error's text.
pub fn result_payload<T: Serialize, E: Display>(result: Result<T, E>) -> Result<Vec<u8>, String> {
    match result {
        Ok(value) => value_payload(&value),
        Err(e) => Err(e.to_string()),
    }
}

/// What a hook may return: nothing, or a `Result` whose `Err` fails the transaction.
pub trait HookResult {
    fn into_result(self) -> Result<(), String>;
}

impl HookResult for () {
    fn into_result(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: Display> HookResult for Result<(), E> {
    fn into_result(self) -> Result<(), String> {
        self.map_err(|e| e.to_string())
    }
}

/// A hook's outcome as the router takes it.
pub fn hook(result: impl HookResult) -> Result<(), String> {
    result.into_result()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_what_the_node_serializer_writes() {
        assert_eq!(value_payload(&"old owner").unwrap(), b"old owner");
        assert_eq!(value_payload(&true).unwrap(), b"true");
        assert_eq!(value_payload(&42u8).unwrap(), b"42");
        assert_eq!(value_payload(&2.0f64).unwrap(), b"2");
        assert_eq!(value_payload(&2.5f64).unwrap(), b"2.5");
        assert_eq!(value_payload(&()).unwrap(), b"");
        assert_eq!(value_payload(&None::<String>).unwrap(), b"");
        assert_eq!(value_payload(&vec![1, 2]).unwrap(), b"[1,2]");
        assert_eq!(
            result_payload::<(), _>(Err("the asset a1 does not exist")).unwrap_err(),
            "the asset a1 does not exist"
        );
    }
}
