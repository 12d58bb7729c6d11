//! OpenAI `/v1/embeddings` ↔ Bedrock InvokeModel (`POST /model/{id}/invoke`)
//! for the two text-embedding families Bedrock hosts, each with its own body:
//!
//! - Amazon Titan (`amazon.titan-embed-*`): `{"inputText": "..."}` →
//!   `{"embedding": [...], "inputTextTokenCount": N}`. One text per call.
//!   Text V2 also takes `dimensions` (256, 512, 1024) and `normalize`;
//!   Multimodal G1 takes `embeddingConfig.outputEmbeddingLength`; Text G1
//!   takes nothing else.
//!   <https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-embed-text.html>
//! - Cohere Embed (`cohere.embed-*`): `{"texts": [...], "input_type",
//!   "embedding_types": ["float"]}` → `{"embeddings": {"float": [[...]]}}`
//!   (or `{"embeddings": [[...]]}` when no `embedding_types` was sent). At
//!   most [`MAX_COHERE_TEXTS`] texts per call; v4 also takes
//!   `output_dimension`. The body has no token count: InvokeModel reports it
//!   in the `X-Amzn-Bedrock-Input-Token-Count` response header, which the
//!   caller passes in.
//!   <https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-embed-v3.html>
//!
//! An OpenAI request may carry many strings (SDKs and frameworks batch them),
//! so the translation is a plan of several calls: [`plan_embeddings`] reads
//! the client's body once, [`EmbeddingsPlan::translate_request`] writes the
//! body of call `i`, and [`EmbeddingsPlan::translate_response`] appends that
//! call's vectors to one OpenAI list. Titan needs one call per string;
//! Cohere one per [`MAX_COHERE_TEXTS`] strings. The alternative, refusing
//! arrays for Titan, would break every client that batches, for a cost that
//! is only latency (calls go one after another on a pooled connection).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::TranslateError;
use crate::providers::embeddings::ListWriter;
use crate::schema::openai;

/// Most strings one OpenAI embeddings request may carry (OpenAI's own
/// limit). For Titan each is a call of its own, made one after another.
pub const MAX_INPUTS: usize = 2048;

/// Most texts Bedrock's Cohere Embed models take in one call.
pub const MAX_COHERE_TEXTS: usize = 96;

/// `input_type` sent to Cohere when the client gives none: text to be stored
/// and searched over, Cohere's choice for indexing.
const DEFAULT_COHERE_INPUT_TYPE: &str = "search_document";

const HANDLED_FIELDS: &[&str] = &[
    "model",
    "input",
    "encoding_format",
    "dimensions",
    "input_type",
];

/// Which request and response shape a Bedrock embedding model takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbeddingModel {
    /// Titan Text Embeddings V2: `dimensions` and `normalize`.
    TitanTextV2,
    /// Titan Multimodal Embeddings G1, given text: `embeddingConfig`.
    TitanMultimodal,
    /// Titan Text Embeddings G1 (and any other Titan embedder): text only.
    TitanText,
    /// Cohere Embed v3 (English, multilingual): no dimension choice.
    CohereV3,
    /// Cohere Embed v4 and later: `output_dimension`.
    Cohere,
}

impl EmbeddingModel {
    /// The shape for a Bedrock model id, inference-profile id (`us.…`) or
    /// ARN ending in one; `None` for a model that is not a Titan or Cohere
    /// embedder.
    pub fn of(model: &str) -> Option<EmbeddingModel> {
        let id = model.rsplit('/').next().unwrap_or(model);
        // Cross-region inference profiles put a geography first: `us.cohere.embed-v4:0`.
        let id = match id.split_once('.') {
            Some((_, rest)) if rest.starts_with("amazon.") || rest.starts_with("cohere.") => rest,
            _ => id,
        };
        if let Some(rest) = id.strip_prefix("amazon.titan-embed") {
            return Some(if rest.starts_with("-text-v2") {
                EmbeddingModel::TitanTextV2
            } else if rest.starts_with("-image") {
                EmbeddingModel::TitanMultimodal
            } else {
                EmbeddingModel::TitanText
            });
        }
        let rest = id.strip_prefix("cohere.embed")?;
        Some(
            if rest.starts_with("-english-v3") || rest.starts_with("-multilingual-v3") {
                EmbeddingModel::CohereV3
            } else {
                EmbeddingModel::Cohere
            },
        )
    }

    fn is_titan(self) -> bool {
        matches!(
            self,
            EmbeddingModel::TitanTextV2
                | EmbeddingModel::TitanMultimodal
                | EmbeddingModel::TitanText
        )
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TitanRequest<'a> {
    input_text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    normalize: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    embedding_config: Option<TitanEmbeddingConfig>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TitanEmbeddingConfig {
    output_embedding_length: u32,
}

#[derive(Serialize)]
struct CohereRequest<'a> {
    texts: &'a [Cow<'a, str>],
    input_type: &'a str,
    embedding_types: [&'static str; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    output_dimension: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TitanResponse<'a> {
    #[serde(borrow)]
    embedding: &'a RawValue,
    #[serde(default)]
    input_text_token_count: Option<u64>,
}

#[derive(Deserialize)]
struct CohereResponse<'a> {
    /// `{"float": [[...]]}` when `embedding_types` was sent, else `[[...]]`.
    #[serde(borrow)]
    embeddings: &'a RawValue,
}

#[derive(Deserialize)]
struct CohereByType<'a> {
    #[serde(borrow)]
    float: Vec<&'a RawValue>,
}

fn bad_request(msg: impl Into<String>) -> TranslateError {
    TranslateError::BadRequest(msg.into())
}

fn bad_response(msg: impl Into<String>) -> TranslateError {
    TranslateError::BadResponse(msg.into())
}

/// An OpenAI embeddings request, read and checked, as the InvokeModel calls
/// that answer it. Borrows the strings from the client's body.
#[derive(Debug)]
pub struct EmbeddingsPlan<'a> {
    model: EmbeddingModel,
    texts: Vec<Cow<'a, str>>,
    dimensions: Option<u32>,
    input_type: Cow<'a, str>,
    base64: bool,
}

/// Reads an OpenAI embeddings request for Bedrock model `model` (the id sent
/// upstream).
///
/// Fails with [`TranslateError::BadRequest`] when the model is not a Titan or
/// Cohere embedder; `input` is missing, empty, holds an empty string or
/// token arrays (Bedrock embeds text only), or more than [`MAX_INPUTS`]
/// strings; `dimensions` is given for a model without that choice; or
/// `encoding_format` is neither `float` nor `base64`.
pub fn plan_embeddings<'a>(
    openai_body: &'a [u8],
    model: &str,
) -> Result<EmbeddingsPlan<'a>, TranslateError> {
    let kind = EmbeddingModel::of(model).ok_or_else(|| {
        bad_request(format!(
            "bedrock model '{model}' is not an embedding model the gateway can translate \
             (supported: Amazon Titan `amazon.titan-embed-*`, Cohere Embed `cohere.embed-*`)"
        ))
    })?;
    let req: openai::EmbeddingsRequest<'a> = serde_json::from_slice(openai_body)
        .map_err(|e| bad_request(format!("invalid embeddings request: {e}")))?;
    openai::log_dropped_fields(openai_body, HANDLED_FIELDS, "embeddings", "bedrock");
    let raw = req
        .input
        .ok_or_else(|| bad_request("'input' is required"))?;
    let texts: Vec<Cow<'a, str>> = match raw.get().as_bytes().first() {
        Some(b'"') => vec![serde_json::from_str(raw.get())
            .map_err(|e| bad_request(format!("invalid input: {e}")))?],
        Some(b'[') => serde_json::from_str(raw.get()).map_err(|_| {
            bad_request(
                "'input' must be a string or an array of strings; bedrock embeds text, not token arrays",
            )
        })?,
        _ => return Err(bad_request("'input' must be a string or an array of strings")),
    };
    if texts.is_empty() || texts.iter().any(|t| t.is_empty()) {
        return Err(bad_request(
            "'input' must not be empty or hold empty strings",
        ));
    }
    if texts.len() > MAX_INPUTS {
        return Err(bad_request(format!(
            "'input' holds {} strings; at most {MAX_INPUTS} per request",
            texts.len()
        )));
    }
    let base64 = req.base64()?;
    if req.dimensions.is_some()
        && matches!(kind, EmbeddingModel::TitanText | EmbeddingModel::CohereV3)
    {
        return Err(bad_request(format!(
            "bedrock model '{model}' has a fixed size: 'dimensions' is not supported \
             (it is for amazon.titan-embed-text-v2, amazon.titan-embed-image-v1 and cohere.embed-v4)"
        )));
    }
    Ok(EmbeddingsPlan {
        model: kind,
        texts,
        dimensions: req.dimensions,
        input_type: req
            .input_type
            .map(openai::Deferred::get)
            .transpose()
            .map_err(|e| bad_request(format!("invalid input_type: {e}")))?
            .unwrap_or(Cow::Borrowed(DEFAULT_COHERE_INPUT_TYPE)),
        base64,
    })
}

impl EmbeddingsPlan<'_> {
    /// The model's request shape.
    pub fn model(&self) -> EmbeddingModel {
        self.model
    }

    /// `encoding_format: "base64"`: start the list with
    /// `ListWriter::begin(plan.base64(), ..)`.
    pub fn base64(&self) -> bool {
        self.base64
    }

    /// InvokeModel calls that answer the request (at least 1).
    pub fn calls(&self) -> usize {
        if self.model.is_titan() {
            self.texts.len()
        } else {
            self.texts.len().div_ceil(MAX_COHERE_TEXTS)
        }
    }

    /// The strings call `call` embeds.
    fn call_texts(&self, call: usize) -> &[Cow<'_, str>] {
        let per_call = if self.model.is_titan() {
            1
        } else {
            MAX_COHERE_TEXTS
        };
        let start = (call * per_call).min(self.texts.len());
        let end = (start + per_call).min(self.texts.len());
        &self.texts[start..end]
    }

    /// Appends the InvokeModel body of call `call` (`0..self.calls()`) to
    /// `out`. `out` is unchanged on failure.
    pub fn translate_request(&self, call: usize, out: &mut Vec<u8>) -> Result<(), TranslateError> {
        let texts = self.call_texts(call);
        let mark = out.len();
        let written = match self.model {
            EmbeddingModel::TitanTextV2
            | EmbeddingModel::TitanMultimodal
            | EmbeddingModel::TitanText => {
                let [text] = texts else {
                    return Err(bad_request(format!("no embeddings call {call}")));
                };
                let v2 = self.model == EmbeddingModel::TitanTextV2;
                let body = TitanRequest {
                    input_text: text,
                    dimensions: self.dimensions.filter(|_| v2),
                    // OpenAI's vectors have length 1; say so rather than rely on
                    // Titan's default.
                    normalize: v2.then_some(true),
                    embedding_config: self
                        .dimensions
                        .filter(|_| self.model == EmbeddingModel::TitanMultimodal)
                        .map(|n| TitanEmbeddingConfig {
                            output_embedding_length: n,
                        }),
                };
                serde_json::to_writer(&mut *out, &body)
            }
            EmbeddingModel::CohereV3 | EmbeddingModel::Cohere => {
                if texts.is_empty() {
                    return Err(bad_request(format!("no embeddings call {call}")));
                }
                let body = CohereRequest {
                    texts,
                    input_type: &self.input_type,
                    embedding_types: ["float"],
                    output_dimension: self.dimensions,
                };
                serde_json::to_writer(&mut *out, &body)
            }
        };
        written.map_err(|e| {
            out.truncate(mark);
            bad_request(format!("cannot encode request: {e}"))
        })
    }

    /// Appends the vectors of call `call`'s 2xx answer `body` to `list` (in
    /// `out`) and returns the call's input tokens: Titan's
    /// `inputTextTokenCount`, else `header_input_tokens` (the
    /// `X-Amzn-Bedrock-Input-Token-Count` response header), else 0.
    ///
    /// Fails with [`TranslateError::BadResponse`] if the body is not the
    /// model's response shape or holds a different number of vectors than
    /// the call sent texts; `list` and `out` may then hold part of the
    /// answer and are to be discarded.
    pub fn translate_response(
        &self,
        call: usize,
        body: &[u8],
        header_input_tokens: Option<u64>,
        list: &mut ListWriter,
        out: &mut Vec<u8>,
    ) -> Result<u64, TranslateError> {
        let (vectors, body_tokens) = if self.model.is_titan() {
            let resp: TitanResponse<'_> = serde_json::from_slice(body)
                .map_err(|e| bad_response(format!("titan embeddings body: {e}")))?;
            (vec![resp.embedding], resp.input_text_token_count)
        } else {
            let resp: CohereResponse<'_> = serde_json::from_slice(body)
                .map_err(|e| bad_response(format!("cohere embeddings body: {e}")))?;
            let raw = resp.embeddings.get();
            let vectors = if raw.trim_start().starts_with('{') {
                serde_json::from_str::<CohereByType<'_>>(raw).map(|t| t.float)
            } else {
                serde_json::from_str::<Vec<&RawValue>>(raw)
            }
            .map_err(|e| bad_response(format!("cohere embeddings: {e}")))?;
            (vectors, None)
        };
        let sent = self.call_texts(call).len();
        if vectors.len() != sent {
            return Err(bad_response(format!(
                "{} embeddings for {sent} texts",
                vectors.len()
            )));
        }
        for v in vectors {
            list.push(v, out).map_err(bad_response)?;
        }
        Ok(body_tokens.or(header_input_tokens).unwrap_or(0))
    }
}

#[cfg(test)]
#[path = "embed_tests.rs"]
mod tests;
