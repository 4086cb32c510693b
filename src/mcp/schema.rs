//! JSON Schemas for tool inputs and outputs, shaped for MCP clients.
//!
//! Inputs are flat: sub-schemas inlined, no `$defs`, no `$schema`, and an enum of documented
//! variants written as a plain `enum` list. Outputs keep nullable fields but are inlined too, so a
//! client needs no reference resolution to validate structured content.

use rmcp::model::JsonObject;
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::Value;

fn generate<T: JsonSchema>() -> JsonObject {
    let settings = SchemaSettings::draft2020_12().with(|s| s.inline_subschemas = true);
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
