//! Response rendering into reusable byte buffers. Fixed parts are `const`
//! byte strings; only the request's model (and counters) are spliced in.

pub const CT_JSON: &str = "application/json";
pub const CT_SSE: &str = "text/event-stream";

pub const HELLO: &str = "Hello from mock-provider.";
pub const PROMPT_TOKENS: u64 = 12;

pub const MODELS_BODY: &[u8] = br#"{"object":"list","data":[{"id":"mock-small","object":"model","created":1700000000,"owned_by":"mock"},{"id":"mock-large","object":"model","created":1700000000,"owned_by":"mock"}]}"#;

pub fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

fn push_hex(out: &mut Vec<u8>, mut n: usize) {
    let mut tmp = [0u8; 16];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b"0123456789abcdef"[n & 15];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

/// Appends `s` as the inside of a JSON string (no quotes), escaping as needed.
pub fn push_json_escaped(out: &mut Vec<u8>, s: &[u8]) {
    let mut start = 0;
    for (i, &b) in s.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&s[start..i]);
        if esc.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(b"0123456789abcdef"[(b >> 4) as usize]);
            out.push(b"0123456789abcdef"[(b & 15) as usize]);
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&s[start..]);
}

/// Appends `s` as a quoted JSON string.
pub fn push_json_str(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    push_json_escaped(out, s);
    out.push(b'"');
}

pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        529 => "Site Overloaded",
        _ => "Unknown",
    }
}

pub enum Len {
    Fixed(usize),
    Chunked,
}

/// What the request looked like, reflected in `x-mock-saw-*` headers.
pub struct Saw<'a> {
    pub auth: Option<&'a [u8]>,
    pub path: &'a [u8],
    /// The whole request head, when its header names are to be reflected
    /// (`x-mock-echo: 1`) in `x-mock-saw-headers`.
    pub head: Option<&'a [u8]>,
}

/// Appends a response head.
pub fn head(
    out: &mut Vec<u8>,
    status: u16,
    content_type: &str,
    len: Len,
    keep_alive: bool,
    saw: Option<Saw<'_>>,
    extra: &str,
) {
    if status == 200 {
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    } else {
        out.extend_from_slice(b"HTTP/1.1 ");
        push_u64(out, status as u64);
        out.push(b' ');
        out.extend_from_slice(reason(status).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Server: mock-provider\r\nContent-Type: ");
    out.extend_from_slice(content_type.as_bytes());
    match len {
        Len::Fixed(n) => {
            out.extend_from_slice(b"\r\nContent-Length: ");
            push_u64(out, n as u64);
            out.extend_from_slice(b"\r\n");
        }
        Len::Chunked => out.extend_from_slice(b"\r\nTransfer-Encoding: chunked\r\n"),
    }
    if !keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    if let Some(saw) = saw {
        // The value as received (an upstream echoing a credential, which the
        // gateway must mask), and hex-encoded so tests can still check it.
        out.extend_from_slice(b"x-mock-saw-authorization: ");
        out.extend_from_slice(saw.auth.unwrap_or(b"none"));
        out.extend_from_slice(b"\r\nx-mock-saw-authorization-hex: ");
        for b in saw.auth.unwrap_or(b"none") {
            out.extend_from_slice(format!("{b:02x}").as_bytes());
        }
        out.extend_from_slice(b"\r\nx-mock-saw-path: ");
        out.extend_from_slice(saw.path);
        out.extend_from_slice(b"\r\n");
        if let Some(head) = saw.head {
            push_header_names(out, head);
            push_traceparent(out, head);
        }
    }
    out.extend_from_slice(extra.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// `x-mock-saw-traceparent: <value>` when the request carried one (trace
/// context propagation tests).
fn push_traceparent(out: &mut Vec<u8>, head: &[u8]) {
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if line[..colon].eq_ignore_ascii_case(b"traceparent") {
            out.extend_from_slice(b"x-mock-saw-traceparent: ");
            out.extend_from_slice(line[colon + 1..].trim_ascii());
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// `x-mock-saw-headers: <lower-cased names, comma-separated, in order>`.
fn push_header_names(out: &mut Vec<u8>, head: &[u8]) {
    out.extend_from_slice(b"x-mock-saw-headers: ");
    let mut first = true;
    for line in head.split(|&b| b == b'\n').skip(1) {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend(line[..colon].iter().map(u8::to_ascii_lowercase));
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends `event` as one HTTP chunk.
pub fn chunk(out: &mut Vec<u8>, event: &[u8]) {
    push_hex(out, event.len());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(event);
    out.extend_from_slice(b"\r\n");
}

/// OpenAI-style error body. `message` parts are concatenated and escaped.
pub fn error_body(out: &mut Vec<u8>, message: &[&[u8]], kind: &str, code: Option<&str>) {
    out.extend_from_slice(br#"{"error":{"message":""#);
    for part in message {
        push_json_escaped(out, part);
    }
    out.extend_from_slice(br#"","type":""#);
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(br#"","param":null,"code":"#);
    match code {
        Some(c) => push_json_str(out, c.as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b"}}");
}

/// `{"message":M}`, the error body of Cohere and of AWS services such as
/// Bedrock; `message` parts are concatenated and escaped.
pub fn message_error_body(out: &mut Vec<u8>, message: &[&[u8]]) {
    out.extend_from_slice(br#"{"message":""#);
    for part in message {
        push_json_escaped(out, part);
    }
    out.extend_from_slice(br#""}"#);
}

/// Error type/code for `x-mock-status: NNN` (both fields carry the same value).
pub fn mock_error_kind(status: u16) -> &'static str {
    match status {
        429 => "rate_limit_exceeded",
        401 => "invalid_api_key",
        404 => "model_not_found",
        500..=599 => "server_error",
        _ => "invalid_request_error",
    }
}

/// `{"error":{"message":"mock error NNN",...}}`.
pub fn mock_error_body(out: &mut Vec<u8>, status: u16) {
    let mut num = Vec::with_capacity(3);
    push_u64(&mut num, status as u64);
    let kind = mock_error_kind(status);
    error_body(out, &[b"mock error ", &num], kind, Some(kind));
}

fn usage(out: &mut Vec<u8>, prompt: u64, completion: u64) {
    out.extend_from_slice(br#""usage":{"prompt_tokens":"#);
    push_u64(out, prompt);
    out.extend_from_slice(br#","completion_tokens":"#);
    push_u64(out, completion);
    out.extend_from_slice(br#","total_tokens":"#);
    push_u64(out, prompt + completion);
    out.push(b'}');
}

/// Deterministic filler text of exactly `n` bytes (printable ASCII, no escapes).
pub fn push_filler(out: &mut Vec<u8>, n: usize) {
    const PAT: &[u8] = b"The quick brown fox jumps over the lazy dog 0123456789. ";
    out.reserve(n);
    let mut left = n;
    while left > 0 {
        let k = left.min(PAT.len());
        out.extend_from_slice(&PAT[..k]);
        left -= k;
    }
}

const CHAT_PREFIX: &[u8] =
    br#"{"id":"chatcmpl-mock","object":"chat.completion","created":1700000000,"model":"#;
const CHAT_MID: &[u8] = br#","choices":[{"index":0,"message":{"role":"assistant","content":""#;
const CHAT_SUFFIX: &[u8] = br#"","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17},"system_fingerprint":"fp_mock"}"#;

/// Non-stream `chat.completion`. `model_json` is an already-quoted JSON string.
/// `filler` replaces the content with that many bytes of filler.
pub fn chat_completion(out: &mut Vec<u8>, model_json: &[u8], filler: Option<usize>) {
    out.extend_from_slice(CHAT_PREFIX);
    out.extend_from_slice(model_json);
    out.extend_from_slice(CHAT_MID);
    match filler {
        Some(n) => push_filler(out, n),
        None => out.extend_from_slice(HELLO.as_bytes()),
    }
    out.extend_from_slice(CHAT_SUFFIX);
}

const TEXT_PREFIX: &[u8] =
    br#"{"id":"cmpl-mock","object":"text_completion","created":1700000000,"model":"#;
const TEXT_MID: &[u8] = br#","choices":[{"text":""#;
const TEXT_SUFFIX: &[u8] = br#"","index":0,"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}}"#;

/// Non-stream legacy `text_completion`.
pub fn text_completion(out: &mut Vec<u8>, model_json: &[u8], filler: Option<usize>) {
    out.extend_from_slice(TEXT_PREFIX);
    out.extend_from_slice(model_json);
    out.extend_from_slice(TEXT_MID);
    match filler {
        Some(n) => push_filler(out, n),
        None => out.extend_from_slice(HELLO.as_bytes()),
    }
    out.extend_from_slice(TEXT_SUFFIX);
}

/// One event of a streamed answer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Event {
    /// Chat only: `delta: {role: "assistant", content: ""}`.
    Role,
    /// Content token `i`: "tok{i} ".
    Token(u32),
    /// Empty delta with `finish_reason: "stop"`.
    Finish,
    /// `choices: []` plus usage for `n` completion tokens.
    Usage(u32),
    /// `data: [DONE]`.
    Done,
}

/// Renders one SSE event (`data: ...\n\n`) of a chat or legacy stream.
pub fn stream_event(out: &mut Vec<u8>, chat: bool, model_json: &[u8], ev: Event, usage_null: bool) {
    if ev == Event::Done {
        out.extend_from_slice(b"data: [DONE]\n\n");
        return;
    }
    if chat {
        out.extend_from_slice(
            br#"data: {"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1700000000,"model":"#,
        );
    } else {
        out.extend_from_slice(
            br#"data: {"id":"cmpl-mock","object":"text_completion","created":1700000000,"model":"#,
        );
    }
    out.extend_from_slice(model_json);
    let tail: &[u8] = if usage_null {
        br#","usage":null}"#
    } else {
        b"}"
    };
    match (ev, chat) {
        (Event::Role, _) => {
            out.extend_from_slice(br#","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]"#);
            out.extend_from_slice(tail);
        }
        (Event::Token(i), true) => {
            out.extend_from_slice(br#","choices":[{"index":0,"delta":{"content":"tok"#);
            push_u64(out, i as u64);
            out.extend_from_slice(br#" "},"logprobs":null,"finish_reason":null}]"#);
            out.extend_from_slice(tail);
        }
        (Event::Token(i), false) => {
            out.extend_from_slice(br#","choices":[{"text":"tok"#);
            push_u64(out, i as u64);
            out.extend_from_slice(br#" ","index":0,"logprobs":null,"finish_reason":null}]"#);
            out.extend_from_slice(tail);
        }
        (Event::Finish, true) => {
            out.extend_from_slice(
                br#","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]"#,
            );
            out.extend_from_slice(tail);
        }
        (Event::Finish, false) => {
            out.extend_from_slice(
                br#","choices":[{"text":"","index":0,"logprobs":null,"finish_reason":"stop"}]"#,
            );
            out.extend_from_slice(tail);
        }
        (Event::Usage(n), _) => {
            out.extend_from_slice(br#","choices":[],"#);
            usage(out, PROMPT_TOKENS, n as u64);
            out.push(b'}');
        }
        (Event::Done, _) => unreachable!(),
    }
    out.extend_from_slice(b"\n\n");
}

// ---------------------------------------------------------------------------
// Anthropic Messages API shapes.

/// Anthropic error type for a status (`x-mock-status`, `--status`, fail mix).
pub fn anthropic_error_kind(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        500..=599 => "api_error",
        _ => "invalid_request_error",
    }
}

/// `{"type":"error","error":{"type":K,"message":M}}`; `message` parts are
/// concatenated and escaped.
pub fn anthropic_error_body(out: &mut Vec<u8>, kind: &str, message: &[&[u8]]) {
    out.extend_from_slice(br#"{"type":"error","error":{"type":""#);
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(br#"","message":""#);
    for part in message {
        push_json_escaped(out, part);
    }
    out.extend_from_slice(br#""}}"#);
}

/// Anthropic-shaped `mock error NNN`.
pub fn anthropic_mock_error_body(out: &mut Vec<u8>, status: u16) {
    let mut num = Vec::with_capacity(3);
    push_u64(&mut num, status as u64);
    anthropic_error_body(out, anthropic_error_kind(status), &[b"mock error ", &num]);
}

/// Id of the mock `tool_use` block.
pub const TOOL_USE_ID: &str = "toolu_mock_1";
/// Input of the mock `tool_use` block, and the two fragments it streams as.
pub const TOOL_INPUT: &str = r#"{"arg":"value"}"#;
pub const TOOL_INPUT_PARTS: [&str; 2] = [r#"{"arg":"#, r#""value"}"#];

const MSG_USAGE_TAIL: &[u8] = br#","cache_creation_input_tokens":0,"cache_read_input_tokens":0}"#;

/// Non-stream Anthropic `message`. `tool_json` (an already-quoted name) makes
/// it a `tool_use` answer; `filler` replaces the text with that many bytes.
pub fn anthropic_message(
    out: &mut Vec<u8>,
    model_json: &[u8],
    tool_json: Option<&[u8]>,
    filler: Option<usize>,
) {
    out.extend_from_slice(br#"{"id":"msg_mock","type":"message","role":"assistant","model":"#);
    out.extend_from_slice(model_json);
    out.extend_from_slice(br#","content":[{"type":""#);
    match tool_json {
        Some(name) => {
            out.extend_from_slice(br#"tool_use","id":""#);
            out.extend_from_slice(TOOL_USE_ID.as_bytes());
            out.extend_from_slice(br#"","name":"#);
            out.extend_from_slice(name);
            out.extend_from_slice(br#","input":"#);
            out.extend_from_slice(TOOL_INPUT.as_bytes());
            out.extend_from_slice(br#"}],"stop_reason":"tool_use""#);
        }
        None => {
            out.extend_from_slice(br#"text","text":""#);
            match filler {
                Some(n) => push_filler(out, n),
                None => out.extend_from_slice(HELLO.as_bytes()),
            }
            out.extend_from_slice(br#""}],"stop_reason":"end_turn""#);
        }
    }
    out.extend_from_slice(br#","stop_sequence":null,"usage":{"input_tokens":"#);
    push_u64(out, PROMPT_TOKENS);
    out.extend_from_slice(br#","output_tokens":5"#);
    out.extend_from_slice(MSG_USAGE_TAIL);
    out.push(b'}');
}

/// One event of an Anthropic stream.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MsgEvent {
    /// `message_start` (usage input 12, output 1).
    Start,
    /// `content_block_start` at index 0: text, or tool_use when a tool is forced.
    BlockStart,
    Ping,
    /// `text_delta` "tok{i} ".
    Text(u32),
    /// `input_json_delta` with fragment `i` of [`TOOL_INPUT_PARTS`].
    Json(usize),
    BlockStop,
    /// `message_delta` with the stop reason and `output_tokens`.
    Delta(u32),
    Stop,
}

impl MsgEvent {
    pub fn name(self) -> &'static str {
        match self {
            MsgEvent::Start => "message_start",
            MsgEvent::BlockStart => "content_block_start",
            MsgEvent::Ping => "ping",
            MsgEvent::Text(_) | MsgEvent::Json(_) => "content_block_delta",
            MsgEvent::BlockStop => "content_block_stop",
            MsgEvent::Delta(_) => "message_delta",
            MsgEvent::Stop => "message_stop",
        }
    }
}

/// Renders one Anthropic SSE event (`event: X\ndata: {json}\n\n`).
/// `tool_json` is the forced tool's quoted name, if any.
pub fn anthropic_event(
    out: &mut Vec<u8>,
    model_json: &[u8],
    tool_json: Option<&[u8]>,
    ev: MsgEvent,
) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(ev.name().as_bytes());
    out.extend_from_slice(b"\ndata: {\"type\":\"");
    out.extend_from_slice(ev.name().as_bytes());
    out.push(b'"');
    match ev {
        MsgEvent::Start => {
            out.extend_from_slice(
                br#","message":{"id":"msg_mock","type":"message","role":"assistant","model":"#,
            );
            out.extend_from_slice(model_json);
            out.extend_from_slice(br#","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":"#);
            push_u64(out, PROMPT_TOKENS);
            out.extend_from_slice(br#","output_tokens":1"#);
            out.extend_from_slice(MSG_USAGE_TAIL);
            out.push(b'}');
        }
        MsgEvent::BlockStart => {
            out.extend_from_slice(br#","index":0,"content_block":"#);
            match tool_json {
                Some(name) => {
                    out.extend_from_slice(br#"{"type":"tool_use","id":""#);
                    out.extend_from_slice(TOOL_USE_ID.as_bytes());
                    out.extend_from_slice(br#"","name":"#);
                    out.extend_from_slice(name);
                    out.extend_from_slice(br#","input":{}}"#);
                }
                None => out.extend_from_slice(br#"{"type":"text","text":""}"#),
            }
        }
        MsgEvent::Ping => {}
        MsgEvent::Text(i) => {
            out.extend_from_slice(br#","index":0,"delta":{"type":"text_delta","text":"tok"#);
            push_u64(out, i as u64);
            out.extend_from_slice(br#" "}"#);
        }
        MsgEvent::Json(i) => {
            out.extend_from_slice(
                br#","index":0,"delta":{"type":"input_json_delta","partial_json":"#,
            );
            push_json_str(out, TOOL_INPUT_PARTS[i].as_bytes());
            out.push(b'}');
        }
        MsgEvent::BlockStop => out.extend_from_slice(br#","index":0"#),
        MsgEvent::Delta(n) => {
            out.extend_from_slice(br#","delta":{"stop_reason":"#);
            out.extend_from_slice(if tool_json.is_some() {
                br#""tool_use""#
            } else {
                br#""end_turn""#
            });
            out.extend_from_slice(br#","stop_sequence":null},"usage":{"output_tokens":"#);
            push_u64(out, n as u64);
            out.push(b'}');
        }
        MsgEvent::Stop => {}
    }
    out.extend_from_slice(b"}\n\n");
}

fn fnv1a(bytes: &[u8], mut h: u64) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// One embeddings input: text, or a pre-tokenized array.
pub enum EmbInput<'a> {
    Text(&'a str),
    Tokens(Vec<u64>),
}

impl EmbInput<'_> {
    fn hash(&self) -> u64 {
        match self {
            EmbInput::Text(s) => fnv1a(s.as_bytes(), FNV_OFFSET),
            EmbInput::Tokens(t) => t
                .iter()
                .fold(FNV_OFFSET ^ 0x7f, |h, x| fnv1a(&x.to_le_bytes(), h)),
        }
    }

    /// Mock token count: ceil(bytes / 4), at least 1; token arrays count their length.
    pub fn tokens(&self) -> u64 {
        match self {
            EmbInput::Text(s) => (s.len() as u64).div_ceil(4).max(1),
            EmbInput::Tokens(t) => t.len() as u64,
        }
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The 8 deterministic values in [-1, 1] for one input.
pub fn embedding_values(input: &EmbInput<'_>) -> [f64; 8] {
    let h = input.hash();
    let mut v = [0.0; 8];
    for (k, x) in v.iter_mut().enumerate() {
        let r = splitmix(h ^ (k as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d));
        // 2,000,001 evenly spaced values with 6 decimals, exact in text form.
        *x = ((r % 2_000_001) as i64 - 1_000_000) as f64 / 1e6;
    }
    v
}

/// Appends the input's [`embedding_values`] as a JSON array (6 decimals,
/// exact in text form).
pub fn push_embedding(out: &mut Vec<u8>, input: &EmbInput<'_>) {
    use std::io::Write;
    out.push(b'[');
    for (k, x) in embedding_values(input).iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        // Writing into a Vec cannot fail.
        let _ = write!(out, "{x:.6}");
    }
    out.push(b']');
}

/// The embeddings list object.
pub fn embeddings(out: &mut Vec<u8>, model_json: &[u8], inputs: &[EmbInput<'_>]) {
    out.extend_from_slice(br#"{"object":"list","data":["#);
    let mut tokens = 0;
    for (i, input) in inputs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(br#"{"object":"embedding","index":"#);
        push_u64(out, i as u64);
        out.extend_from_slice(br#","embedding":"#);
        push_embedding(out, input);
        out.push(b'}');
        tokens += input.tokens();
    }
    out.extend_from_slice(br#"],"model":"#);
    out.extend_from_slice(model_json);
    out.extend_from_slice(br#","usage":{"prompt_tokens":"#);
    push_u64(out, tokens);
    out.extend_from_slice(br#","total_tokens":"#);
    push_u64(out, tokens);
    out.extend_from_slice(b"}}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn parse(b: &[u8]) -> Value {
        serde_json::from_slice(b).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(b)))
    }

    #[test]
    fn escaping() {
        let mut out = Vec::new();
        push_json_str(&mut out, b"a\"b\\c\nd\x01e/\xc3\xa9");
        assert_eq!(parse(&out), Value::String("a\"b\\c\nd\u{1}e/é".into()));
    }

    #[test]
    fn chat_and_text_shapes() {
        let mut m = Vec::new();
        push_json_str(&mut m, b"gpt-\"x\"");
        let mut out = Vec::new();
        chat_completion(&mut out, &m, None);
        let v = parse(&out);
        assert_eq!(v["model"], "gpt-\"x\"");
        assert_eq!(v["choices"][0]["message"]["content"], HELLO);
        assert_eq!(v["usage"]["total_tokens"], 17);
        out.clear();
        chat_completion(&mut out, &m, Some(1000));
        let v = parse(&out);
        assert_eq!(
            v["choices"][0]["message"]["content"]
                .as_str()
                .unwrap()
                .len(),
            1000
        );
        out.clear();
        text_completion(&mut out, &m, None);
        let v = parse(&out);
        assert_eq!(v["object"], "text_completion");
        assert_eq!(v["choices"][0]["text"], HELLO);
    }

    #[test]
    fn stream_events_are_json() {
        for chat in [true, false] {
            for ev in [Event::Role, Event::Token(3), Event::Finish, Event::Usage(9)] {
                for usage_null in [false, true] {
                    let mut out = Vec::new();
                    stream_event(&mut out, chat, b"\"m\"", ev, usage_null);
                    assert!(out.starts_with(b"data: ") && out.ends_with(b"\n\n"));
                    let v = parse(&out[6..out.len() - 2]);
                    assert_eq!(v["model"], "m");
                    if let Event::Usage(n) = ev {
                        assert_eq!(v["usage"]["total_tokens"], 12 + n);
                        assert_eq!(v["choices"].as_array().unwrap().len(), 0);
                    }
                }
            }
        }
        let mut out = Vec::new();
        chunk(&mut out, b"data: [DONE]\n\n");
        assert_eq!(out, b"e\r\ndata: [DONE]\n\n\r\n");
    }

    #[test]
    fn anthropic_shapes() {
        let mut out = Vec::new();
        anthropic_message(&mut out, b"\"claude\"", None, None);
        let v = parse(&out);
        assert_eq!(v["type"], "message");
        assert_eq!(v["model"], "claude");
        assert_eq!(v["content"][0]["text"], HELLO);
        assert_eq!(v["stop_reason"], "end_turn");
        assert!(v["stop_sequence"].is_null());
        assert_eq!(v["usage"]["input_tokens"], 12);
        assert_eq!(v["usage"]["output_tokens"], 5);
        assert_eq!(v["usage"]["cache_read_input_tokens"], 0);
        out.clear();
        anthropic_message(&mut out, b"\"c\"", Some(b"\"get_w\""), None);
        let v = parse(&out);
        assert_eq!(v["stop_reason"], "tool_use");
        assert_eq!(v["content"][0]["type"], "tool_use");
        assert_eq!(v["content"][0]["id"], TOOL_USE_ID);
        assert_eq!(v["content"][0]["name"], "get_w");
        assert_eq!(
            v["content"][0]["input"],
            serde_json::json!({"arg": "value"})
        );
        assert_eq!(TOOL_INPUT_PARTS.concat(), TOOL_INPUT);

        for tool in [None, Some(&b"\"t\""[..])] {
            for ev in [
                MsgEvent::Start,
                MsgEvent::BlockStart,
                MsgEvent::Ping,
                MsgEvent::Text(2),
                MsgEvent::Json(0),
                MsgEvent::Json(1),
                MsgEvent::BlockStop,
                MsgEvent::Delta(7),
                MsgEvent::Stop,
            ] {
                let mut out = Vec::new();
                anthropic_event(&mut out, b"\"m\"", tool, ev);
                let text = std::str::from_utf8(&out).unwrap();
                let (line, data) = text.split_once('\n').unwrap();
                assert_eq!(line, format!("event: {}", ev.name()));
                let data = data.strip_prefix("data: ").unwrap();
                let data = data.strip_suffix("\n\n").unwrap();
                let v = parse(data.as_bytes());
                assert_eq!(v["type"], ev.name());
                if ev == MsgEvent::Delta(7) {
                    assert_eq!(v["usage"]["output_tokens"], 7);
                    let want = if tool.is_some() {
                        "tool_use"
                    } else {
                        "end_turn"
                    };
                    assert_eq!(v["delta"]["stop_reason"], want);
                }
            }
        }

        let mut out = Vec::new();
        anthropic_mock_error_body(&mut out, 529);
        let v = parse(&out);
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "overloaded_error");
        assert_eq!(v["error"]["message"], "mock error 529");
        for (s, k) in [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (404, "not_found_error"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (503, "api_error"),
        ] {
            assert_eq!(anthropic_error_kind(s), k);
        }
    }

    #[test]
    fn embeddings_deterministic() {
        let inputs = [EmbInput::Text("hello"), EmbInput::Tokens(vec![1, 2, 3])];
        let mut a = Vec::new();
        embeddings(&mut a, b"\"e\"", &inputs);
        let mut b = Vec::new();
        embeddings(&mut b, b"\"e\"", &inputs);
        assert_eq!(a, b);
        let v = parse(&a);
        assert_eq!(v["data"][1]["index"], 1);
        assert_eq!(v["data"][0]["embedding"].as_array().unwrap().len(), 8);
        assert_eq!(v["usage"]["prompt_tokens"], 2 + 3);
        assert_ne!(v["data"][0]["embedding"], v["data"][1]["embedding"]);
    }

    #[test]
    fn errors() {
        let mut out = Vec::new();
        mock_error_body(&mut out, 429);
        let v = parse(&out);
        assert_eq!(v["error"]["message"], "mock error 429");
        assert_eq!(v["error"]["type"], "rate_limit_exceeded");
        assert_eq!(v["error"]["code"], "rate_limit_exceeded");
        assert!(v["error"]["param"].is_null());
        let mut h = Vec::new();
        head(
            &mut h,
            503,
            CT_JSON,
            Len::Fixed(5),
            false,
            None,
            "Retry-After: 1\r\n",
        );
        assert_eq!(
            h,
            b"HTTP/1.1 503 Service Unavailable\r\nServer: mock-provider\r\nContent-Type: application/json\r\n\
              Content-Length: 5\r\nConnection: close\r\nRetry-After: 1\r\n\r\n"
        );
    }
}
