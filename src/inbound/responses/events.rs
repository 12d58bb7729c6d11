//! The Responses stream's events: the writer that frames them and numbers
//! them, and their bodies, fields in the order the real service writes them.

use serde::Serialize;

use super::response::{ResponseObject, SummaryText};

/// Writes events with their sequence numbers, counting from 0.
#[derive(Default)]
pub(super) struct Events {
    next_sequence_number: u64,
}

impl Events {
    pub(super) fn write(&mut self, out: &mut Vec<u8>, kind: &str, body: impl Serialize) {
        #[derive(Serialize)]
        struct Frame<'k, T> {
            #[serde(rename = "type")]
            kind: &'k str,
            sequence_number: u64,
            #[serde(flatten)]
            body: T,
        }
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b"\ndata: ");
        let frame = Frame {
            kind,
            sequence_number: self.next_sequence_number,
            body,
        };
        // Strings and numbers into a Vec: this cannot fail.
        if let Err(e) = serde_json::to_writer(&mut *out, &frame) {
            tracing::error!(error = %e, "writing a responses stream event");
        }
        out.extend_from_slice(b"\n\n");
        self.next_sequence_number += 1;
    }
}

#[derive(Serialize)]
pub(super) struct ResponseBody<'a> {
    pub(super) response: ResponseObject<'a>,
}

#[derive(Serialize)]
pub(super) struct ItemBody<T> {
    pub(super) output_index: usize,
    pub(super) item: T,
}

#[derive(Serialize)]
pub(super) struct PartBody<'a, P> {
    pub(super) item_id: &'a str,
    pub(super) output_index: usize,
    pub(super) content_index: u32,
    pub(super) part: P,
}

#[derive(Serialize)]
pub(super) struct TextDelta<'a> {
    pub(super) item_id: &'a str,
    pub(super) output_index: usize,
    pub(super) content_index: u32,
    pub(super) delta: &'a str,
    pub(super) logprobs: [(); 0],
}

#[derive(Serialize)]
pub(super) struct TextDone<'a> {
    pub(super) item_id: &'a str,
    pub(super) output_index: usize,
    pub(super) content_index: u32,
    pub(super) text: &'a str,
    pub(super) logprobs: [(); 0],
}

#[derive(Serialize)]
pub(super) struct SummaryPartBody<'a> {
    pub(super) item_id: &'a str,
    pub(super) output_index: usize,
    pub(super) summary_index: u32,
    pub(super) part: SummaryText<'a>,
}

#[derive(Serialize)]
pub(super) struct SummaryDelta<'a> {
    pub(super) item_id: &'a str,
    pub(super) output_index: usize,
    pub(super) summary_index: u32,
    pub(super) delta: &'a str,
}

#[derive(Serialize)]
pub(super) struct SummaryDone<'a> {
    pub(super) item_id: &'a str,
    pub(super) output_index: usize,
    pub(super) summary_index: u32,
    pub(super) text: &'a str,
}

#[derive(Serialize)]
pub(super) struct ArgumentsDelta<'a> {
    pub(super) item_id: &'a str,
    pub(super) output_index: usize,
    pub(super) delta: &'a str,
}

/// `name` is not in older recordings; the current SDKs require it.
#[derive(Serialize)]
pub(super) struct ArgumentsDone<'a> {
    pub(super) item_id: &'a str,
    pub(super) name: &'a str,
    pub(super) output_index: usize,
    pub(super) arguments: &'a str,
}

/// The `error` event, nested as the real service sends it (the recording
/// `openai/responses-stream-error.chunks.txt`; the openai Python SDK raises
/// on an event whose data has an `error` object).
#[derive(Serialize)]
pub(super) struct ErrorBody<'a> {
    pub(super) error: ErrorDetail<'a>,
}

#[derive(Serialize)]
pub(super) struct ErrorDetail<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'a str,
    pub(super) code: &'a str,
    pub(super) message: &'a str,
    pub(super) param: Option<()>,
}
