use serde_json::{json, Value};

use super::*;

fn converted(gemini: Value) -> Value {
    to_json_schema(&gemini, &"params").unwrap_or_else(|e| panic!("{e}"))
}

fn refused(gemini: Value) -> String {
    to_json_schema(&gemini, &"params").unwrap_err().0
}

#[test]
fn types_are_lowercased_at_every_level() {
    assert_eq!(
        converted(json!({"type": "OBJECT", "properties": {
            "tags": {"type": "ARRAY", "items": {"type": "STRING"}},
            "n": {"type": "integer"},
            "ok": {"type": "BOOLEAN"},
            "x": {"type": "NUMBER"},
            "any": {"anyOf": [{"type": "STRING"}, {"type": "NULL"}]},
        }})),
        json!({"type": "object", "properties": {
            "tags": {"type": "array", "items": {"type": "string"}},
            "n": {"type": "integer"},
            "ok": {"type": "boolean"},
            "x": {"type": "number"},
            "any": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        }})
    );
}

#[test]
fn nullable_adds_null_to_the_type_enum_or_any_of() {
    assert_eq!(
        converted(json!({"type": "STRING", "nullable": true})),
        json!({"type": ["string", "null"]})
    );
    assert_eq!(
        converted(json!({"type": "STRING", "enum": ["a", "b"], "nullable": true})),
        json!({"type": ["string", "null"], "enum": ["a", "b", null]})
    );
    assert_eq!(
        converted(json!({"anyOf": [{"type": "STRING"}], "nullable": true})),
        json!({"anyOf": [{"type": "string"}, {"type": "null"}]})
    );
    assert_eq!(
        converted(json!({"description": "anything", "nullable": true})),
        json!({"description": "anything"})
    );
    assert_eq!(
        converted(json!({"type": "NULL", "nullable": true})),
        json!({"type": "null"})
    );
    assert_eq!(
        converted(json!({"type": "STRING", "nullable": false})),
        json!({"type": "string"})
    );
}

#[test]
fn snake_case_keys_are_read_and_property_names_kept() {
    // google-genai sends its `types.Schema` in snake_case.
    assert_eq!(
        converted(json!({"type": "OBJECT",
        "property_ordering": ["max_items", "type"],
        "min_properties": 1,
        "properties": {
            "max_items": {"type": "ARRAY", "max_items": 2, "min_items": "1",
                "items": {"any_of": [{"type": "STRING", "max_length": 5, "min_length": 1}]}},
            "type": {"type": "STRING", "format": "enum", "enum": ["a"]},
        }})),
        json!({"type": "object", "minProperties": 1, "properties": {
            "max_items": {"type": "array", "maxItems": 2, "minItems": 1,
                "items": {"anyOf": [{"type": "string", "maxLength": 5, "minLength": 1}]}},
            "type": {"type": "string", "format": "enum", "enum": ["a"]},
        }})
    );
}

#[test]
fn openapi_only_keywords_become_json_schema_ones() {
    assert_eq!(
        converted(
            json!({"type": "STRING", "example": "Paris", "propertyOrdering": [],
            "title": "City", "description": "d", "pattern": "^[A-Z]", "default": "Rome"})
        ),
        json!({"type": "string", "examples": ["Paris"], "title": "City", "description": "d",
            "pattern": "^[A-Z]", "default": "Rome"})
    );
    assert_eq!(
        converted(
            json!({"type": "OBJECT", "defs": {"Pt": {"type": "NUMBER", "minimum": 0.0}},
            "properties": {"p": {"ref": "#/$defs/Pt"}},
            "additional_properties": {"type": "STRING"}})
        ),
        json!({"type": "object", "$defs": {"Pt": {"type": "number", "minimum": 0.0}},
            "properties": {"p": {"$ref": "#/$defs/Pt"}},
            "additionalProperties": {"type": "string"}})
    );
    assert_eq!(
        converted(json!({"type": "OBJECT", "additionalProperties": false, "maxItems": 2.0})),
        json!({"type": "object", "additionalProperties": false, "maxItems": 2})
    );
    assert_eq!(converted(json!({"type": "TYPE_UNSPECIFIED"})), json!({}));
}

#[test]
fn malformed_schemas_are_refused_with_their_location() {
    assert_eq!(refused(json!([1])), "params must be a schema object");
    assert_eq!(
        refused(json!({"properties": {"a": {"items": 3}}})),
        "params.properties.a.items must be a schema object"
    );
    assert_eq!(
        refused(json!({"anyOf": [{}, {"type": 1}]})),
        "params.anyOf[1].type must be a string"
    );
    assert_eq!(
        refused(json!({"type": "STRING", "nullable": "yes"})),
        "params.nullable must be a boolean"
    );
    assert_eq!(
        refused(json!({"type": "ARRAY", "max_items": "many"})),
        "params.maxItems must be a non-negative integer"
    );
    assert_eq!(
        refused(json!({"type": "ARRAY", "maxItems": -1})),
        "params.maxItems must be a non-negative integer"
    );
    assert_eq!(
        refused(json!({"properties": []})),
        "params.properties must be an object"
    );
    assert_eq!(
        refused(json!({"anyOf": {}})),
        "params.anyOf must be an array"
    );
    assert_eq!(
        refused(json!({"type": "DATE"})),
        "params.type 'DATE' is not a Gemini schema type (STRING, NUMBER, INTEGER, BOOLEAN, \
         ARRAY, OBJECT or NULL)"
    );
}
