//! Mangled input never panics: every recorded chunk and completion, and a
//! full Gemini request, cut at every length and with bytes replaced by a
//! fixed pseudo-random sequence, through every converter.

use super::test_support::{payloads, read, MODEL};
use super::*;

/// A small deterministic generator (xorshift64), so failures replay.
struct Bytes(u64);

impl Bytes {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// `input` cut at every length, and `rounds` copies with a few bytes
/// replaced by JSON-significant ones.
fn mangled(input: &[u8], rounds: usize, rng: &mut Bytes) -> Vec<Vec<u8>> {
    const NASTY: &[u8] = b"{}[]\",:\\0-1e9nulltruefalse \xff\xc3";
    let mut out: Vec<Vec<u8>> = (0..input.len()).map(|n| input[..n].to_vec()).collect();
    for _ in 0..rounds {
        let mut copy = input.to_vec();
        for _ in 0..1 + rng.next() % 4 {
            if copy.is_empty() {
                break;
            }
            let at = (rng.next() % copy.len() as u64) as usize;
            copy[at] = NASTY[(rng.next() % NASTY.len() as u64) as usize];
        }
        out.push(copy);
    }
    out
}

const REQUEST: &str = r#"{"contents":[{"role":"user","parts":[{"text":"hi"},{"inlineData":{"mimeType":"image/png","data":"iVBORw=="}}]},
{"role":"model","parts":[{"text":"t","thought":true},{"functionCall":{"id":"c1","name":"f","args":{"a":[1,{"b":null}]}}}]},
{"role":"user","parts":[{"functionResponse":{"id":"c1","name":"f","response":{"out":2}}}]}],
"systemInstruction":{"parts":[{"text":"be nice"}]},
"tools":[{"functionDeclarations":[{"name":"g","parameters":{"type":"OBJECT","nullable":true,"properties":{"x":{"type":"ARRAY","max_items":"2","items":{"anyOf":[{"type":"STRING","enum":["a"]}]}}}}}]}],
"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["g"]}},
"generationConfig":{"temperature":0.5,"maxOutputTokens":10,"stopSequences":["x"],"responseMimeType":"application/json","responseSchema":{"type":"STRING"},"thinkingConfig":{"thinkingBudget":100}}}"#;

#[test]
fn mangled_requests_never_panic() {
    let mut rng = Bytes(0x9E37_79B9_7F4A_7C15);
    let mut out = Vec::new();
    assert!(to_chat(REQUEST.as_bytes(), MODEL, true, &mut out).is_ok());
    for input in mangled(REQUEST.as_bytes(), 3000, &mut rng) {
        out.clear();
        if to_chat(&input, MODEL, true, &mut out).is_ok() {
            serde_json::from_slice::<serde_json::Value>(&out).unwrap();
        }
    }
}

#[test]
fn mangled_answers_and_chunks_never_panic() {
    let mut rng = Bytes(0x2545_F491_4F6C_DD1D);
    let completion = read("openai", "chat-completion-parallel-tool-calls.json");
    for input in mangled(completion.as_bytes(), 500, &mut rng) {
        let mut out = Vec::new();
        if from_chat(&input, MODEL, &mut out).is_ok() {
            serde_json::from_slice::<serde_json::Value>(&out).unwrap();
        }
    }
    let chunks = payloads("openai", "chat-stream-parallel-tool-calls-usage.sse");
    for (i, chunk) in chunks.iter().enumerate() {
        for input in mangled(chunk.as_bytes(), 200, &mut rng) {
            for mut encoder in [
                StreamEncoder::new(MODEL),
                StreamEncoder::new_json_array(MODEL),
            ] {
                let mut out = Vec::new();
                for earlier in &chunks[..i] {
                    encoder.on_chunk(earlier.as_bytes(), &mut out).unwrap();
                }
                match encoder.on_chunk(&input, &mut out) {
                    Ok(()) => encoder.finish(&mut out),
                    Err(e) => encoder.fail(502, &e.0, &mut out),
                }
                assert!(std::str::from_utf8(&out).is_ok());
                if encoder.content_type() == b"application/json" {
                    serde_json::from_slice::<serde_json::Value>(&out).unwrap();
                }
            }
        }
    }
}
