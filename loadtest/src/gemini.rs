//! Google Gemini API shapes (`…/models/{model}:generateContent`,
//! `:streamGenerateContent?alt=sse`, `:batchEmbedContents`): request fields
//! the mock looks at, and response rendering. Pure functions over bytes.

use std::borrow::Cow;

use serde::Deserialize;

use crate::render::{
    push_embedding, push_filler, push_json_escaped, push_json_str, push_u64, EmbInput, HELLO,
    PROMPT_TOKENS, TOOL_INPUT,
};

/// The Gemini method named after the `:` of the request path.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Op {
    Generate,
    Stream,
    BatchEmbed,
    /// Vertex AI's `:predict` (text embeddings).
    Predict,
}

/// Splits a request path (query removed) into the Gemini method and the
/// model id (the bytes after the last `/models/`, as sent). `None` when the
/// path is not `…/models/{model}:{method}` with a method we serve.
pub fn parse_path(path: &[u8]) -> Option<(Op, &[u8])> {
    let colon = memchr::memrchr(b':', path)?;
    let op = match &path[colon + 1..] {
        b"generateContent" => Op::Generate,
        b"streamGenerateContent" => Op::Stream,
        b"batchEmbedContents" => Op::BatchEmbed,
        b"predict" => Op::Predict,
        _ => return None,
    };
    let before = &path[..colon];
    let start = memchr::memmem::rfind(before, b"/models/")? + b"/models/".len();
    let model = &before[start..];
    (!model.is_empty() && !model.contains(&b'/')).then_some((op, model))
}

/// `responseId` of every mock answer.
pub const RESPONSE_ID: &str = "mock-resp";

/// Canonical `google.rpc.Code` name for an HTTP status.
pub fn status_name(status: u16) -> &'static str {
    match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ if (400..500).contains(&status) => "FAILED_PRECONDITION",
        _ => "INTERNAL",
    }
}

/// `{"error":{"code":N,"message":M,"status":S}}`; a 429 also gets a
/// `google.rpc.RetryInfo` detail with `retryDelay` `"2s"`.
pub fn error_body(out: &mut Vec<u8>, status: u16, message: &[&[u8]]) {
    out.extend_from_slice(br#"{"error":{"code":"#);
    push_u64(out, status as u64);
    out.extend_from_slice(br#","message":""#);
    for part in message {
        push_json_escaped(out, part);
    }
    out.extend_from_slice(br#"","status":""#);
    out.extend_from_slice(status_name(status).as_bytes());
    out.push(b'"');
    if status == 429 {
        out.extend_from_slice(
            br#","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"2s"}]"#,
        );
    }
    out.extend_from_slice(b"}}");
}

/// Gemini-shaped `mock error NNN`.
pub fn mock_error_body(out: &mut Vec<u8>, status: u16) {
    let mut num = Vec::with_capacity(3);
    push_u64(&mut num, status as u64);
    error_body(out, status, &[b"mock error ", &num]);
}

/// The fields of a `generateContent` request the mock looks at.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateRequest<'a> {
    pub contents: Option<serde::de::IgnoredAny>,
    #[serde(borrow)]
    pub tools: Option<Vec<Tool<'a>>>,
    #[serde(borrow)]
    pub tool_config: Option<ToolConfig<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool<'a> {
    #[serde(borrow)]
    pub function_declarations: Option<Vec<FunctionDeclaration<'a>>>,
}

#[derive(Deserialize)]
pub struct FunctionDeclaration<'a> {
    #[serde(borrow)]
    pub name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolConfig<'a> {
    #[serde(borrow)]
    pub function_calling_config: Option<FunctionCallingConfig<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionCallingConfig<'a> {
    #[serde(borrow)]
    pub mode: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub allowed_function_names: Option<Vec<Cow<'a, str>>>,
}

impl<'a> GenerateRequest<'a> {
    /// The function the answer must call: with mode `ANY`, the first of
    /// `allowedFunctionNames`, else the first declaration of `tools[0]`.
    pub fn forced_function(&self) -> Option<Cow<'a, str>> {
        let cfg = self
            .tool_config
            .as_ref()?
            .function_calling_config
            .as_ref()?;
        if !cfg.mode.as_deref()?.eq_ignore_ascii_case("ANY") {
            return None;
        }
        if let Some(name) = cfg.allowed_function_names.as_ref().and_then(|n| n.first()) {
            return Some(name.clone());
        }
        self.tools
            .as_ref()?
            .first()?
            .function_declarations
            .as_ref()?
            .first()?
            .name
            .clone()
    }
}

/// The fields of a `batchEmbedContents` request the mock looks at.
#[derive(Deserialize)]
pub struct BatchEmbedRequest<'a> {
    #[serde(borrow)]
    pub requests: Option<Vec<EmbedRequest<'a>>>,
}

#[derive(Deserialize)]
pub struct EmbedRequest<'a> {
    #[serde(borrow)]
    pub content: Option<Content<'a>>,
}

#[derive(Deserialize)]
pub struct Content<'a> {
    #[serde(borrow, default)]
    pub parts: Vec<TextPart<'a>>,
}

#[derive(Deserialize)]
pub struct TextPart<'a> {
    #[serde(borrow)]
    pub text: Option<Cow<'a, str>>,
}

impl EmbedRequest<'_> {
    /// The concatenated text of the content's parts.
    pub fn text(&self) -> String {
        self.content
            .as_ref()
            .map(|c| c.parts.iter().filter_map(|p| p.text.as_deref()).collect())
            .unwrap_or_default()
    }
}

fn usage(out: &mut Vec<u8>, candidates: u64) {
    out.extend_from_slice(br#""usageMetadata":{"promptTokenCount":"#);
    push_u64(out, PROMPT_TOKENS);
    out.extend_from_slice(br#","candidatesTokenCount":"#);
    push_u64(out, candidates);
    out.extend_from_slice(br#","totalTokenCount":"#);
    push_u64(out, PROMPT_TOKENS + candidates);
    out.push(b'}');
}

/// What one response (or stream chunk) carries.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Part {
    /// The hello text, or `filler` bytes of filler text.
    Hello(Option<usize>),
    /// Stream token `i`: "tok{i} ".
    Token(u32),
    /// Empty text (a zero-token stream's only chunk).
    Empty,
    /// A `functionCall` of the forced function with args `{"arg":"value"}`.
    Call,
}

/// One `GenerateContentResponse`. `model` is the raw model id, `function`
/// the forced function's quoted name (for [`Part::Call`]); `finish` adds
/// `finishReason: STOP`; `candidates` is the usage's candidate token count.
pub fn response(
    out: &mut Vec<u8>,
    model: &[u8],
    function: &[u8],
    part: Part,
    finish: bool,
    candidates: u64,
) {
    out.extend_from_slice(br#"{"candidates":[{"content":{"role":"model","parts":[{"#);
    match part {
        Part::Hello(filler) => {
            out.extend_from_slice(br#""text":""#);
            match filler {
                Some(n) => push_filler(out, n),
                None => out.extend_from_slice(HELLO.as_bytes()),
            }
            out.push(b'"');
        }
        Part::Token(i) => {
            out.extend_from_slice(br#""text":"tok"#);
            push_u64(out, i as u64);
            out.extend_from_slice(br#" ""#);
        }
        Part::Empty => out.extend_from_slice(br#""text":"""#),
        Part::Call => {
            out.extend_from_slice(br#""functionCall":{"name":"#);
            out.extend_from_slice(function);
            out.extend_from_slice(br#","args":"#);
            out.extend_from_slice(TOOL_INPUT.as_bytes());
            out.push(b'}');
        }
    }
    out.extend_from_slice(b"}]}");
    if finish {
        out.extend_from_slice(br#","finishReason":"STOP""#);
    }
    out.extend_from_slice(br#","index":0}],"#);
    usage(out, candidates);
    out.extend_from_slice(br#","modelVersion":"#);
    push_json_str(out, model);
    out.extend_from_slice(br#","responseId":""#);
    out.extend_from_slice(RESPONSE_ID.as_bytes());
    out.extend_from_slice(b"\"}");
}

/// One SSE event with Google's framing: `data: {json}\r\n\r\n`.
pub fn stream_event(
    out: &mut Vec<u8>,
    model: &[u8],
    function: &[u8],
    part: Part,
    finish: bool,
    candidates: u64,
) {
    out.extend_from_slice(b"data: ");
    response(out, model, function, part, finish, candidates);
    out.extend_from_slice(b"\r\n\r\n");
}

/// `{"embeddings":[{"values":[8 floats]}, …]}`, one per text, the same
/// values the OpenAI embeddings route gives the same text.
pub fn embeddings(out: &mut Vec<u8>, texts: &[String]) {
    out.extend_from_slice(br#"{"embeddings":["#);
    for (i, t) in texts.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(br#"{"values":"#);
        push_embedding(out, &EmbInput::Text(t));
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
}

/// Vertex AI `:predict` request: `{"instances":[{"content":"…"}]}`.
#[derive(Deserialize)]
pub struct PredictRequest<'a> {
    #[serde(borrow)]
    pub instances: Option<Vec<Instance<'a>>>,
}

#[derive(Deserialize)]
pub struct Instance<'a> {
    #[serde(borrow)]
    pub content: Option<Cow<'a, str>>,
}

/// `{"predictions":[{"embeddings":{"statistics":{…},"values":[8 floats]}}, …]}`,
/// the same values as [`embeddings`]; `token_count` is the text's word count
/// (at least 1).
pub fn predictions(out: &mut Vec<u8>, texts: &[String]) {
    out.extend_from_slice(br#"{"predictions":["#);
    for (i, t) in texts.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(br#"{"embeddings":{"statistics":{"truncated":false,"token_count":"#);
        push_u64(out, t.split_whitespace().count().max(1) as u64);
        out.extend_from_slice(br#"},"values":"#);
        push_embedding(out, &EmbInput::Text(t));
        out.extend_from_slice(b"}}");
    }
    out.extend_from_slice(br#"],"metadata":{}}"#);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn parse(b: &[u8]) -> Value {
        serde_json::from_slice(b).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(b)))
    }

    #[test]
    fn paths() {
        assert_eq!(
            parse_path(b"/v1beta/models/gemini-2.5-flash:generateContent"),
            Some((Op::Generate, &b"gemini-2.5-flash"[..]))
        );
        assert_eq!(
            parse_path(b"/models/g:streamGenerateContent"),
            Some((Op::Stream, &b"g"[..]))
        );
        assert_eq!(
            parse_path(b"/x/v1beta/models/a%2Fb:batchEmbedContents"),
            Some((Op::BatchEmbed, &b"a%2Fb"[..]))
        );
        for bad in [
            &b"/v1beta/models/g:countTokens"[..],
            b"/v1beta/models/:generateContent",
            b"/v1beta/models",
            b"/v1beta/g:generateContent",
            b"/v1beta/models/a/b:generateContent",
        ] {
            assert_eq!(parse_path(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn response_shapes() {
        let mut out = Vec::new();
        response(&mut out, b"gem\"x", b"", Part::Hello(None), true, 5);
        let v = parse(&out);
        assert_eq!(
            v["candidates"][0]["content"],
            json!({"role":"model","parts":[{"text":HELLO}]})
        );
        assert_eq!(v["candidates"][0]["finishReason"], "STOP");
        assert_eq!(
            v["usageMetadata"],
            json!({"promptTokenCount":12,"candidatesTokenCount":5,"totalTokenCount":17})
        );
        assert_eq!(v["modelVersion"], "gem\"x");
        assert_eq!(v["responseId"], RESPONSE_ID);
        out.clear();
        response(&mut out, b"g", b"\"f\"", Part::Call, true, 5);
        let v = parse(&out);
        assert_eq!(
            v["candidates"][0]["content"]["parts"][0]["functionCall"],
            json!({"name":"f","args":{"arg":"value"}})
        );
        out.clear();
        stream_event(&mut out, b"g", b"", Part::Token(3), false, 4);
        assert!(out.starts_with(b"data: ") && out.ends_with(b"}\r\n\r\n"));
        let v = parse(&out[6..out.len() - 4]);
        assert_eq!(v["candidates"][0]["content"]["parts"][0]["text"], "tok3 ");
        assert!(v["candidates"][0].get("finishReason").is_none());
        out.clear();
        embeddings(&mut out, &["a".into(), "b".into()]);
        let v = parse(&out);
        assert_eq!(v["embeddings"].as_array().unwrap().len(), 2);
        assert_eq!(v["embeddings"][0]["values"].as_array().unwrap().len(), 8);
    }

    #[test]
    fn forced_function() {
        let body =
            br#"{"contents":[],"tools":[{"functionDeclarations":[{"name":"a"},{"name":"b"}]}],
            "toolConfig":{"functionCallingConfig":{"mode":"ANY"}}}"#;
        let r: GenerateRequest<'_> = serde_json::from_slice(body).unwrap();
        assert_eq!(r.forced_function().as_deref(), Some("a"));
        let body = br#"{"tools":[{"functionDeclarations":[{"name":"a"}]}],
            "toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["b"]}}}"#;
        let r: GenerateRequest<'_> = serde_json::from_slice(body).unwrap();
        assert_eq!(r.forced_function().as_deref(), Some("b"));
        let body = br#"{"tools":[{"functionDeclarations":[{"name":"a"}]}],
            "toolConfig":{"functionCallingConfig":{"mode":"AUTO"}}}"#;
        let r: GenerateRequest<'_> = serde_json::from_slice(body).unwrap();
        assert_eq!(r.forced_function(), None);
    }

    #[test]
    fn errors() {
        let mut out = Vec::new();
        mock_error_body(&mut out, 429);
        let v = parse(&out);
        assert_eq!(
            v,
            json!({"error":{"code":429,"message":"mock error 429","status":"RESOURCE_EXHAUSTED",
                "details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"2s"}]}})
        );
        out.clear();
        mock_error_body(&mut out, 503);
        assert_eq!(parse(&out)["error"]["status"], "UNAVAILABLE");
        assert!(parse(&out)["error"].get("details").is_none());
    }
}
