//! Composite keys and the key rules of range queries, exactly as the Go shim applies them (docs/fabric-protocol.md
//! §6).
//!
//! All of this runs in the guest, before anything is sent: the WIT `get-state-by-range` takes keys as given, so
//! the rules here decide which ranges a chaincode can ask for, and the error texts are the Go shim's, verbatim,
//! so a Rust chaincode fails with the same messages as a Go one.

use crate::Error;

/// The first character of every composite key: keeps them apart from simple keys, which may not start with it.
const NAMESPACE: char = '\u{0}';
/// Ends every component of a composite key.
const DELIMITER: char = '\u{0}';
/// The largest code point: appended to a partial composite key it bounds the range of all its extensions.
const MAX_RUNE: char = '\u{10FFFF}';
/// What an empty start key of a simple-key range becomes (Go's `emptyKeySubstitute`): the first key after the
/// composite-key namespace, so an "unbounded" simple range never returns composite keys.
const EMPTY_KEY_SUBSTITUTE: &str = "\u{1}";

/// `"\0" + object_type + "\0" + attr1 + "\0" + … + attrN + "\0"`, like the Go shim's `CreateCompositeKey`.
///
/// Each part must not contain U+0000 or U+10FFFF (a Rust `&str` is always valid UTF-8, the Go shim's other
/// check). Empty parts are allowed, as in Go.
pub fn create_composite_key(object_type: &str, attributes: &[impl AsRef<str>]) -> Result<String, Error> {
    validate_component(object_type)?;
    let mut key =
        String::with_capacity(2 + object_type.len() + attributes.iter().map(|a| a.as_ref().len() + 1).sum::<usize>());
    key.push(NAMESPACE);
    key.push_str(object_type);
    key.push(DELIMITER);
    for attribute in attributes {
        let attribute = attribute.as_ref();
        validate_component(attribute)?;
        key.push_str(attribute);
        key.push(DELIMITER);
    }
    Ok(key)
}

/// The object type and attributes of a composite key, like the Go shim's `SplitCompositeKey`: skips the first
/// character and splits the rest at each U+0000; text after the last U+0000 is dropped.
///
/// The Go shim does not look at the first character, and panics when nothing follows it up to a U+0000; here
/// that case is an [`Error::InvalidArgument`] (docs/fabric-protocol.md §10.5).
pub fn split_composite_key(key: &str) -> Result<(String, Vec<String>), Error> {
    let mut chars = key.chars();
    chars.next();
    let mut components: Vec<String> = chars.as_str().split(DELIMITER).map(str::to_owned).collect();
    // `split` yields the text after the last delimiter as a final piece: the Go shim never collects it.
    components.pop();
    if components.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "key [{key}] is not a composite key: no U+0000 follows its first character"
        )));
    }
    let object_type = components.remove(0);
    Ok((object_type, components))
}

/// The range `[start, end)` holding every composite key that extends the partial key: end = start + U+10FFFF.
pub(crate) fn partial_key_range(object_type: &str, attributes: &[impl AsRef<str>]) -> Result<(String, String), Error> {
    let start = create_composite_key(object_type, attributes)?;
    let mut end = start.clone();
    end.push(MAX_RUNE);
    Ok((start, end))
}

/// `"\0"` .. `"\0" + U+10FFFF`: every composite key (Go's `GetAllStatesCompositeKeyWithPagination`).
pub(crate) fn all_composite_keys_range() -> (String, String) {
    (NAMESPACE.to_string(), format!("{NAMESPACE}{MAX_RUNE}"))
}

/// The bounds of a simple-key range as the Go shim sends them: an empty start becomes `"\x01"`, then neither bound
/// may start with U+0000 (the composite-key namespace). An empty end stays empty: unbounded.
pub(crate) fn simple_key_range(start: &str, end: &str) -> Result<(String, String), Error> {
    let start = if start.is_empty() { EMPTY_KEY_SUBSTITUTE } else { start };
    for key in [start, end] {
        if key.as_bytes().first() == Some(&0) {
            return Err(Error::InvalidArgument(format!(
                "first character of the key [{key}] contains a null character which is not allowed"
            )));
        }
    }
    Ok((start.to_owned(), end.to_owned()))
}

/// Go's `validateCompositeKeyAttribute` for a valid UTF-8 string; `position` is a byte offset, as in Go.
fn validate_component(component: &str) -> Result<(), Error> {
    match component.char_indices().find(|&(_, c)| c == DELIMITER || c == MAX_RUNE) {
        None => Ok(()),
        Some((position, c)) => Err(Error::InvalidArgument(format!(
            "input contains unicode U+{:04X} starting at position [{position}]. U+0000 and U+10FFFF are not allowed \
             in the input attribute of a composite key",
            u32::from(c)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: [&str; 0] = [];

    #[test]
    fn composite_key_bytes() {
        assert_eq!(create_composite_key("color~name", &["blue", "m1"]).unwrap(), "\0color~name\0blue\0m1\0");
        assert_eq!(create_composite_key("t", &NONE).unwrap().as_bytes(), b"\0t\0");
        assert_eq!(create_composite_key("", &[""]).unwrap().as_bytes(), b"\0\0\0", "empty parts are allowed, as in Go");
        let key = create_composite_key("é", &[String::from("x")]).unwrap();
        assert_eq!(key.as_bytes(), b"\0\xc3\xa9\0x\0");
    }

    #[test]
    fn composite_key_refuses_nul_and_max_rune() {
        let err = create_composite_key("type", &["a\0b"]).unwrap_err();
        assert_eq!(
            err,
            Error::InvalidArgument(
                "input contains unicode U+0000 starting at position [1]. U+0000 and U+10FFFF are not allowed in the \
                 input attribute of a composite key"
                    .into()
            )
        );
        let err = create_composite_key("ab\u{10FFFF}", &NONE).unwrap_err();
        assert!(err.message().starts_with("input contains unicode U+10FFFF starting at position [2]."), "{err}");
        // The position is a byte offset.
        let err = create_composite_key("t", &["éé\0"]).unwrap_err();
        assert!(err.message().contains("U+0000 starting at position [4]"), "{err}");
    }

    #[test]
    fn split_round_trips_and_follows_go() {
        let key = create_composite_key("type", &["a", "", "b"]).unwrap();
        assert_eq!(
            split_composite_key(&key).unwrap(),
            ("type".to_owned(), vec!["a".to_owned(), String::new(), "b".to_owned()])
        );
        assert_eq!(split_composite_key("\0t\0").unwrap(), ("t".to_owned(), vec![]));
        // Go skips the first character without looking at it and drops a trailing part without U+0000.
        assert_eq!(split_composite_key("xa\0b\0c").unwrap(), ("a".to_owned(), vec!["b".to_owned()]));
        for bad in ["", "\0", "\0abc", "plain"] {
            let err = split_composite_key(bad).unwrap_err();
            assert!(matches!(err, Error::InvalidArgument(_)), "{bad:?}: {err:?}");
        }
    }

    #[test]
    fn partial_and_all_ranges() {
        let (start, end) = partial_key_range("color~name", &["blue"]).unwrap();
        assert_eq!(start, "\0color~name\0blue\0");
        assert_eq!(end, "\0color~name\0blue\0\u{10FFFF}");
        assert_eq!(end.as_bytes().last_chunk::<4>(), Some(&[0xF4, 0x8F, 0xBF, 0xBF]));
        assert!(partial_key_range("a\0", &NONE).is_err());
        assert_eq!(all_composite_keys_range(), ("\0".to_owned(), "\0\u{10FFFF}".to_owned()));
    }

    #[test]
    fn simple_range_rules() {
        assert_eq!(simple_key_range("", "").unwrap(), ("\u{1}".to_owned(), String::new()));
        assert_eq!(simple_key_range("a", "b").unwrap(), ("a".to_owned(), "b".to_owned()));
        let err = simple_key_range("\0a", "b").unwrap_err();
        assert_eq!(
            err,
            Error::InvalidArgument(
                "first character of the key [\0a] contains a null character which is not allowed".into()
            )
        );
        assert!(simple_key_range("a", "\0").is_err(), "the end key is checked too");
    }
}
