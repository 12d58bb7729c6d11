//! Token usage read from the bytes of a relayed response on their way past.
//!
//! OpenAI-shaped responses put `usage` at the end: the last member of a
//! non-stream body, the final chunk of a stream with `include_usage` (Groq nests
//! it in `x_groq` on the last chunk). So the relay keeps only the last
//! [`TAIL_BYTES`] of the decoded body and reads the numbers once, at the end.
//!
//! Counts are normalised to OpenAI's meaning whatever the shape: cached input
//! tokens are inside `prompt_tokens`, reasoning tokens inside
//! `completion_tokens`. Anthropic's Messages API counts cache reads and writes
//! beside its `input_tokens`, so they are added in.

use std::sync::LazyLock;

use memchr::memmem;

/// How much of a response's end is kept for the usage scan.
pub const TAIL_BYTES: usize = 4096;

/// One answer's token counts, as OpenAI means them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Every input token, cache reads and writes included.
    pub prompt_tokens: u64,
    /// Every output token, reasoning included.
    pub completion_tokens: u64,
    /// Of `prompt_tokens`, those read from a prompt cache (never more).
    pub cached_tokens: u64,
    /// Of `completion_tokens`, those spent reasoning (never more).
    pub reasoning_tokens: u64,
}

impl Usage {
    /// Input and output counts with no cache reads or reasoning reported.
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Usage {
            prompt_tokens,
            completion_tokens,
            ..Usage::default()
        }
    }

    /// Sets the cached and reasoning counts, each capped at the count it is
    /// part of: a provider that reports more (OpenRouter has sent more
    /// reasoning than completion tokens) would otherwise make the uncached
    /// remainder negative.
    pub fn with_details(mut self, cached_tokens: u64, reasoning_tokens: u64) -> Self {
        self.cached_tokens = cached_tokens.min(self.prompt_tokens);
        self.reasoning_tokens = reasoning_tokens.min(self.completion_tokens);
        self
    }
}

/// The last `TAIL_BYTES` bytes of a body, kept as it streams past.
#[derive(Debug, Default)]
pub struct Tail {
    buf: Vec<u8>,
}

impl Tail {
    pub fn new() -> Self {
        Self::with_buffer(Vec::with_capacity(2 * TAIL_BYTES))
    }

    /// Use `buf` (cleared) as storage, so a caller can recycle it.
    pub fn with_buffer(mut buf: Vec<u8>) -> Self {
        buf.clear();
        Self { buf }
    }

    pub fn into_buffer(self) -> Vec<u8> {
        self.buf
    }

    pub fn push(&mut self, data: &[u8]) {
        if data.len() >= TAIL_BYTES {
            self.buf.clear();
            self.buf.extend_from_slice(&data[data.len() - TAIL_BYTES..]);
            return;
        }
        if self.buf.len() + data.len() > 2 * TAIL_BYTES {
            let keep = TAIL_BYTES - data.len();
            let from = self.buf.len() - keep;
            self.buf.drain(..from);
        }
        self.buf.extend_from_slice(data);
    }

    /// Usage from the last `"usage"` object seen in the tail that has numbers.
    pub fn usage(&self) -> Usage {
        scan_usage(&self.buf)
    }
}

const PROMPT_KEY: &[u8] = b"\"prompt_tokens\"";
const COMPLETION_KEY: &[u8] = b"\"completion_tokens\"";
/// Anthropic Messages and OpenAI Responses name them so.
const INPUT_KEY: &[u8] = b"\"input_tokens\"";
const OUTPUT_KEY: &[u8] = b"\"output_tokens\"";
/// In `prompt_tokens_details` (chat) and `input_tokens_details` (Responses).
const CACHED_KEY: &[u8] = b"\"cached_tokens\"";
/// In `completion_tokens_details` (chat) and `output_tokens_details` (Responses).
const REASONING_KEY: &[u8] = b"\"reasoning_tokens\"";
/// Anthropic only: counted beside `input_tokens`, not inside it.
const CACHE_READ_KEY: &[u8] = b"\"cache_read_input_tokens\"";
const CACHE_CREATION_KEY: &[u8] = b"\"cache_creation_input_tokens\"";

// Searchers are built once: building one costs more than a short search.
static USAGE_FINDER: LazyLock<memmem::FinderRev<'static>> =
    LazyLock::new(|| memmem::FinderRev::new(b"\"usage\""));
static PROMPT_FINDER: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(PROMPT_KEY));
static COMPLETION_FINDER: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(COMPLETION_KEY));
static INPUT_FINDER: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(INPUT_KEY));
static OUTPUT_FINDER: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(OUTPUT_KEY));
static CACHED_FINDER: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(CACHED_KEY));
static REASONING_FINDER: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(REASONING_KEY));
static CACHE_READ_FINDER: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(CACHE_READ_KEY));
static CACHE_CREATION_FINDER: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(CACHE_CREATION_KEY));

/// Find the last `"usage":{...}` with token counts in `bytes`.
pub fn scan_usage(bytes: &[u8]) -> Usage {
    let finder = &*USAGE_FINDER;
    let mut end = bytes.len();
    while let Some(at) = finder.rfind(&bytes[..end]) {
        let rest = &bytes[at..];
        // Bound every key search to this usage object (objects nested in it,
        // such as `*_tokens_details`, included).
        let obj = &rest[..object_end(rest).unwrap_or(rest.len())];
        if let Some(usage) = read_usage(obj) {
            return usage;
        }
        end = at;
    }
    Usage::default()
}

/// The counts of one usage object, if it has any: OpenAI chat names, else
/// Anthropic's (told apart by their cache keys), else Responses'.
fn read_usage(obj: &[u8]) -> Option<Usage> {
    let prompt = number_after(obj, &PROMPT_FINDER);
    let completion = number_after(obj, &COMPLETION_FINDER);
    if prompt.is_some() || completion.is_some() {
        return Some(openai_shaped(obj, prompt, completion));
    }
    let input = number_after(obj, &INPUT_FINDER);
    let output = number_after(obj, &OUTPUT_FINDER);
    if input.is_none() && output.is_none() {
        return None;
    }
    let cache_read = number_after(obj, &CACHE_READ_FINDER);
    let cache_creation = number_after(obj, &CACHE_CREATION_FINDER);
    if cache_read.is_none() && cache_creation.is_none() {
        // Responses: `input_tokens` already counts the cached ones.
        return Some(openai_shaped(obj, input, output));
    }
    let (read, creation) = (cache_read.unwrap_or(0), cache_creation.unwrap_or(0));
    let prompt = input
        .unwrap_or(0)
        .saturating_add(read)
        .saturating_add(creation);
    // Anthropic reports no separate count of thinking tokens.
    Some(Usage::new(prompt, output.unwrap_or(0)).with_details(read, 0))
}

/// Counts whose cached and reasoning parts are inside them, as OpenAI nests
/// them in `*_tokens_details`.
fn openai_shaped(obj: &[u8], prompt: Option<u64>, completion: Option<u64>) -> Usage {
    Usage::new(prompt.unwrap_or(0), completion.unwrap_or(0)).with_details(
        number_after(obj, &CACHED_FINDER).unwrap_or(0),
        number_after(obj, &REASONING_FINDER).unwrap_or(0),
    )
}

/// The integer after the key `finder` finds in `obj` and a colon.
fn number_after(obj: &[u8], finder: &memmem::Finder<'static>) -> Option<u64> {
    let at = finder.find(obj)?;
    let mut i = at + finder.needle().len();
    while matches!(obj.get(i), Some(b' ' | b'\t' | b'\n' | b'\r' | b':')) {
        i += 1;
    }
    let start = i;
    while obj.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    if i == start || i - start > 19 {
        return None;
    }
    std::str::from_utf8(&obj[start..i]).ok()?.parse().ok()
}

/// Length of `"usage": {...}` up to its matching brace, if it is an object.
fn object_end(obj: &[u8]) -> Option<usize> {
    let open = memchr::memchr(b'{', obj)?;
    // Only `"usage"`, whitespace and a colon may come before the brace.
    if obj[7..open]
        .iter()
        .any(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b':'))
    {
        return None;
    }
    let mut depth = 0usize;
    for (i, &c) in obj.iter().enumerate().skip(open) {
        match c {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_stream_body_usage() {
        let body = br#"{"id":"x","choices":[{"message":{"content":"usage is fine"}}],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17,"prompt_tokens_details":{"cached_tokens":0}}}"#;
        assert_eq!(scan_usage(body), Usage::new(12, 5));
    }

    #[test]
    fn stream_with_null_usage_chunks_then_a_usage_chunk() {
        let s = b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}],\"usage\":null}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3}}\n\ndata: [DONE]\n\n";
        let mut tail = Tail::new();
        for piece in s.chunks(5) {
            tail.push(piece);
        }
        assert_eq!(tail.usage().prompt_tokens, 7);
        assert_eq!(tail.usage().completion_tokens, 3);
    }

    #[test]
    fn stream_without_usage_is_zero() {
        let s = b"data: {\"choices\":[{\"delta\":{}}],\"usage\":null}\n\ndata: [DONE]\n\n";
        assert_eq!(scan_usage(s), Usage::default());
    }

    #[test]
    fn tail_keeps_only_the_end() {
        let mut tail = Tail::new();
        for _ in 0..1000 {
            tail.push(&[b'x'; 100]);
        }
        tail.push(br#""usage":{"prompt_tokens":1,"completion_tokens":2}"#);
        assert!(tail.buf.len() <= 2 * TAIL_BYTES);
        assert_eq!(tail.usage().completion_tokens, 2);
    }

    #[test]
    fn anthropic_and_responses_usage_name_tokens_input_and_output() {
        let delta = b"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"input_tokens\":9,\"output_tokens\":15}}\n\n";
        assert_eq!(scan_usage(delta), Usage::new(9, 15));
        let done = br#"{"type":"response.completed","response":{"usage":{"input_tokens":4,"input_tokens_details":{"cached_tokens":0},"output_tokens":2}}}"#;
        assert_eq!(scan_usage(done).completion_tokens, 2);
    }

    #[test]
    fn embeddings_usage_has_prompt_only() {
        let b = br#"{"data":[],"usage":{"prompt_tokens":8,"total_tokens":8}}"#;
        assert_eq!(scan_usage(b).prompt_tokens, 8);
    }

    #[test]
    fn chat_usage_details_give_cached_and_reasoning_tokens() {
        let body = br#"{"usage":{"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,"prompt_tokens_details":{"cached_tokens":1920,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":192,"audio_tokens":0}}}"#;
        assert_eq!(
            scan_usage(body),
            Usage::new(2006, 300).with_details(1920, 192)
        );
    }

    #[test]
    fn responses_usage_details_give_cached_and_reasoning_tokens() {
        let done = br#"{"type":"response.completed","response":{"usage":{"input_tokens":5000,"input_tokens_details":{"cached_tokens":4096},"output_tokens":900,"output_tokens_details":{"reasoning_tokens":640},"total_tokens":5900}}}"#;
        assert_eq!(
            scan_usage(done),
            Usage::new(5000, 900).with_details(4096, 640)
        );
    }

    #[test]
    fn anthropic_input_tokens_gain_the_cache_reads_and_writes_they_leave_out() {
        let body = br#"{"type":"message","usage":{"input_tokens":20,"cache_creation_input_tokens":1000,"cache_read_input_tokens":3000,"cache_creation":{"ephemeral_5m_input_tokens":1000,"ephemeral_1h_input_tokens":0},"output_tokens":7}}"#;
        assert_eq!(scan_usage(body), Usage::new(4020, 7).with_details(3000, 0));
    }

    #[test]
    fn details_never_exceed_the_count_they_are_part_of() {
        let body = br#""usage":{"prompt_tokens":10,"completion_tokens":10,"prompt_tokens_details":{"cached_tokens":99},"completion_tokens_details":{"reasoning_tokens":11}}"#;
        assert_eq!(scan_usage(body), Usage::new(10, 10).with_details(10, 10));
    }

    /// A recording fed through a tail in small pieces, as a relay sees it.
    fn tail_usage_of(provider: &str, name: &str) -> Usage {
        let body = crate::providers::fixtures::read(provider, name);
        let mut tail = Tail::new();
        for piece in body.chunks(97) {
            tail.push(piece);
        }
        tail.usage()
    }

    #[test]
    fn recorded_openai_shaped_answers_give_cached_and_reasoning_tokens() {
        let cases = [
            (
                "openai",
                "chat-completion-reasoning-model.json",
                (27, 267, 0, 192),
            ),
            ("openai", "chat-stream-include-usage.sse", (12, 100, 0, 100)),
            (
                "openai",
                "chat-stream-parallel-tool-calls-usage.sse",
                (364, 40, 0, 0),
            ),
            ("openai", "responses-stream-logprobs.sse", (25, 10, 0, 0)),
            (
                "azure",
                "chat-completion-content-filter.json",
                (8, 271, 0, 192),
            ),
            ("azure", "responses-text.json", (11, 11, 0, 0)),
            ("deepseek", "chat-reasoning.json", (18, 345, 0, 315)),
            (
                "deepseek",
                "chat-stream-tool-call.chunks.txt",
                (339, 83, 320, 39),
            ),
            ("groq", "chat-stream-tool-call.chunks.txt", (210, 15, 0, 0)),
            ("mistral", "chat-text.json", (13, 434, 0, 0)),
            ("openrouter", "chat-stream-reasoning.sse", (43, 36, 0, 13)),
        ];
        for (provider, name, (prompt, completion, cached, reasoning)) in cases {
            assert_eq!(
                tail_usage_of(provider, name),
                Usage::new(prompt, completion).with_details(cached, reasoning),
                "{provider}/{name}"
            );
        }
    }

    #[test]
    fn recorded_anthropic_answers_count_input_with_the_cache() {
        let cases = [
            ("messages-text.json", (12, 29)),
            ("messages-stream-text.sse", (15, 21)),
            ("messages-stream-thinking.sse", (43, 282)),
            ("messages-stream-tool-use.sse", (1591, 175)),
        ];
        for (name, (prompt, completion)) in cases {
            assert_eq!(
                tail_usage_of("anthropic", name),
                Usage::new(prompt, completion),
                "{name}"
            );
        }
    }
}
