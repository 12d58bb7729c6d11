//! OpenAI embeddings ↔ Vertex AI text embeddings (`POST
//! …/publishers/google/models/{model}:predict`), the shape Vertex serves
//! `text-embedding-*`, `text-multilingual-embedding-*` and
//! `gemini-embedding-*` through
//! (<https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/text-embeddings-api>).
//!
//! Each input string becomes one `instances[i].content`; the answer's
//! `predictions[i].embeddings.values` become `data[i].embedding`, and the
//! per-instance `statistics.token_count` add up to the usage.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::embeddings::{bad_response, write_embeddings_list, EmbeddingsInput};
use super::path::model_path;
use super::{EmbeddingsInfo, TranslateError, Usage};
use crate::schema::openai;

/// Vertex refuses a `:predict` call with more instances than this.
const MAX_INSTANCES: usize = 250;

#[derive(Serialize)]
struct PredictRequest<'a> {
    instances: Vec<Instance<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<Parameters>,
}

#[derive(Serialize)]
struct Instance<'a> {
    content: Cow<'a, str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Parameters {
    output_dimensionality: u32,
}

#[derive(Deserialize)]
struct PredictResponse<'a> {
    #[serde(borrow)]
    predictions: Vec<Prediction<'a>>,
}

#[derive(Deserialize)]
struct Prediction<'a> {
    #[serde(borrow)]
    embeddings: Embeddings<'a>,
}

#[derive(Deserialize)]
struct Embeddings<'a> {
    #[serde(borrow)]
    values: &'a RawValue,
    #[serde(default)]
    statistics: Option<Statistics>,
}

#[derive(Deserialize)]
struct Statistics {
    #[serde(default)]
    token_count: f64,
}

/// `/models/{model}:predict`, below the Vertex publisher base URL.
pub fn vertex_embeddings_path(model: &str) -> String {
    model_path(model, ":predict")
}

/// Translates an OpenAI embeddings request body into a Vertex `:predict`
/// body, appended to `out` (unchanged on failure). Refuses what
/// [`super::translate_embeddings_request`] refuses, with Vertex's limit of
/// `MAX_INSTANCES` inputs.
pub fn translate_vertex_embeddings_request(
    openai_body: &[u8],
    out: &mut Vec<u8>,
) -> Result<EmbeddingsInfo, TranslateError> {
    let input = EmbeddingsInput::parse(openai_body, MAX_INSTANCES)?;
    let body = PredictRequest {
        instances: input
            .texts
            .into_iter()
            .map(|content| Instance { content })
            .collect(),
        parameters: input.dimensions.map(|output_dimensionality| Parameters {
            output_dimensionality,
        }),
    };
    openai::write_request_body(&body, out)?;
    Ok(input.info)
}

/// Translates a `:predict` answer into an OpenAI embeddings list appended to
/// `out`; usage is the sum of the instances' token counts.
pub fn translate_vertex_embeddings_response(
    body: &[u8],
    model: &str,
    info: EmbeddingsInfo,
    out: &mut Vec<u8>,
) -> Result<Usage, TranslateError> {
    let resp: PredictResponse<'_> =
        serde_json::from_slice(body).map_err(|e| bad_response(format!("predict body: {e}")))?;
    let tokens: f64 = resp
        .predictions
        .iter()
        .filter_map(|p| p.embeddings.statistics.as_ref())
        .map(|s| s.token_count)
        .sum();
    let usage = Usage::new(tokens as u64, 0);
    let vectors = resp.predictions.iter().map(|p| p.embeddings.values);
    write_embeddings_list(vectors, model, info, usage, out)?;
    Ok(usage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn inputs_become_instances_and_dimensions_a_parameter() {
        let mut out = Vec::new();
        let body = json!({"model":"vertex/text-embedding-005","input":["a","b"],"dimensions":64});
        let info =
            translate_vertex_embeddings_request(body.to_string().as_bytes(), &mut out).unwrap();
        assert!(!info.base64);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v,
            json!({"instances":[{"content":"a"},{"content":"b"}],"parameters":{"outputDimensionality":64}})
        );
        out.clear();
        let info = translate_vertex_embeddings_request(
            br#"{"input":"one","encoding_format":"base64"}"#,
            &mut out,
        )
        .unwrap();
        assert!(info.base64);
        assert_eq!(out, br#"{"instances":[{"content":"one"}]}"#);
        assert_eq!(
            vertex_embeddings_path("text-embedding-005"),
            "/models/text-embedding-005:predict"
        );
    }

    #[test]
    fn bad_inputs_are_refused_and_leave_out_alone() {
        let mut out = b"keep".to_vec();
        let many: Vec<String> = (0..=MAX_INSTANCES).map(|i| i.to_string()).collect();
        for body in [
            json!({"input":[1,2]}),
            json!({"input":[]}),
            json!({ "input": many }),
            json!({"input":"a","encoding_format":"int8"}),
        ] {
            let err = translate_vertex_embeddings_request(body.to_string().as_bytes(), &mut out)
                .unwrap_err();
            assert!(matches!(err, TranslateError::BadRequest(_)), "{err}");
        }
        assert_eq!(out, b"keep");
    }

    #[test]
    fn predictions_become_an_openai_list_with_summed_token_counts() {
        let body = br#"{"predictions":[
            {"embeddings":{"statistics":{"truncated":false,"token_count":6},"values":[0.25,-1]}},
            {"embeddings":{"statistics":{"truncated":false,"token_count":4.0},"values":[2]}}],
            "metadata":{"billableCharacterCount":30}}"#;
        let mut out = Vec::new();
        let usage = translate_vertex_embeddings_response(
            body,
            "vertex/text-embedding-005",
            EmbeddingsInfo::default(),
            &mut out,
        )
        .unwrap();
        assert_eq!(usage.prompt_tokens, 10);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v,
            json!({"object":"list","data":[
                {"object":"embedding","index":0,"embedding":[0.25,-1]},
                {"object":"embedding","index":1,"embedding":[2]}],
                "model":"vertex/text-embedding-005",
                "usage":{"prompt_tokens":10,"total_tokens":10}})
        );
        out.clear();
        translate_vertex_embeddings_response(
            br#"{"predictions":[{"embeddings":{"values":[1.0]}}]}"#,
            "m",
            EmbeddingsInfo { base64: true },
            &mut out,
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["data"][0]["embedding"], "AACAPw==");
        assert_eq!(v["usage"]["prompt_tokens"], 0);
    }

    #[test]
    fn other_bodies_are_bad_response() {
        let mut out = Vec::new();
        for body in [
            &b"{}"[..],
            b"[]",
            br#"{"predictions":[{"embeddings":{"values":"x"}}]}"#,
        ] {
            let err = translate_vertex_embeddings_response(
                body,
                "m",
                EmbeddingsInfo::default(),
                &mut out,
            )
            .unwrap_err();
            assert!(matches!(err, TranslateError::BadResponse(_)), "{err}");
        }
        assert!(out.is_empty());
    }
}
