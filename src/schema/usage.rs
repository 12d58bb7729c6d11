//! Token usage read from the bytes of a relayed response on their way past.
//!
//! OpenAI-shaped responses put `usage` at the end: the last member of a
//! non-stream body, the final chunk of a stream with `include_usage` (Groq nests
//! it in `x_groq` on the last chunk). So the relay keeps only the last
//! [`TAIL_BYTES`] of the decoded body and reads the numbers once, at the end.

use std::sync::LazyLock;

use memchr::memmem;

/// How much of a response's end is kept for the usage scan.
pub const TAIL_BYTES: usize = 4096;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
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

/// Find the last `"usage":{...}` with token counts in `bytes`.
pub fn scan_usage(bytes: &[u8]) -> Usage {
    let finder = &*USAGE_FINDER;
    let mut end = bytes.len();
    while let Some(at) = finder.rfind(&bytes[..end]) {
        let obj = &bytes[at..];
        let mut prompt = number_after(obj, &PROMPT_FINDER);
        let mut completion = number_after(obj, &COMPLETION_FINDER);
        if prompt.is_none() && completion.is_none() {
            prompt = number_after(obj, &INPUT_FINDER);
            completion = number_after(obj, &OUTPUT_FINDER);
        }
        if prompt.is_some() || completion.is_some() {
            return Usage {
                prompt_tokens: prompt.unwrap_or(0),
                completion_tokens: completion.unwrap_or(0),
            };
        }
        end = at;
    }
    Usage::default()
}

/// The integer after the key `finder` finds and a colon, looking only inside
/// the first object.
fn number_after(obj: &[u8], finder: &memmem::Finder<'static>) -> Option<u64> {
    // Bound the search to this usage object: up to its first closing brace
    // that ends it (usage objects nest at most one level: *_tokens_details).
    let limit = object_end(obj).unwrap_or(obj.len());
    let at = finder.find(&obj[..limit])?;
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
        assert_eq!(
            scan_usage(body),
            Usage {
                prompt_tokens: 12,
                completion_tokens: 5
            }
        );
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
        assert_eq!(
            scan_usage(delta),
            Usage {
                prompt_tokens: 9,
                completion_tokens: 15
            }
        );
        let done = br#"{"type":"response.completed","response":{"usage":{"input_tokens":4,"input_tokens_details":{"cached_tokens":0},"output_tokens":2}}}"#;
        assert_eq!(scan_usage(done).completion_tokens, 2);
    }

    #[test]
    fn embeddings_usage_has_prompt_only() {
        let b = br#"{"data":[],"usage":{"prompt_tokens":8,"total_tokens":8}}"#;
        assert_eq!(scan_usage(b).prompt_tokens, 8);
    }
}
