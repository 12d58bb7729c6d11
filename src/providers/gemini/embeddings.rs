//! OpenAI embeddings ↔ Gemini `batchEmbedContents`
//! (<https://ai.google.dev/api/embeddings#method:-models.batchembedcontents>).
//!
//! Each OpenAI input string becomes one `EmbedContentRequest`; the response's
//! `embeddings[i].values` become `data[i].embedding`, as the JSON numbers
//! upstream sent (`encoding_format: "float"`) or as base64 of little-endian
//! `f32`s (`"base64"`, the OpenAI SDKs' default).
//!
//! Not covered: token-array inputs (Gemini takes text only) and usage: the
//! response carries no token counts, so usage is reported as 0. Vertex AI
//! embeds through `:predict`, another shape (`vertex_embeddings`).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::path::model_resource;
use super::{TranslateError, Usage};
use crate::providers::embeddings::ListWriter;
use crate::schema::openai;

/// Gemini rejects a `batchEmbedContents` call with more requests than this.
const MAX_BATCH_INPUTS: usize = 100;

/// How the client wants the vectors back; pass it to
/// [`translate_embeddings_response`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EmbeddingsInfo {
    /// `encoding_format: "base64"`: each embedding as base64 of little-endian
    /// `f32`s instead of a list of numbers.
    pub base64: bool,
}

#[derive(Serialize)]
struct BatchEmbedRequest<'a> {
    requests: Vec<EmbedRequest<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EmbedRequest<'a> {
    model: &'a str,
    content: EmbedContent<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_dimensionality: Option<u32>,
}

#[derive(Serialize)]
struct EmbedContent<'a> {
    parts: [TextPart<'a>; 1],
}

#[derive(Serialize)]
struct TextPart<'a> {
    text: Cow<'a, str>,
}

#[derive(Deserialize)]
struct BatchEmbedResponse<'a> {
    #[serde(borrow)]
    embeddings: Vec<Embedding<'a>>,
}

#[derive(Deserialize)]
struct Embedding<'a> {
    #[serde(borrow)]
    values: &'a RawValue,
}

pub(super) fn bad_request(msg: impl Into<String>) -> TranslateError {
    TranslateError::BadRequest(msg.into())
}

pub(super) fn bad_response(msg: impl Into<String>) -> TranslateError {
    TranslateError::BadResponse(msg.into())
}

/// Translates an OpenAI embeddings request body into a Gemini
/// `batchEmbedContents` body for `model` (send it to
/// [`super::embeddings_path`]`(model)`), appended to `out`.
///
/// Fails with [`TranslateError::BadRequest`] when `input` is missing, empty,
/// holds token arrays or more than `MAX_BATCH_INPUTS` strings, or when
/// `encoding_format` is neither `float` nor `base64`. `out` is unchanged on
/// failure.
pub fn translate_embeddings_request(
    openai_body: &[u8],
    model: &str,
    out: &mut Vec<u8>,
) -> Result<EmbeddingsInfo, TranslateError> {
    let input = EmbeddingsInput::parse(openai_body, MAX_BATCH_INPUTS)?;
    let resource = model_resource(model);
    let body = BatchEmbedRequest {
        requests: input
            .texts
            .into_iter()
            .map(|text| EmbedRequest {
                model: &resource,
                content: EmbedContent {
                    parts: [TextPart { text }],
                },
                output_dimensionality: input.dimensions,
            })
            .collect(),
    };
    openai::write_request_body(&body, out)?;
    Ok(input.info)
}

/// An OpenAI embeddings request, checked.
pub(super) struct EmbeddingsInput<'a> {
    pub(super) texts: Vec<Cow<'a, str>>,
    pub(super) dimensions: Option<u32>,
    pub(super) info: EmbeddingsInfo,
}

impl<'a> EmbeddingsInput<'a> {
    /// Refuses a missing or empty `input`, token arrays, more than `max`
    /// strings, and an `encoding_format` other than `float` or `base64`.
    pub(super) fn parse(openai_body: &'a [u8], max: usize) -> Result<Self, TranslateError> {
        let invalid = |e| bad_request(format!("invalid embeddings request: {e}"));
        let req: openai::EmbeddingsRequest<'a> =
            serde_json::from_slice(openai_body).map_err(invalid)?;
        // Required here; the shared type leaves it optional for Cohere's message.
        let input = req
            .input
            .ok_or_else(|| invalid(serde::de::Error::missing_field("input")))?;
        let base64 = req.base64()?;
        let texts: Vec<Cow<'a, str>> = match input.get().as_bytes().first() {
            Some(b'"') => vec![serde_json::from_str(input.get())
                .map_err(|e| bad_request(format!("invalid input: {e}")))?],
            Some(b'[') => serde_json::from_str(input.get()).map_err(|_| {
                bad_request("'input' must be a string or an array of strings for gemini models")
            })?,
            _ => {
                return Err(bad_request(
                    "'input' must be a string or an array of strings for gemini models",
                ))
            }
        };
        if texts.is_empty() || texts.iter().any(|t| t.is_empty()) {
            return Err(bad_request(
                "'input' must not be empty or hold empty strings",
            ));
        }
        if texts.len() > max {
            return Err(bad_request(format!(
                "'input' holds {} strings; gemini takes at most {max}",
                texts.len()
            )));
        }
        Ok(Self {
            texts,
            dimensions: req.dimensions,
            info: EmbeddingsInfo { base64 },
        })
    }
}

/// Translates a `batchEmbedContents` response into an OpenAI embeddings list
/// (`{"object":"list","data":[...],"model","usage"}`) appended to `out`, the
/// vectors encoded as `info` says. `model` is reported as given. Usage is 0:
/// Gemini does not count embedding tokens in the response.
///
/// Fails with [`TranslateError::BadResponse`] if the body is not a
/// `batchEmbedContents` response (`out` is then left as it was).
pub fn translate_embeddings_response(
    body: &[u8],
    model: &str,
    info: EmbeddingsInfo,
    out: &mut Vec<u8>,
) -> Result<Usage, TranslateError> {
    let resp: BatchEmbedResponse<'_> =
        serde_json::from_slice(body).map_err(|e| bad_response(format!("embeddings body: {e}")))?;
    let vectors = resp.embeddings.iter().map(|e| e.values);
    write_embeddings_list(vectors, model, info, Usage::default(), out)?;
    Ok(Usage::default())
}

/// Appends an OpenAI embeddings list of `vectors` (JSON number arrays) with
/// `usage`; `out` is unchanged on failure.
pub(super) fn write_embeddings_list<'v>(
    vectors: impl Iterator<Item = &'v RawValue>,
    model: &str,
    info: EmbeddingsInfo,
    usage: Usage,
    out: &mut Vec<u8>,
) -> Result<(), TranslateError> {
    let mark = out.len();
    let mut list = ListWriter::begin(info.base64, out);
    for values in vectors {
        if let Err(e) = list.push(values, out) {
            out.truncate(mark);
            return Err(bad_response(e));
        }
    }
    list.finish(model, usage.prompt_tokens, out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn request(body: Value) -> (Value, EmbeddingsInfo) {
        let mut out = Vec::new();
        let info = translate_embeddings_request(
            body.to_string().as_bytes(),
            "text-embedding-004",
            &mut out,
        )
        .unwrap();
        (serde_json::from_slice(&out).unwrap(), info)
    }

    fn request_err(body: Value) -> String {
        let mut out = Vec::new();
        match translate_embeddings_request(body.to_string().as_bytes(), "m", &mut out) {
            Err(TranslateError::BadRequest(msg)) => {
                assert!(out.is_empty());
                msg
            }
            other => panic!("expected BadRequest, got {other:?}"),
        }
    }

    #[test]
    fn each_input_string_becomes_one_embed_request() {
        let (v, info) = request(json!({"model":"x","input":["a","b"],"dimensions":256}));
        assert_eq!(
            v,
            json!({"requests":[
                {"model":"models/text-embedding-004","content":{"parts":[{"text":"a"}]},"outputDimensionality":256},
                {"model":"models/text-embedding-004","content":{"parts":[{"text":"b"}]},"outputDimensionality":256}]})
        );
        assert_eq!(info, EmbeddingsInfo { base64: false });
        let (v, info) = request(json!({"input":"one","encoding_format":"base64"}));
        assert_eq!(v["requests"].as_array().unwrap().len(), 1);
        assert!(v["requests"][0].get("outputDimensionality").is_none());
        assert!(info.base64);
    }

    #[test]
    fn token_arrays_empty_and_oversized_inputs_are_bad_request() {
        request_err(json!({"input":[1,2,3]}));
        request_err(json!({"input":[[1,2]]}));
        request_err(json!({"input":[]}));
        request_err(json!({"input":""}));
        request_err(json!({"input":5}));
        request_err(json!({"model":"m"}));
        request_err(json!({"input":"a","encoding_format":"int8"}));
        let many: Vec<String> = (0..=MAX_BATCH_INPUTS).map(|i| i.to_string()).collect();
        let msg = request_err(json!({ "input": many }));
        assert!(msg.contains("at most"), "{msg}");
        let mut out = Vec::new();
        assert!(translate_embeddings_request(b"\xff", "m", &mut out).is_err());
    }

    #[test]
    fn response_becomes_openai_list_of_floats() {
        let mut out = Vec::new();
        let usage = translate_embeddings_response(
            b"{\"embeddings\": [{\"values\": [0.5, -1.25e-3]}, {\"values\": [2]}]}",
            "gemini/text-embedding-004",
            EmbeddingsInfo::default(),
            &mut out,
        )
        .unwrap();
        assert_eq!(usage, Usage::default());
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v,
            json!({"object":"list","data":[
                {"object":"embedding","index":0,"embedding":[0.5,-1.25e-3]},
                {"object":"embedding","index":1,"embedding":[2]}],
                "model":"gemini/text-embedding-004",
                "usage":{"prompt_tokens":0,"total_tokens":0}})
        );
    }

    #[test]
    fn base64_response_is_little_endian_f32() {
        let mut out = Vec::new();
        translate_embeddings_response(
            br#"{"embeddings":[{"values":[1.0,-2.5,0.1]}]}"#,
            "m",
            EmbeddingsInfo { base64: true },
            &mut out,
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        let mut bytes = Vec::new();
        for f in [1.0f32, -2.5, 0.1] {
            bytes.extend_from_slice(&f.to_le_bytes());
        }
        let mut expected = Vec::new();
        crate::providers::embeddings::encode_base64(&bytes, &mut expected);
        assert_eq!(
            v["data"][0]["embedding"],
            String::from_utf8(expected).unwrap()
        );
        assert_eq!(v["data"][0]["embedding"], "AACAPwAAIMDNzMw9");
    }

    #[test]
    fn non_embeddings_body_is_bad_response() {
        let mut out = Vec::new();
        for body in [
            &b"{}"[..],
            b"nope",
            br#"{"embeddings":[{"values":"x"}]}"#,
            br#"{"embeddings":[{"values":[1]},{"values":["a"]}]}"#,
        ] {
            for base64 in [false, true] {
                let err =
                    translate_embeddings_response(body, "m", EmbeddingsInfo { base64 }, &mut out)
                        .unwrap_err();
                assert!(matches!(err, TranslateError::BadResponse(_)), "{err}");
            }
        }
        assert!(out.is_empty());
    }
}
