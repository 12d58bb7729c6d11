//! Server-sent events framing (WHATWG HTML §9.2), incrementally: bytes in any
//! split, complete events out. Used where the gateway must understand a stream
//! (translation), not where it only relays one.
//!
//! Lines end in LF, CRLF or CR; an empty line ends an event; `:` lines are
//! comments (OpenRouter's keep-alives); several `data:` lines join with `\n`.

/// Largest event accepted; a provider streaming more without a blank line is broken.
pub const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("server-sent event larger than {MAX_EVENT_BYTES} bytes")]
pub struct EventTooLarge;

/// One complete event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    /// The `event:` field, or "" (the default type, "message").
    pub name: &'a str,
    pub data: &'a [u8],
}

/// Accumulates bytes and yields events.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes not yet split into lines.
    pending: Vec<u8>,
    name: String,
    data: Vec<u8>,
    has_data: bool,
    /// The previous chunk ended in CR: a leading LF of the next one belongs to it.
    skip_lf: bool,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed bytes; `on_event` is called for each event they complete.
    pub fn feed<E>(
        &mut self,
        mut bytes: &[u8],
        mut on_event: impl FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<(), E>
    where
        E: From<EventTooLarge>,
    {
        if bytes.is_empty() {
            // Keep `skip_lf`: the LF after a piece-ending CR may still come.
            return Ok(());
        }
        if self.skip_lf && bytes.first() == Some(&b'\n') {
            bytes = &bytes[1..];
        }
        self.skip_lf = false;
        self.pending.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(rel) = memchr::memchr2(b'\n', b'\r', &self.pending[start..]) {
            let end = start + rel;
            let mut next = end + 1;
            if self.pending[end] == b'\r' {
                match self.pending.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
            let line = std::mem::take(&mut self.pending);
            let result = self.line(&line[start..end], &mut on_event);
            self.pending = line;
            result?;
            start = next;
        }
        self.pending.drain(..start);
        if self.pending.len() + self.data.len() > MAX_EVENT_BYTES {
            return Err(EventTooLarge.into());
        }
        Ok(())
    }

    /// End of stream: an event not terminated by a blank line is dispatched
    /// only if it is complete up to a line end (per the spec it is discarded;
    /// providers that omit the last blank line are common enough to accept).
    pub fn finish<E>(
        &mut self,
        mut on_event: impl FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<(), E>
    where
        E: From<EventTooLarge>,
    {
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            self.line(&line, &mut on_event)?;
        }
        self.dispatch(&mut on_event)
    }

    fn line<E>(
        &mut self,
        line: &[u8],
        on_event: &mut impl FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<(), E>
    where
        E: From<EventTooLarge>,
    {
        if line.is_empty() {
            return self.dispatch(on_event);
        }
        if line[0] == b':' {
            return Ok(());
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
                if self.data.len() > MAX_EVENT_BYTES {
                    return Err(EventTooLarge.into());
                }
            }
            b"event" => {
                self.name.clear();
                self.name.push_str(&String::from_utf8_lossy(value));
            }
            _ => {} // id, retry and unknown fields do not matter here
        }
        Ok(())
    }

    fn dispatch<E>(
        &mut self,
        on_event: &mut impl FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let result = if self.has_data {
            on_event(Event {
                name: &self.name,
                data: &self.data,
            })
        } else {
            Ok(())
        };
        self.name.clear();
        self.data.clear();
        self.has_data = false;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(input: &[u8], piece: usize) -> Vec<(String, String)> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        let mut push = |e: Event<'_>| -> Result<(), EventTooLarge> {
            out.push((
                e.name.to_string(),
                String::from_utf8_lossy(e.data).into_owned(),
            ));
            Ok(())
        };
        for chunk in input.chunks(piece.max(1)) {
            p.feed(chunk, &mut push).unwrap();
        }
        p.finish(&mut push).unwrap();
        out
    }

    const STREAM: &[u8] = b": OPENROUTER PROCESSING\n\nevent: message_start\ndata: {\"a\":1}\n\ndata: line1\r\ndata:line2\r\n\r\nevent: ping\ndata: {}\r\rdata: [DONE]\n\n";

    #[test]
    fn every_split_gives_the_same_events() {
        let whole = collect(STREAM, STREAM.len());
        assert_eq!(
            whole,
            vec![
                ("message_start".into(), "{\"a\":1}".into()),
                ("".into(), "line1\nline2".into()),
                ("ping".into(), "{}".into()),
                ("".into(), "[DONE]".into()),
            ]
        );
        for piece in 1..STREAM.len() {
            assert_eq!(collect(STREAM, piece), whole, "piece {piece}");
        }
    }

    #[test]
    fn an_empty_piece_between_cr_and_lf_changes_nothing() {
        // Found by fuzzing: an empty feed (a read holding only chunked framing)
        // dropped the pending CR, so its LF read as a blank line and ended the
        // event early, splitting its data and losing its name.
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for piece in [
            &b"event: delta\r"[..],
            b"",
            b"\ndata: a\r",
            b"",
            b"\ndata: b\r\n\r\n",
        ] {
            p.feed(piece, |e| {
                out.push((e.name.to_string(), e.data.to_vec()));
                Ok::<(), EventTooLarge>(())
            })
            .unwrap();
        }
        assert_eq!(out, vec![("delta".to_string(), b"a\nb".to_vec())]);
    }

    #[test]
    fn gemini_crlf_framing_and_a_missing_final_blank_line() {
        let s = b"data: {\"x\": 1}\r\n\r\ndata: {\"x\": 2}";
        let evs = collect(s, 3);
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[1].1, "{\"x\": 2}");
    }

    #[test]
    fn an_endless_event_is_refused() {
        let mut p = SseParser::new();
        let big = vec![b'a'; 1024 * 1024];
        let mut fed = 0;
        let r = loop {
            if fed == 0 {
                if let Err(e) = p.feed(b"data: ", |_| Ok::<(), EventTooLarge>(())) {
                    break Err(e);
                }
            }
            match p.feed(&big, |_| Ok::<(), EventTooLarge>(())) {
                Err(e) => break Err(e),
                Ok(()) => fed += big.len(),
            }
            if fed > 2 * MAX_EVENT_BYTES {
                break Ok(());
            }
        };
        assert_eq!(r, Err(EventTooLarge));
    }
}
