//! AWS Bedrock runtime shapes: Converse (`POST …/model/{id}/converse`),
//! ConverseStream (`…/model/{id}/converse-stream`, an event-stream body, see
//! [`crate::eventstream`]) and InvokeModel (`…/model/{id}/invoke`) for the
//! Titan and Cohere embedders. Request checks, and response rendering; pure
//! functions over bytes.
//!
//! Wire references: <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html>,
//! `API_runtime_ConverseStream.html`, and the model-parameter pages
//! `model-parameters-titan-embed-text.html`, `model-parameters-embed-v3.html`,
//! `model-parameters-embed-v4.html` of the Bedrock user guide.

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::eventstream;
use crate::render::{
    message_error_body, push_embedding, push_filler, push_json_str, push_u64, EmbInput, HELLO,
    PROMPT_TOKENS, TOOL_INPUT, TOOL_INPUT_PARTS,
};

pub const CT_EVENTSTREAM: &str = "application/vnd.amazon.eventstream";

/// `x-amzn-RequestId` of every answer.
pub const REQUEST_ID: &str = "mock-bedrock-request";
/// The head line that carries it.
pub const REQUEST_ID_HEADER: &str = "x-amzn-RequestId: mock-bedrock-request\r\n";
/// `toolUseId` of the mock tool call.
pub const TOOL_USE_ID: &str = "tooluse_mock_1";
/// `metrics.latencyMs` reported in answers.
pub const LATENCY_MS: u64 = 1;
/// Most texts a Cohere Embed call takes.
pub const MAX_COHERE_TEXTS: usize = 96;
/// Longest text Cohere Embed v3 takes, in characters.
pub const MAX_COHERE_V3_CHARS: usize = 2048;

/// The Bedrock operation named by the last path segment.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Op {
    Converse,
    ConverseStream,
    Invoke,
}

/// Splits a request path (query removed) into the operation and the model
/// id segment as sent (percent-encoded). `None` unless the path is
/// `…/model/{id}/converse`, `/converse-stream` or `/invoke` with a
/// non-empty one-segment id.
pub fn parse_path(path: &[u8]) -> Option<(Op, &[u8])> {
    let (op, before) = if let Some(b) = path.strip_suffix(b"/converse-stream") {
        (Op::ConverseStream, b)
    } else if let Some(b) = path.strip_suffix(b"/converse") {
        (Op::Converse, b)
    } else if let Some(b) = path.strip_suffix(b"/invoke") {
        (Op::Invoke, b)
    } else {
        return None;
    };
    let start = memchr::memmem::rfind(before, b"/model/")? + b"/model/".len();
    let model = &before[start..];
    (!model.is_empty() && !model.contains(&b'/')).then_some((op, model))
}

/// Percent-decodes a path segment (`%3A` → `:`); invalid escapes stay as
/// they are.
pub fn decode_segment(seg: &[u8]) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(seg.len());
    let mut i = 0;
    while i < seg.len() {
        match (
            seg[i],
            seg.get(i + 1).copied().and_then(hex),
            seg.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push(h << 4 | l);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Why a request's signature headers are refused: the AWS error type and
/// message of the 403.
pub type AuthError = (&'static str, &'static str);

/// The mock does not verify signatures, only that the request is SigV4
/// signed: `Authorization: AWS4-HMAC-SHA256 Credential=…` and `X-Amz-Date`.
pub fn check_auth(authorization: Option<&[u8]>, amz_date: Option<&[u8]>) -> Result<(), AuthError> {
    const PREFIX: &[u8] = b"AWS4-HMAC-SHA256 Credential=";
    let Some(auth) = authorization.filter(|a| !a.is_empty()) else {
        return Err((
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        ));
    };
    if auth.len() <= PREFIX.len() || !auth.starts_with(PREFIX) {
        return Err((
            "IncompleteSignatureException",
            "Authorization header requires 'Credential' parameter (AWS4-HMAC-SHA256).",
        ));
    }
    if amz_date.is_none_or(|d| d.is_empty()) {
        return Err((
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        ));
    }
    Ok(())
}

/// The AWS error type Bedrock names a status with (`x-amzn-ErrorType`).
pub fn error_type(status: u16) -> &'static str {
    match status {
        403 => "AccessDeniedException",
        404 => "ResourceNotFoundException",
        408 => "ModelTimeoutException",
        424 => "ModelErrorException",
        429 => "ThrottlingException",
        503 => "ServiceUnavailableException",
        400..=499 => "ValidationException",
        _ => "InternalServerException",
    }
}

/// Response header lines of a Bedrock error of type `kind`.
pub fn error_headers(kind: &str) -> String {
    format!(
        "x-amzn-ErrorType: {kind}:http://internal.amazon.com/coral/com.amazon.bedrock/\r\nx-amzn-RequestId: {REQUEST_ID}\r\n"
    )
}

/// Bedrock-shaped `mock error NNN`: `{"message":"mock error NNN"}`.
pub fn mock_error_body(out: &mut Vec<u8>, status: u16) {
    let mut num = Vec::with_capacity(3);
    push_u64(&mut num, status as u64);
    message_error_body(out, &[b"mock error ", &num]);
}

/// The fields of a Converse request the mock looks at.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConverseRequest<'a> {
    pub messages: Option<Vec<IgnoredAny>>,
    #[serde(borrow)]
    pub tool_config: Option<ToolConfig<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolConfig<'a> {
    #[serde(borrow, default)]
    pub tools: Vec<Tool<'a>>,
    #[serde(borrow)]
    pub tool_choice: Option<ToolChoice<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool<'a> {
    #[serde(borrow)]
    pub tool_spec: Option<ToolSpec<'a>>,
}

#[derive(Deserialize)]
pub struct ToolSpec<'a> {
    #[serde(borrow)]
    pub name: Option<Cow<'a, str>>,
}

/// `{"auto":{}}`, `{"any":{}}` or `{"tool":{"name":…}}`.
#[derive(Deserialize)]
pub struct ToolChoice<'a> {
    pub any: Option<IgnoredAny>,
    #[serde(borrow)]
    pub tool: Option<ToolSpec<'a>>,
}

impl<'a> ConverseRequest<'a> {
    /// The tool the answer must call: the named one with `toolChoice.tool`,
    /// the first tool with `toolChoice.any`.
    pub fn forced_tool(&self) -> Option<Cow<'a, str>> {
        let cfg = self.tool_config.as_ref()?;
        let choice = cfg.tool_choice.as_ref()?;
        if let Some(named) = &choice.tool {
            return named.name.clone();
        }
        choice.any.as_ref()?;
        cfg.tools.first()?.tool_spec.as_ref()?.name.clone()
    }
}

fn usage(out: &mut Vec<u8>, output: u64) {
    out.extend_from_slice(br#""usage":{"inputTokens":"#);
    push_u64(out, PROMPT_TOKENS);
    out.extend_from_slice(br#","outputTokens":"#);
    push_u64(out, output);
    out.extend_from_slice(br#","totalTokens":"#);
    push_u64(out, PROMPT_TOKENS + output);
    out.extend_from_slice(br#"},"metrics":{"latencyMs":"#);
    push_u64(out, LATENCY_MS);
    out.push(b'}');
}

/// Non-stream Converse answer. `tool` (an already-quoted name) makes it a
/// `toolUse`; `filler` replaces the text with that many bytes.
pub fn converse(out: &mut Vec<u8>, tool: Option<&[u8]>, filler: Option<usize>) {
    out.extend_from_slice(br#"{"output":{"message":{"role":"assistant","content":[{"#);
    match tool {
        Some(name) => {
            out.extend_from_slice(br#""toolUse":{"toolUseId":""#);
            out.extend_from_slice(TOOL_USE_ID.as_bytes());
            out.extend_from_slice(br#"","name":"#);
            out.extend_from_slice(name);
            out.extend_from_slice(br#","input":"#);
            out.extend_from_slice(TOOL_INPUT.as_bytes());
            out.extend_from_slice(br#"}}]}},"stopReason":"tool_use","#);
        }
        None => {
            out.extend_from_slice(br#""text":""#);
            match filler {
                Some(n) => push_filler(out, n),
                None => out.extend_from_slice(HELLO.as_bytes()),
            }
            out.extend_from_slice(br#""}]}},"stopReason":"end_turn","#);
        }
    }
    usage(out, 5);
    out.push(b'}');
}

/// One ConverseStream event.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Event {
    MessageStart,
    /// `contentBlockStart` of the tool call (text blocks have none).
    ToolStart,
    /// Text token `i`: "tok{i} ".
    Text(u32),
    /// Fragment `i` of [`TOOL_INPUT_PARTS`], as `toolUse.input`.
    ToolInput(usize),
    BlockStop,
    /// `messageStop`; the stop reason follows from the tool.
    MessageStop,
    /// `metadata` with `outputTokens` n.
    Metadata(u32),
}

impl Event {
    pub fn name(self) -> &'static str {
        match self {
            Event::MessageStart => "messageStart",
            Event::ToolStart => "contentBlockStart",
            Event::Text(_) | Event::ToolInput(_) => "contentBlockDelta",
            Event::BlockStop => "contentBlockStop",
            Event::MessageStop => "messageStop",
            Event::Metadata(_) => "metadata",
        }
    }
}

/// Bedrock pads every stream payload with a `"p"` field of random length
/// (so sizes do not leak content); the mock's is `seq % 16 + 1` letters.
fn padding(out: &mut Vec<u8>, seq: usize) {
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEF";
    out.extend_from_slice(br#","p":""#);
    out.extend_from_slice(&LETTERS[..seq % 16 + 1]);
    out.push(b'"');
}

/// Appends event `ev` (the `seq`th of its stream) as one event-stream
/// message. `tool` is the forced tool's quoted name, if any.
pub fn event(out: &mut Vec<u8>, tool: Option<&[u8]>, ev: Event, seq: usize) {
    let start = out.len();
    let json = &mut *out;
    json.push(b'{');
    match ev {
        Event::MessageStart => json.extend_from_slice(br#""role":"assistant""#),
        Event::ToolStart => {
            json.extend_from_slice(br#""contentBlockIndex":0,"start":{"toolUse":{"toolUseId":""#);
            json.extend_from_slice(TOOL_USE_ID.as_bytes());
            json.extend_from_slice(br#"","name":"#);
            json.extend_from_slice(tool.unwrap_or(b"\"\""));
            json.extend_from_slice(b"}}");
        }
        Event::Text(i) => {
            json.extend_from_slice(br#""contentBlockIndex":0,"delta":{"text":"tok"#);
            push_u64(json, i as u64);
            json.extend_from_slice(br#" "}"#);
        }
        Event::ToolInput(i) => {
            json.extend_from_slice(br#""contentBlockIndex":0,"delta":{"toolUse":{"input":"#);
            push_json_str(json, TOOL_INPUT_PARTS[i].as_bytes());
            json.extend_from_slice(b"}}");
        }
        Event::BlockStop => json.extend_from_slice(br#""contentBlockIndex":0"#),
        Event::MessageStop => json.extend_from_slice(if tool.is_some() {
            br#""stopReason":"tool_use""#
        } else {
            br#""stopReason":"end_turn""#
        }),
        Event::Metadata(n) => usage(json, n as u64),
    }
    padding(json, seq);
    json.push(b'}');
    eventstream::event(out, start, ev.name());
}

/// The request and response shape of an embedding model.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Embedder {
    /// `amazon.titan-embed-text-v2*`: `inputText`, `dimensions`,
    /// `normalize`, `embeddingTypes`.
    TitanTextV2,
    /// `amazon.titan-embed-image*`: `inputText`, `embeddingConfig`.
    TitanMultimodal,
    /// Other `amazon.titan-embed*` (Text G1): `inputText` only.
    TitanText,
    /// `cohere.embed-english-v3`, `cohere.embed-multilingual-v3`.
    CohereV3,
    /// Other `cohere.embed*` (v4): also `output_dimension`, `max_tokens`.
    Cohere,
}

impl Embedder {
    /// The embedder for a model id (a geography prefix such as `us.` and an
    /// ARN's path are skipped).
    pub fn of(model: &str) -> Option<Embedder> {
        let id = model.rsplit('/').next().unwrap_or(model);
        let id = [
            "us.", "eu.", "apac.", "global.", "jp.", "au.", "ca.", "us-gov.",
        ]
        .iter()
        .find_map(|p| id.strip_prefix(p))
        .unwrap_or(id);
        if let Some(rest) = id.strip_prefix("amazon.titan-embed") {
            return Some(if rest.starts_with("-text-v2") {
                Embedder::TitanTextV2
            } else if rest.starts_with("-image") {
                Embedder::TitanMultimodal
            } else {
                Embedder::TitanText
            });
        }
        let rest = id.strip_prefix("cohere.embed")?;
        Some(
            if rest.starts_with("-english-v3") || rest.starts_with("-multilingual-v3") {
                Embedder::CohereV3
            } else {
                Embedder::Cohere
            },
        )
    }
}

fn extraneous(key: &str) -> String {
    format!(
        "Malformed input request: #: extraneous key [{key}] is not permitted, please reformat your input and try again."
    )
}

fn one_of(map: &Map<String, Value>, key: &str, allowed: &[u64]) -> Result<(), String> {
    match map.get(key) {
        None => Ok(()),
        Some(v) if v.as_u64().is_some_and(|n| allowed.contains(&n)) => Ok(()),
        Some(v) => Err(format!(
            "Malformed input request: #/{key}: {v} is not a valid enum value, please reformat your input and try again."
        )),
    }
}

/// Answers an InvokeModel body for `model` into `out`; returns the input
/// token count (for `X-Amzn-Bedrock-Input-Token-Count`), or the
/// ValidationException message. Vectors are the 8 values the OpenAI
/// embeddings route gives the same text, whatever size was asked.
pub fn invoke(out: &mut Vec<u8>, model: &str, body: &[u8]) -> Result<u64, String> {
    let Some(kind) = Embedder::of(model) else {
        return Err("The provided model identifier is invalid.".into());
    };
    let map = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => m,
        _ => {
            return Err("Malformed input request, please reformat your input and try again.".into())
        }
    };
    match kind {
        Embedder::TitanTextV2 | Embedder::TitanMultimodal | Embedder::TitanText => {
            invoke_titan(out, kind, &map)
        }
        Embedder::CohereV3 | Embedder::Cohere => invoke_cohere(out, kind, &map),
    }
}

fn invoke_titan(
    out: &mut Vec<u8>,
    kind: Embedder,
    map: &Map<String, Value>,
) -> Result<u64, String> {
    let allowed: &[&str] = match kind {
        Embedder::TitanTextV2 => &["inputText", "dimensions", "normalize", "embeddingTypes"],
        Embedder::TitanMultimodal => &["inputText", "inputImage", "embeddingConfig"],
        _ => &["inputText"],
    };
    if let Some(key) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(extraneous(key));
    }
    let text = match map.get("inputText") {
        Some(Value::String(s)) if !s.is_empty() => s.as_str(),
        _ => {
            return Err(
                "Malformed input request: #/inputText: expected minLength: 1, actual: 0, please reformat your input and try again."
                    .into(),
            )
        }
    };
    one_of(map, "dimensions", &[256, 512, 1024])?;
    if map.get("normalize").is_some_and(|v| !v.is_boolean()) {
        return Err("Malformed input request: #/normalize: expected type: Boolean".into());
    }
    if map
        .get("embeddingTypes")
        .is_some_and(|t| t != &Value::Array(vec![Value::from("float")]))
    {
        return Err(
            "mock-provider renders float embeddings only (embeddingTypes [\"float\"])".into(),
        );
    }
    if let Some(cfg) = map.get("embeddingConfig") {
        match cfg.as_object() {
            Some(c) if c.keys().all(|k| k == "outputEmbeddingLength") => {
                one_of(c, "outputEmbeddingLength", &[256, 384, 1024])?
            }
            _ => return Err(extraneous("embeddingConfig")),
        }
    }
    let input = EmbInput::Text(text);
    let tokens = input.tokens();
    out.extend_from_slice(br#"{"embedding":"#);
    push_embedding(out, &input);
    out.extend_from_slice(br#","inputTextTokenCount":"#);
    push_u64(out, tokens);
    if kind == Embedder::TitanTextV2 {
        out.extend_from_slice(br#","embeddingsByType":{"float":"#);
        push_embedding(out, &input);
        out.push(b'}');
    }
    out.push(b'}');
    Ok(tokens)
}

fn invoke_cohere(
    out: &mut Vec<u8>,
    kind: Embedder,
    map: &Map<String, Value>,
) -> Result<u64, String> {
    let allowed: &[&str] = match kind {
        Embedder::CohereV3 => &["texts", "input_type", "truncate", "embedding_types"],
        _ => &[
            "texts",
            "input_type",
            "truncate",
            "embedding_types",
            "output_dimension",
            "max_tokens",
        ],
    };
    if let Some(key) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(extraneous(key));
    }
    let texts: Vec<&str> = match map.get("texts") {
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(Value::as_str)
            .collect::<Option<_>>()
            .ok_or("Malformed input request: #/texts: expected type: String")?,
        _ => return Err("Malformed input request: #/texts: expected minItems: 1".into()),
    };
    if texts.len() > MAX_COHERE_TEXTS {
        return Err(format!(
            "Malformed input request: #/texts: expected maxItems: {MAX_COHERE_TEXTS}, actual: {}",
            texts.len()
        ));
    }
    if kind == Embedder::CohereV3
        && texts
            .iter()
            .any(|t| t.chars().count() > MAX_COHERE_V3_CHARS)
    {
        return Err(format!(
            "Malformed input request: #/texts: expected maxLength: {MAX_COHERE_V3_CHARS}"
        ));
    }
    match map.get("input_type").and_then(Value::as_str) {
        Some("search_document" | "search_query" | "classification" | "clustering") => {}
        _ => {
            return Err(
                "Malformed input request: #: required key [input_type] not found or not one of search_document, search_query, classification, clustering"
                    .into(),
            )
        }
    }
    one_of(map, "output_dimension", &[256, 512, 1024, 1536])?;
    let by_type = match map.get("embedding_types") {
        None => false,
        Some(t) if t == &Value::Array(vec![Value::from("float")]) => true,
        Some(_) => {
            return Err(
                "mock-provider renders float embeddings only (embedding_types [\"float\"])".into(),
            )
        }
    };
    let inputs: Vec<EmbInput<'_>> = texts.iter().map(|t| EmbInput::Text(t)).collect();
    out.extend_from_slice(br#"{"id":"mock-embed","embeddings":"#);
    out.extend_from_slice(if by_type { br#"{"float":["# } else { b"[" });
    for (i, input) in inputs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_embedding(out, input);
    }
    out.extend_from_slice(if by_type { b"]}" } else { b"]" });
    out.extend_from_slice(br#","texts":["#);
    for (i, t) in texts.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_json_str(out, t.as_bytes());
    }
    out.extend_from_slice(br#"],"response_type":"#);
    out.extend_from_slice(if by_type {
        br#""embeddings_by_type"}"#
    } else {
        br#""embeddings_floats"}"#
    });
    Ok(inputs.iter().map(EmbInput::tokens).sum())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::embedding_values;
    use serde_json::json;

    fn parse(b: &[u8]) -> Value {
        serde_json::from_slice(b).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(b)))
    }

    /// Splits an event-stream message into (headers, payload), checking
    /// both CRCs with a bitwise CRC32 written apart from the table-driven
    /// one under test.
    fn unframe(m: &[u8]) -> (Vec<(String, String)>, Vec<u8>) {
        fn crc(bytes: &[u8]) -> u32 {
            let mut c = !0u32;
            for &b in bytes {
                c ^= u32::from(b);
                for _ in 0..8 {
                    c = if c & 1 == 1 {
                        (c >> 1) ^ 0xEDB8_8320
                    } else {
                        c >> 1
                    };
                }
            }
            !c
        }
        let be = |b: &[u8]| u32::from_be_bytes(b.try_into().unwrap()) as usize;
        let total = be(&m[0..4]);
        assert_eq!(total, m.len());
        assert_eq!(crc(&m[0..8]) as usize, be(&m[8..12]), "prelude CRC");
        assert_eq!(
            crc(&m[..total - 4]) as usize,
            be(&m[total - 4..]),
            "message CRC"
        );
        let hlen = be(&m[4..8]);
        let mut h = &m[12..12 + hlen];
        let mut headers = Vec::new();
        while !h.is_empty() {
            let n = h[0] as usize;
            let name = String::from_utf8(h[1..1 + n].to_vec()).unwrap();
            assert_eq!(h[1 + n], 7, "string header");
            let vlen = u16::from_be_bytes([h[2 + n], h[3 + n]]) as usize;
            let value = String::from_utf8(h[4 + n..4 + n + vlen].to_vec()).unwrap();
            headers.push((name, value));
            h = &h[4 + n + vlen..];
        }
        (headers, m[12 + hlen..total - 4].to_vec())
    }

    #[test]
    fn paths() {
        assert_eq!(
            parse_path(b"/model/amazon.nova-lite-v1%3A0/converse"),
            Some((Op::Converse, &b"amazon.nova-lite-v1%3A0"[..]))
        );
        assert_eq!(
            parse_path(b"/bedrock/model/m/converse-stream"),
            Some((Op::ConverseStream, &b"m"[..]))
        );
        assert_eq!(
            parse_path(b"/model/cohere.embed-v4%3A0/invoke"),
            Some((Op::Invoke, &b"cohere.embed-v4%3A0"[..]))
        );
        for bad in [
            &b"/model//converse"[..],
            b"/model/a/b/converse",
            b"/models/m/converse",
            b"/model/m/invoke-with-response-stream",
            b"/model/m",
        ] {
            assert_eq!(parse_path(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(decode_segment(b"arn%3Aaws%2Fx%zz%4"), "arn:aws/x%zz%4");
    }

    #[test]
    fn auth_needs_a_sigv4_authorization_and_a_date() {
        let sig = Some(&b"AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=ab"[..]);
        assert_eq!(check_auth(sig, Some(b"20240101T000000Z")), Ok(()));
        assert_eq!(
            check_auth(None, Some(b"x")).unwrap_err().0,
            "MissingAuthenticationTokenException"
        );
        assert_eq!(
            check_auth(Some(b"Bearer sk"), Some(b"x")).unwrap_err().0,
            "IncompleteSignatureException"
        );
        assert_eq!(
            check_auth(sig, None).unwrap_err().0,
            "IncompleteSignatureException"
        );
    }

    #[test]
    fn converse_shapes() {
        let mut out = Vec::new();
        converse(&mut out, None, None);
        assert_eq!(
            parse(&out),
            json!({"output":{"message":{"role":"assistant","content":[{"text":HELLO}]}},
                "stopReason":"end_turn",
                "usage":{"inputTokens":12,"outputTokens":5,"totalTokens":17},
                "metrics":{"latencyMs":LATENCY_MS}})
        );
        out.clear();
        converse(&mut out, Some(b"\"get_w\""), None);
        let v = parse(&out);
        assert_eq!(v["stopReason"], "tool_use");
        assert_eq!(
            v["output"]["message"]["content"][0]["toolUse"],
            json!({"toolUseId":TOOL_USE_ID,"name":"get_w","input":{"arg":"value"}})
        );
    }

    #[test]
    fn forced_tool_from_tool_choice() {
        let tools =
            r#"[{"toolSpec":{"name":"a","inputSchema":{"json":{}}}},{"toolSpec":{"name":"b"}}]"#;
        for (choice, want) in [
            (r#"{"any":{}}"#, Some("a")),
            (r#"{"tool":{"name":"b"}}"#, Some("b")),
            (r#"{"auto":{}}"#, None),
        ] {
            let body = format!(
                r#"{{"messages":[],"toolConfig":{{"tools":{tools},"toolChoice":{choice}}}}}"#
            );
            let r: ConverseRequest<'_> = serde_json::from_str(&body).unwrap();
            assert_eq!(r.forced_tool().as_deref(), want, "{choice}");
        }
        let r: ConverseRequest<'_> = serde_json::from_str(r#"{"messages":[{}]}"#).unwrap();
        assert_eq!(r.forced_tool(), None);
    }

    #[test]
    fn stream_events_are_framed_json_with_bedrock_headers() {
        for tool in [None, Some(&b"\"t\""[..])] {
            for (seq, ev) in [
                Event::MessageStart,
                Event::ToolStart,
                Event::Text(3),
                Event::ToolInput(0),
                Event::ToolInput(1),
                Event::BlockStop,
                Event::MessageStop,
                Event::Metadata(7),
            ]
            .into_iter()
            .enumerate()
            {
                let mut out = Vec::new();
                event(&mut out, tool, ev, seq);
                let (headers, payload) = unframe(&out);
                assert_eq!(
                    headers,
                    vec![
                        (":event-type".into(), ev.name().into()),
                        (":content-type".into(), "application/json".into()),
                        (":message-type".into(), "event".into()),
                    ]
                );
                let v = parse(&payload);
                assert_eq!(v["p"].as_str().unwrap().len(), seq % 16 + 1);
                match ev {
                    Event::Text(3) => assert_eq!(v["delta"]["text"], "tok3 "),
                    Event::ToolInput(i) => {
                        assert_eq!(v["delta"]["toolUse"]["input"], TOOL_INPUT_PARTS[i])
                    }
                    Event::ToolStart => assert_eq!(v["start"]["toolUse"]["toolUseId"], TOOL_USE_ID),
                    Event::MessageStop => assert_eq!(
                        v["stopReason"],
                        if tool.is_some() {
                            "tool_use"
                        } else {
                            "end_turn"
                        }
                    ),
                    Event::Metadata(n) => {
                        assert_eq!(v["usage"]["outputTokens"], n);
                        assert_eq!(v["usage"]["totalTokens"], 12 + n);
                        assert_eq!(v["metrics"]["latencyMs"], LATENCY_MS);
                    }
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn embedders_by_model_id() {
        for (id, want) in [
            ("amazon.titan-embed-text-v2:0", Some(Embedder::TitanTextV2)),
            ("amazon.titan-embed-text-v1", Some(Embedder::TitanText)),
            (
                "amazon.titan-embed-image-v1",
                Some(Embedder::TitanMultimodal),
            ),
            ("cohere.embed-english-v3", Some(Embedder::CohereV3)),
            ("us.cohere.embed-v4:0", Some(Embedder::Cohere)),
            (
                "arn:aws:bedrock:us-east-1::foundation-model/cohere.embed-multilingual-v3",
                Some(Embedder::CohereV3),
            ),
            ("amazon.nova-lite-v1:0", None),
        ] {
            assert_eq!(Embedder::of(id), want, "{id}");
        }
    }

    #[test]
    fn titan_invoke_shapes_and_checks() {
        let mut out = Vec::new();
        let n = invoke(
            &mut out,
            "amazon.titan-embed-text-v2:0",
            br#"{"inputText":"hello","dimensions":256,"normalize":true}"#,
        )
        .unwrap();
        assert_eq!(n, 2);
        let v = parse(&out);
        let want: Vec<f64> = embedding_values(&EmbInput::Text("hello")).to_vec();
        assert_eq!(v["embedding"], json!(want));
        assert_eq!(v["embeddingsByType"]["float"], json!(want));
        assert_eq!(v["inputTextTokenCount"], 2);
        out.clear();
        invoke(
            &mut out,
            "amazon.titan-embed-text-v1",
            br#"{"inputText":"hello"}"#,
        )
        .unwrap();
        assert!(parse(&out).get("embeddingsByType").is_none());
        for (model, body) in [
            (
                "amazon.titan-embed-text-v1",
                r#"{"inputText":"a","dimensions":256}"#,
            ),
            (
                "amazon.titan-embed-text-v2:0",
                r#"{"inputText":"a","dimensions":100}"#,
            ),
            ("amazon.titan-embed-text-v2:0", r#"{"inputText":""}"#),
            ("amazon.titan-embed-text-v2:0", r#"{"texts":["a"]}"#),
            ("amazon.titan-embed-text-v2:0", r#"["a"]"#),
            (
                "amazon.titan-embed-image-v1",
                r#"{"inputText":"a","embeddingConfig":{"outputEmbeddingLength":5}}"#,
            ),
            ("amazon.nova-lite-v1:0", r#"{"inputText":"a"}"#),
        ] {
            out.clear();
            assert!(
                invoke(&mut out, model, body.as_bytes()).is_err(),
                "{model} {body}"
            );
        }
    }

    #[test]
    fn cohere_invoke_shapes_and_checks() {
        let mut out = Vec::new();
        let n = invoke(
            &mut out,
            "cohere.embed-english-v3",
            br#"{"texts":["hello","x\"y"],"input_type":"search_document","embedding_types":["float"]}"#,
        )
        .unwrap();
        assert_eq!(n, 2 + 1);
        let v = parse(&out);
        assert_eq!(v["response_type"], "embeddings_by_type");
        assert_eq!(v["embeddings"]["float"].as_array().unwrap().len(), 2);
        assert_eq!(v["texts"], json!(["hello", "x\"y"]));
        out.clear();
        invoke(
            &mut out,
            "cohere.embed-v4:0",
            br#"{"texts":["a"],"input_type":"search_query","output_dimension":1024}"#,
        )
        .unwrap();
        let v = parse(&out);
        assert_eq!(v["response_type"], "embeddings_floats");
        assert_eq!(v["embeddings"][0].as_array().unwrap().len(), 8);
        let many = serde_json::to_string(&vec!["a"; MAX_COHERE_TEXTS + 1]).unwrap();
        let long = "x".repeat(MAX_COHERE_V3_CHARS + 1);
        for (model, body) in [
            ("cohere.embed-english-v3", r#"{"texts":["a"]}"#.to_string()),
            (
                "cohere.embed-english-v3",
                r#"{"texts":[],"input_type":"search_query"}"#.into(),
            ),
            (
                "cohere.embed-english-v3",
                r#"{"texts":["a"],"input_type":"search_query","output_dimension":256}"#.into(),
            ),
            (
                "cohere.embed-english-v3",
                r#"{"texts":["a"],"input_type":"search_query","embedding_types":["int8"]}"#.into(),
            ),
            (
                "cohere.embed-english-v3",
                format!(r#"{{"texts":{many},"input_type":"search_query"}}"#),
            ),
            (
                "cohere.embed-english-v3",
                format!(r#"{{"texts":["{long}"],"input_type":"search_query"}}"#),
            ),
            (
                "cohere.embed-v4:0",
                r#"{"texts":["a"],"input_type":"search_query","output_dimension":100}"#.into(),
            ),
            ("cohere.embed-v4:0", r#"{"inputText":"a"}"#.into()),
        ] {
            out.clear();
            assert!(
                invoke(&mut out, model, body.as_bytes()).is_err(),
                "{model} {body}"
            );
        }
    }

    #[test]
    fn errors_are_bedrock_shaped() {
        let mut out = Vec::new();
        mock_error_body(&mut out, 429);
        assert_eq!(parse(&out), json!({"message":"mock error 429"}));
        assert_eq!(error_type(429), "ThrottlingException");
        assert_eq!(error_type(400), "ValidationException");
        assert_eq!(error_type(422), "ValidationException");
        assert_eq!(error_type(502), "InternalServerException");
        assert_eq!(error_type(503), "ServiceUnavailableException");
        assert!(error_headers("ThrottlingException")
            .starts_with("x-amzn-ErrorType: ThrottlingException:http://"));
        assert!(error_headers("x").ends_with(REQUEST_ID_HEADER));
        assert!(REQUEST_ID_HEADER.contains(REQUEST_ID));
    }
}
