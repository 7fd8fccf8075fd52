//! Field paths (`"owner.address.city"`), looking them up in a document, and `fields` projection.

use serde_json::{Map, Value};

/// A parsed field name: its segments. A dot separates segments; `\.` is a literal dot inside a segment. On an
/// array, a segment that is a decimal number selects that element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FieldPath(pub(crate) Vec<String>);

impl FieldPath {
    pub(crate) fn parse(field: &str) -> FieldPath {
        let mut segments = vec![String::new()];
        let mut chars = field.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(next) => segments.last_mut().expect("never empty").push(next),
                    None => segments.last_mut().expect("never empty").push('\\'),
                },
                '.' => segments.push(String::new()),
                other => segments.last_mut().expect("never empty").push(other),
            }
        }
        FieldPath(segments)
    }

    /// This path followed by `more`.
    pub(crate) fn join(&self, more: &FieldPath) -> FieldPath {
        FieldPath(self.0.iter().chain(&more.0).cloned().collect())
    }

    /// The value at this path, if every segment exists.
    pub(crate) fn lookup<'a>(&self, doc: &'a Value) -> Option<&'a Value> {
        self.0.iter().try_fold(doc, |current, segment| match current {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
    }
}

/// A copy of `doc` holding only the given fields (nested paths keep their nesting); absent fields are left out.
pub(crate) fn project(doc: &Value, fields: &[FieldPath]) -> Value {
    let mut out = Map::new();
    for path in fields {
        let Some(value) = path.lookup(doc) else { continue };
        let Some((last, parents)) = path.0.split_last() else { continue };
        let mut target = &mut out;
        for segment in parents {
            let slot = target.entry(segment.clone()).or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            target = slot.as_object_mut().expect("just made an object");
        }
        target.insert(last.clone(), value.clone());
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn dots_split_and_escaped_dots_do_not() {
        assert_eq!(FieldPath::parse("a.b.c").0, ["a", "b", "c"]);
        assert_eq!(FieldPath::parse(r"a\.b.c").0, ["a.b", "c"]);
        assert_eq!(FieldPath::parse("plain").0, ["plain"]);
    }

    #[test]
    fn lookup_walks_objects_and_array_indexes() {
        let doc = json!({"owner": {"name": "bob", "tags": ["x", "y"]}, "a.b": 1});
        assert_eq!(FieldPath::parse("owner.name").lookup(&doc), Some(&json!("bob")));
        assert_eq!(FieldPath::parse("owner.tags.1").lookup(&doc), Some(&json!("y")));
        assert_eq!(FieldPath::parse(r"a\.b").lookup(&doc), Some(&json!(1)));
        assert_eq!(FieldPath::parse("owner.missing").lookup(&doc), None);
        assert_eq!(FieldPath::parse("owner.name.deeper").lookup(&doc), None);
    }

    #[test]
    fn projection_keeps_nesting_and_skips_absent_fields() {
        let doc = json!({"id": 1, "owner": {"name": "bob", "age": 30}, "color": "red"});
        let fields = ["id", "owner.name", "nope"].map(FieldPath::parse);
        assert_eq!(project(&doc, &fields), json!({"id": 1, "owner": {"name": "bob"}}));
    }
}
