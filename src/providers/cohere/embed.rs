//! OpenAI `/v1/embeddings` ↔ Cohere `POST /v2/embed`.
//!
//! Cohere needs an `input_type`; OpenAI has none. We send `search_document`
//! (text to be stored and searched over), Cohere's choice for indexing, unless
//! the client passes Cohere's own `input_type` field (`search_query`,
//! `classification`, `clustering`), which is forwarded. Only float
//! embeddings are asked for; `encoding_format: "base64"` is produced here by
//! packing them as little-endian `f32`, as OpenAI does.
//! See <https://docs.cohere.com/reference/embed>.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::response::UpstreamUsage;
use super::{EmbeddingsInfo, TranslateError, Usage};
use crate::providers::embeddings::ListWriter;
use crate::schema::openai::{self, Deferred};

/// Most texts Cohere embeds in one call.
pub const MAX_EMBED_TEXTS: usize = 96;

/// `input_type` sent when the client gives none.
const DEFAULT_INPUT_TYPE: &str = "search_document";

const HANDLED_FIELDS: &[&str] = &[
    "model",
    "input",
    "encoding_format",
    "dimensions",
    "input_type",
];

#[derive(Serialize)]
struct EmbedRequest<'a> {
    model: &'a str,
    texts: Vec<Cow<'a, str>>,
    input_type: Cow<'a, str>,
    embedding_types: [&'static str; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    output_dimension: Option<u32>,
}

#[derive(Deserialize)]
struct EmbedResponse<'a> {
    #[serde(borrow)]
    embeddings: Embeddings<'a>,
    #[serde(default)]
    meta: Option<Meta>,
}

#[derive(Deserialize)]
struct Embeddings<'a> {
    /// One JSON array of numbers per input text, kept raw.
    #[serde(borrow)]
    float: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct Meta {
    #[serde(flatten)]
    usage: UpstreamUsage,
}

fn bad_request(msg: impl Into<String>) -> TranslateError {
    TranslateError::BadRequest(msg.into())
}

fn bad_response(msg: impl Into<String>) -> TranslateError {
    TranslateError::BadResponse(msg.into())
}

/// Translates an OpenAI embeddings request into a Cohere `POST /v2/embed`
/// body for upstream model `model`, appended to `out`.
///
/// Fails with [`TranslateError::BadRequest`] when `input` is missing, empty,
/// token arrays (Cohere embeds text only), more than [`MAX_EMBED_TEXTS`]
/// strings, or `encoding_format` is neither `float` nor `base64`. `out` is
/// unchanged on failure.
pub fn translate_embeddings_request(
    openai_body: &[u8],
    model: &str,
    out: &mut Vec<u8>,
) -> Result<EmbeddingsInfo, TranslateError> {
    let invalid = |e| bad_request(format!("invalid embeddings request: {e}"));
    let req: openai::EmbeddingsRequest<'_> =
        serde_json::from_slice(openai_body).map_err(invalid)?;
    let input_type = req
        .input_type
        .map(Deferred::get)
        .transpose()
        .map_err(invalid)?;
    openai::log_dropped_fields(openai_body, HANDLED_FIELDS, "embeddings", "cohere");
    let raw = req
        .input
        .filter(|raw| raw.get() != "null")
        .ok_or_else(|| bad_request("'input' is required"))?;
    let texts: Vec<Cow<'_, str>> = match raw.get().as_bytes().first() {
        Some(b'"') => vec![serde_json::from_str(raw.get())
            .map_err(|e| bad_request(format!("invalid input: {e}")))?],
        Some(b'[') => serde_json::from_str(raw.get()).map_err(|_| {
            bad_request("'input' must be a string or an array of strings; cohere does not take token arrays")
        })?,
        _ => return Err(bad_request("'input' must be a string or an array of strings")),
    };
    if texts.is_empty() {
        return Err(bad_request("'input' must not be empty"));
    }
    if texts.len() > MAX_EMBED_TEXTS {
        return Err(bad_request(format!(
            "'input' has {} texts; cohere embeds at most {MAX_EMBED_TEXTS} per request",
            texts.len()
        )));
    }
    let base64 = req.base64()?;
    let body = EmbedRequest {
        model,
        texts,
        input_type: input_type.unwrap_or(Cow::Borrowed(DEFAULT_INPUT_TYPE)),
        embedding_types: ["float"],
        output_dimension: req.dimensions,
    };
    openai::write_request_body(&body, out)?;
    Ok(EmbeddingsInfo { base64 })
}

/// Translates a Cohere `/v2/embed` response into an OpenAI embeddings list
/// appended to `out`: each vector as the numbers Cohere sent, or, if
/// `base64`, as base64 of little-endian `f32`. Usage is
/// `meta.tokens.input_tokens` (else `meta.billed_units.input_tokens`).
///
/// Fails with [`TranslateError::BadResponse`] if the body has no
/// `embeddings.float` list of number arrays (`out` is then left as it was).
pub fn translate_embeddings_response(
    body: &[u8],
    model: &str,
    base64: bool,
    out: &mut Vec<u8>,
) -> Result<Usage, TranslateError> {
    let resp: EmbedResponse<'_> = serde_json::from_slice(body)
        .map_err(|e| bad_response(format!("embed response body: {e}")))?;
    let usage = resp.meta.map(|m| m.usage.usage()).unwrap_or_default();
    let mark = out.len();
    let mut list = ListWriter::begin(base64, out);
    for (index, raw) in resp.embeddings.float.iter().enumerate() {
        if let Err(e) = list.push(raw, out) {
            out.truncate(mark);
            return Err(bad_response(format!("embedding {index}: {e}")));
        }
    }
    list.finish(model, usage.prompt_tokens, out);
    // Embeddings produce no completion tokens.
    Ok(Usage::new(usage.prompt_tokens, 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn request(body: Value) -> Result<(Value, EmbeddingsInfo), TranslateError> {
        let mut out = Vec::new();
        let info =
            translate_embeddings_request(body.to_string().as_bytes(), "embed-v4.0", &mut out)?;
        Ok((serde_json::from_slice(&out).unwrap(), info))
    }

    const RESPONSE: &str = r#"{"id":"e1","embeddings":{"float":[[1.0,-0.5],[0.25,2]]},
        "texts":["a","b"],"meta":{"api_version":{"version":"2"},"billed_units":{"input_tokens":4}},
        "response_type":"embeddings_by_type"}"#;

    #[test]
    fn request_sends_texts_search_document_float_and_dimension() {
        let (v, info) =
            request(json!({"model":"cohere/embed","input":["a","b"],"dimensions":256,"user":"u"}))
                .unwrap();
        assert_eq!(
            v,
            json!({"model":"embed-v4.0","texts":["a","b"],"input_type":"search_document",
                "embedding_types":["float"],"output_dimension":256})
        );
        assert_eq!(info, EmbeddingsInfo { base64: false });
        let (v, info) =
            request(json!({"input":"one","encoding_format":"base64","input_type":"search_query"}))
                .unwrap();
        assert_eq!(v["texts"], json!(["one"]));
        assert_eq!(v["input_type"], "search_query");
        assert!(v.get("output_dimension").is_none());
        assert_eq!(info, EmbeddingsInfo { base64: true });
    }

    #[test]
    fn request_rejects_tokens_empty_oversized_and_unknown_format() {
        let too_many: Vec<String> = (0..=MAX_EMBED_TEXTS).map(|i| i.to_string()).collect();
        for body in [
            json!({"input":[1,2,3]}),
            json!({"input":[[1,2]]}),
            json!({"input":[]}),
            json!({"input":5}),
            json!({}),
            json!({"input":too_many}),
            json!({"input":"a","encoding_format":"int8"}),
        ] {
            let err = request(body.clone()).unwrap_err();
            assert!(matches!(err, TranslateError::BadRequest(_)), "{body}");
        }
    }

    #[test]
    fn float_response_becomes_openai_list() {
        let mut out = Vec::new();
        let usage =
            translate_embeddings_response(RESPONSE.as_bytes(), "cohere/embed", false, &mut out)
                .unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v,
            json!({"object":"list","data":[
                {"object":"embedding","index":0,"embedding":[1.0,-0.5]},
                {"object":"embedding","index":1,"embedding":[0.25,2]}],
                "model":"cohere/embed","usage":{"prompt_tokens":4,"total_tokens":4}})
        );
        assert_eq!(usage, Usage::new(4, 0));
    }

    #[test]
    fn base64_response_packs_little_endian_f32() {
        let mut out = Vec::new();
        translate_embeddings_response(RESPONSE.as_bytes(), "m", true, &mut out).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        // 1.0f32 = 00 00 80 3f, -0.5f32 = 00 00 00 bf
        assert_eq!(v["data"][0]["embedding"], "AACAPwAAAL8=");
        // 0.25f32 = 00 00 80 3e, 2.0f32 = 00 00 00 40
        assert_eq!(v["data"][1]["embedding"], "AACAPgAAAEA=");
    }

    #[test]
    fn request_then_response_round_trip_keeps_order_and_format() {
        let mut up = Vec::new();
        let info = translate_embeddings_request(
            br#"{"model":"x","input":["a","b"],"encoding_format":"base64"}"#,
            "embed-v4.0",
            &mut up,
        )
        .unwrap();
        let sent: Value = serde_json::from_slice(&up).unwrap();
        assert_eq!(sent["texts"], json!(["a", "b"]));
        let mut out = Vec::new();
        translate_embeddings_response(RESPONSE.as_bytes(), "x", info.base64, &mut out).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        let data = v["data"].as_array().unwrap();
        assert_eq!(data.len(), 2);
        assert!(data.iter().all(|d| d["embedding"].is_string()));
    }

    #[test]
    fn bad_embed_responses_are_errors_and_leave_out_unchanged() {
        for body in [
            &b"not json"[..],
            b"{}",
            br#"{"embeddings":{}}"#,
            br#"{"embeddings":{"float":[5]}}"#,
            br#"{"embeddings":{"float":[["x"]]}}"#,
        ] {
            for base64 in [false, true] {
                let mut out = b"keep".to_vec();
                let r = translate_embeddings_response(body, "m", base64, &mut out);
                // A non-number inside an array is only seen when decoding.
                if r.is_ok() {
                    assert!(!base64, "{body:?}");
                    continue;
                }
                assert!(matches!(r, Err(TranslateError::BadResponse(_))));
                assert_eq!(out, b"keep");
            }
        }
    }
}
