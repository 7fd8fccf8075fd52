//! JSON Schemas of parameter and return types, as fabric-contract-api's metadata writes them.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Map, Value};

/// Where the metadata document keeps the schemas of named types, and so where `$ref`s point.
pub(crate) const COMPONENTS: &str = "#/components/schemas/";

/// Schemas of the types one contract (or one call) uses; named types collect as components.
pub struct Schemas {
    generator: SchemaGenerator,
}

impl Default for Schemas {
    fn default() -> Self {
        Self::new()
    }
}

impl Schemas {
    /// Draft 7 (`null` as a type, no `$defs`) with refs into the metadata's components: what Fabric's ajv 6 reads.
    pub fn new() -> Self {
        let settings = SchemaSettings::draft07().with(|s| {
            s.definitions_path = COMPONENTS.trim_start_matches('#').into();
            s.meta_schema = None;
        });
        Schemas { generator: SchemaGenerator::new(settings) }
    }

    /// `T`'s schema: a `$ref` for a named type (a struct or enum deriving `JsonSchema`), inline otherwise.
    pub fn schema<T: JsonSchema + ?Sized>(&mut self) -> Value {
        let mut schema = self.generator.subschema_for::<T>().to_value();
        clean(&mut schema);
        schema
    }

    /// The schema a `$ref` names, once [`schema`](Self::schema) has seen its type.
    pub(crate) fn component(&self, name: &str) -> Option<&Value> {
        self.generator.definitions().get(name)
    }

    /// Every named type seen, keyed by name, each with `$id` as fabric-contract-api's `@Object` writes it. Inside a
    /// component a `$ref` is the bare name, as `@Property` writes it: a `#/…` pointer would resolve against the
    /// component's own `$id` in ajv, and fail.
    pub(crate) fn components(&self) -> Map<String, Value> {
        let mut out = Map::new();
        for (name, schema) in self.generator.definitions() {
            let mut schema = schema.clone();
            clean(&mut schema);
            bare_refs(&mut schema);
            if let Value::Object(fields) = &mut schema {
                fields.insert("$id".into(), Value::String(name.clone()));
            }
            out.insert(name.clone(), schema);
        }
        out
    }

    /// Resolves a `$ref` (a pointer into the components, or a component's bare name) for validation.
    pub(crate) fn resolve<'s>(&'s self, schema: &'s Value) -> Option<&'s Value> {
        let reference = schema.get("$ref")?.as_str()?;
        self.component(reference.strip_prefix(COMPONENTS).unwrap_or(reference))
    }
}

fn bare_refs(schema: &mut Value) {
    match schema {
        Value::Object(fields) => {
            if let Some(Value::String(reference)) = fields.get_mut("$ref") {
                if let Some(name) = reference.strip_prefix(COMPONENTS) {
                    *reference = name.to_owned();
                }
            }
            fields.values_mut().for_each(bare_refs);
        }
        Value::Array(items) => items.iter_mut().for_each(bare_refs),
        _ => {}
    }
}

/// Drops what the metadata's readers do not take: schemars' numeric `format`s (`int64`, `uint8`, `double`, …), which
/// Fabric's ajv 6 refuses to compile as unknown formats. The ranges they stand for stay as `minimum`/`maximum`.
fn clean(schema: &mut Value) {
    match schema {
        Value::Object(fields) => {
            let numeric = fields
                .get("format")
                .and_then(Value::as_str)
                .is_some_and(|f| f == "float" || f == "double" || f.strip_prefix('u').unwrap_or(f).starts_with("int"));
            if numeric {
                fields.remove("format");
            }
            fields.values_mut().for_each(clean);
        }
        Value::Array(items) => items.iter_mut().for_each(clean),
        _ => {}
    }
}
