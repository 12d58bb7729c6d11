//! Token usage read from the bytes of a relayed response on their way past.
//!
//! OpenAI-shaped responses put `usage` at the end: the last member of a
//! non-stream body, the final chunk of a stream with `include_usage` (Groq nests
//! it in `x_groq` on the last chunk). So the relay keeps only the last
//! [`TAIL_BYTES`] of the decoded body and reads the numbers once, at the end.
//!
//! Gemini puts `usageMetadata` there too (every stream chunk repeats it).
//!
//! Counts are normalised to OpenAI's meaning whatever the shape: cached input
//! tokens are inside `prompt_tokens`, reasoning tokens inside
//! `completion_tokens`. Anthropic's Messages API counts cache reads and writes
//! beside its `input_tokens`, and Gemini thoughts beside its candidates, so
//! they are added in.

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

// Built once: building a searcher costs more than a short search. It finds
// `"usage"` and Gemini's `"usageMetadata"` alike (and passes over other
// keys that start so, like Groq's `"usage_breakdown"`).
static USAGE_FINDER: LazyLock<memmem::FinderRev<'static>> =
    LazyLock::new(|| memmem::FinderRev::new(b"\"usage"));

/// Find the last `"usage":{...}` (or Gemini's `"usageMetadata":{...}`) with
/// token counts in `bytes`.
pub fn scan_usage(bytes: &[u8]) -> Usage {
    let finder = &*USAGE_FINDER;
    let mut end = bytes.len();
    while let Some(at) = finder.rfind(&bytes[..end]) {
        let rest = &bytes[at + finder.needle().len()..];
        let value = rest
            .strip_prefix(b"\"")
            .or_else(|| rest.strip_prefix(b"Metadata\""));
        if let Some(usage) = value.and_then(counts_of).and_then(Counts::usage) {
            return usage;
        }
        end = at;
    }
    Usage::default()
}

/// The numbers a usage object may hold, each the first of its name.
/// `cached_tokens` and `reasoning_tokens` sit in nested `*_tokens_details`.
#[derive(Debug, Default)]
struct Counts {
    prompt: Option<u64>,
    completion: Option<u64>,
    /// Anthropic Messages and OpenAI Responses name them so.
    input: Option<u64>,
    output: Option<u64>,
    cached: Option<u64>,
    reasoning: Option<u64>,
    /// Anthropic only: counted beside `input_tokens`, not inside it.
    cache_read: Option<u64>,
    cache_creation: Option<u64>,
    /// Gemini's `usageMetadata`, counted as its translator counts them.
    gemini: GeminiCounts,
}

#[derive(Debug, Default)]
struct GeminiCounts {
    /// Cached tokens included.
    prompt: Option<u64>,
    /// Thoughts not included.
    candidates: Option<u64>,
    thoughts: Option<u64>,
    cached: Option<u64>,
    /// Built-in tool results (URL context), billed as input beside `prompt`.
    tool_use_prompt: Option<u64>,
}

impl Counts {
    fn field(&mut self, key: &[u8]) -> Option<&mut Option<u64>> {
        Some(match key {
            b"prompt_tokens" => &mut self.prompt,
            b"completion_tokens" => &mut self.completion,
            b"input_tokens" => &mut self.input,
            b"output_tokens" => &mut self.output,
            b"cached_tokens" => &mut self.cached,
            b"reasoning_tokens" => &mut self.reasoning,
            b"cache_read_input_tokens" => &mut self.cache_read,
            b"cache_creation_input_tokens" => &mut self.cache_creation,
            b"promptTokenCount" => &mut self.gemini.prompt,
            b"candidatesTokenCount" => &mut self.gemini.candidates,
            b"thoughtsTokenCount" => &mut self.gemini.thoughts,
            b"cachedContentTokenCount" => &mut self.gemini.cached,
            b"toolUsePromptTokenCount" => &mut self.gemini.tool_use_prompt,
            _ => return None,
        })
    }

    /// The usage these counts say, if they have any: OpenAI chat names,
    /// else Gemini's, else Anthropic's (told apart by their cache keys),
    /// else Responses'.
    fn usage(self) -> Option<Usage> {
        let n = |v: Option<u64>| v.unwrap_or(0);
        let g = &self.gemini;
        if g.prompt.is_some() || g.candidates.is_some() {
            // As `providers::gemini` counts them for translated answers.
            let thoughts = n(g.thoughts);
            return Some(
                Usage::new(
                    n(g.prompt).saturating_add(n(g.tool_use_prompt)),
                    n(g.candidates).saturating_add(thoughts),
                )
                .with_details(n(g.cached), thoughts),
            );
        }
        let details = (n(self.cached), n(self.reasoning));
        if self.prompt.is_some() || self.completion.is_some() {
            return Some(
                Usage::new(n(self.prompt), n(self.completion)).with_details(details.0, details.1),
            );
        }
        if self.input.is_none() && self.output.is_none() {
            return None;
        }
        if self.cache_read.is_none() && self.cache_creation.is_none() {
            // Responses: `input_tokens` already counts the cached ones.
            return Some(
                Usage::new(n(self.input), n(self.output)).with_details(details.0, details.1),
            );
        }
        let prompt = n(self.input)
            .saturating_add(n(self.cache_read))
            .saturating_add(n(self.cache_creation));
        // Anthropic reports no separate count of thinking tokens.
        Some(Usage::new(prompt, n(self.output)).with_details(n(self.cache_read), 0))
    }
}

/// The counts in the object that `obj` (what follows a usage key) opens,
/// read in one pass over it (nested objects included, string values
/// skipped); `None` if the value is not an object. An object the buffer
/// cuts short is read as far as it goes.
fn counts_of(obj: &[u8]) -> Option<Counts> {
    let open = memchr::memchr(b'{', obj)?;
    // Only whitespace and a colon may come before the brace.
    if obj[..open].iter().any(|&c| !is_blank_or_colon(c)) {
        return None;
    }
    let mut counts = Counts::default();
    let mut depth = 0usize;
    let mut i = open;
    while let Some(&c) = obj.get(i) {
        i += 1;
        match c {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            b'"' => {
                let start = i;
                while let Some(&c) = obj.get(i) {
                    i += 1;
                    match c {
                        b'\\' => i += 1,
                        b'"' => break,
                        _ => {}
                    }
                }
                let key = &obj[start..i.saturating_sub(1).max(start)];
                let mut j = i;
                while obj.get(j).is_some_and(|&c| is_blank(c)) {
                    j += 1;
                }
                if obj.get(j) != Some(&b':') {
                    continue; // a string value, not a key
                }
                while obj.get(j).is_some_and(|&c| is_blank_or_colon(c)) {
                    j += 1;
                }
                if let Some(slot) = counts.field(key).filter(|slot| slot.is_none()) {
                    let (value, after) = integer_at(obj, j);
                    *slot = value;
                    j = after;
                }
                i = j;
            }
            _ => {}
        }
    }
    Some(counts)
}

/// The unsigned integer starting at `obj[at]` (at most 19 digits, so it
/// fits a u64) and the index after it.
fn integer_at(obj: &[u8], at: usize) -> (Option<u64>, usize) {
    let mut i = at;
    let mut n: u64 = 0;
    while let Some(&d) = obj.get(i).filter(|d| d.is_ascii_digit()) {
        n = n.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
        i += 1;
    }
    let digits = i - at;
    ((1..=19).contains(&digits).then_some(n), i)
}

fn is_blank(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

fn is_blank_or_colon(c: u8) -> bool {
    is_blank(c) || c == b':'
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

    #[test]
    fn strings_inside_usage_are_skipped_braces_and_keys_alike() {
        let body = br#""usage":{"tier":"a } \"prompt_tokens\":99 {","prompt_tokens":5,"completion_tokens":1}"#;
        assert_eq!(scan_usage(body), Usage::new(5, 1));
    }

    #[test]
    fn a_usage_value_that_is_no_object_is_passed_over() {
        let body = br#"{"usage":{"prompt_tokens":3,"completion_tokens":4}}{"usage":null}"#;
        assert_eq!(scan_usage(body), Usage::new(3, 4));
        assert_eq!(
            scan_usage(br#""usage":"prompt_tokens":1"#),
            Usage::default()
        );
    }

    #[test]
    fn an_object_cut_short_is_read_as_far_as_it_goes() {
        assert_eq!(
            scan_usage(br#""usage":{"prompt_tokens":3,"completion_tokens":4"#),
            Usage::new(3, 4)
        );
        assert_eq!(
            scan_usage(br#""usage":{"prompt_tokens":3,"x":"\"#),
            Usage::new(3, 0)
        );
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
    fn gemini_usage_metadata_counts_thoughts_as_reasoning_output() {
        let body = br#"{"usageMetadata": {"promptTokenCount": 120, "candidatesTokenCount": 30, "cachedContentTokenCount": 100, "thoughtsTokenCount": 50, "toolUsePromptTokenCount": 7}}"#;
        assert_eq!(scan_usage(body), Usage::new(127, 80).with_details(100, 50));
        let groq = br#"{"usage":{"prompt_tokens":2,"completion_tokens":1},"usage_breakdown":null}"#;
        assert_eq!(scan_usage(groq), Usage::new(2, 1));
    }

    #[test]
    fn recorded_gemini_answers_give_thoughts_and_tool_prompt_tokens() {
        let cases = [
            ("generate-content-text.json", (9, 28 + 244, 244)),
            ("generate-content-web-fetch.json", (32 + 2395, 41 + 47, 47)),
            ("stream-thinking-crlf.sse", (34, 469 + 787, 787)),
            ("stream-text-crlf.sse", (13, 8, 0)),
            ("vertex-stream-flex-tier.sse", (5, 1 + 100, 100)),
        ];
        for (name, (prompt, completion, reasoning)) in cases {
            assert_eq!(
                tail_usage_of("gemini", name),
                Usage::new(prompt, completion).with_details(0, reasoning),
                "{name}"
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
