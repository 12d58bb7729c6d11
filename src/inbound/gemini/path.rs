//! What the URL says: the model and method in the path after `/models/`,
//! and the stream framing in the query string.

use std::borrow::Cow;

/// The `generateContent` method a request path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `:generateContent`: one whole answer.
    Generate,
    /// `:streamGenerateContent`: a stream, framed as SSE with `alt=sse`
    /// (see [`alt_sse`]), else as one JSON array.
    StreamGenerate,
}

/// The model and method of the part of a request path after `/models/`
/// (no query string), e.g. `openai/gpt-4o-mini:streamGenerateContent`. The
/// path is percent-decoded first, so `openai%2Fgpt-4o-mini:generateContent`
/// names the same model; the method is what follows the last `:`, which
/// lets a model name hold `:` itself (`ollama/llama3:8b:generateContent`).
///
/// `None` for another method (`countTokens`, `embedContent`), an empty
/// model, or a path that is not valid percent-encoded UTF-8.
pub fn parse_path(path: &[u8]) -> Option<(Cow<'_, str>, Method)> {
    let decoded = percent_decode(path)?;
    let (model_len, method) = {
        let (model, method) = decoded.rsplit_once(':')?;
        let method = match method {
            "generateContent" => Method::Generate,
            "streamGenerateContent" => Method::StreamGenerate,
            _ => return None,
        };
        (model.len(), method)
    };
    if model_len == 0 {
        return None;
    }
    let model = match decoded {
        Cow::Borrowed(s) => Cow::Borrowed(&s[..model_len]),
        Cow::Owned(mut s) => {
            s.truncate(model_len);
            Cow::Owned(s)
        }
    };
    Some((model, method))
}

/// `alt=sse` among the `&`-separated pairs of a query string (without or
/// with its leading `?`); the last `alt` wins, as for any repeated
/// parameter. Without it Gemini streams one JSON array.
pub fn alt_sse(query: &[u8]) -> bool {
    let query = query.strip_prefix(b"?").unwrap_or(query);
    query
        .split(|&b| b == b'&')
        .filter_map(|pair| pair.strip_prefix(b"alt="))
        .next_back()
        .is_some_and(|value| value == b"sse")
}

/// `bytes` with `%XX` escapes decoded, borrowed when it has none; `None`
/// for a malformed escape or a result that is not UTF-8.
fn percent_decode(bytes: &[u8]) -> Option<Cow<'_, str>> {
    if !bytes.contains(&b'%') {
        return std::str::from_utf8(bytes).ok().map(Cow::Borrowed);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let (hex, tail) = (tail.get(..2)?, tail.get(2..)?);
            out.push((hex_value(hex[0])? << 4) | hex_value(hex[1])?);
            rest = tail;
        } else {
            out.push(b);
            rest = tail;
        }
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
#[path = "path_tests.rs"]
mod tests;
