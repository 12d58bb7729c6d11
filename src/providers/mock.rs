//! The built-in `mock` provider: answers `mock/<anything>` in-process, so the gateway works
//! with no keys configured and load tests can measure the gateway alone.
//!
//! Pure functions from request bytes to response bytes: no socket, no randomness, no clock
//! (`created` is fixed). Every model id answers the same way:
//!
//! - chat completions: `"Mock reply to: <last user message, first 200 chars>"`, or a call to a
//!   tool when `tool_choice` forces one; streamed as OpenAI `chat.completion.chunk` events, one
//!   per word;
//! - legacy completions: the same text in the `text_completion` shape;
//! - embeddings: unit vectors derived from a hash of each input.
//!
//! Token counts are whitespace-separated words. Malformed requests get a 400 with an OpenAI
//! error body.

use serde::Serialize;
use serde_json::{json, Map, Value};

/// `created` in every response (2023-11-14T22:13:20Z).
const CREATED: u64 = 1_700_000_000;
/// Prefix of the `model` field in responses.
const MODEL_PREFIX: &str = "mock/";
/// Model ids listed by [`models`].
const MODEL_IDS: [&str; 3] = ["echo", "fast", "embed"];
/// How much of the last user message the answer quotes, in chars.
const QUOTE_CHARS: usize = 200;
/// Embedding length when the request has no `dimensions`.
const DEFAULT_DIMENSIONS: u64 = 16;
/// Largest accepted `dimensions`.
const MAX_DIMENSIONS: u64 = 4096;

const CONTENT_TYPE_JSON: &str = "application/json";
const CONTENT_TYPE_EVENT_STREAM: &str = "text/event-stream";

/// Which operation the request asks for.
pub use crate::schema::dialect::Operation as MockEndpoint;

/// A complete response: status, `Content-Type` and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockReply {
    /// 200, or 400 for a malformed request.
    pub status: u16,
    /// `application/json` or `text/event-stream`.
    pub content_type: &'static str,
    /// The body, whole or as stream events.
    pub body: MockBody,
}

/// A response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MockBody {
    /// One JSON document.
    Full(Vec<u8>),
    /// SSE events, each a complete `data: ...\n\n` frame, sent one per chunk; the last is
    /// `data: [DONE]\n\n`.
    Events(Vec<Vec<u8>>),
}

/// Answers one request. `model` is the model name after the `mock/` prefix; `body` is the
/// request body as the client sent it. Never fails: a malformed body gets a 400 reply.
pub fn respond(endpoint: MockEndpoint, model: &str, body: &[u8]) -> MockReply {
    let request = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(request)) => request,
        Ok(_) => return invalid_request("request body must be a JSON object"),
        Err(e) => return invalid_request(&format!("request body is not valid JSON: {e}")),
    };
    let ctx = Ctx {
        model: format!("{MODEL_PREFIX}{model}"),
        body_hash: fnv1a64(body),
    };
    let reply = match endpoint {
        MockEndpoint::Chat => chat_completions(&ctx, &request),
        MockEndpoint::Completions => completions(&ctx, &request),
        MockEndpoint::Embeddings => embeddings(&ctx, &request),
        // The gateway estimates token counts itself (`api::hub`).
        MockEndpoint::CountTokens => Err(invalid("the mock provider does not count tokens")),
    };
    reply.unwrap_or_else(|Invalid(message)| invalid_request(&message))
}

/// Pushes the model ids the mock lists, without the `mock/` prefix.
pub fn models(models: &mut Vec<String>) {
    models.extend(MODEL_IDS.iter().map(|id| (*id).to_owned()));
}

/// A request the mock refuses with 400; the text becomes the error message.
struct Invalid(String);

fn invalid(message: impl Into<String>) -> Invalid {
    Invalid(message.into())
}

type Result<T> = std::result::Result<T, Invalid>;

/// What every response of one request shares.
struct Ctx {
    /// `mock/<model>`.
    model: String,
    /// FNV-1a of the request body: ids are a function of the request.
    body_hash: u64,
}

fn invalid_request(message: &str) -> MockReply {
    let body = json!({
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "param": null,
            "code": null,
        }
    });
    MockReply {
        status: 400,
        content_type: CONTENT_TYPE_JSON,
        body: MockBody::Full(body.to_string().into_bytes()),
    }
}

fn full(body: &Value) -> MockReply {
    MockReply {
        status: 200,
        content_type: CONTENT_TYPE_JSON,
        body: MockBody::Full(body.to_string().into_bytes()),
    }
}

fn events(events: Vec<Vec<u8>>) -> MockReply {
    MockReply {
        status: 200,
        content_type: CONTENT_TYPE_EVENT_STREAM,
        body: MockBody::Events(events),
    }
}

/// One SSE frame carrying `data`.
fn sse(data: &Value) -> Vec<u8> {
    format!("data: {data}\n\n").into_bytes()
}

const SSE_DONE: &[u8] = b"data: [DONE]\n\n";

fn usage(prompt_tokens: u64, completion_tokens: u64) -> Value {
    json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    })
}

// ---- request fields ----------------------------------------------------------------------

/// `stream`: absent or null is false; anything but a bool is refused.
fn stream_flag(request: &Map<String, Value>) -> Result<bool> {
    match request.get("stream") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(invalid("'stream' must be a boolean")),
    }
}

/// `stream_options.include_usage`, false unless it is `true`.
fn include_usage(request: &Map<String, Value>) -> bool {
    request
        .get("stream_options")
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// `max_completion_tokens`, else `max_tokens`; null counts as absent.
fn max_tokens(request: &Map<String, Value>) -> Result<Option<u64>> {
    for field in ["max_completion_tokens", "max_tokens"] {
        match request.get(field) {
            None | Some(Value::Null) => continue,
            Some(v) => {
                return v
                    .as_u64()
                    .map(Some)
                    .ok_or_else(|| invalid(format!("'{field}' must be a non-negative integer")))
            }
        }
    }
    Ok(None)
}

/// Text of a chat message's `content`: a string, or the `text` of its `{"type":"text"}` parts
/// joined by spaces (other parts, e.g. images, contribute nothing). Null or absent is empty.
fn content_text(content: Option<&Value>, index: usize) -> Result<String> {
    match content {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            let texts: Vec<&str> = parts
                .iter()
                .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect();
            Ok(texts.join(" "))
        }
        Some(_) => Err(invalid(format!(
            "messages[{index}].content must be a string or an array of content parts"
        ))),
    }
}

fn count_words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// Splits `text` into pieces of one word plus the whitespace after it (leading whitespace
/// joins the first piece), so the pieces concatenate back to `text`. Text without a word has
/// no pieces.
fn word_pieces(text: &str) -> Vec<&str> {
    let mut starts = Vec::new();
    let mut after_space = true;
    for (i, c) in text.char_indices() {
        let space = c.is_whitespace();
        if !space && after_space {
            starts.push(i);
        }
        after_space = space;
    }
    if let Some(first) = starts.first_mut() {
        *first = 0;
    }
    let ends = starts.iter().skip(1).copied().chain([text.len()]);
    starts.iter().zip(ends).map(|(&s, e)| &text[s..e]).collect()
}

/// The mock's answer to `quoted` (the last user message or the prompt), cut to `limit` words.
/// Returns the text and its finish reason.
fn answer(quoted: &str, limit: Option<u64>) -> (String, &'static str) {
    let quoted = quoted.trim();
    let text = if quoted.is_empty() {
        "Mock reply.".to_owned()
    } else {
        let quote: String = quoted.chars().take(QUOTE_CHARS).collect();
        format!("Mock reply to: {quote}")
    };
    match limit {
        Some(limit) if count_words(&text) > limit => {
            let pieces = word_pieces(&text);
            let kept = usize::try_from(limit)
                .unwrap_or(usize::MAX)
                .min(pieces.len());
            (pieces[..kept].concat().trim_end().to_owned(), "length")
        }
        _ => (text, "stop"),
    }
}

// ---- chat completions --------------------------------------------------------------------

fn chat_completions(ctx: &Ctx, request: &Map<String, Value>) -> Result<MockReply> {
    let messages = request
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("'messages' is required and must be an array"))?;
    let mut prompt_words = 0;
    let mut last_user = None;
    for (i, message) in messages.iter().enumerate() {
        let message = message
            .as_object()
            .ok_or_else(|| invalid(format!("messages[{i}] must be an object")))?;
        let text = content_text(message.get("content"), i)?;
        prompt_words += count_words(&text);
        if message.get("role").and_then(Value::as_str) == Some("user") {
            last_user = Some(text);
        }
    }
    let prompt_tokens = prompt_words.max(1);
    let limit = max_tokens(request)?;
    let stream = stream_flag(request)?;
    let chat = Chat {
        ctx,
        id: format!("chatcmpl-mock-{:016x}", ctx.body_hash),
        prompt_tokens,
        include_usage: stream && include_usage(request),
    };

    if let Some(function) = forced_tool(request)? {
        let call_id = format!("call_mock_{:016x}", ctx.body_hash);
        return Ok(if stream {
            chat.stream_tool_call(&call_id, &function)
        } else {
            chat.tool_call(&call_id, &function)
        });
    }
    let (text, finish_reason) = answer(last_user.as_deref().unwrap_or(""), limit);
    Ok(if stream {
        chat.stream_text(&text, finish_reason)
    } else {
        chat.text(&text, finish_reason)
    })
}

/// The function a request forces: `tool_choice` `"required"` (the first tool's) or
/// `{"type":"function","function":{"name":...}}`. `None` when the request has no tools or lets
/// the model choose (`"auto"`, `"none"`, absent).
fn forced_tool(request: &Map<String, Value>) -> Result<Option<String>> {
    let tools = match request.get("tools") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(tools)) if tools.is_empty() => return Ok(None),
        Some(Value::Array(tools)) => tools,
        Some(_) => return Err(invalid("'tools' must be an array")),
    };
    let name = match request.get("tool_choice") {
        Some(Value::String(choice)) if choice == "required" => tools
            .first()
            .and_then(|t| t.get("function"))
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("tools[0].function.name must be a string"))?,
        Some(Value::Object(choice)) => choice
            .get("function")
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("tool_choice.function.name must be a string"))?,
        _ => return Ok(None),
    };
    Ok(Some(name.to_owned()))
}

/// Builds chat responses for one request.
struct Chat<'a> {
    ctx: &'a Ctx,
    id: String,
    prompt_tokens: u64,
    /// Streaming with `stream_options.include_usage`: `usage: null` on every chunk, then a
    /// usage chunk with no choices, as OpenAI sends.
    include_usage: bool,
}

/// Completion tokens counted for a tool call (there is no text to count).
const TOOL_CALL_TOKENS: u64 = 1;

impl Chat<'_> {
    fn completion(&self, message: Value, finish_reason: &str, completion_tokens: u64) -> MockReply {
        full(&json!({
            "id": self.id,
            "object": "chat.completion",
            "created": CREATED,
            "model": self.ctx.model,
            "choices": [{
                "index": 0,
                "message": message,
                "logprobs": null,
                "finish_reason": finish_reason,
            }],
            "usage": usage(self.prompt_tokens, completion_tokens),
        }))
    }

    fn text(&self, text: &str, finish_reason: &str) -> MockReply {
        let message = json!({ "role": "assistant", "content": text });
        self.completion(message, finish_reason, count_words(text))
    }

    fn tool_call(&self, call_id: &str, function: &str) -> MockReply {
        let message = json!({
            "role": "assistant",
            "content": null,
            "tool_calls": [{
                "id": call_id,
                "type": "function",
                "function": { "name": function, "arguments": "{}" },
            }],
        });
        self.completion(message, "tool_calls", TOOL_CALL_TOKENS)
    }

    fn chunk(&self, delta: Value, finish_reason: Option<&str>) -> Vec<u8> {
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": self.ctx.model,
            "choices": [{
                "index": 0,
                "delta": delta,
                "logprobs": null,
                "finish_reason": finish_reason,
            }],
        });
        if self.include_usage {
            chunk["usage"] = Value::Null;
        }
        sse(&chunk)
    }

    /// Closes a stream: the finish chunk, the usage chunk if asked for, `[DONE]`.
    fn finish(
        &self,
        mut out: Vec<Vec<u8>>,
        finish_reason: &str,
        completion_tokens: u64,
    ) -> MockReply {
        out.push(self.chunk(json!({}), Some(finish_reason)));
        if self.include_usage {
            out.push(sse(&json!({
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": CREATED,
                "model": self.ctx.model,
                "choices": [],
                "usage": usage(self.prompt_tokens, completion_tokens),
            })));
        }
        out.push(SSE_DONE.to_vec());
        events(out)
    }

    fn stream_text(&self, text: &str, finish_reason: &str) -> MockReply {
        let pieces = word_pieces(text);
        let mut out = Vec::with_capacity(pieces.len() + 4);
        out.push(self.chunk(json!({ "role": "assistant", "content": "" }), None));
        for piece in &pieces {
            out.push(self.chunk(json!({ "content": piece }), None));
        }
        self.finish(out, finish_reason, pieces.len() as u64)
    }

    fn stream_tool_call(&self, call_id: &str, function: &str) -> MockReply {
        let head = json!({
            "role": "assistant",
            "content": null,
            "tool_calls": [{
                "index": 0,
                "id": call_id,
                "type": "function",
                "function": { "name": function, "arguments": "" },
            }],
        });
        let arguments = json!({
            "tool_calls": [{ "index": 0, "function": { "arguments": "{}" } }],
        });
        let out = vec![self.chunk(head, None), self.chunk(arguments, None)];
        self.finish(out, "tool_calls", TOOL_CALL_TOKENS)
    }
}

// ---- legacy completions ------------------------------------------------------------------

fn completions(ctx: &Ctx, request: &Map<String, Value>) -> Result<MockReply> {
    let prompt = match request.get("prompt") {
        None | Some(Value::Null) => return Err(invalid("'prompt' is required")),
        Some(prompt) => prompt_text(prompt)?,
    };
    let prompt_tokens = count_words(&prompt).max(1);
    let (text, finish_reason) = answer(&prompt, max_tokens(request)?);
    let completion_tokens = count_words(&text);
    let id = format!("cmpl-mock-{:016x}", ctx.body_hash);
    let choice = |text: &str, finish_reason: Option<&str>| {
        json!({
            "id": id,
            "object": "text_completion",
            "created": CREATED,
            "model": ctx.model,
            "choices": [{
                "text": text,
                "index": 0,
                "logprobs": null,
                "finish_reason": finish_reason,
            }],
        })
    };
    if !stream_flag(request)? {
        let mut body = choice(&text, Some(finish_reason));
        body["usage"] = usage(prompt_tokens, completion_tokens);
        return Ok(full(&body));
    }
    let include_usage = include_usage(request);
    let chunk = |text: &str, finish_reason: Option<&str>| {
        let mut chunk = choice(text, finish_reason);
        if include_usage {
            chunk["usage"] = Value::Null;
        }
        sse(&chunk)
    };
    let pieces = word_pieces(&text);
    let mut out: Vec<Vec<u8>> = pieces.iter().map(|piece| chunk(piece, None)).collect();
    out.push(chunk("", Some(finish_reason)));
    if include_usage {
        out.push(sse(&json!({
            "id": id,
            "object": "text_completion",
            "created": CREATED,
            "model": ctx.model,
            "choices": [],
            "usage": usage(prompt_tokens, completion_tokens),
        })));
    }
    out.push(SSE_DONE.to_vec());
    Ok(events(out))
}

/// Text of a completions `prompt`: a string, strings (joined by spaces), or token arrays
/// (their numbers written out, space-separated, so each token counts as one word).
fn prompt_text(prompt: &Value) -> Result<String> {
    let refuse = || invalid("'prompt' must be a string, an array of strings, or token arrays");
    match prompt {
        Value::String(s) => Ok(s.clone()),
        Value::Array(items) => {
            let mut texts = Vec::with_capacity(items.len());
            for item in items {
                texts.push(match item {
                    Value::String(s) => s.clone(),
                    Value::Number(n) if n.is_u64() => n.to_string(),
                    Value::Array(tokens) => tokens_text(tokens).ok_or_else(refuse)?,
                    _ => return Err(refuse()),
                });
            }
            Ok(texts.join(" "))
        }
        _ => Err(refuse()),
    }
}

/// `[1, 2, 3]` as `"1 2 3"`; `None` unless every item is a non-negative integer.
fn tokens_text(tokens: &[Value]) -> Option<String> {
    let numbers: Option<Vec<String>> = tokens
        .iter()
        .map(|t| t.as_u64().map(|n| n.to_string()))
        .collect();
    numbers.map(|n| n.join(" "))
}

// ---- embeddings --------------------------------------------------------------------------

#[derive(Serialize)]
struct EmbeddingList<'a> {
    object: &'static str,
    data: Vec<EmbeddingItem>,
    model: &'a str,
    usage: EmbeddingUsage,
}

#[derive(Serialize)]
struct EmbeddingItem {
    object: &'static str,
    index: usize,
    embedding: Embedding,
}

/// Serialised as a JSON array of f32 (shortest round-trip form) or a base64 string.
#[derive(Serialize)]
#[serde(untagged)]
enum Embedding {
    Float(Vec<f32>),
    Base64(String),
}

#[derive(Serialize)]
struct EmbeddingUsage {
    prompt_tokens: u64,
    total_tokens: u64,
}

fn embeddings(ctx: &Ctx, request: &Map<String, Value>) -> Result<MockReply> {
    let inputs = match request.get("input") {
        None | Some(Value::Null) => return Err(invalid("'input' is required")),
        Some(input) => embedding_inputs(input)?,
    };
    let dimensions = match request.get("dimensions") {
        None | Some(Value::Null) => DEFAULT_DIMENSIONS,
        Some(v) => v
            .as_u64()
            .filter(|d| (1..=MAX_DIMENSIONS).contains(d))
            .ok_or_else(|| {
                invalid(format!(
                    "'dimensions' must be an integer from 1 to {MAX_DIMENSIONS}"
                ))
            })?,
    } as usize;
    let base64 = match request.get("encoding_format") {
        None | Some(Value::Null) => false,
        Some(Value::String(f)) if f == "float" => false,
        Some(Value::String(f)) if f == "base64" => true,
        Some(_) => return Err(invalid("'encoding_format' must be \"float\" or \"base64\"")),
    };

    let words: u64 = inputs.iter().map(|text| count_words(text)).sum();
    let data = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| {
            let vector = embedding_vector(text, dimensions);
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                Embedding::Base64(base64_encode(&bytes))
            } else {
                Embedding::Float(vector)
            };
            EmbeddingItem {
                object: "embedding",
                index,
                embedding,
            }
        })
        .collect();
    let list = EmbeddingList {
        object: "list",
        data,
        model: &ctx.model,
        usage: EmbeddingUsage {
            prompt_tokens: words.max(1),
            total_tokens: words.max(1),
        },
    };
    let body = serde_json::to_vec(&list).map_err(|e| invalid(e.to_string()))?;
    Ok(MockReply {
        status: 200,
        content_type: CONTENT_TYPE_JSON,
        body: MockBody::Full(body),
    })
}

/// The texts to embed: a string, an array of strings, one token array, or an array of token
/// arrays (each written out as its numbers).
fn embedding_inputs(input: &Value) -> Result<Vec<String>> {
    let refuse =
        || invalid("'input' must be a string, an array of strings, or token arrays, and not empty");
    match input {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if items.is_empty() => Err(refuse()),
        Value::Array(items) if items.iter().all(Value::is_number) => {
            Ok(vec![tokens_text(items).ok_or_else(refuse)?])
        }
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                Value::Array(tokens) => tokens_text(tokens).ok_or_else(refuse),
                _ => Err(refuse()),
            })
            .collect(),
        _ => Err(refuse()),
    }
}

/// A unit vector (L2 norm 1) of `dimensions` values, a pure function of `text`.
fn embedding_vector(text: &str, dimensions: usize) -> Vec<f32> {
    let mut state = fnv1a64(text.as_bytes());
    let raw: Vec<f64> = (0..dimensions)
        .map(|_| {
            // Top 53 bits as a fraction in [0, 1), mapped to [-1, 1).
            let unit = (splitmix64(&mut state) >> 11) as f64 / (1u64 << 53) as f64;
            unit * 2.0 - 1.0
        })
        .collect();
    let norm = raw.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm == 0.0 {
        let mut v = vec![0.0; dimensions];
        v[0] = 1.0;
        return v;
    }
    raw.iter().map(|x| (x / norm) as f32).collect()
}

/// FNV-1a, 64-bit.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// SplitMix64: advances `state` and returns the next well-mixed value.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Standard base64 with padding (RFC 4648 §4), as OpenAI returns `encoding_format: "base64"`.
fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let b = [
            group[0],
            group.get(1).copied().unwrap_or(0),
            group.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= group.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply_json(reply: &MockReply) -> Value {
        match &reply.body {
            MockBody::Full(body) => serde_json::from_slice(body).expect("body is JSON"),
            MockBody::Events(_) => panic!("expected a full body"),
        }
    }

    fn ok_json(endpoint: MockEndpoint, body: &Value) -> Value {
        let reply = respond(endpoint, "echo", body.to_string().as_bytes());
        assert_eq!(reply.status, 200, "{:?}", reply_json(&reply));
        assert_eq!(reply.content_type, "application/json");
        reply_json(&reply)
    }

    fn chat(body: &Value) -> Value {
        ok_json(MockEndpoint::Chat, body)
    }

    /// Parses concatenated SSE frames; every frame must be one `data:` line of JSON, except the
    /// last, which must be `[DONE]`.
    fn parse_sse(stream: &[u8]) -> Vec<Value> {
        let text = std::str::from_utf8(stream).expect("UTF-8");
        let body = text
            .strip_suffix("data: [DONE]\n\n")
            .expect("ends with [DONE]");
        assert!(body.ends_with("\n\n"), "last event is terminated");
        body.split_terminator("\n\n")
            .map(|frame| {
                assert!(!frame.contains('\n'), "one line per frame: {frame}");
                let data = frame.strip_prefix("data: ").expect("data field");
                serde_json::from_str(data).expect("JSON data")
            })
            .collect()
    }

    fn stream_events(endpoint: MockEndpoint, body: &Value) -> Vec<Value> {
        let reply = respond(endpoint, "fast", body.to_string().as_bytes());
        assert_eq!(reply.status, 200);
        assert_eq!(reply.content_type, "text/event-stream");
        let MockBody::Events(events) = reply.body else {
            panic!("expected events")
        };
        for event in &events {
            assert!(event.starts_with(b"data: ") && event.ends_with(b"\n\n"));
        }
        parse_sse(&events.concat())
    }

    fn assert_invalid(endpoint: MockEndpoint, body: &[u8], message_part: &str) {
        let reply = respond(endpoint, "echo", body);
        assert_eq!(reply.status, 400);
        assert_eq!(reply.content_type, "application/json");
        let v = reply_json(&reply);
        let error = &v["error"];
        assert_eq!(error["type"], "invalid_request_error");
        assert_eq!(error["param"], Value::Null);
        assert_eq!(error["code"], Value::Null);
        let message = error["message"].as_str().expect("message");
        assert!(message.contains(message_part), "{message}");
    }

    #[test]
    fn chat_quotes_the_last_user_message() {
        let v = chat(&json!({
            "model": "mock/echo",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "first question"},
                {"role": "assistant", "content": "an answer"},
                {"role": "user", "content": "  What is Rust?  "},
            ],
        }));
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["created"], 1_700_000_000);
        assert_eq!(v["model"], "mock/echo");
        assert!(v["id"].as_str().expect("id").starts_with("chatcmpl-mock-"));
        let choice = &v["choices"][0];
        assert_eq!(choice["index"], 0);
        assert_eq!(choice["message"]["role"], "assistant");
        assert_eq!(choice["message"]["content"], "Mock reply to: What is Rust?");
        assert_eq!(choice["finish_reason"], "stop");
        // 2 + 2 + 2 + 3 words in the messages; 6 in the answer.
        assert_eq!(v["usage"]["prompt_tokens"], 9);
        assert_eq!(v["usage"]["completion_tokens"], 6);
        assert_eq!(v["usage"]["total_tokens"], 15);
    }

    #[test]
    fn chat_reads_text_parts_and_skips_other_parts() {
        let v = chat(&json!({"messages": [{"role": "user", "content": [
            {"type": "text", "text": "describe"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            {"type": "text", "text": "this image"},
        ]}]}));
        assert_eq!(
            v["choices"][0]["message"]["content"],
            "Mock reply to: describe this image"
        );
        assert_eq!(v["usage"]["prompt_tokens"], 3);
    }

    #[test]
    fn chat_without_a_user_message_says_mock_reply() {
        let v = chat(&json!({"messages": [{"role": "system", "content": ""}]}));
        assert_eq!(v["choices"][0]["message"]["content"], "Mock reply.");
        assert_eq!(v["usage"]["prompt_tokens"], 1, "at least one prompt token");
        assert_eq!(v["usage"]["completion_tokens"], 2);
        let v = chat(&json!({"messages": []}));
        assert_eq!(v["choices"][0]["message"]["content"], "Mock reply.");
    }

    #[test]
    fn chat_quotes_at_most_200_chars() {
        let long = "é".repeat(300);
        let v = chat(&json!({"messages": [{"role": "user", "content": long}]}));
        let content = v["choices"][0]["message"]["content"]
            .as_str()
            .expect("text");
        let quote = content.strip_prefix("Mock reply to: ").expect("prefix");
        assert_eq!(quote.chars().count(), 200);
    }

    #[test]
    fn max_tokens_truncates_with_finish_reason_length() {
        for field in ["max_tokens", "max_completion_tokens"] {
            let v = chat(&json!({
                "messages": [{"role": "user", "content": "one two three four"}],
                field: 4,
            }));
            let choice = &v["choices"][0];
            assert_eq!(
                choice["message"]["content"], "Mock reply to: one",
                "{field}"
            );
            assert_eq!(choice["finish_reason"], "length");
            assert_eq!(v["usage"]["completion_tokens"], 4);
        }
        let v = chat(&json!({
            "messages": [{"role": "user", "content": "one"}],
            "max_tokens": 4,
        }));
        assert_eq!(
            v["choices"][0]["finish_reason"], "stop",
            "answer fits exactly"
        );
    }

    #[test]
    fn chat_stream_sends_one_chunk_per_word() {
        let body = json!({
            "messages": [{"role": "user", "content": "hello there"}],
            "stream": true,
        });
        let events = stream_events(MockEndpoint::Chat, &body);
        assert_eq!(events.len(), 1 + 5 + 1);
        let id = events[0]["id"].as_str().expect("id");
        assert!(id.starts_with("chatcmpl-mock-"));
        for e in &events {
            assert_eq!(e["id"], id);
            assert_eq!(e["object"], "chat.completion.chunk");
            assert_eq!(e["model"], "mock/fast");
            assert!(e.get("usage").is_none(), "no usage unless asked");
        }
        assert_eq!(
            events[0]["choices"][0]["delta"],
            json!({"role": "assistant", "content": ""})
        );
        let pieces: Vec<&str> = events[1..6]
            .iter()
            .map(|e| {
                e["choices"][0]["delta"]["content"]
                    .as_str()
                    .expect("content")
            })
            .collect();
        assert_eq!(pieces, ["Mock ", "reply ", "to: ", "hello ", "there"]);
        assert!(events[..6]
            .iter()
            .all(|e| e["choices"][0]["finish_reason"].is_null()));
        let last = &events[6]["choices"][0];
        assert_eq!(last["delta"], json!({}));
        assert_eq!(last["finish_reason"], "stop");

        // The streamed text is the non-streamed text.
        let full = chat(&json!({"messages": [{"role": "user", "content": "hello there"}]}));
        assert_eq!(full["choices"][0]["message"]["content"], pieces.concat());
    }

    #[test]
    fn chat_stream_with_include_usage_ends_with_a_usage_chunk() {
        let body = json!({
            "messages": [{"role": "user", "content": "a b c d e"}],
            "stream": true,
            "stream_options": {"include_usage": true},
            "max_tokens": 3,
        });
        let events = stream_events(MockEndpoint::Chat, &body);
        let (usage_chunk, chunks) = events.split_last().expect("events");
        assert_eq!(usage_chunk["choices"], json!([]));
        assert_eq!(usage_chunk["usage"]["prompt_tokens"], 5);
        assert_eq!(usage_chunk["usage"]["completion_tokens"], 3);
        assert_eq!(usage_chunk["usage"]["total_tokens"], 8);
        assert!(chunks
            .iter()
            .all(|c| c["usage"].is_null() && c.get("usage").is_some()));
        let finish = chunks.last().expect("finish chunk");
        assert_eq!(finish["choices"][0]["finish_reason"], "length");
        let text: String = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(text, "Mock reply to:");
    }

    fn weather_tools() -> Value {
        json!([
            {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}},
            {"type": "function", "function": {"name": "get_time"}},
        ])
    }

    #[test]
    fn required_tool_choice_calls_the_first_function() {
        let v = chat(&json!({
            "messages": [{"role": "user", "content": "weather?"}],
            "tools": weather_tools(),
            "tool_choice": "required",
        }));
        let choice = &v["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls");
        assert_eq!(choice["message"]["content"], Value::Null);
        let call = &choice["message"]["tool_calls"][0];
        assert!(call["id"].as_str().expect("id").starts_with("call_mock_"));
        assert_eq!(call["type"], "function");
        assert_eq!(call["function"]["name"], "get_weather");
        assert_eq!(call["function"]["arguments"], "{}");
    }

    #[test]
    fn named_tool_choice_calls_that_function() {
        let v = chat(&json!({
            "messages": [{"role": "user", "content": "time?"}],
            "tools": weather_tools(),
            "tool_choice": {"type": "function", "function": {"name": "get_time"}},
        }));
        let call = &v["choices"][0]["message"]["tool_calls"][0];
        assert_eq!(call["function"]["name"], "get_time");
    }

    #[test]
    fn auto_tool_choice_answers_with_text() {
        for choice in [json!("auto"), json!("none"), Value::Null] {
            let v = chat(&json!({
                "messages": [{"role": "user", "content": "hi"}],
                "tools": weather_tools(),
                "tool_choice": choice,
            }));
            assert_eq!(v["choices"][0]["message"]["content"], "Mock reply to: hi");
        }
    }

    #[test]
    fn tool_call_streams_header_then_arguments() {
        let events = stream_events(
            MockEndpoint::Chat,
            &json!({
                "messages": [{"role": "user", "content": "weather?"}],
                "tools": weather_tools(),
                "tool_choice": "required",
                "stream": true,
            }),
        );
        assert_eq!(events.len(), 3);
        let head = &events[0]["choices"][0]["delta"];
        assert_eq!(head["role"], "assistant");
        let call = &head["tool_calls"][0];
        assert_eq!(call["index"], 0);
        assert!(call["id"].as_str().expect("id").starts_with("call_mock_"));
        assert_eq!(call["type"], "function");
        assert_eq!(call["function"]["name"], "get_weather");
        let args = &events[1]["choices"][0]["delta"]["tool_calls"][0];
        assert_eq!(args["index"], 0);
        assert_eq!(args["function"]["arguments"], "{}");
        assert_eq!(events[2]["choices"][0]["finish_reason"], "tool_calls");
    }

    #[test]
    fn ids_are_a_function_of_the_body() {
        let a = json!({"messages": [{"role": "user", "content": "a"}]});
        let b = json!({"messages": [{"role": "user", "content": "b"}]});
        assert_eq!(chat(&a)["id"], chat(&a)["id"]);
        assert_ne!(chat(&a)["id"], chat(&b)["id"]);
        assert_eq!(chat(&a), chat(&a), "deterministic");
    }

    #[test]
    fn malformed_requests_get_400_with_an_openai_error() {
        use MockEndpoint::*;
        assert_invalid(Chat, b"{not json", "not valid JSON");
        assert_invalid(Chat, b"[1, 2]", "JSON object");
        assert_invalid(Chat, br#"{"model":"x"}"#, "'messages'");
        assert_invalid(Chat, br#"{"messages":"hi"}"#, "'messages'");
        assert_invalid(Chat, br#"{"messages":[1]}"#, "messages[0]");
        assert_invalid(
            Chat,
            br#"{"messages":[{"role":"user","content":5}]}"#,
            "messages[0].content",
        );
        assert_invalid(Chat, br#"{"messages":[],"max_tokens":-1}"#, "'max_tokens'");
        assert_invalid(Chat, br#"{"messages":[],"stream":"yes"}"#, "'stream'");
        assert_invalid(
            Chat,
            br#"{"messages":[],"tools":[{"type":"function"}],"tool_choice":"required"}"#,
            "tools[0].function.name",
        );
        assert_invalid(Completions, br#"{"model":"x"}"#, "'prompt'");
        assert_invalid(Completions, br#"{"prompt":{"a":1}}"#, "'prompt'");
        assert_invalid(Embeddings, br#"{"model":"x"}"#, "'input'");
        assert_invalid(Embeddings, br#"{"input":[]}"#, "'input'");
        assert_invalid(Embeddings, br#"{"input":[{"x":1}]}"#, "'input'");
        assert_invalid(
            Embeddings,
            br#"{"input":"a","dimensions":0}"#,
            "'dimensions'",
        );
        assert_invalid(
            Embeddings,
            br#"{"input":"a","dimensions":4097}"#,
            "'dimensions'",
        );
        assert_invalid(
            Embeddings,
            br#"{"input":"a","encoding_format":"hex"}"#,
            "'encoding_format'",
        );
    }

    #[test]
    fn completions_answer_in_text_completion_shape() {
        let v = ok_json(
            MockEndpoint::Completions,
            &json!({"prompt": "Say this is a test"}),
        );
        assert_eq!(v["object"], "text_completion");
        assert!(v["id"].as_str().expect("id").starts_with("cmpl-mock-"));
        assert_eq!(v["model"], "mock/echo");
        let choice = &v["choices"][0];
        assert_eq!(choice["text"], "Mock reply to: Say this is a test");
        assert_eq!(choice["index"], 0);
        assert_eq!(choice["logprobs"], Value::Null);
        assert_eq!(choice["finish_reason"], "stop");
        assert_eq!(v["usage"]["prompt_tokens"], 5);
        assert_eq!(v["usage"]["completion_tokens"], 8);
    }

    #[test]
    fn completions_accept_string_arrays_and_token_arrays() {
        let v = ok_json(MockEndpoint::Completions, &json!({"prompt": ["a b", "c"]}));
        assert_eq!(v["choices"][0]["text"], "Mock reply to: a b c");
        let v = ok_json(MockEndpoint::Completions, &json!({"prompt": [15339, 1917]}));
        assert_eq!(v["choices"][0]["text"], "Mock reply to: 15339 1917");
        assert_eq!(v["usage"]["prompt_tokens"], 2);
        let v = ok_json(MockEndpoint::Completions, &json!({"prompt": [[1, 2], [3]]}));
        assert_eq!(v["choices"][0]["text"], "Mock reply to: 1 2 3");
    }

    #[test]
    fn completions_stream_one_chunk_per_word() {
        let events = stream_events(
            MockEndpoint::Completions,
            &json!({
                "prompt": "x y",
                "stream": true,
                "max_tokens": 4,
                "stream_options": {"include_usage": true},
            }),
        );
        let (usage_chunk, chunks) = events.split_last().expect("events");
        assert_eq!(usage_chunk["choices"], json!([]));
        assert_eq!(usage_chunk["usage"]["completion_tokens"], 4);
        assert!(chunks.iter().all(|c| c["object"] == "text_completion"));
        let text: String = chunks
            .iter()
            .map(|c| c["choices"][0]["text"].as_str().expect("text"))
            .collect();
        assert_eq!(text, "Mock reply to: x");
        assert_eq!(chunks.len(), 5);
        assert_eq!(chunks[4]["choices"][0]["finish_reason"], "length");
        assert_eq!(chunks[4]["choices"][0]["text"], "");
    }

    fn vectors(v: &Value) -> Vec<Vec<f32>> {
        v["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|d| {
                assert_eq!(d["object"], "embedding");
                d["embedding"]
                    .as_array()
                    .expect("floats")
                    .iter()
                    .map(|x| x.as_f64().expect("number") as f32)
                    .collect()
            })
            .collect()
    }

    fn norm(v: &[f32]) -> f64 {
        v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt()
    }

    #[test]
    fn embeddings_are_deterministic_unit_vectors() {
        let v = ok_json(
            MockEndpoint::Embeddings,
            &json!({"input": ["hello world", "other text", "hello world"]}),
        );
        assert_eq!(v["object"], "list");
        assert_eq!(v["model"], "mock/echo");
        assert_eq!(v["usage"]["prompt_tokens"], 6);
        assert_eq!(v["usage"]["total_tokens"], 6);
        let vs = vectors(&v);
        assert_eq!(vs.len(), 3);
        for (i, d) in v["data"].as_array().expect("data").iter().enumerate() {
            assert_eq!(d["index"], i);
        }
        for vec in &vs {
            assert_eq!(vec.len(), 16);
            assert!((norm(vec) - 1.0).abs() < 1e-5, "{}", norm(vec));
        }
        assert_eq!(vs[0], vs[2]);
        assert_ne!(vs[0], vs[1]);
        let again = ok_json(MockEndpoint::Embeddings, &json!({"input": "hello world"}));
        assert_eq!(vectors(&again)[0], vs[0]);
    }

    #[test]
    fn embeddings_honour_dimensions() {
        for dims in [1usize, 3, 4096] {
            let v = ok_json(
                MockEndpoint::Embeddings,
                &json!({"input": "x", "dimensions": dims}),
            );
            let vs = vectors(&v);
            assert_eq!(vs[0].len(), dims);
            assert!((norm(&vs[0]) - 1.0).abs() < 1e-4);
        }
    }

    #[test]
    fn embeddings_accept_token_arrays() {
        let v = ok_json(MockEndpoint::Embeddings, &json!({"input": [1, 2, 3]}));
        assert_eq!(vectors(&v).len(), 1);
        assert_eq!(v["usage"]["prompt_tokens"], 3);
        let v = ok_json(MockEndpoint::Embeddings, &json!({"input": [[1, 2], [3]]}));
        assert_eq!(vectors(&v).len(), 2);
        let text = ok_json(MockEndpoint::Embeddings, &json!({"input": "1 2 3"}));
        let tokens = ok_json(MockEndpoint::Embeddings, &json!({"input": [1, 2, 3]}));
        assert_eq!(
            vectors(&text),
            vectors(&tokens),
            "tokens are embedded as their numbers"
        );
    }

    fn base64_decode(s: &str) -> Vec<u8> {
        let value = |c: u8| -> u32 {
            match c {
                b'A'..=b'Z' => u32::from(c - b'A'),
                b'a'..=b'z' => u32::from(c - b'a') + 26,
                b'0'..=b'9' => u32::from(c - b'0') + 52,
                b'+' => 62,
                b'/' => 63,
                _ => panic!("not base64: {c}"),
            }
        };
        let mut out = Vec::new();
        for quad in s.as_bytes().chunks(4) {
            let data: Vec<u8> = quad.iter().copied().filter(|&c| c != b'=').collect();
            let n = data.iter().fold(0u32, |n, &c| (n << 6) | value(c)) << (6 * (4 - data.len()));
            out.extend_from_slice(&n.to_be_bytes()[1..data.len()]);
        }
        out
    }

    #[test]
    fn base64_encoding_matches_rfc_4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64_encode(plain.as_bytes()), encoded);
            assert_eq!(base64_decode(encoded), plain.as_bytes());
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(base64_decode(&base64_encode(&all)), all);
    }

    #[test]
    fn base64_embeddings_are_little_endian_f32() {
        let floats = ok_json(
            MockEndpoint::Embeddings,
            &json!({"input": "abc", "dimensions": 8}),
        );
        let b64 = ok_json(
            MockEndpoint::Embeddings,
            &json!({"input": "abc", "dimensions": 8, "encoding_format": "base64"}),
        );
        let encoded = b64["data"][0]["embedding"].as_str().expect("base64 string");
        let bytes = base64_decode(encoded);
        assert_eq!(bytes.len(), 8 * 4);
        let decoded: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        assert_eq!(decoded, vectors(&floats)[0]);
    }

    #[test]
    fn word_pieces_concatenate_back_to_the_text() {
        for text in [
            "",
            " ",
            "a",
            "a b",
            "  lead  and\ttrail \n",
            "Mock reply to: x",
        ] {
            let pieces = word_pieces(text);
            let expected = if text.trim().is_empty() { "" } else { text };
            assert_eq!(pieces.concat(), expected);
            assert_eq!(pieces.len() as u64, count_words(text), "{text:?}");
        }
    }

    #[test]
    fn models_lists_ids_without_prefix() {
        let mut ids = vec!["existing".to_owned()];
        models(&mut ids);
        assert_eq!(ids, ["existing", "echo", "fast", "embed"]);
    }
}
