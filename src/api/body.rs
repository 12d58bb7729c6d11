//! Following an upstream response body as it arrives: where it ends, and its
//! payload bytes without the chunked framing.

use crate::http::chunked::{ChunkError, ChunkedScanner};
use crate::http::response::ResponseFraming;

/// Where the relay is within the response body.
pub enum BodyState {
    Done,
    Length(u64),
    Chunked(ChunkedScanner),
    UntilClose,
}

impl BodyState {
    /// Take the part of `data` that belongs to this response: (bytes, finished).
    /// `payload` receives the body bytes in it, without chunk framing.
    pub fn consume(
        &mut self,
        data: &[u8],
        mut payload: impl FnMut(&[u8]),
    ) -> Result<(usize, bool), ChunkError> {
        match self {
            BodyState::Done => Ok((0, true)),
            BodyState::Length(left) => {
                let take = (*left).min(data.len() as u64) as usize;
                payload(&data[..take]);
                *left -= take as u64;
                if *left == 0 {
                    *self = BodyState::Done;
                }
                Ok((take, matches!(self, BodyState::Done)))
            }
            BodyState::Chunked(scanner) => match scanner.scan(data, &mut payload)? {
                Some(end) => {
                    *self = BodyState::Done;
                    Ok((end, true))
                }
                None => Ok((data.len(), false)),
            },
            BodyState::UntilClose => {
                payload(data);
                Ok((data.len(), false))
            }
        }
    }

    /// An error event can be added as a whole chunk here.
    pub fn can_append_chunk(&self) -> bool {
        match self {
            BodyState::Chunked(s) => s.at_chunk_boundary(),
            BodyState::UntilClose => true,
            _ => false,
        }
    }
}

impl BodyState {
    pub fn new(framing: ResponseFraming) -> Self {
        match framing {
            ResponseFraming::Empty | ResponseFraming::Length(0) => BodyState::Done,
            ResponseFraming::Length(n) => BodyState::Length(n),
            ResponseFraming::Chunked => BodyState::Chunked(ChunkedScanner::new()),
            ResponseFraming::UntilClose => BodyState::UntilClose,
        }
    }
}
