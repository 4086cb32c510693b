//! JSON Schemas for tool inputs and outputs, shaped for MCP clients.
//!
//! Inputs are flat: sub-schemas inlined, no `$defs`, no `$schema`, and an enum of documented
//! variants written as a plain `enum` list. Outputs are inlined too, so a client needs no
//! reference resolution to validate structured content.
//!
//! Every schema has a single `type` per node: a nullable field is written
//! `anyOf: [{type: T, ...}, {type: "null"}]`, never `type: [T, "null"]` (schemars' spelling),
//! which clients that map tool schemas onto a single-type dialect (the OpenAPI subset of Gemini's
//! function declarations) reject. `--strict` of the MCP Inspector CLI checks exactly this
//! (its `type-union` rule; tests/mcp_inspector.rs runs it).

use rmcp::model::JsonObject;
use schemars::generate::SchemaSettings;
use schemars::transform::{Transform, transform_subschemas};
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value};

fn generate<T: JsonSchema>() -> JsonObject {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.inline_subschemas = true;
        s.transforms.push(Box::new(SplitTypeUnions));
    });
    let schema = settings.into_generator().into_root_schema_for::<T>();
    let mut value = serde_json::to_value(schema).unwrap_or(Value::Null);
    if let Some(o) = value.as_object_mut() {
        o.remove("$schema");
        o.remove("$defs");
    }
    simplify(&mut value);
    match value {
        Value::Object(o) => o,
        // Every tool's input and output is a struct, whose schema is an object; anything else
        // would be a broken invariant in this module's callers.
        _ => JsonObject::new(),
    }
}

/// `oneOf: [{const: a, description}, ...]` (what schemars writes for an enum with documented
/// variants) becomes `enum: [a, ...]`, the variant documents folded into the description.
fn simplify(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if let Some(Value::Array(alts)) = o.get("oneOf")
                && !alts.is_empty()
                && alts
                    .iter()
                    .all(|a| a.get("const").is_some_and(Value::is_string))
            {
                let values: Vec<Value> = alts
                    .iter()
                    .filter_map(|a| a.get("const").cloned())
                    .collect();
                let docs: Vec<String> = alts
                    .iter()
                    .filter_map(|a| {
                        let c = a.get("const")?.as_str()?;
                        let d = a.get("description")?.as_str()?;
                        Some(format!("{c}: {d}"))
                    })
                    .collect();
                o.remove("oneOf");
                o.insert("type".into(), Value::String("string".into()));
                o.insert("enum".into(), Value::Array(values));
                if !docs.is_empty() {
                    let base = o
                        .get("description")
                        .and_then(Value::as_str)
                        .map(|s| format!("{s} "))
                        .unwrap_or_default();
                    o.insert(
                        "description".into(),
                        Value::String(format!("{base}({})", docs.join("; "))),
                    );
                }
            }
            for (_, child) in o.iter_mut() {
                simplify(child);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(simplify),
        _ => {}
    }
}

/// The schema of a tool's arguments. The options type's own document (written for every face)
/// is left out: the tool's description says what the call does.
pub fn input<T: JsonSchema>() -> JsonObject {
    let mut schema = generate::<T>();
    schema.remove("description");
    schema
}

/// The schema of a tool's structured content.
pub fn output<T: JsonSchema>() -> JsonObject {
    generate::<T>()
}

/// Keywords that only annotate: they stay on the node whose `type` array is split.
const ANNOTATIONS: &[&str] = &[
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "$comment",
];

/// Keywords that assert on a value of any type (`null` included), so the `null` branch keeps
/// them. Every other keyword (`format`, `minimum`, `properties`, ...) asserts only on values of
/// its own type and goes into the non-null branches alone.
const ANY_TYPE_ASSERTIONS: &[&str] = &[
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "$ref",
    "$dynamicRef",
];

/// Rewrites every `type` array into `anyOf` branches of a single `type` each, accepting exactly
/// the same values: `{type: [string, null], format: date-time, description: d}` becomes
/// `{description: d, anyOf: [{type: string, format: date-time}, {type: null}]}`. Annotations
/// stay on the node; an `enum` or `const` goes into the branches, each keeping the values of its
/// type (a branch whose type the `enum`/`const` excludes is dropped). A one-element array
/// becomes a plain `type`. Applies to subschemas too.
#[derive(Debug, Clone, Copy, Default)]
pub struct SplitTypeUnions;

impl Transform for SplitTypeUnions {
    fn transform(&mut self, schema: &mut Schema) {
        if let Some(node) = schema.as_object_mut() {
            split_type_union(node);
        }
        transform_subschemas(self, schema);
    }
}

fn split_type_union(node: &mut Map<String, Value>) {
    let Some(Value::Array(types)) = node.get("type") else {
        return;
    };
    let mut names: Vec<String> = Vec::new();
    for t in types {
        match t.as_str() {
            Some(t) if !names.iter().any(|n| n == t) => names.push(t.to_owned()),
            Some(_) => {}
            // Not a list of type names: not a schema this transform understands; leave it.
            None => return,
        }
    }
    let mut rest = std::mem::take(node);
    rest.remove("type");
    for key in ANNOTATIONS {
        if let Some(v) = rest.remove(*key) {
            node.insert((*key).to_owned(), v);
        }
    }
    let mut branches: Vec<Value> = Vec::new();
    for name in &names {
        let mut branch = Map::new();
        branch.insert("type".into(), Value::String(name.clone()));
        for (k, v) in &rest {
            if name == "null" && !ANY_TYPE_ASSERTIONS.contains(&k.as_str()) {
                continue;
            }
            branch.insert(k.clone(), v.clone());
        }
        // enum/const: keep the values of this branch's type; none left means the branch admits
        // nothing. For `null` the type alone says it all.
        if let Some(Value::Array(values)) = rest.get("enum") {
            let kept: Vec<Value> = values
                .iter()
                .filter(|v| has_type(v, name))
                .cloned()
                .collect();
            if kept.is_empty() {
                continue;
            }
            if name == "null" {
                branch.remove("enum");
            } else {
                branch.insert("enum".into(), Value::Array(kept));
            }
        }
        if let Some(c) = rest.get("const") {
            if !has_type(c, name) {
                continue;
            }
            if name == "null" {
                branch.remove("const");
            }
        }
        branches.push(Value::Object(branch));
    }
    match branches.len() {
        // One type left: no anyOf, the node is that branch (with its annotations).
        1 => {
            if let Some(Value::Object(b)) = branches.pop() {
                node.extend(b);
            }
        }
        // Every branch excluded by its enum/const: the original admitted no value either.
        0 => {
            node.insert("not".into(), Value::Object(Map::new()));
        }
        _ => {
            node.insert("anyOf".into(), Value::Array(branches));
        }
    }
}

/// Whether `v` is an instance of the JSON Schema type `name`.
fn has_type(v: &Value, name: &str) -> bool {
    match name {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => {
            v.is_i64()
                || v.is_u64()
                || v.as_f64()
                    .is_some_and(|f| f.is_finite() && f.fract() == 0.0)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn split(v: Value) -> Value {
        let mut s = Schema::try_from(v).unwrap();
        SplitTypeUnions.transform(&mut s);
        s.to_value()
    }

    /// Every `type` in `v` (a schema and its subschemas) that is not a single string, by path.
    fn type_arrays(v: &Value, path: &str, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if o.get("type").is_some_and(|t| !t.is_string()) {
                    out.push(path.to_owned());
                }
                for (k, c) in o {
                    type_arrays(c, &format!("{path}.{k}"), out);
                }
            }
            Value::Array(a) => {
                for (i, c) in a.iter().enumerate() {
                    type_arrays(c, &format!("{path}[{i}]"), out);
                }
            }
            _ => {}
        }
    }

    /// The original and the split schema accept exactly the same instances among `instances`.
    fn same_verdicts(original: &Value, instances: &[Value]) {
        let split = split(original.clone());
        let a = jsonschema::validator_for(original).unwrap();
        let b = jsonschema::validator_for(&split).unwrap_or_else(|e| panic!("{split}: {e}"));
        for i in instances {
            assert_eq!(
                a.is_valid(i),
                b.is_valid(i),
                "{i} judged differently by\n{original}\nand\n{split}"
            );
        }
    }

    #[test]
    fn a_nullable_field_becomes_any_of_with_a_null_branch() {
        assert_eq!(
            split(json!({
                "description": "when",
                "type": ["string", "null"],
                "format": "date-time"
            })),
            json!({
                "description": "when",
                "anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]
            })
        );
        assert_eq!(
            split(
                json!({"type": ["integer", "null"], "format": "uint64", "minimum": 0, "default": null})
            ),
            json!({
                "default": null,
                "anyOf": [{"type": "integer", "format": "uint64", "minimum": 0}, {"type": "null"}]
            })
        );
    }

    #[test]
    fn a_nullable_enum_keeps_its_values_in_the_typed_branch() {
        assert_eq!(
            split(json!({"type": ["string", "null"], "enum": ["full", "incremental", null]})),
            json!({"anyOf": [{"type": "string", "enum": ["full", "incremental"]}, {"type": "null"}]})
        );
        // An enum without null never admitted null: no null branch, a plain type.
        assert_eq!(
            split(json!({"type": ["string", "null"], "enum": ["a"], "title": "t"})),
            json!({"title": "t", "type": "string", "enum": ["a"]})
        );
        assert_eq!(
            split(json!({"type": ["string", "null"], "const": null})),
            json!({"type": "null"})
        );
    }

    #[test]
    fn nested_nullable_objects_are_split_at_every_level() {
        let out = split(json!({
            "type": "object",
            "properties": {
                "worst": {
                    "description": "the worst gap",
                    "type": ["object", "null"],
                    "properties": {"end": {"type": ["string", "null"]}},
                    "required": ["end"]
                },
                "items": {"type": "array", "items": {"type": ["number", "null"]}}
            }
        }));
        assert_eq!(
            out,
            json!({
                "type": "object",
                "properties": {
                    "worst": {
                        "description": "the worst gap",
                        "anyOf": [
                            {
                                "type": "object",
                                "properties": {
                                    "end": {"anyOf": [{"type": "string"}, {"type": "null"}]}
                                },
                                "required": ["end"]
                            },
                            {"type": "null"}
                        ]
                    },
                    "items": {
                        "type": "array",
                        "items": {"anyOf": [{"type": "number"}, {"type": "null"}]}
                    }
                }
            })
        );
    }

    #[test]
    fn other_unions_and_single_element_arrays() {
        assert_eq!(
            split(json!({"type": ["string"]})),
            json!({"type": "string"})
        );
        assert_eq!(
            split(json!({"type": ["string", "integer", "string"], "minLength": 2})),
            json!({"anyOf": [{"type": "string", "minLength": 2}, {"type": "integer", "minLength": 2}]})
        );
        // Single types, and schemas without a type, are left alone.
        for v in [
            json!({"type": "string", "format": "date-time"}),
            json!({"anyOf": [{"type": "string"}, {"type": "null"}]}),
            json!({"description": "x", "enum": [1, 2]}),
        ] {
            assert_eq!(split(v.clone()), v);
        }
    }

    #[test]
    fn the_split_schema_accepts_exactly_what_the_original_accepted() {
        let instances = [
            json!(null),
            json!("full"),
            json!("archival"),
            json!("ab"),
            json!(""),
            json!(3),
            json!(-1),
            json!(2.5),
            json!(true),
            json!({}),
            json!({"end": null}),
            json!({"end": "x"}),
            json!({"end": 1}),
            json!([]),
            json!([null, 1.5]),
        ];
        for original in [
            json!({"type": ["string", "null"]}),
            json!({"type": ["string", "null"], "enum": ["full", "incremental", null]}),
            json!({"type": ["string", "null"], "enum": ["full"]}),
            json!({"type": ["string", "null"], "minLength": 1}),
            json!({"type": ["integer", "null"], "minimum": 0}),
            json!({"type": ["number", "null"]}),
            json!({"type": ["string", "integer"], "minLength": 2, "minimum": 0}),
            json!({"type": ["integer", "null"], "const": 3}),
            json!({"type": ["object", "null"], "properties": {"end": {"type": ["string", "null"]}}, "required": ["end"]}),
            json!({"type": ["array", "null"], "items": {"type": ["number", "null"]}}),
            json!({"type": ["string", "null"], "not": {"const": null}}),
        ] {
            same_verdicts(&original, &instances);
        }
    }

    #[test]
    fn no_tool_schema_has_a_type_array_and_every_one_is_a_valid_schema() {
        for spec in crate::mcp::tools::specs() {
            let tool = spec.tool();
            let schemas = [
                ("inputSchema", Value::Object((*tool.input_schema).clone())),
                (
                    "outputSchema",
                    Value::Object((**tool.output_schema.as_ref().unwrap()).clone()),
                ),
            ];
            for (which, schema) in schemas {
                let mut found = Vec::new();
                type_arrays(&schema, which, &mut found);
                assert!(found.is_empty(), "{}: type arrays at {found:?}", spec.name);
                assert!(
                    jsonschema::meta::is_valid(&schema),
                    "{}: {which} is not a valid JSON Schema",
                    spec.name
                );
                assert_eq!(schema["type"], "object", "{}: {which}", spec.name);
            }
        }
    }
}
