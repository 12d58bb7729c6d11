//! The OpenAI dialect's answers, as the translations write them: a whole chat
//! completion, its usage, and a stream of `chat.completion.chunk` events.

use std::borrow::Cow;
use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};

// ---- chat completion responses ----

/// Seconds since the Unix epoch, for a completion's `created`.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A non-stream `chat.completion` with its one choice (translations ask
/// upstream for one).
#[derive(Debug)]
pub struct ChatCompletion<'a> {
    pub id: String,
    pub created: u64,
    pub model: &'a str,
    pub message: AssistantMessage<'a>,
    pub finish_reason: Option<&'static str>,
    pub usage: CompletionUsage,
}

/// `choices[0].message`, without its fixed `role`.
#[derive(Debug, Serialize)]
pub struct AssistantMessage<'a> {
    pub content: Option<String>,
    /// Not OpenAI's; the field DeepSeek and most gateways use for thinking.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ResponseToolCall<'a>>,
}

/// A tool call in a response: `arguments` is JSON text in a string.
#[derive(Debug, Serialize)]
pub struct ResponseToolCall<'a> {
    pub id: Cow<'a, str>,
    #[serde(rename = "type")]
    pub kind: Cow<'a, str>,
    pub function: ResponseFunctionCall<'a>,
}

#[derive(Debug, Serialize)]
pub struct ResponseFunctionCall<'a> {
    pub name: Cow<'a, str>,
    pub arguments: Cow<'a, str>,
}

impl<'a> ResponseToolCall<'a> {
    /// A `"type": "function"` call.
    pub fn function(id: Cow<'a, str>, name: Cow<'a, str>, arguments: Cow<'a, str>) -> Self {
        ResponseToolCall {
            id,
            kind: Cow::Borrowed("function"),
            function: ResponseFunctionCall { name, arguments },
        }
    }
}

impl Serialize for ChatCompletion<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'s, 'a> {
            id: &'s str,
            object: &'static str,
            created: u64,
            model: &'a str,
            choices: [WireChoice<'s, 'a>; 1],
            usage: &'s CompletionUsage,
        }
        #[derive(Serialize)]
        struct WireChoice<'s, 'a> {
            index: u32,
            message: WireMessage<'s, 'a>,
            finish_reason: Option<&'static str>,
            logprobs: Option<()>,
        }
        #[derive(Serialize)]
        struct WireMessage<'s, 'a> {
            role: &'static str,
            #[serde(flatten)]
            message: &'s AssistantMessage<'a>,
        }
        Wire {
            id: &self.id,
            object: "chat.completion",
            created: self.created,
            model: self.model,
            choices: [WireChoice {
                index: 0,
                message: WireMessage {
                    role: "assistant",
                    message: &self.message,
                },
                finish_reason: self.finish_reason,
                logprobs: None,
            }],
            usage: &self.usage,
        }
        .serialize(serializer)
    }
}

/// `usage` of a completion, and of a stream's last chunk.
#[derive(Debug, Serialize)]
pub struct CompletionUsage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    prompt_tokens_details: PromptTokensDetails,
    #[serde(skip_serializing_if = "Option::is_none")]
    completion_tokens_details: Option<CompletionTokensDetails>,
}

#[derive(Debug, Serialize)]
struct PromptTokensDetails {
    cached_tokens: u64,
}

#[derive(Debug, Serialize)]
struct CompletionTokensDetails {
    reasoning_tokens: u64,
}

impl CompletionUsage {
    /// `cached_tokens` are counted inside `prompt_tokens`, as OpenAI counts
    /// them; `total_tokens` is the sum of prompt and completion.
    pub fn new(prompt_tokens: u64, completion_tokens: u64, cached_tokens: u64) -> Self {
        CompletionUsage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens.saturating_add(completion_tokens),
            prompt_tokens_details: PromptTokensDetails { cached_tokens },
            completion_tokens_details: None,
        }
    }

    /// Adds `completion_tokens_details.reasoning_tokens`, counted inside
    /// `completion_tokens`.
    pub fn with_reasoning_tokens(mut self, reasoning_tokens: u64) -> Self {
        self.completion_tokens_details = Some(CompletionTokensDetails { reasoning_tokens });
        self
    }
}

// ---- chat completion streams ----

/// Writes `s` as a JSON string token.
pub fn write_json_str(out: &mut Vec<u8>, s: &str) {
    // Serialising a str into a Vec cannot fail.
    if let Err(e) = serde_json::to_writer(&mut *out, s) {
        tracing::error!(error = %e, "writing a JSON string");
    }
}

/// Writes one stream's `chat.completion.chunk` frames (`data: {json}\n\n`),
/// each carrying the stream's id, `created` and model, with one choice.
/// Text and arguments are spliced as the JSON string tokens upstream sent.
#[derive(Debug, Default)]
pub struct ChunkWriter {
    /// `data: {"id":…,"object":"chat.completion.chunk","created":…,"model":…,`
    prefix: Vec<u8>,
}

impl ChunkWriter {
    /// Frames of the completion `id` (`chatcmpl-…`).
    pub fn new(id: &str, created: u64, model: &str) -> Self {
        let mut prefix = Vec::with_capacity(96 + id.len() + model.len());
        prefix.extend_from_slice(b"data: {\"id\":");
        write_json_str(&mut prefix, id);
        // Writing into a Vec cannot fail.
        let _ = write!(
            prefix,
            ",\"object\":\"chat.completion.chunk\",\"created\":{created},\"model\":"
        );
        write_json_str(&mut prefix, model);
        prefix.push(b',');
        ChunkWriter { prefix }
    }

    /// A frame whose `delta` object `write_delta` writes, with
    /// `finish_reason` (null when `None`).
    pub fn chunk(
        &self,
        out: &mut Vec<u8>,
        write_delta: impl FnOnce(&mut Vec<u8>),
        finish_reason: Option<&str>,
    ) {
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(b"\"choices\":[{\"index\":0,\"delta\":");
        write_delta(out);
        out.extend_from_slice(b",\"finish_reason\":");
        match finish_reason {
            Some(reason) => {
                out.push(b'"');
                out.extend_from_slice(reason.as_bytes());
                out.push(b'"');
            }
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"logprobs\":null}]}\n\n");
    }

    /// The first frame: the assistant role and empty content.
    pub fn role(&self, out: &mut Vec<u8>) {
        self.chunk(
            out,
            |o| o.extend_from_slice(br#"{"role":"assistant","content":""}"#),
            None,
        );
    }

    /// A frame whose delta is `{"<field>": <token>}`, `token` being a JSON
    /// string token; an empty string sends nothing.
    pub fn text(&self, out: &mut Vec<u8>, field: &str, token: &str) {
        if token == "\"\"" {
            return;
        }
        self.chunk(
            out,
            |o| {
                o.extend_from_slice(b"{\"");
                o.extend_from_slice(field.as_bytes());
                o.extend_from_slice(b"\":");
                o.extend_from_slice(token.as_bytes());
                o.push(b'}');
            },
            None,
        );
    }

    /// The frame opening tool call `tool_index`; `arguments` is a JSON string
    /// token (`""` when the arguments follow in fragments).
    pub fn tool_call(
        &self,
        out: &mut Vec<u8>,
        tool_index: u32,
        id: &str,
        name: &str,
        arguments: &str,
    ) {
        self.tool_call_with(out, tool_index, id, name, |o| {
            o.extend_from_slice(arguments.as_bytes());
        });
    }

    /// [`tool_call`](Self::tool_call) with the `arguments` string written by
    /// `write_arguments`.
    pub fn tool_call_with(
        &self,
        out: &mut Vec<u8>,
        tool_index: u32,
        id: &str,
        name: &str,
        write_arguments: impl FnOnce(&mut Vec<u8>),
    ) {
        self.chunk(
            out,
            |o| {
                let _ = write!(o, "{{\"tool_calls\":[{{\"index\":{tool_index},\"id\":");
                write_json_str(o, id);
                o.extend_from_slice(br#","type":"function","function":{"name":"#);
                write_json_str(o, name);
                o.extend_from_slice(br#","arguments":"#);
                write_arguments(o);
                o.extend_from_slice(b"}}]}");
            },
            None,
        );
    }

    /// A frame adding `fragment`, a JSON string token, to the arguments of
    /// tool call `tool_index`.
    pub fn arguments(&self, out: &mut Vec<u8>, tool_index: u32, fragment: &str) {
        self.chunk(
            out,
            |o| {
                let _ = write!(
                    o,
                    "{{\"tool_calls\":[{{\"index\":{tool_index},\"function\":{{\"arguments\":"
                );
                o.extend_from_slice(fragment.as_bytes());
                o.extend_from_slice(b"}}]}");
            },
            None,
        );
    }

    /// A frame with an empty delta and `finish_reason`.
    pub fn finish_reason(&self, out: &mut Vec<u8>, reason: &str) {
        self.chunk(out, |o| o.extend_from_slice(b"{}"), Some(reason));
    }

    /// The end of a stream that ended well: a usage-only frame if `usage`
    /// is given (the client asked for `include_usage`), then `data: [DONE]`.
    pub fn done(&self, out: &mut Vec<u8>, usage: Option<&CompletionUsage>) {
        if let Some(usage) = usage {
            out.extend_from_slice(&self.prefix);
            out.extend_from_slice(b"\"choices\":[],\"usage\":");
            if let Err(e) = serde_json::to_writer(&mut *out, usage) {
                tracing::error!(error = %e, "writing usage chunk");
            }
            out.extend_from_slice(b"}\n\n");
        }
        out.extend_from_slice(b"data: [DONE]\n\n");
    }
}
