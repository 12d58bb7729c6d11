//! Writing the OpenAI embeddings list (`{"object":"list","data":[...],
//! "model","usage"}`) from the vectors a translated upstream sent, as JSON
//! numbers (`encoding_format: "float"`) or as base64 of little-endian `f32`s
//! (`"base64"`, what the OpenAI SDKs ask for by default and decode).
//!
//! A [`ListWriter`] appends to a caller-owned buffer one vector at a time,
//! so a list can be built from several upstream answers.

use serde_json::value::RawValue;

/// Builds one OpenAI embeddings list in the caller's buffer: [`begin`],
/// [`push`] per vector (indices count from 0), then [`finish`].
///
/// [`begin`]: ListWriter::begin
/// [`push`]: ListWriter::push
/// [`finish`]: ListWriter::finish
#[derive(Debug)]
pub struct ListWriter {
    base64: bool,
    count: usize,
    /// Scratch for the base64 path, reused across vectors.
    bytes: Vec<u8>,
}

impl ListWriter {
    /// Appends the list's opening to `out`.
    pub fn begin(base64: bool, out: &mut Vec<u8>) -> ListWriter {
        out.extend_from_slice(br#"{"object":"list","data":["#);
        ListWriter {
            base64,
            count: 0,
            bytes: Vec::new(),
        }
    }

    /// Vectors pushed so far.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no vector was pushed yet.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends `{"object":"embedding","index":i,"embedding":...}` for
    /// `vector`, a JSON array of numbers as upstream sent it.
    ///
    /// Fails, leaving `out` as it was, if `vector` is not an array of
    /// numbers.
    pub fn push(&mut self, vector: &RawValue, out: &mut Vec<u8>) -> Result<(), &'static str> {
        // Also the check that the splice below is an array of numbers.
        let floats: Vec<f64> = serde_json::from_str(vector.get())
            .map_err(|_| "embedding is not an array of numbers")?;
        if self.count > 0 {
            out.push(b',');
        }
        out.extend_from_slice(br#"{"object":"embedding","index":"#);
        out.extend_from_slice(self.count.to_string().as_bytes());
        out.extend_from_slice(br#","embedding":"#);
        if self.base64 {
            self.bytes.clear();
            for f in floats {
                // OpenAI's base64 embeddings are f32; narrowing is the point.
                self.bytes.extend_from_slice(&(f as f32).to_le_bytes());
            }
            out.push(b'"');
            encode_base64(&self.bytes, out);
            out.push(b'"');
        } else {
            // Numbers only, so every whitespace byte is outside a token.
            out.extend(vector.get().bytes().filter(|b| !b.is_ascii_whitespace()));
        }
        out.push(b'}');
        self.count += 1;
        Ok(())
    }

    /// Closes the list with `model` and `usage` (`prompt_tokens` =
    /// `total_tokens` = `prompt_tokens`).
    pub fn finish(self, model: &str, prompt_tokens: u64, out: &mut Vec<u8>) {
        out.extend_from_slice(br#"],"model":"#);
        // Serialising a &str into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, model);
        out.extend_from_slice(
            format!(
                r#","usage":{{"prompt_tokens":{prompt_tokens},"total_tokens":{prompt_tokens}}}}}"#
            )
            .as_bytes(),
        );
    }
}

/// Standard base64 with `=` padding (RFC 4648 §4), appended to `out`.
pub fn encode_base64(input: &[u8], out: &mut Vec<u8>) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sextet = |n: u32, shift: u32| ALPHABET[((n >> shift) & 0x3f) as usize];
    let mut chunks = input.chunks_exact(3);
    for c in &mut chunks {
        let n = u32::from(c[0]) << 16 | u32::from(c[1]) << 8 | u32::from(c[2]);
        out.extend_from_slice(&[sextet(n, 18), sextet(n, 12), sextet(n, 6), sextet(n, 0)]);
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.extend_from_slice(&[sextet(n, 18), sextet(n, 12), b'=', b'=']);
        }
        [a, b] => {
            let n = u32::from(a) << 16 | u32::from(b) << 8;
            out.extend_from_slice(&[sextet(n, 18), sextet(n, 12), sextet(n, 6), b'=']);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_string()).unwrap()
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            let mut out = Vec::new();
            encode_base64(input.as_bytes(), &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), want, "{input}");
        }
    }

    #[test]
    fn float_list_keeps_upstream_numbers_and_counts_indices() {
        let mut out = Vec::new();
        let mut list = ListWriter::begin(false, &mut out);
        assert!(list.is_empty());
        list.push(&raw("[1.0, -0.5,\n 2e-3]"), &mut out).unwrap();
        list.push(&raw("[0.25]"), &mut out).unwrap();
        assert_eq!(list.len(), 2);
        list.finish("bedrock/m\"x", 7, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(r#""embedding":[1.0,-0.5,2e-3]"#), "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v,
            json!({"object":"list","data":[
                {"object":"embedding","index":0,"embedding":[1.0,-0.5,0.002]},
                {"object":"embedding","index":1,"embedding":[0.25]}],
                "model":"bedrock/m\"x","usage":{"prompt_tokens":7,"total_tokens":7}})
        );
    }

    #[test]
    fn base64_list_packs_little_endian_f32() {
        let mut out = Vec::new();
        let mut list = ListWriter::begin(true, &mut out);
        // 1.0f32 = 00 00 80 3f, -0.5f32 = 00 00 00 bf
        list.push(&raw("[1.0,-0.5]"), &mut out).unwrap();
        list.finish("m", 0, &mut out);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["data"][0]["embedding"], "AACAPwAAAL8=");
        assert_eq!(v["usage"]["prompt_tokens"], 0);
    }

    #[test]
    fn non_number_vectors_are_refused_and_leave_out_unchanged() {
        for base64 in [false, true] {
            let mut out = Vec::new();
            let mut list = ListWriter::begin(base64, &mut out);
            let before = out.clone();
            for bad in [r#"["x"]"#, "5", "{}", r#"[[1]]"#, "null"] {
                assert!(list.push(&raw(bad), &mut out).is_err(), "{bad}");
                assert_eq!(out, before);
            }
            assert!(list.is_empty());
        }
    }
}
