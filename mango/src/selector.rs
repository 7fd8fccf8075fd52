//! Selectors: parsing Mango's JSON form into a tree, and matching documents against it.
//!
//! Parsing normalizes the shorthand forms: `{"a": 1}` is `{"a": {"$eq": 1}}`, `{"a": {"b": 1}}` is
//! `{"a.b": {"$eq": 1}}`, and several conditions in one object are an implicit `$and`.

use serde_json::{Map, Value};

use crate::collate::{compare, equal};
use crate::path::FieldPath;
use crate::Error;

/// A parsed selector.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Selector {
    And(Vec<Selector>),
    Or(Vec<Selector>),
    Nor(Vec<Selector>),
    Not(Box<Selector>),
    /// A condition on the value at a path (the empty path is the value itself, as inside `$elemMatch`).
    Field(FieldPath, Condition),
}

/// A condition on one field's value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Condition {
    Eq(Value),
    Ne(Value),
    Gt(Value),
    Gte(Value),
    Lt(Value),
    Lte(Value),
    In(Vec<Value>),
    Nin(Vec<Value>),
    Exists(bool),
    Type(String),
    Size(usize),
    All(Vec<Value>),
    ElemMatch(Box<Selector>),
}

impl Selector {
    /// Parses a selector object.
    pub(crate) fn parse(value: &Value) -> Result<Selector, Error> {
        let map = value.as_object().ok_or_else(|| invalid("the selector must be a JSON object"))?;
        parse_object(map, &FieldPath(Vec::new()))
    }

    /// Whether `doc` satisfies the selector.
    pub(crate) fn matches(&self, doc: &Value) -> bool {
        match self {
            Selector::And(all) => all.iter().all(|s| s.matches(doc)),
            Selector::Or(any) => any.iter().any(|s| s.matches(doc)),
            Selector::Nor(none) => !none.iter().any(|s| s.matches(doc)),
            Selector::Not(inner) => !inner.matches(doc),
            // A missing field satisfies nothing but `$exists: false` (CouchDB's rule, so `$ne` skips it too).
            Selector::Field(path, condition) => match path.lookup(doc) {
                None => *condition == Condition::Exists(false),
                Some(value) => condition.test(value),
            },
        }
    }
}

impl Condition {
    fn test(&self, value: &Value) -> bool {
        match self {
            Condition::Eq(arg) => equal(value, arg),
            Condition::Ne(arg) => !equal(value, arg),
            Condition::Gt(arg) => compare(value, arg).is_gt(),
            Condition::Gte(arg) => compare(value, arg).is_ge(),
            Condition::Lt(arg) => compare(value, arg).is_lt(),
            Condition::Lte(arg) => compare(value, arg).is_le(),
            Condition::In(args) => in_list(value, args),
            Condition::Nin(args) => !in_list(value, args),
            Condition::Exists(wanted) => *wanted,
            Condition::Type(name) => type_name(value) == name,
            Condition::Size(len) => value.as_array().is_some_and(|items| items.len() == *len),
            Condition::All(args) => {
                value.as_array().is_some_and(|items| args.iter().all(|a| items.iter().any(|i| equal(i, a))))
            }
            Condition::ElemMatch(inner) => value.as_array().is_some_and(|items| items.iter().any(|i| inner.matches(i))),
        }
    }
}

/// `$in`: the value equals one of the arguments, or (for an array) one of its elements does.
fn in_list(value: &Value, args: &[Value]) -> bool {
    let hit = |v: &Value| args.iter().any(|a| equal(v, a));
    match value {
        Value::Array(items) => items.iter().any(hit),
        other => hit(other),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Parses the members of a selector object whose fields are relative to `prefix`.
fn parse_object(map: &Map<String, Value>, prefix: &FieldPath) -> Result<Selector, Error> {
    let mut parts = map.iter().map(|(key, value)| parse_member(key, value, prefix)).collect::<Result<Vec<_>, _>>()?;
    Ok(if parts.len() == 1 { parts.pop().expect("one part") } else { Selector::And(parts) })
}

fn parse_member(key: &str, value: &Value, prefix: &FieldPath) -> Result<Selector, Error> {
    if !key.starts_with('$') {
        let path = prefix.join(&FieldPath::parse(key));
        return match value {
            // A non-empty object is a nested selector (operators, or sub-fields); anything else is an implicit $eq.
            Value::Object(inner) if !inner.is_empty() => parse_object(inner, &path),
            other => Ok(Selector::Field(path, Condition::Eq(other.clone()))),
        };
    }
    let field = |condition| Ok(Selector::Field(prefix.clone(), condition));
    match key {
        "$and" => Ok(Selector::And(parse_list(key, value, prefix)?)),
        "$or" => Ok(Selector::Or(parse_list(key, value, prefix)?)),
        "$nor" => Ok(Selector::Nor(parse_list(key, value, prefix)?)),
        "$not" => {
            let inner = value.as_object().ok_or_else(|| invalid("$not takes a selector object"))?;
            Ok(Selector::Not(Box::new(parse_object(inner, prefix)?)))
        }
        "$eq" => field(Condition::Eq(value.clone())),
        "$ne" => field(Condition::Ne(value.clone())),
        "$gt" => field(Condition::Gt(value.clone())),
        "$gte" => field(Condition::Gte(value.clone())),
        "$lt" => field(Condition::Lt(value.clone())),
        "$lte" => field(Condition::Lte(value.clone())),
        "$in" => field(Condition::In(array_arg(key, value)?)),
        "$nin" => field(Condition::Nin(array_arg(key, value)?)),
        "$all" => field(Condition::All(array_arg(key, value)?)),
        "$exists" => {
            let wanted = value.as_bool().ok_or_else(|| invalid("$exists takes true or false"))?;
            field(Condition::Exists(wanted))
        }
        "$type" => match value.as_str() {
            Some(name @ ("null" | "boolean" | "number" | "string" | "array" | "object")) => {
                field(Condition::Type(name.to_owned()))
            }
            _ => Err(invalid("$type takes one of null, boolean, number, string, array, object")),
        },
        "$size" => {
            let len = value.as_u64().ok_or_else(|| invalid("$size takes a non-negative integer"))?;
            field(Condition::Size(usize::try_from(len).map_err(|_| invalid("$size is too large"))?))
        }
        "$elemMatch" => {
            let inner = value.as_object().ok_or_else(|| invalid("$elemMatch takes a selector object"))?;
            field(Condition::ElemMatch(Box::new(parse_object(inner, &FieldPath(Vec::new()))?)))
        }
        other => Err(invalid(format!("unsupported operator {other}"))),
    }
}

/// The argument of `$and`/`$or`/`$nor`: a non-empty array of selector objects.
fn parse_list(op: &str, value: &Value, prefix: &FieldPath) -> Result<Vec<Selector>, Error> {
    let items = value.as_array().filter(|a| !a.is_empty());
    let items = items.ok_or_else(|| invalid(format!("{op} takes a non-empty array of selectors")))?;
    items
        .iter()
        .map(|item| {
            let map = item.as_object().ok_or_else(|| invalid(format!("{op} takes a non-empty array of selectors")))?;
            parse_object(map, prefix)
        })
        .collect()
}

fn array_arg(op: &str, value: &Value) -> Result<Vec<Value>, Error> {
    value.as_array().cloned().ok_or_else(|| invalid(format!("{op} takes an array")))
}

fn invalid(reason: impl Into<String>) -> Error {
    Error::InvalidQuery(reason.into())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn matches(selector: Value, doc: Value) -> bool {
        Selector::parse(&selector).unwrap().matches(&doc)
    }

    #[test]
    fn implicit_and_explicit_eq() {
        let doc = json!({"color": "red", "size": 5, "owner": {"name": "bob"}});
        assert!(matches(json!({"color": "red"}), doc.clone()));
        assert!(matches(json!({"color": {"$eq": "red"}}), doc.clone()));
        assert!(!matches(json!({"color": "blue"}), doc.clone()));
        assert!(matches(json!({"size": 5.0}), doc.clone()), "numbers compare by value");
        assert!(matches(json!({"color": "red", "size": 5}), doc.clone()), "several fields: implicit $and");
        assert!(!matches(json!({"color": "red", "size": 6}), doc.clone()));
        assert!(matches(json!({}), doc.clone()), "the empty selector matches everything");
    }

    #[test]
    fn nested_fields_by_dots_or_by_objects() {
        let doc = json!({"owner": {"name": "bob", "address": {"city": "Bern"}}});
        assert!(matches(json!({"owner.name": "bob"}), doc.clone()));
        assert!(matches(json!({"owner": {"name": "bob"}}), doc.clone()));
        assert!(matches(json!({"owner": {"address.city": {"$gt": "A"}}}), doc.clone()));
        assert!(!matches(json!({"owner.address.city": "Basel"}), doc.clone()));
        assert!(matches(json!({"owner.address": {"city": "Bern"}}), doc.clone()));
    }

    #[test]
    fn comparison_operators() {
        let doc = json!({"n": 10, "s": "m"});
        for (op, arg, want) in [
            ("$gt", json!(9), true),
            ("$gt", json!(10), false),
            ("$gte", json!(10), true),
            ("$lt", json!(11), true),
            ("$lt", json!(10), false),
            ("$lte", json!(10), true),
            ("$ne", json!(10), false),
            ("$ne", json!(11), true),
        ] {
            assert_eq!(matches(json!({"n": {op: arg.clone()}}), doc.clone()), want, "n {op} {arg}");
        }
        assert!(matches(json!({"s": {"$gt": "a", "$lt": "z"}}), doc.clone()), "a range on one field");
        // Across types, collation order decides: every string is greater than every number.
        assert!(matches(json!({"s": {"$gt": 1000}}), doc.clone()));
        assert!(!matches(json!({"n": {"$gt": "0"}}), doc));
    }

    #[test]
    fn in_nin_all_size_type() {
        let doc = json!({"color": "red", "tags": ["a", "b"]});
        assert!(matches(json!({"color": {"$in": ["blue", "red"]}}), doc.clone()));
        assert!(!matches(json!({"color": {"$in": ["blue"]}}), doc.clone()));
        assert!(matches(json!({"tags": {"$in": ["b", "z"]}}), doc.clone()), "an array matches by element");
        assert!(matches(json!({"color": {"$nin": ["blue"]}}), doc.clone()));
        assert!(!matches(json!({"tags": {"$nin": ["a"]}}), doc.clone()));
        assert!(matches(json!({"tags": {"$all": ["b", "a"]}}), doc.clone()));
        assert!(!matches(json!({"tags": {"$all": ["a", "c"]}}), doc.clone()));
        assert!(matches(json!({"tags": {"$size": 2}}), doc.clone()));
        assert!(matches(json!({"tags": {"$type": "array"}, "color": {"$type": "string"}}), doc.clone()));
        assert!(matches(json!({"tags": {"$elemMatch": {"$eq": "b"}}}), doc));
        let items = json!({"items": [{"sku": "x", "qty": 1}, {"sku": "y", "qty": 5}]});
        assert!(matches(json!({"items": {"$elemMatch": {"sku": "y", "qty": {"$gt": 2}}}}), items.clone()));
        assert!(!matches(json!({"items": {"$elemMatch": {"sku": "x", "qty": {"$gt": 2}}}}), items));
    }

    #[test]
    fn exists_and_missing_fields() {
        let doc = json!({"a": null});
        assert!(matches(json!({"a": {"$exists": true}}), doc.clone()), "null is present");
        assert!(matches(json!({"b": {"$exists": false}}), doc.clone()));
        assert!(!matches(json!({"b": {"$exists": true}}), doc.clone()));
        assert!(!matches(json!({"b": {"$ne": 1}}), doc.clone()), "a missing field never satisfies $ne");
        assert!(!matches(json!({"b": {"$nin": [1]}}), doc.clone()));
        assert!(matches(json!({"a": null}), doc));
    }

    #[test]
    fn combinators() {
        let doc = json!({"color": "red", "size": 5});
        assert!(matches(json!({"$or": [{"color": "blue"}, {"size": 5}]}), doc.clone()));
        assert!(!matches(json!({"$or": [{"color": "blue"}, {"size": 6}]}), doc.clone()));
        assert!(matches(json!({"$and": [{"color": "red"}, {"size": {"$gte": 5}}]}), doc.clone()));
        assert!(!matches(json!({"$and": [{"color": "red"}, {"size": {"$gt": 5}}]}), doc.clone()));
        assert!(matches(json!({"$nor": [{"color": "blue"}, {"size": 6}]}), doc.clone()));
        assert!(matches(json!({"$not": {"color": "blue"}}), doc.clone()));
        assert!(matches(json!({"size": {"$or": [{"$lt": 2}, {"$gt": 4}]}}), doc.clone()), "$or on one field");
        assert!(matches(json!({"size": {"$not": {"$eq": 6}}}), doc));
    }

    #[test]
    fn malformed_selectors_are_errors() {
        for bad in [
            json!([]),
            json!({"a": {"$regex": "x"}}),
            json!({"$or": []}),
            json!({"$or": {"a": 1}}),
            json!({"$and": [1]}),
            json!({"a": {"$in": "x"}}),
            json!({"a": {"$exists": "yes"}}),
            json!({"a": {"$type": "date"}}),
            json!({"a": {"$size": -1}}),
            json!({"$not": 1}),
        ] {
            assert!(matches!(Selector::parse(&bad), Err(Error::InvalidQuery(_))), "{bad}");
        }
    }
}
