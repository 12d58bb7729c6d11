//! Gemini's `Schema` (an OpenAPI 3.0 subset: `type` in capitals, `nullable`,
//! `example`, `propertyOrdering`; <https://ai.google.dev/api/caching#Schema>)
//! → the JSON Schema that chat tools and `response_format` take.
//!
//! Keys may come in either protobuf JSON spelling (`maxItems`, `max_items`):
//! `google-genai` sends a `types.Schema` as snake_case. The names under
//! `properties` and `$defs` are the client's and are never touched.

use std::fmt;

use serde_json::{Map, Value};

use crate::inbound::Invalid;

/// The JSON Schema for the Gemini schema `gemini`; `what` names it in errors
/// (`tools[0].functionDeclarations[1].parameters`), written only on failure.
pub(super) fn to_json_schema(gemini: &Value, what: &dyn fmt::Display) -> Result<Value, Invalid> {
    convert(gemini, Location::Root(what))
}

/// Where a schema sits, for error messages; formatted only on failure.
#[derive(Clone, Copy)]
enum Location<'p> {
    Root(&'p dyn fmt::Display),
    Field(&'p Location<'p>, &'p str),
    Item(&'p Location<'p>, usize),
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Root(name) => name.fmt(f),
            Location::Field(parent, name) => write!(f, "{parent}.{name}"),
            Location::Item(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

fn convert(gemini: &Value, at: Location<'_>) -> Result<Value, Invalid> {
    let Value::Object(fields) = gemini else {
        return Err(Invalid(format!("{at} must be a schema object")));
    };
    let mut out = Map::with_capacity(fields.len());
    let mut nullable = false;
    for (key, value) in fields {
        let key = camel_case(key);
        let here = Location::Field(&at, key);
        match key {
            "type" => {
                if let Some(json_type) = json_type(value, here)? {
                    out.insert("type".to_owned(), Value::String(json_type.to_owned()));
                }
            }
            "nullable" => {
                nullable = match value {
                    Value::Bool(b) => *b,
                    Value::Null => false,
                    _ => return Err(Invalid(format!("{here} must be a boolean"))),
                };
            }
            "properties" | "defs" | "$defs" => {
                let Value::Object(named) = value else {
                    return Err(Invalid(format!("{here} must be an object")));
                };
                let converted = named
                    .iter()
                    .map(|(name, schema)| {
                        convert(schema, Location::Field(&here, name)).map(|s| (name.clone(), s))
                    })
                    .collect::<Result<Map<_, _>, _>>()?;
                let key = if key == "properties" {
                    "properties"
                } else {
                    "$defs"
                };
                out.insert(key.to_owned(), Value::Object(converted));
            }
            "items" => {
                out.insert("items".to_owned(), convert(value, here)?);
            }
            "anyOf" => {
                let Value::Array(options) = value else {
                    return Err(Invalid(format!("{here} must be an array")));
                };
                let converted = options
                    .iter()
                    .enumerate()
                    .map(|(i, option)| convert(option, Location::Item(&here, i)))
                    .collect::<Result<Vec<_>, _>>()?;
                out.insert("anyOf".to_owned(), Value::Array(converted));
            }
            "additionalProperties" => {
                let converted = match value {
                    Value::Object(_) => convert(value, here)?,
                    other => other.clone(),
                };
                out.insert(key.to_owned(), converted);
            }
            "ref" | "$ref" => {
                out.insert("$ref".to_owned(), value.clone());
            }
            // OpenAPI's one example is JSON Schema's list of examples.
            "example" => {
                out.insert("examples".to_owned(), Value::Array(vec![value.clone()]));
            }
            // An ordering hint for Gemini's decoder; JSON Schema has none.
            "propertyOrdering" => {}
            // int64 fields, which protobuf JSON may write as strings.
            "minItems" | "maxItems" | "minLength" | "maxLength" | "minProperties"
            | "maxProperties" => {
                out.insert(key.to_owned(), count(value, here)?);
            }
            _ => {
                out.insert(key.to_owned(), value.clone());
            }
        }
    }
    if nullable {
        allow_null(&mut out);
    }
    Ok(Value::Object(out))
}

/// The lowerCamelCase name of a snake_case schema key Gemini knows; any
/// other key as it is.
fn camel_case(key: &str) -> &str {
    match key {
        "any_of" => "anyOf",
        "max_items" => "maxItems",
        "min_items" => "minItems",
        "max_length" => "maxLength",
        "min_length" => "minLength",
        "max_properties" => "maxProperties",
        "min_properties" => "minProperties",
        "property_ordering" => "propertyOrdering",
        "additional_properties" => "additionalProperties",
        other => other,
    }
}

/// Gemini's `Type` enum (`STRING`, …) as a JSON Schema type; `None` for
/// `TYPE_UNSPECIFIED`, which constrains nothing. Lowercase is read too.
fn json_type(value: &Value, at: Location<'_>) -> Result<Option<&'static str>, Invalid> {
    const TYPES: [&str; 7] = [
        "string", "number", "integer", "boolean", "array", "object", "null",
    ];
    let Value::String(name) = value else {
        return Err(Invalid(format!("{at} must be a string")));
    };
    if name.eq_ignore_ascii_case("TYPE_UNSPECIFIED") {
        return Ok(None);
    }
    match TYPES.iter().find(|t| name.eq_ignore_ascii_case(t)) {
        Some(t) => Ok(Some(t)),
        None => Err(Invalid(format!(
            "{at} '{name}' is not a Gemini schema type (STRING, NUMBER, INTEGER, BOOLEAN, \
             ARRAY, OBJECT or NULL)"
        ))),
    }
}

/// A count as a JSON number: a whole number (`2` or Python's `2.0`), or a
/// string of digits (protobuf's JSON form of an int64).
fn count(value: &Value, at: Location<'_>) -> Result<Value, Invalid> {
    let whole = |f: f64| (f >= 0.0 && f.fract() == 0.0 && f < u64::MAX as f64).then_some(f as u64);
    let parsed = match value {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().and_then(whole)),
        Value::String(s) => s.parse::<u64>().ok(),
        _ => None,
    };
    parsed
        .map(Value::from)
        .ok_or_else(|| Invalid(format!("{at} must be a non-negative integer")))
}

/// `nullable: true` in JSON Schema terms: `null` joins the type (and the
/// enum, which would otherwise still refuse it), or becomes one more `anyOf`
/// option. A schema with neither type nor `anyOf` already admits null.
fn allow_null(schema: &mut Map<String, Value>) {
    let null = || Value::String("null".to_owned());
    match schema.get("type") {
        Some(Value::String(t)) if t != "null" => {
            let types = vec![Value::String(t.clone()), null()];
            schema.insert("type".to_owned(), Value::Array(types));
            if let Some(Value::Array(values)) = schema.get_mut("enum") {
                if !values.contains(&Value::Null) {
                    values.push(Value::Null);
                }
            }
        }
        Some(_) => {}
        None => {
            if let Some(Value::Array(options)) = schema.get_mut("anyOf") {
                let mut null_schema = Map::new();
                null_schema.insert("type".to_owned(), null());
                options.push(Value::Object(null_schema));
            }
        }
    }
}

#[cfg(test)]
#[path = "schema_tests.rs"]
mod tests;
