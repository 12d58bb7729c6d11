//! Top-level field peek over a JSON object, without building a value.
//!
//! The pass-through path must not re-serialise the body (ARCHITECTURE §4), so it
//! only needs byte offsets: the `model` string to splice and the `stream` flag.
//! Strings are skipped with `memchr`, so a 1 MB prompt costs one fast scan.
//!
//! It is not a full validator (the upstream validates what it receives), but on
//! every body a JSON parser accepts it must find the same top-level `model` as
//! that parser, or a client could route on one model while the upstream serves
//! another: keys are compared after unescaping (`"mod\u0065l"` is `model`), and
//! a second top-level `model` or `stream` key is refused (parsers disagree on
//! which one wins). Scalars may only hold literal and number characters, and
//! nothing but whitespace may follow the object. Bodies no parser accepts
//! (mismatched brackets, say) need no such care: the upstream refuses them.

use std::ops::Range;

/// What the router needs from a request body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Peek {
    /// The `model` value's contents (between the quotes).
    pub model: Option<Range<usize>>,
    /// The model string contains escapes and must be unescaped before use.
    pub model_escaped: bool,
    /// `"stream": true`.
    pub stream: bool,
    /// The gateway's own `fallbacks` field, if the body has one.
    pub fallbacks: Option<Member>,
    /// Bit `n` set: the `n`th name given to [`peek_members`] is a top-level key.
    pub present: u64,
}

/// A top-level member the gateway consumes and removes before the body goes
/// upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The value's bytes.
    pub value: Range<usize>,
    /// What to cut so the rest stays a valid object: the key, the value and
    /// one adjacent comma (the following one, else the preceding one).
    pub cut: Range<usize>,
}

/// A body the scan cannot follow (the internal, register-sized error).
#[derive(Debug, Clone, Copy)]
struct Malformed(&'static str);

impl From<Malformed> for PeekError {
    fn from(m: Malformed) -> Self {
        PeekError::Malformed(m.0)
    }
}

/// Why a body cannot be routed; every case is the client's error (400).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PeekError {
    #[error("request body is not a JSON object: {0}")]
    Malformed(&'static str),
    /// Parsers disagree on which of two equal keys wins, so neither is trusted.
    #[error("request body has more than one top-level `{0}` key")]
    DuplicateKey(&'static str),
}

/// Scan the top level of a JSON object body.
pub fn peek(body: &[u8]) -> Result<Peek, PeekError> {
    peek_members(body, &[])
}

/// [`peek`], also noting which of `names` (at most 64, compared as sent)
/// are top-level keys, in the same walk.
pub fn peek_members(body: &[u8], names: &[&str]) -> Result<Peek, PeekError> {
    debug_assert!(names.len() <= 64);
    let mut p = Peek::default();
    let (mut seen_model, mut seen_stream) = (false, false);
    // The comma before the current member, and a `fallbacks` member whose
    // cut is decided by what follows it.
    let mut comma_before: Option<usize> = None;
    let mut fallbacks_at: Option<(usize, Range<usize>)> = None;
    let mut i = skip_ws(body, 0);
    if body.get(i) != Some(&b'{') {
        return Err(PeekError::Malformed("expected '{'"));
    }
    i = skip_ws(body, i + 1);
    if body.get(i) == Some(&b'}') {
        return end_of_body(body, i + 1).map(|_| p);
    }
    loop {
        if body.get(i) != Some(&b'"') {
            return Err(PeekError::Malformed("expected a key"));
        }
        let key_at = i;
        let (key, key_escaped, after) = string_at(body, i)?;
        i = skip_ws(body, after);
        if body.get(i) != Some(&b':') {
            return Err(PeekError::Malformed("expected ':'"));
        }
        i = skip_ws(body, i + 1);
        match top_level_key(&body[key.clone()], key_escaped)? {
            Key::Model => {
                if std::mem::replace(&mut seen_model, true) {
                    return Err(PeekError::DuplicateKey("model"));
                }
                if body.get(i) == Some(&b'"') {
                    let (range, escaped, after) = string_at(body, i)?;
                    p.model = Some(range);
                    p.model_escaped = escaped;
                    i = after;
                } else {
                    i = skip_value(body, i)?;
                }
            }
            Key::Stream => {
                if std::mem::replace(&mut seen_stream, true) {
                    return Err(PeekError::DuplicateKey("stream"));
                }
                let end = skip_value(body, i)?;
                p.stream = &body[i..end] == b"true";
                i = end;
            }
            Key::Fallbacks => {
                if fallbacks_at.is_some() || p.fallbacks.is_some() {
                    return Err(PeekError::DuplicateKey("fallbacks"));
                }
                let end = skip_value(body, i)?;
                fallbacks_at = Some((key_at, i..end));
                i = end;
            }
            Key::Other => {
                if let Some(n) = names
                    .iter()
                    .position(|n| n.as_bytes() == &body[key.clone()])
                {
                    p.present |= 1 << n;
                }
                i = skip_value(body, i)?;
            }
        }
        i = skip_ws(body, i);
        let separator = body.get(i).copied();
        if let Some((key_at, value)) = fallbacks_at.take() {
            let cut = match (separator, comma_before) {
                (Some(b','), _) => key_at..skip_ws(body, i + 1),
                (_, Some(comma)) => comma..value.end,
                (_, None) => key_at..value.end,
            };
            p.fallbacks = Some(Member { value, cut });
        }
        match separator {
            Some(b',') => {
                comma_before = Some(i);
                i = skip_ws(body, i + 1);
            }
            Some(b'}') => return end_of_body(body, i + 1).map(|_| p),
            _ => return Err(PeekError::Malformed("expected ',' or '}'")),
        }
    }
}

/// The contents range of the key of the top-level member named `name`
/// (an unescaped key), if the body is an object that has one: for renaming
/// a field of a body the gateway wrote itself.
pub fn top_level_key_named(body: &[u8], name: &[u8]) -> Option<Range<usize>> {
    let mut i = skip_ws(body, 0);
    if body.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(body, i + 1);
    while body.get(i) == Some(&b'"') {
        let (key, _, after) = string_at(body, i).ok()?;
        i = skip_ws(body, after);
        if body.get(i) != Some(&b':') {
            return None;
        }
        if &body[key.clone()] == name {
            return Some(key);
        }
        i = skip_ws(body, skip_value(body, skip_ws(body, i + 1)).ok()?);
        match body.get(i) {
            Some(b',') => i = skip_ws(body, i + 1),
            _ => return None,
        }
    }
    None
}

/// The keys the gateway reads.
enum Key {
    Model,
    Stream,
    Fallbacks,
    Other,
}

#[inline]
fn top_level_key(raw: &[u8], escaped: bool) -> Result<Key, PeekError> {
    let classify = |k: &[u8]| match k {
        b"model" => Key::Model,
        b"stream" => Key::Stream,
        b"fallbacks" => Key::Fallbacks,
        _ => Key::Other,
    };
    if !escaped {
        return Ok(classify(raw));
    }
    // Rare: a key with escapes. Only short ones can spell a key we read.
    if raw.len() > 6 * b"fallbacks".len() {
        return Ok(Key::Other);
    }
    match unescape(raw) {
        Some(k) => Ok(classify(k.as_bytes())),
        None => Err(PeekError::Malformed("invalid escape in a key")),
    }
}

/// Only whitespace may follow the top-level object.
fn end_of_body(body: &[u8], i: usize) -> Result<(), PeekError> {
    match skip_ws(body, i) == body.len() {
        true => Ok(()),
        false => Err(PeekError::Malformed("data after the top-level object")),
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = b.get(i) {
        i += 1;
    }
    i
}

/// The string starting at `b[i] == '"'`: (contents range, has escapes, index after the closing quote).
fn string_at(b: &[u8], i: usize) -> Result<(Range<usize>, bool, usize), Malformed> {
    let start = i + 1;
    let mut j = start;
    let mut escaped = false;
    loop {
        match memchr::memchr2(b'"', b'\\', &b[j..]) {
            Some(k) if b[j + k] == b'"' => return Ok((start..j + k, escaped, j + k + 1)),
            Some(k) => {
                escaped = true;
                j += k + 2;
                if j > b.len() {
                    return Err(Malformed("unterminated string"));
                }
            }
            None => return Err(Malformed("unterminated string")),
        }
    }
}

/// Index just past the value starting at `b[i]`.
fn skip_value(b: &[u8], i: usize) -> Result<usize, Malformed> {
    match b.get(i) {
        Some(b'"') => Ok(string_at(b, i)?.2),
        Some(b'{' | b'[') => skip_container(b, i),
        Some(_) => {
            let mut j = i;
            while let Some(&c) = b.get(j) {
                match c {
                    b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t' => break,
                    // Literals (true, false, null) and numbers only.
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'+' | b'-' | b'.' => j += 1,
                    _ => return Err(Malformed("invalid value")),
                }
            }
            if j == i {
                Err(Malformed("expected a value"))
            } else {
                Ok(j)
            }
        }
        None => Err(Malformed("unexpected end")),
    }
}

/// Index just past the object or array at `b[i]`.
fn skip_container(b: &[u8], i: usize) -> Result<usize, Malformed> {
    let mut depth = 0usize;
    let mut j = i;
    while j < b.len() {
        match b[j] {
            b'"' => {
                j = string_at(b, j)?.2;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(j + 1);
                }
            }
            _ => {}
        }
        j += 1;
    }
    Err(Malformed("unterminated object or array"))
}

/// Unescape a JSON string's contents (rare path: models with escapes).
pub fn unescape(contents: &[u8]) -> Option<String> {
    let mut quoted = Vec::with_capacity(contents.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(contents);
    quoted.push(b'"');
    serde_json::from_slice(&quoted).ok()
}

/// Append `s` as a JSON string literal (with quotes).
pub fn push_json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes());
            }
            c => {
                let mut tmp = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// Length of `s` as a JSON string literal, quotes included.
pub fn json_string_len(s: &str) -> usize {
    2 + s
        .chars()
        .map(|c| match c {
            '"' | '\\' | '\n' | '\r' | '\t' => 2,
            c if (c as u32) < 0x20 => 6,
            c => c.len_utf8(),
        })
        .sum::<usize>()
}

/// Length of `body` once [`splice_model`] has replaced the model value.
pub fn spliced_len(body: &[u8], model: &Range<usize>, new_model: &str) -> usize {
    Splice::new(model, None).len(body.len(), new_model)
}

/// Append `body` to `out` with the `model` string (contents at `model`, as
/// found by [`peek`]) replaced by `new_model`; every other byte is kept.
pub fn splice_model(out: &mut Vec<u8>, body: &[u8], model: &Range<usize>, new_model: &str) {
    Splice::new(model, None).write(out, body, new_model);
}

/// How a client's body becomes the upstream's: the `model` string replaced,
/// and a member the gateway consumed (`fallbacks`) cut; every other byte is
/// kept as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Splice {
    /// The model string, quotes included.
    model: Range<usize>,
    cut: Option<Range<usize>>,
    /// Members written right after the new model (`,"name":value`).
    after_model: &'static [u8],
}

/// One piece of the upstream body, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// These bytes of the client's body.
    Body(Range<usize>),
    /// The new model, as a JSON string.
    Model,
}

impl Splice {
    /// `model` is the string's contents as [`peek`] found it; `cut` a
    /// [`Member::cut`] of the same body (they never overlap).
    pub fn new(model: &Range<usize>, cut: Option<Range<usize>>) -> Self {
        Self {
            model: model.start - 1..model.end + 1,
            cut,
            after_model: b"",
        }
    }

    /// Also add `members` (`,"name":value`, valid after the model's value)
    /// to the upstream body.
    pub fn with_members_after_model(self, members: &'static [u8]) -> Self {
        Self {
            after_model: members,
            ..self
        }
    }

    /// What [`Splice::with_members_after_model`] added.
    pub fn after_model(&self) -> &'static [u8] {
        self.after_model
    }

    /// The pieces of the upstream body for a client body of `body_len` bytes.
    pub fn pieces(&self, body_len: usize) -> impl Iterator<Item = Piece> {
        let m = self.model.clone();
        let mut pieces = [None, None, None, None];
        match self.cut.clone() {
            None => {
                pieces[0] = Some(Piece::Body(0..m.start));
                pieces[1] = Some(Piece::Model);
                pieces[2] = Some(Piece::Body(m.end..body_len));
            }
            Some(c) if c.start >= m.end => {
                pieces[0] = Some(Piece::Body(0..m.start));
                pieces[1] = Some(Piece::Model);
                pieces[2] = Some(Piece::Body(m.end..c.start));
                pieces[3] = Some(Piece::Body(c.end..body_len));
            }
            Some(c) => {
                pieces[0] = Some(Piece::Body(0..c.start));
                pieces[1] = Some(Piece::Body(c.end..m.start));
                pieces[2] = Some(Piece::Model);
                pieces[3] = Some(Piece::Body(m.end..body_len));
            }
        }
        pieces
            .into_iter()
            .flatten()
            .filter(|p| !matches!(p, Piece::Body(r) if r.is_empty()))
    }

    /// Length of the upstream body.
    pub fn len(&self, body_len: usize, new_model: &str) -> usize {
        let cut = self.cut.as_ref().map_or(0, |c| c.len());
        body_len - self.model.len() - cut + json_string_len(new_model) + self.after_model.len()
    }

    /// Append the upstream body to `out`.
    pub fn write(&self, out: &mut Vec<u8>, body: &[u8], new_model: &str) {
        for piece in self.pieces(body.len()) {
            match piece {
                Piece::Body(r) => out.extend_from_slice(&body[r]),
                Piece::Model => {
                    push_json_string(out, new_model);
                    out.extend_from_slice(self.after_model);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_after_the_model_keep_the_body_valid_json() {
        let body = br#"{"model":"a","stream":true,"messages":[]}"#;
        let p = peek(body).unwrap();
        let splice = Splice::new(&p.model.unwrap(), None)
            .with_members_after_model(br#","stream_options":{"include_usage":true}"#);
        let mut out = Vec::new();
        splice.write(&mut out, body, "longer-model");
        assert_eq!(out.len(), splice.len(body.len(), "longer-model"));
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["model"], "longer-model");
        assert_eq!(v["stream_options"]["include_usage"], true);
        assert_eq!(v["stream"], true);
    }

    #[test]
    fn required_members_are_noted_in_the_same_walk() {
        let names = ["messages", "max_tokens"];
        let present = |body: &[u8]| peek_members(body, &names).unwrap().present;
        let body = br#"{"model":"m","messages":[{"max_tokens":1}],"max_tokens":5}"#;
        assert_eq!(present(body), 0b11);
        // Only top-level keys count, not keys inside values.
        let body = br#"{"model":"m","messages":[{"max_tokens":1}]}"#;
        assert_eq!(present(body), 0b01);
        assert_eq!(present(br#"{}"#), 0);
        assert_eq!(peek(br#"{"messages":1}"#).unwrap().present, 0);
    }

    #[test]
    fn a_top_level_key_is_found_by_name_and_not_inside_values() {
        let body = br#"{"messages":[{"max_tokens":"x"}], "s":"\"max_tokens\":", "max_tokens" : 5}"#;
        let key = top_level_key_named(body, b"max_tokens").unwrap();
        assert_eq!(&body[key.clone()], b"max_tokens");
        assert_eq!(key.start, body.len() - 16);
        assert_eq!(top_level_key_named(br#"{"a":1}"#, b"max_tokens"), None);
        assert_eq!(top_level_key_named(b"[1]", b"a"), None);
        assert_eq!(top_level_key_named(br#"{"a":[1,"#, b"b"), None);
    }

    #[test]
    fn finds_model_after_a_large_messages_array() {
        let body = br#"{"messages":[{"role":"user","content":"hi \"there\" {[}]"}],"model":"groq/llama-3","stream":true,"x":{"model":"nested"}}"#;
        let p = peek(body).unwrap();
        assert_eq!(&body[p.model.unwrap()], b"groq/llama-3");
        assert!(p.stream && !p.model_escaped);
    }

    #[test]
    fn stream_false_and_missing_model() {
        let p = peek(br#" { "stream" : false , "n": 1.5e3, "ok": null } "#).unwrap();
        assert_eq!(p, Peek::default());
    }

    #[test]
    fn escaped_model_is_flagged_and_unescaped() {
        let body = br#"{"model":"a\/b"}"#;
        let p = peek(body).unwrap();
        assert!(p.model_escaped);
        assert_eq!(unescape(&body[p.model.unwrap()]).unwrap(), "a/b");
    }

    #[test]
    fn fallbacks_are_found_and_cut_leaving_a_valid_object() {
        let cases: [(&[u8], &str); 4] = [
            (
                br#"{"model":"a","fallbacks":["b/c"],"n":1}"#,
                r#"{"model":"X","n":1}"#,
            ),
            (
                br#"{"fallbacks" : ["b/c", "d/e"] , "model":"a"}"#,
                r#"{"model":"X"}"#,
            ),
            (
                br#"{"model":"a", "fallbacks":["b/c"] }"#,
                r#"{"model":"X" }"#,
            ),
            (br#"{"model":"a","fallbacks":[]}"#, r#"{"model":"X"}"#),
        ];
        for (body, upstream) in cases {
            let p = peek(body).unwrap();
            let fallbacks = p.fallbacks.clone().expect("found");
            assert!(body[fallbacks.value.clone()].starts_with(b"["));
            let splice = Splice::new(&p.model.unwrap(), Some(fallbacks.cut));
            let mut out = Vec::new();
            splice.write(&mut out, body, "X");
            assert_eq!(String::from_utf8(out).unwrap(), upstream);
            assert_eq!(splice.len(body.len(), "X"), upstream.len());
        }
        let alone = br#"{ "fallbacks":[] }"#;
        assert_eq!(peek(alone).unwrap().fallbacks.unwrap().cut, 2..16);
        assert!(matches!(
            peek(br#"{"fallbacks":[],"model":"a","fallbacks":["x/y"]}"#),
            Err(PeekError::DuplicateKey("fallbacks"))
        ));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            &b""[..],
            b"[]",
            b"{",
            b"{\"a\"",
            b"{\"a\":",
            b"{\"a\":\"x",
            b"{\"a\":[1,2",
            b"{\"a\":1 \"b\":2}",
            b"{\"a\\",
            b"{\"a\":}",
        ] {
            assert!(peek(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn escaped_or_repeated_model_keys_are_refused() {
        // Each was a way to route one model while the upstream parses another.
        for body in [
            &br#"{"model":"openai/gpt-4o-mini","mod\u0065l":"gpt-4-EXPENSIVE"}"#[..],
            br#"{"model":"gpt-4-EXPENSIVE","model":"openai/gpt-4o-mini"}"#,
            br#"{"\u006dodel":"a","model":"b"}"#,
            br#"{"model":1,"model":"b"}"#,
            br#"{"stream":false,"str\u0065am":true,"model":"a"}"#,
        ] {
            assert!(
                matches!(peek(body), Err(PeekError::DuplicateKey(_))),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn escaped_model_key_alone_is_the_model() {
        let body = br#"{"mod\u0065l":"a/b","\u0073tream":true}"#;
        let p = peek(body).unwrap();
        assert_eq!(&body[p.model.unwrap()], b"a/b");
        assert!(p.stream);
    }

    #[test]
    fn structure_a_parser_would_refuse_is_refused() {
        for bad in [
            &br#"{"model":"a"}{"model":"b"}"#[..],
            br#"{"model":"a"} x"#,
            br#"{"a":tru"model":"b"}"#,
            br#"{"\ud800":1}"#,
        ] {
            assert!(peek(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let ok = format!(
            "{{\"a\":{}{}}}  \n",
            "[{\"b\":".repeat(100),
            "1}]".repeat(100)
        );
        assert!(peek(ok.as_bytes()).is_ok());
    }

    #[test]
    fn splice_replaces_only_the_model_value() {
        let body = br#"{"a":1, "model" : "groq/x\"y" ,"b":"model"}"#;
        let p = peek(body).unwrap();
        let range = p.model.unwrap();
        let mut out = Vec::new();
        splice_model(&mut out, body, &range, "x\"y/\u{1}");
        assert_eq!(out.len(), spliced_len(body, &range, "x\"y/\u{1}"));
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["model"], "x\"y/\u{1}");
        assert!(out.starts_with(br#"{"a":1, "model" : "#));
        assert!(out.ends_with(br#" ,"b":"model"}"#));
    }

    #[test]
    fn json_string_writer_escapes() {
        let mut out = Vec::new();
        push_json_string(&mut out, "a\"b\\c\n\u{1}é");
        assert_eq!(
            serde_json::from_slice::<String>(&out).unwrap(),
            "a\"b\\c\n\u{1}é"
        );
    }
}
