//! One client connection: read loop, request dispatch and response writing.
//!
//! Buffers are owned by the connection and reused for every request: `rbuf`
//! holds received bytes (pipelined leftovers stay in it), `wbuf` the outgoing
//! bytes, `scratch` a rendered body or SSE event, `body` a decoded chunked
//! request body and `model` the request's model as a quoted JSON string.

use std::borrow::Cow;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use serde::Deserialize;

use crate::bedrock;
use crate::cohere;
use crate::gemini::{self, Op};
use crate::oauth;
use crate::proto::{self, Chunked, Fail, Head, Method, Route, Span};
use crate::render::{self, Event, Len, MsgEvent, Saw, CT_JSON, CT_SSE};
use crate::responses;
use crate::sim::{Defaults, Dist, FailKind};
use crate::stats;

const READ_CHUNK: usize = 16 * 1024;

/// Head lines of every server-sent-event stream.
const SSE_EXTRA: &str = "Cache-Control: no-cache\r\n";

/// Socket plus its write buffer (kept apart from the read-side buffers so
/// responses can be rendered from borrowed request bytes).
struct Sock {
    stream: TcpStream,
    wbuf: Vec<u8>,
}

impl Sock {
    /// Writes and clears `wbuf`.
    async fn flush(&mut self) -> io::Result<()> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.wbuf);
        let (res, mut buf) = self.stream.write_all(buf).await;
        buf.clear();
        self.wbuf = buf;
        res.map(drop)
    }

    /// Appends received bytes to `rbuf`. On timeout the buffer is lost with
    /// the cancelled read, so the caller must close the connection.
    async fn read_into(
        &mut self,
        rbuf: &mut Vec<u8>,
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        if rbuf.capacity() - rbuf.len() < READ_CHUNK / 2 {
            rbuf.reserve(READ_CHUNK);
        }
        let buf = std::mem::take(rbuf);
        let len = buf.len();
        let read = self.stream.read(buf.slice_mut(len..));
        let (res, slice) = match timeout {
            None => read.await,
            Some(d) => match monoio::time::timeout(d, read).await {
                Ok(r) => r,
                Err(_) => return Err(io::ErrorKind::TimedOut.into()),
            },
        };
        *rbuf = slice.into_inner();
        let n = res?;
        stats::BYTES_RECEIVED.fetch_add(n as u64, Relaxed);
        Ok(n)
    }
}

/// What to do with the connection after a request.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Next {
    KeepAlive,
    Close,
    Reset,
    Hang,
}

/// Where the current request's body is.
#[derive(Clone, Copy)]
enum BodyLoc {
    /// A span of `rbuf` (Content-Length body).
    Buf(Span),
    /// In `Conn::body` (decoded chunked body).
    Decoded,
}

/// Source of a fixed-length response body.
enum Src {
    Scratch,
    ReqBody(BodyLoc),
    Static(&'static [u8]),
}

#[derive(Deserialize)]
struct GenRequest<'a> {
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
}

#[derive(Deserialize)]
struct StreamOptions {
    include_usage: Option<bool>,
}

/// The fields of an Anthropic Messages request the mock looks at.
#[derive(Deserialize)]
struct MsgRequest<'a> {
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    max_tokens: Option<serde_json::Value>,
    messages: Option<serde_json::Value>,
    stream: Option<bool>,
    #[serde(borrow)]
    tools: Option<Vec<ToolDef<'a>>>,
    #[serde(borrow)]
    tool_choice: Option<ToolChoice<'a>>,
}

#[derive(Deserialize)]
struct ToolDef<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ToolChoice<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
}

struct Conn {
    sock: Sock,
    rbuf: Vec<u8>,
    body: Vec<u8>,
    model: Vec<u8>,
    /// Forced tool name (Messages route) as a quoted JSON string.
    tool: Vec<u8>,
    scratch: Vec<u8>,
    idle: Option<Duration>,
    defaults: &'static Defaults,
}

fn body_slice<'a>(rbuf: &'a [u8], decoded: &'a [u8], loc: BodyLoc) -> &'a [u8] {
    match loc {
        BodyLoc::Buf((a, b)) => &rbuf[a..b],
        BodyLoc::Decoded => decoded,
    }
}

fn saw<'a>(rbuf: &'a [u8], head: &Head) -> Saw<'a> {
    Saw {
        auth: head.auth.map(|(a, b)| &rbuf[a..b]),
        path: &rbuf[head.target.0..head.target.1],
        head: head.mock.echo.then(|| &rbuf[..head.head_len]),
    }
}

fn set_linger_zero(stream: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: valid fd owned by `stream`; pointer and length describe `linger`.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

/// Serves one accepted connection until it closes.
pub async fn serve(stream: TcpStream, idle: Option<Duration>, defaults: &'static Defaults) {
    let _open = stats::OpenGuard::new();
    let _ = stream.set_nodelay(true);
    let mut conn = Conn {
        sock: Sock {
            stream,
            wbuf: Vec::with_capacity(READ_CHUNK),
        },
        rbuf: Vec::with_capacity(READ_CHUNK),
        body: Vec::new(),
        model: Vec::with_capacity(64),
        tool: Vec::new(),
        scratch: Vec::with_capacity(1024),
        idle,
        defaults,
    };
    match conn.run().await {
        Next::Reset => set_linger_zero(&conn.sock.stream),
        Next::Hang => conn.hang().await,
        Next::KeepAlive | Next::Close => {}
    }
}

impl Conn {
    async fn run(&mut self) -> Next {
        loop {
            let head = loop {
                if !self.rbuf.is_empty() {
                    match proto::parse_head(&self.rbuf) {
                        Ok(Some(h)) => break h,
                        Ok(None) if self.rbuf.len() >= proto::MAX_HEAD => {
                            return self.reject(431, "request head too large").await;
                        }
                        Ok(None) => {}
                        Err(r) => return self.reject(r.status, r.message).await,
                    }
                }
                match self.sock.read_into(&mut self.rbuf, self.idle).await {
                    Ok(0) | Err(_) => return Next::Close,
                    Ok(_) => {}
                }
            };
            let (body, consumed) = match self.read_body(&head).await {
                Ok(b) => b,
                Err(next) => return next,
            };
            let next = self.respond(&head, body).await;
            if next != Next::KeepAlive {
                return next;
            }
            self.rbuf.drain(..consumed);
        }
    }

    /// Reads the whole request body. Returns where it is and how many bytes
    /// of `rbuf` the request occupies.
    async fn read_body(&mut self, head: &Head) -> Result<(BodyLoc, usize), Next> {
        let mut need_continue = head.expect_continue;
        if head.chunked {
            loop {
                match proto::decode_chunked(&self.rbuf[head.head_len..], &mut self.body) {
                    Chunked::Done(n) => return Ok((BodyLoc::Decoded, head.head_len + n)),
                    Chunked::Invalid => return Err(self.reject(400, "invalid chunked body").await),
                    Chunked::Partial => {}
                }
                if self.rbuf.len() > head.head_len + proto::MAX_BODY + 64 * 1024 {
                    return Err(self.reject(413, "request body too large").await);
                }
                self.maybe_continue(&mut need_continue).await?;
                match self.sock.read_into(&mut self.rbuf, None).await {
                    Ok(0) | Err(_) => return Err(Next::Close),
                    Ok(_) => {}
                }
            }
        }
        let len = head.content_length.unwrap_or(0);
        if len > proto::MAX_BODY {
            return Err(self.reject(413, "request body too large").await);
        }
        let end = head.head_len + len;
        while self.rbuf.len() < end {
            self.maybe_continue(&mut need_continue).await?;
            if self.rbuf.capacity() < end {
                self.rbuf.reserve(end - self.rbuf.len());
            }
            match self.sock.read_into(&mut self.rbuf, None).await {
                Ok(0) | Err(_) => return Err(Next::Close),
                Ok(_) => {}
            }
        }
        Ok((BodyLoc::Buf((head.head_len, end)), end))
    }

    async fn maybe_continue(&mut self, need: &mut bool) -> Result<(), Next> {
        if *need {
            *need = false;
            self.sock
                .wbuf
                .extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
            self.sock.flush().await.map_err(|_| Next::Close)?;
        }
        Ok(())
    }

    /// Answers an unparseable or refused request and closes.
    async fn reject(&mut self, status: u16, message: &'static str) -> Next {
        self.scratch.clear();
        render::error_body(
            &mut self.scratch,
            &[message.as_bytes()],
            "invalid_request_error",
            None,
        );
        let w = &mut self.sock.wbuf;
        w.clear();
        render::head(
            w,
            status,
            CT_JSON,
            Len::Fixed(self.scratch.len()),
            false,
            None,
            "",
        );
        w.extend_from_slice(&self.scratch);
        let _ = self.sock.flush().await;
        Next::Close
    }

    /// Sends a complete fixed-length response.
    async fn send(&mut self, head: &Head, status: u16, extra: &str, src: Src) -> Next {
        self.send_typed(head, status, CT_JSON, extra, src).await
    }

    async fn send_typed(
        &mut self,
        head: &Head,
        status: u16,
        content_type: &str,
        extra: &str,
        src: Src,
    ) -> Next {
        let body: &[u8] = match src {
            Src::Scratch => &self.scratch,
            Src::ReqBody(loc) => body_slice(&self.rbuf, &self.body, loc),
            Src::Static(s) => s,
        };
        let w = &mut self.sock.wbuf;
        render::head(
            w,
            status,
            content_type,
            Len::Fixed(body.len()),
            head.keep_alive,
            Some(saw(&self.rbuf, head)),
            extra,
        );
        if matches!(head.mock.fail, Some(Fail::Cut | Fail::CutMid)) {
            w.extend_from_slice(&body[..body.len() / 2]);
            let _ = self.sock.flush().await;
            return Next::Close;
        }
        w.extend_from_slice(body);
        match self.sock.flush().await {
            Ok(()) if head.keep_alive => Next::KeepAlive,
            _ => Next::Close,
        }
    }

    async fn send_error(
        &mut self,
        head: &Head,
        status: u16,
        message: &[&[u8]],
        code: Option<&str>,
    ) -> Next {
        self.scratch.clear();
        render::error_body(&mut self.scratch, message, "invalid_request_error", code);
        self.send(head, status, "", Src::Scratch).await
    }

    async fn respond(&mut self, head: &Head, body: BodyLoc) -> Next {
        let route = proto::route(head.method, &self.rbuf[head.target.0..head.target.1]);
        // CLI defaults (latency, fail mix) do not apply to the control routes.
        let control = route.is_control();
        if !control {
            stats::REQUESTS.fetch_add(1, Relaxed);
            if head.method == proto::Method::Post {
                // Generation calls only: model-list fetches use keys too.
                stats::count_key(proto::request_key(&self.rbuf, head));
            }
        }
        let mut mock = head.mock;
        if !control {
            let mix = mock.fail_mix.unwrap_or(self.defaults.fail_mix);
            // Every request draws once; explicit x-mock-fail / x-mock-status win.
            if let Some(kind) = mix.draw() {
                if mock.fail.is_none() && mock.status.is_none() {
                    stats::count_injected(kind);
                    match kind {
                        FailKind::Reset => mock.fail = Some(Fail::Reset),
                        FailKind::Close => mock.fail = Some(Fail::Close),
                        FailKind::Cut => mock.fail = Some(Fail::CutMid),
                        FailKind::Hang => mock.fail = Some(Fail::Hang),
                        _ => mock.status = kind.status(),
                    }
                }
            }
            if mock.fail.is_none() && mock.status.is_none() {
                mock.status = self.defaults.status;
            }
        }
        let head = &Head { mock, ..*head };
        match mock.fail {
            Some(Fail::Close) => return Next::Close,
            Some(Fail::Reset) => return Next::Reset,
            Some(Fail::Hang) => return Next::Hang,
            Some(Fail::Cut | Fail::CutMid) | None => {}
        }
        let latency = match mock.latency {
            Some(d) => Some(d),
            None if !control => self.defaults.latency,
            None => None,
        };
        if let Some(d) = latency.map(Dist::sample).filter(|d| !d.is_zero()) {
            monoio::time::sleep(d).await;
        }
        if let Some(status) = mock.status.filter(|s| *s >= 400) {
            self.scratch.clear();
            match route {
                Route::Messages | Route::CountTokens => {
                    render::anthropic_mock_error_body(&mut self.scratch, status)
                }
                Route::Gemini(_) => gemini::mock_error_body(&mut self.scratch, status),
                Route::CohereChat | Route::CohereEmbed => {
                    cohere::mock_error_body(&mut self.scratch, status)
                }
                Route::Bedrock(_) => bedrock::mock_error_body(&mut self.scratch, status),
                _ => render::mock_error_body(&mut self.scratch, status),
            }
            let extra: Cow<'static, str> = match route {
                // Google says when to retry in the body (RetryInfo), not in a header.
                Route::Gemini(_) => "".into(),
                // AWS names the error in a header and sends no Retry-After.
                Route::Bedrock(_) => bedrock::error_headers(bedrock::error_type(status)).into(),
                _ if status == 429 => "Retry-After: 1\r\n".into(),
                _ => "".into(),
            };
            return self.send(head, status, &extra, Src::Scratch).await;
        }
        if mock.echo {
            return self.send(head, 200, "", Src::ReqBody(body)).await;
        }
        if let Some(refused) = self.azure_auth(head).await {
            return refused;
        }
        match route {
            Route::Token(issuer) => {
                let form = body_slice(&self.rbuf, &self.body, body);
                let (status, answer) = oauth::token_response(issuer, form);
                self.scratch.clear();
                self.scratch.extend_from_slice(answer.as_bytes());
                self.send(head, status, "", Src::Scratch).await
            }
            Route::Chat | Route::Completions => {
                self.generate(head, body, route == Route::Chat).await
            }
            Route::Messages => self.messages(head, body).await,
            Route::CountTokens => self.count_tokens(head, body).await,
            Route::Responses => self.responses(head, body).await,
            Route::Embeddings => self.embeddings(head, body).await,
            Route::Gemini(op) => self.gemini(head, body, op).await,
            Route::CohereChat => self.cohere_chat(head, body).await,
            Route::CohereEmbed => self.cohere_embed(head, body).await,
            Route::Bedrock(op) => self.bedrock(head, body, op).await,
            Route::Models => {
                self.send(head, 200, "", Src::Static(render::MODELS_BODY))
                    .await
            }
            Route::Stats => {
                self.scratch.clear();
                stats::render(&mut self.scratch);
                self.send(head, 200, "", Src::Scratch).await
            }
            Route::ResetStats => {
                stats::reset();
                crate::sim::reseed_all();
                self.send(head, 200, "", Src::Static(br#"{"reset":true}"#))
                    .await
            }
            Route::NotFound => {
                let method: &[u8] = match head.method {
                    Method::Get => b"GET",
                    Method::Post => b"POST",
                    Method::Other => b"this method on",
                };
                let (a, b) = head.target;
                self.scratch.clear();
                render::error_body(
                    &mut self.scratch,
                    &[b"Unknown request URL: ", method, b" ", &self.rbuf[a..b]],
                    "invalid_request_error",
                    Some("unknown_url"),
                );
                self.send(head, 404, "", Src::Scratch).await
            }
        }
    }

    /// Chat completions (`chat`) or legacy completions.
    async fn generate(&mut self, head: &Head, body: BodyLoc, chat: bool) -> Next {
        let parsed = {
            let bytes = body_slice(&self.rbuf, &self.body, body);
            match serde_json::from_slice::<GenRequest<'_>>(bytes) {
                Ok(GenRequest {
                    model: Some(model),
                    stream,
                    stream_options,
                }) => {
                    self.model.clear();
                    render::push_json_str(&mut self.model, model.as_bytes());
                    let usage = stream_options
                        .and_then(|o| o.include_usage)
                        .unwrap_or(false);
                    Ok((stream.unwrap_or(false), usage))
                }
                Ok(_) => Err(&b"you must provide a model parameter"[..]),
                Err(_) => Err(&b"We could not parse the JSON body of your request."[..]),
            }
        };
        let (stream, include_usage) = match parsed {
            Ok(p) => p,
            Err(msg) => return self.send_error(head, 400, &[msg], None).await,
        };
        if stream {
            return self.stream(head, chat, include_usage).await;
        }
        self.scratch.clear();
        let filler = head.mock.body_bytes.or(self.defaults.body_bytes);
        if chat {
            render::chat_completion(&mut self.scratch, &self.model, filler);
        } else {
            render::text_completion(&mut self.scratch, &self.model, filler);
        }
        self.send(head, 200, "", Src::Scratch).await
    }

    /// Streams an SSE answer; every event is its own HTTP chunk and write.
    /// Content chunk i is due at start + ttft + i × inter-token (each delay
    /// drawn afresh), so timer rounding does not accumulate.
    async fn stream(&mut self, head: &Head, chat: bool, include_usage: bool) -> Next {
        let m = head.mock;
        let d = self.defaults;
        let n = m.chunks.unwrap_or(d.chunks);
        let ttft = m.ttft.or(m.chunk_delay).or(d.ttft);
        let inter = m.inter_token.or(m.chunk_delay).or(d.inter_token);
        // Index of the last event sent before a cut.
        let cut_after = match m.fail {
            Some(Fail::Cut) => Some(1),
            Some(Fail::CutMid) => Some(chat as usize + (n as usize / 2).max(1) - 1),
            _ => None,
        };
        let mut due = monoio::time::Instant::now();
        render::head(
            &mut self.sock.wbuf,
            200,
            CT_SSE,
            Len::Chunked,
            head.keep_alive,
            Some(saw(&self.rbuf, head)),
            "Cache-Control: no-cache\r\n",
        );
        let events = chat
            .then_some(Event::Role)
            .into_iter()
            .chain((0..n).map(Event::Token))
            .chain(std::iter::once(Event::Finish))
            .chain(include_usage.then_some(Event::Usage(n)))
            .chain(std::iter::once(Event::Done));
        for (sent, ev) in events.enumerate() {
            if let Event::Token(i) = ev {
                let dist = if i == 0 { ttft } else { inter };
                if let Some(delay) = dist.map(Dist::sample).filter(|d| !d.is_zero()) {
                    if self.sock.flush().await.is_err() {
                        return Next::Close;
                    }
                    due += delay;
                    if due > monoio::time::Instant::now() {
                        monoio::time::sleep_until(due).await;
                    }
                }
            }
            self.scratch.clear();
            render::stream_event(&mut self.scratch, chat, &self.model, ev, include_usage);
            render::chunk(&mut self.sock.wbuf, &self.scratch);
            if ev == Event::Done {
                self.sock.wbuf.extend_from_slice(b"0\r\n\r\n");
            }
            if self.sock.flush().await.is_err() {
                return Next::Close;
            }
            if cut_after == Some(sent) {
                return Next::Close;
            }
        }
        if head.keep_alive {
            Next::KeepAlive
        } else {
            Next::Close
        }
    }

    async fn send_anthropic_error(
        &mut self,
        head: &Head,
        status: u16,
        kind: &str,
        message: &[&[u8]],
    ) -> Next {
        self.scratch.clear();
        render::anthropic_error_body(&mut self.scratch, kind, message);
        self.send(head, status, "", Src::Scratch).await
    }

    /// OpenAI's Responses API: a whole response or its event stream.
    async fn responses(&mut self, head: &Head, body: BodyLoc) -> Next {
        if head.auth.is_none_or(|(a, b)| b <= a) {
            return self
                .send_error(
                    head,
                    401,
                    &[b"missing bearer token"],
                    Some("invalid_api_key"),
                )
                .await;
        }
        let bytes = body_slice(&self.rbuf, &self.body, body);
        let Ok(req) = serde_json::from_slice::<responses::Request>(bytes) else {
            return self
                .send_error(
                    head,
                    400,
                    &[b"request body is not a Responses request"],
                    None,
                )
                .await;
        };
        self.scratch.clear();
        if req.stream {
            responses::events(&req, &mut self.scratch);
            self.send_typed(head, 200, CT_SSE, "", Src::Scratch).await
        } else {
            responses::body(&req, &mut self.scratch);
            self.send(head, 200, "", Src::Scratch).await
        }
    }

    /// Anthropic's token count: one token per four bytes of the body, so a
    /// test can tell the upstream's count from the gateway's estimate.
    async fn count_tokens(&mut self, head: &Head, body: BodyLoc) -> Next {
        if head.api_key.is_none_or(|(a, b)| b <= a) {
            return self
                .send_anthropic_error(
                    head,
                    401,
                    "authentication_error",
                    &[b"x-api-key header is required"],
                )
                .await;
        }
        let len = body_slice(&self.rbuf, &self.body, body).len();
        self.scratch.clear();
        self.scratch.extend_from_slice(b"{\"input_tokens\":");
        self.scratch
            .extend_from_slice((len / 4).max(1).to_string().as_bytes());
        self.scratch.push(b'}');
        self.send(head, 200, "", Src::Scratch).await
    }

    /// Anthropic Messages API (`POST …/v1/messages`).
    async fn messages(&mut self, head: &Head, body: BodyLoc) -> Next {
        let present = |s: Option<Span>| s.is_some_and(|(a, b)| b > a);
        if !present(head.api_key) {
            return self
                .send_anthropic_error(
                    head,
                    401,
                    "authentication_error",
                    &[b"x-api-key header is required"],
                )
                .await;
        }
        if !present(head.anthropic_version) {
            return self
                .send_anthropic_error(
                    head,
                    400,
                    "invalid_request_error",
                    &[b"anthropic-version: header is required"],
                )
                .await;
        }
        let parsed = {
            let bytes = body_slice(&self.rbuf, &self.body, body);
            match serde_json::from_slice::<MsgRequest<'_>>(bytes) {
                Ok(req) => {
                    let max_ok = req
                        .max_tokens
                        .as_ref()
                        .and_then(serde_json::Value::as_u64)
                        .is_some_and(|n| n >= 1);
                    match req.model {
                        None => Err(&b"model: Field required"[..]),
                        Some(_) if !max_ok => {
                            Err(&b"max_tokens: Field required (an integer >= 1)"[..])
                        }
                        Some(_) if !req.messages.as_ref().is_some_and(|m| m.is_array()) => {
                            Err(&b"messages: Field required (an array)"[..])
                        }
                        Some(model) => {
                            self.model.clear();
                            render::push_json_str(&mut self.model, model.as_bytes());
                            let tools = req.tools.unwrap_or_default();
                            let forced = match req.tool_choice {
                                Some(ToolChoice { kind: Some(k), .. })
                                    if k == "any" && !tools.is_empty() =>
                                {
                                    Ok(tools[0].name.clone())
                                }
                                Some(ToolChoice {
                                    kind: Some(k),
                                    name,
                                }) if k == "tool" && !tools.is_empty() => match name {
                                    Some(n) => Ok(Some(n)),
                                    None => Err(&b"tool_choice.name: Field required"[..]),
                                },
                                _ => Ok(None),
                            };
                            forced.map(|name| {
                                self.tool.clear();
                                if let Some(n) = &name {
                                    render::push_json_str(&mut self.tool, n.as_bytes());
                                }
                                (req.stream.unwrap_or(false), name.is_some())
                            })
                        }
                    }
                }
                Err(_) => Err(&b"There was an error parsing the body of your request as JSON."[..]),
            }
        };
        let (stream, tool) = match parsed {
            Ok(p) => p,
            Err(msg) => {
                return self
                    .send_anthropic_error(head, 400, "invalid_request_error", &[msg])
                    .await
            }
        };
        if stream {
            return self.stream_messages(head, tool).await;
        }
        self.scratch.clear();
        let filler = head.mock.body_bytes.or(self.defaults.body_bytes);
        render::anthropic_message(
            &mut self.scratch,
            &self.model,
            tool.then_some(&self.tool[..]),
            filler,
        );
        self.send(head, 200, "", Src::Scratch).await
    }

    /// Anthropic SSE stream: message_start, content_block_start, ping, the
    /// content deltas (N text tokens, or the forced tool's two JSON
    /// fragments), content_block_stop, message_delta, message_stop. Each
    /// event is its own HTTP chunk and write; pacing as in [`Conn::stream`].
    async fn stream_messages(&mut self, head: &Head, tool: bool) -> Next {
        let m = head.mock;
        let d = self.defaults;
        let n = m.chunks.unwrap_or(d.chunks);
        let ttft = m.ttft.or(m.chunk_delay).or(d.ttft);
        let inter = m.inter_token.or(m.chunk_delay).or(d.inter_token);
        let content_n = if tool {
            render::TOOL_INPUT_PARTS.len()
        } else {
            n as usize
        };
        // Index of the last event sent before a cut (3 = the first content delta).
        let cut_after = match m.fail {
            Some(Fail::Cut) => Some(3),
            Some(Fail::CutMid) => Some(3 + (content_n / 2).max(1) - 1),
            _ => None,
        };
        let mut due = monoio::time::Instant::now();
        render::head(
            &mut self.sock.wbuf,
            200,
            CT_SSE,
            Len::Chunked,
            head.keep_alive,
            Some(saw(&self.rbuf, head)),
            "Cache-Control: no-cache\r\n",
        );
        let content = (0..content_n).map(move |i| {
            if tool {
                MsgEvent::Json(i)
            } else {
                MsgEvent::Text(i as u32)
            }
        });
        let output_tokens = if tool { 5 } else { n };
        let events = [MsgEvent::Start, MsgEvent::BlockStart, MsgEvent::Ping]
            .into_iter()
            .chain(content)
            .chain([
                MsgEvent::BlockStop,
                MsgEvent::Delta(output_tokens),
                MsgEvent::Stop,
            ]);
        for (sent, ev) in events.enumerate() {
            let nth = match ev {
                MsgEvent::Text(i) => Some(i as usize),
                MsgEvent::Json(i) => Some(i),
                _ => None,
            };
            if let Some(i) = nth {
                let dist = if i == 0 { ttft } else { inter };
                if let Some(delay) = dist.map(Dist::sample).filter(|d| !d.is_zero()) {
                    if self.sock.flush().await.is_err() {
                        return Next::Close;
                    }
                    due += delay;
                    if due > monoio::time::Instant::now() {
                        monoio::time::sleep_until(due).await;
                    }
                }
            }
            self.scratch.clear();
            render::anthropic_event(
                &mut self.scratch,
                &self.model,
                tool.then_some(&self.tool[..]),
                ev,
            );
            render::chunk(&mut self.sock.wbuf, &self.scratch);
            if ev == MsgEvent::Stop {
                self.sock.wbuf.extend_from_slice(b"0\r\n\r\n");
            }
            if self.sock.flush().await.is_err() {
                return Next::Close;
            }
            if cut_after == Some(sent) {
                return Next::Close;
            }
        }
        if head.keep_alive {
            Next::KeepAlive
        } else {
            Next::Close
        }
    }

    async fn embeddings(&mut self, head: &Head, body: BodyLoc) -> Next {
        let result = {
            let bytes = body_slice(&self.rbuf, &self.body, body);
            match serde_json::from_slice::<serde_json::Value>(bytes) {
                Ok(v) => match (v.get("model").and_then(|m| m.as_str()), v.get("input")) {
                    (Some(model), Some(input)) => match embedding_inputs(input) {
                        Some(inputs) => {
                            self.model.clear();
                            render::push_json_str(&mut self.model, model.as_bytes());
                            self.scratch.clear();
                            render::embeddings(&mut self.scratch, &self.model, &inputs);
                            Ok(())
                        }
                        None => Err(&b"'input' must be a non-empty string, array of strings or array of token arrays"[..]),
                    },
                    (None, _) => Err(&b"you must provide a model parameter"[..]),
                    (_, None) => Err(&b"you must provide an input parameter"[..]),
                },
                Err(_) => Err(&b"We could not parse the JSON body of your request."[..]),
            }
        };
        match result {
            Ok(()) => self.send(head, 200, "", Src::Scratch).await,
            Err(msg) => self.send_error(head, 400, &[msg], None).await,
        }
    }

    /// Streams events as one chunked response of `content_type` (with
    /// `extra` head lines), each event its own HTTP chunk and write.
    /// `content(ev)` is the event's content index: the first content event
    /// waits for the ttft, later ones for the inter-token delay (pacing as
    /// in [`Conn::stream`]). `cut_after` is the index of the last event sent
    /// before a cut. `render(out, model, tool, ev)` renders one event.
    #[allow(clippy::too_many_arguments)]
    async fn paced_stream<E: Copy>(
        &mut self,
        head: &Head,
        content_type: &str,
        extra: &str,
        events: impl Iterator<Item = E>,
        content: impl Fn(E) -> Option<usize>,
        cut_after: Option<usize>,
        render: impl Fn(&mut Vec<u8>, &[u8], &[u8], E),
    ) -> Next {
        let m = head.mock;
        let d = self.defaults;
        let ttft = m.ttft.or(m.chunk_delay).or(d.ttft);
        let inter = m.inter_token.or(m.chunk_delay).or(d.inter_token);
        let mut due = monoio::time::Instant::now();
        render::head(
            &mut self.sock.wbuf,
            200,
            content_type,
            Len::Chunked,
            head.keep_alive,
            Some(saw(&self.rbuf, head)),
            extra,
        );
        let mut events = events.enumerate().peekable();
        while let Some((sent, ev)) = events.next() {
            if let Some(i) = content(ev) {
                let dist = if i == 0 { ttft } else { inter };
                if let Some(delay) = dist.map(Dist::sample).filter(|d| !d.is_zero()) {
                    if self.sock.flush().await.is_err() {
                        return Next::Close;
                    }
                    due += delay;
                    if due > monoio::time::Instant::now() {
                        monoio::time::sleep_until(due).await;
                    }
                }
            }
            self.scratch.clear();
            render(&mut self.scratch, &self.model, &self.tool, ev);
            render::chunk(&mut self.sock.wbuf, &self.scratch);
            if events.peek().is_none() {
                self.sock.wbuf.extend_from_slice(b"0\r\n\r\n");
            }
            if self.sock.flush().await.is_err() {
                return Next::Close;
            }
            if cut_after == Some(sent) {
                return Next::Close;
            }
        }
        if head.keep_alive {
            Next::KeepAlive
        } else {
            Next::Close
        }
    }

    async fn send_gemini_error(&mut self, head: &Head, status: u16, message: &[&[u8]]) -> Next {
        self.scratch.clear();
        gemini::error_body(&mut self.scratch, status, message);
        self.send(head, status, "", Src::Scratch).await
    }

    /// Azure OpenAI deployment routes (`/openai/deployments/…`) take an
    /// `api-key` or an Entra ID token this mock issued, as Azure does;
    /// `Some` is the 401 sent otherwise.
    async fn azure_auth(&mut self, head: &Head) -> Option<Next> {
        let target = &self.rbuf[head.target.0..head.target.1];
        if !target.starts_with(b"/openai/deployments/") {
            return None;
        }
        let key = head.azure_api_key.is_some_and(|(a, b)| b > a);
        let token = head
            .auth
            .is_some_and(|(a, b)| oauth::issued(oauth::Issuer::Entra, &self.rbuf[a..b]));
        if key || token {
            return None;
        }
        self.scratch.clear();
        render::error_body(
            &mut self.scratch,
            &[b"Access denied due to invalid subscription key or wrong API endpoint."],
            "invalid_request_error",
            Some("401"),
        );
        Some(self.send(head, 401, "", Src::Scratch).await)
    }

    /// Gemini API (`POST …/models/{model}:generateContent`,
    /// `:streamGenerateContent`, `:batchEmbedContents`).
    async fn gemini(&mut self, head: &Head, body: BodyLoc, op: Op) -> Next {
        let target = &self.rbuf[head.target.0..head.target.1];
        // Vertex AI (`…/projects/{p}/locations/{l}/publishers/google/models/…`)
        // takes only an OAuth token this mock issued; the Gemini API a key.
        let vertex = memchr::memmem::find(target, b"/projects/").is_some();
        let authorized = if vertex {
            head.auth
                .is_some_and(|(a, b)| oauth::issued(oauth::Issuer::Google, &self.rbuf[a..b]))
        } else {
            head.goog_api_key.is_some_and(|(a, b)| b > a)
        };
        if vertex && !authorized {
            return self
                .send_gemini_error(
                    head,
                    401,
                    &[b"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential."],
                )
                .await;
        }
        if !authorized {
            return self
                .send_gemini_error(
                    head,
                    401,
                    &[b"Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API."],
                )
                .await;
        }
        let path = memchr::memchr(b'?', target).map_or(target, |i| &target[..i]);
        // The route matched, so the path parses.
        let model = gemini::parse_path(path).map_or(&b""[..], |(_, m)| m);
        self.model.clear();
        self.model.extend_from_slice(model);
        let bytes = body_slice(&self.rbuf, &self.body, body);
        if op == Op::Predict {
            let texts: Result<Vec<String>, &[u8]> =
                match serde_json::from_slice::<gemini::PredictRequest<'_>>(bytes) {
                    Ok(gemini::PredictRequest {
                        instances: Some(list),
                    }) if !list.is_empty() && list.iter().all(|i| i.content.is_some()) => Ok(list
                        .iter()
                        .map(|i| i.content.as_deref().unwrap_or_default().to_owned())
                        .collect()),
                    Ok(_) => Err(b"instances must be a non-empty list of {\"content\": text}"),
                    Err(_) => Err(b"Invalid JSON payload received."),
                };
            return match texts {
                Ok(texts) => {
                    self.scratch.clear();
                    gemini::predictions(&mut self.scratch, &texts);
                    self.send(head, 200, "", Src::Scratch).await
                }
                Err(msg) => self.send_gemini_error(head, 400, &[msg]).await,
            };
        }
        if op == Op::BatchEmbed {
            let texts: Result<Vec<String>, &[u8]> = match serde_json::from_slice::<
                gemini::BatchEmbedRequest<'_>,
            >(bytes)
            {
                Ok(gemini::BatchEmbedRequest {
                    requests: Some(reqs),
                }) if !reqs.is_empty() => Ok(reqs.iter().map(gemini::EmbedRequest::text).collect()),
                Ok(_) => {
                    Err(b"* BatchEmbedContentsRequest.requests: at least one request is required")
                }
                Err(_) => Err(b"Invalid JSON payload received."),
            };
            return match texts {
                Ok(texts) => {
                    self.scratch.clear();
                    gemini::embeddings(&mut self.scratch, &texts);
                    self.send(head, 200, "", Src::Scratch).await
                }
                Err(msg) => self.send_gemini_error(head, 400, &[msg]).await,
            };
        }
        let forced = match serde_json::from_slice::<gemini::GenerateRequest<'_>>(bytes) {
            Ok(req) if req.contents.is_some() => {
                let f = req.forced_function();
                self.tool.clear();
                if let Some(name) = &f {
                    render::push_json_str(&mut self.tool, name.as_bytes());
                }
                Ok(f.is_some())
            }
            Ok(_) => Err(&b"* GenerateContentRequest.contents: contents is not specified"[..]),
            Err(_) => Err(&b"Invalid JSON payload received."[..]),
        };
        let call = match forced {
            Ok(c) => c,
            Err(msg) => return self.send_gemini_error(head, 400, &[msg]).await,
        };
        if op == Op::Generate {
            self.scratch.clear();
            let part = if call {
                gemini::Part::Call
            } else {
                gemini::Part::Hello(head.mock.body_bytes.or(self.defaults.body_bytes))
            };
            gemini::response(&mut self.scratch, &self.model, &self.tool, part, true, 5);
            return self.send(head, 200, "", Src::Scratch).await;
        }
        // Stream: one chunk per token (a zero-token stream sends one empty
        // text chunk), or one functionCall chunk; finishReason on the last.
        let n = head.mock.chunks.unwrap_or(self.defaults.chunks);
        let parts: Box<dyn Iterator<Item = gemini::Part>> = if call {
            Box::new(std::iter::once(gemini::Part::Call))
        } else if n == 0 {
            Box::new(std::iter::once(gemini::Part::Empty))
        } else {
            Box::new((0..n).map(gemini::Part::Token))
        };
        let total = if call || n == 0 { 1 } else { n as usize };
        let cut_after = match head.mock.fail {
            Some(Fail::Cut) => Some(0),
            Some(Fail::CutMid) => Some((total / 2).max(1) - 1),
            _ => None,
        };
        let content = |p: gemini::Part| match p {
            gemini::Part::Token(i) => Some(i as usize),
            _ => Some(0),
        };
        let last = total - 1;
        let events = parts.enumerate();
        self.paced_stream(
            head,
            CT_SSE,
            SSE_EXTRA,
            events,
            move |(_, p)| content(p),
            cut_after,
            move |out, model, tool, (i, p)| {
                let tokens = match p {
                    gemini::Part::Call => 5,
                    _ => i as u64 + 1,
                };
                gemini::stream_event(out, model, tool, p, i == last, tokens);
            },
        )
        .await
    }

    async fn send_cohere_error(&mut self, head: &Head, status: u16, message: &[&[u8]]) -> Next {
        self.scratch.clear();
        cohere::error_body(&mut self.scratch, message);
        self.send(head, status, "", Src::Scratch).await
    }

    /// Cohere needs `Authorization: Bearer <token>`; answers the 401 if not.
    async fn cohere_auth(&mut self, head: &Head) -> Result<(), Next> {
        let ok = head.auth.is_some_and(|(a, b)| {
            let v = &self.rbuf[a..b];
            v.len() > 7
                && v[..7].eq_ignore_ascii_case(b"bearer ")
                && !v[7..].trim_ascii().is_empty()
        });
        if ok {
            Ok(())
        } else {
            Err(self
                .send_cohere_error(head, 401, &[b"invalid api token"])
                .await)
        }
    }

    /// Cohere v2 chat (`POST …/v2/chat`), streamed or not.
    async fn cohere_chat(&mut self, head: &Head, body: BodyLoc) -> Next {
        if let Err(next) = self.cohere_auth(head).await {
            return next;
        }
        let parsed = {
            let bytes = body_slice(&self.rbuf, &self.body, body);
            match serde_json::from_slice::<cohere::ChatRequest<'_>>(bytes) {
                Ok(req) if req.model.is_none() => {
                    Err(&b"invalid request: model must be specified"[..])
                }
                Ok(req) if !req.messages.as_ref().is_some_and(|m| m.is_array()) => {
                    Err(&b"invalid request: messages must be an array"[..])
                }
                Ok(req) => {
                    let forced = req.forced_tool();
                    self.tool.clear();
                    if let Some(name) = &forced {
                        render::push_json_str(&mut self.tool, name.as_bytes());
                    }
                    Ok((req.stream.unwrap_or(false), forced.is_some()))
                }
                Err(_) => Err(&b"invalid request: could not parse the JSON body"[..]),
            }
        };
        let (stream, tool) = match parsed {
            Ok(p) => p,
            Err(msg) => return self.send_cohere_error(head, 400, &[msg]).await,
        };
        if !stream {
            self.scratch.clear();
            let filler = head.mock.body_bytes.or(self.defaults.body_bytes);
            cohere::chat(&mut self.scratch, tool.then_some(&self.tool[..]), filler);
            return self.send(head, 200, "", Src::Scratch).await;
        }
        use cohere::Event as E;
        let n = head.mock.chunks.unwrap_or(self.defaults.chunks);
        let events: Vec<E> = if tool {
            let mut v = vec![E::MessageStart, E::ToolPlanDelta, E::ToolCallStart];
            v.extend((0..render::TOOL_INPUT_PARTS.len()).map(E::ToolCallDelta));
            v.extend([E::ToolCallEnd, E::MessageEnd(5)]);
            v
        } else {
            let mut v = vec![E::MessageStart, E::ContentStart];
            v.extend((0..n).map(E::ContentDelta));
            v.extend([E::ContentEnd, E::MessageEnd(n)]);
            v
        };
        let (first, content_n) = if tool {
            (3, render::TOOL_INPUT_PARTS.len())
        } else {
            (2, n as usize)
        };
        // Index of the last event sent before a cut (`first` = the first content delta).
        let cut_after = match head.mock.fail {
            Some(Fail::Cut) => Some(first),
            Some(Fail::CutMid) => Some(first + (content_n / 2).max(1) - 1),
            _ => None,
        };
        let content = |ev: E| match ev {
            E::ContentDelta(i) => Some(i as usize),
            E::ToolCallDelta(i) => Some(i),
            _ => None,
        };
        self.paced_stream(
            head,
            CT_SSE,
            SSE_EXTRA,
            events.into_iter(),
            content,
            cut_after,
            move |out, _, t, ev| cohere::event(out, tool.then_some(t), ev),
        )
        .await
    }

    /// Cohere v2 embed (`POST …/v2/embed`).
    async fn cohere_embed(&mut self, head: &Head, body: BodyLoc) -> Next {
        if let Err(next) = self.cohere_auth(head).await {
            return next;
        }
        let result = {
            let bytes = body_slice(&self.rbuf, &self.body, body);
            match serde_json::from_slice::<cohere::EmbedRequest<'_>>(bytes) {
                Ok(cohere::EmbedRequest { model: None, .. }) => {
                    Err(&b"invalid request: model must be specified"[..])
                }
                Ok(cohere::EmbedRequest {
                    texts: Some(texts), ..
                }) if !texts.is_empty() => {
                    self.scratch.clear();
                    cohere::embed(&mut self.scratch, &texts);
                    Ok(())
                }
                Ok(_) => Err(&b"invalid request: texts must be a non-empty array of strings"[..]),
                Err(_) => Err(&b"invalid request: could not parse the JSON body"[..]),
            }
        };
        match result {
            Ok(()) => self.send(head, 200, "", Src::Scratch).await,
            Err(msg) => self.send_cohere_error(head, 400, &[msg]).await,
        }
    }

    async fn send_bedrock_error(
        &mut self,
        head: &Head,
        status: u16,
        kind: &str,
        message: &[&[u8]],
    ) -> Next {
        self.scratch.clear();
        render::message_error_body(&mut self.scratch, message);
        let extra = bedrock::error_headers(kind);
        self.send(head, status, &extra, Src::Scratch).await
    }

    /// AWS Bedrock runtime (`POST …/model/{id}/converse`, `/converse-stream`,
    /// `/invoke`). Requests must look SigV4-signed (the signature itself is
    /// not checked).
    async fn bedrock(&mut self, head: &Head, body: BodyLoc, op: bedrock::Op) -> Next {
        let value = |s: Option<Span>| s.map(|(a, b)| &self.rbuf[a..b]);
        if let Err((kind, msg)) = bedrock::check_auth(value(head.auth), value(head.amz_date)) {
            return self
                .send_bedrock_error(head, 403, kind, &[msg.as_bytes()])
                .await;
        }
        let target = &self.rbuf[head.target.0..head.target.1];
        let path = memchr::memchr(b'?', target).map_or(target, |i| &target[..i]);
        // The route matched, so the path parses.
        let model =
            bedrock::parse_path(path).map_or(String::new(), |(_, m)| bedrock::decode_segment(m));
        let bytes = body_slice(&self.rbuf, &self.body, body);
        if op == bedrock::Op::Invoke {
            self.scratch.clear();
            return match bedrock::invoke(&mut self.scratch, &model, bytes) {
                Ok(tokens) => {
                    let extra = format!(
                        "{}X-Amzn-Bedrock-Input-Token-Count: {tokens}\r\nX-Amzn-Bedrock-Invocation-Latency: {}\r\n",
                        bedrock::REQUEST_ID_HEADER,
                        bedrock::LATENCY_MS
                    );
                    self.send(head, 200, &extra, Src::Scratch).await
                }
                Err(msg) => {
                    self.send_bedrock_error(head, 400, "ValidationException", &[msg.as_bytes()])
                        .await
                }
            };
        }
        let forced = match serde_json::from_slice::<bedrock::ConverseRequest<'_>>(bytes) {
            Ok(req) if req.messages.as_ref().is_some_and(|m| !m.is_empty()) => {
                let f = req.forced_tool();
                self.tool.clear();
                if let Some(name) = &f {
                    render::push_json_str(&mut self.tool, name.as_bytes());
                }
                Ok(f.is_some())
            }
            Ok(_) => Err(&b"1 validation error detected: Value at 'messages' failed to satisfy constraint: Member must have length greater than or equal to 1"[..]),
            Err(_) => Err(&b"Malformed input request, please reformat your input and try again."[..]),
        };
        let tool = match forced {
            Ok(t) => t,
            Err(msg) => {
                return self
                    .send_bedrock_error(head, 400, "ValidationException", &[msg])
                    .await
            }
        };
        let request_id = bedrock::REQUEST_ID_HEADER;
        if op == bedrock::Op::Converse {
            self.scratch.clear();
            let filler = head.mock.body_bytes.or(self.defaults.body_bytes);
            bedrock::converse(&mut self.scratch, tool.then_some(&self.tool[..]), filler);
            return self.send(head, 200, request_id, Src::Scratch).await;
        }
        use bedrock::Event as E;
        let n = head.mock.chunks.unwrap_or(self.defaults.chunks);
        let mut events = vec![E::MessageStart];
        if tool {
            events.push(E::ToolStart);
            events.extend((0..render::TOOL_INPUT_PARTS.len()).map(E::ToolInput));
            events.push(E::BlockStop);
        } else if n > 0 {
            events.extend((0..n).map(E::Text));
            events.push(E::BlockStop);
        }
        events.extend([E::MessageStop, E::Metadata(if tool { 5 } else { n })]);
        let (first, content_n) = if tool {
            (2, render::TOOL_INPUT_PARTS.len())
        } else {
            (1, n as usize)
        };
        // Index of the last event sent before a cut (`first` = the first content delta).
        let cut_after = match head.mock.fail {
            Some(Fail::Cut) => Some(first),
            Some(Fail::CutMid) => Some(first + (content_n / 2).max(1) - 1),
            _ => None,
        };
        let content = |(_, ev): (usize, E)| match ev {
            E::Text(i) => Some(i as usize),
            E::ToolInput(i) => Some(i),
            _ => None,
        };
        self.paced_stream(
            head,
            bedrock::CT_EVENTSTREAM,
            request_id,
            events.into_iter().enumerate(),
            content,
            cut_after,
            move |out, _, t, (seq, ev)| bedrock::event(out, tool.then_some(t), ev, seq),
        )
        .await
    }

    /// `x-mock-fail: hang`: never answer, hold the connection until the peer closes.
    async fn hang(&mut self) {
        loop {
            self.rbuf.clear();
            match self.sock.read_into(&mut self.rbuf, None).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }
}

fn embedding_inputs(input: &serde_json::Value) -> Option<Vec<render::EmbInput<'_>>> {
    use render::EmbInput;
    use serde_json::Value;
    fn tokens(v: &[Value]) -> Option<Vec<u64>> {
        v.iter().map(Value::as_u64).collect()
    }
    let out = match input {
        Value::String(s) => vec![EmbInput::Text(s)],
        Value::Array(items) if items.iter().all(Value::is_string) => items
            .iter()
            .map(|s| EmbInput::Text(s.as_str().unwrap_or_default()))
            .collect(),
        Value::Array(items) if items.iter().all(Value::is_u64) => {
            vec![EmbInput::Tokens(tokens(items)?)]
        }
        Value::Array(items) => items
            .iter()
            .map(|t| t.as_array().and_then(|t| tokens(t)).map(EmbInput::Tokens))
            .collect::<Option<Vec<_>>>()?,
        _ => return None,
    };
    (!out.is_empty()).then_some(out)
}
