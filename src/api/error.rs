//! [`GatewayError`]: every way a request can fail, typed once, and the one
//! place an error becomes bytes in the client's dialect. Phases return these;
//! only the driver (or the connection loop, before a request exists) renders.

use std::time::Duration;

use crate::schema::dialect::{Dialect, ErrorShape};
use crate::schema::peek::push_json_string;
use crate::upstream::UpstreamError;

/// Whose fault a failure is: it decides the status family, what is logged,
/// and what a retry can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The request is wrong; retrying it elsewhere cannot help.
    Client,
    /// The gateway refused or could not serve it (limits, shutdown, no token).
    Gateway,
    /// The provider failed or answered with an error.
    Upstream,
}

/// What kind of failure, independent of how a dialect spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidRequest,
    Unauthorized,
    NotFound,
    ModelNotFound,
    MethodNotAllowed,
    RequestTimeout,
    TooLarge,
    HeadTooLarge,
    NotImplemented,
    /// The gateway is at a limit (connections, buffered bodies).
    Overloaded,
    ShuttingDown,
    /// The provider's refreshed access token is missing or expired.
    CredentialsUnavailable,
    /// Every key of the provider is resting (breaker open, or cooling down
    /// after a 429): refused without touching the upstream.
    ProviderUnavailable,
    /// The provider's concurrency limit and its queue are full, or the
    /// wait in the queue ran out.
    ProviderBusy,
    /// The exchange with the provider broke (connect, send, read, framing).
    UpstreamFailed,
    UpstreamTimeout,
    /// The provider answered with an error status; its answer is kept.
    UpstreamStatus,
    /// The client went away; nothing can be written.
    ClientClosed,
    /// A virtual key that is disabled or expired.
    KeyRevoked,
    /// A virtual key, its team or customer is over a rate limit.
    RateLimited,
    /// A virtual key may not use the model asked for.
    ModelNotAllowed,
    /// A virtual key's, its team's or customer's budget is spent.
    BudgetExceeded,
}

/// How much of the answer the client already has when the error happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    /// Nothing written: the error can be rendered whole, or another target tried.
    Nothing,
    /// An event stream is open at an event boundary: the error is sent as a
    /// last event, then the stream ends (`chunked`: in HTTP/1.1 chunks).
    EventStream { chunked: bool },
    /// Bytes went out and nothing more can be added; the connection closes.
    Closed,
}

/// An error answer read whole from the provider, ready to relay: the header
/// lines to pass on and the body, both already in the client's dialect and
/// with credentials masked.
#[derive(Debug, Clone, Default)]
pub struct UpstreamAnswer {
    pub header_lines: Vec<u8>,
    pub content_type: Option<Vec<u8>>,
    pub body: Vec<u8>,
}

/// A failed request, with everything the driver needs to decide what next.
#[derive(Debug, Clone)]
pub struct GatewayError {
    pub kind: ErrorKind,
    pub side: Side,
    pub status: u16,
    pub message: String,
    /// Overrides the dialect's code for the kind (e.g. `provider_credentials_unavailable`).
    pub code: Option<&'static str>,
    pub retry_after: Option<Duration>,
    /// The provider involved, if routing got that far.
    pub provider: Option<String>,
    pub committed: Committed,
    pub answer: Option<Box<UpstreamAnswer>>,
    /// Header lines the answer carries besides its own: the driver's
    /// `x-ringbridge-attempts` once it has tried a route, a refused virtual
    /// key's `x-ratelimit-*`. Boxed: most errors have none.
    pub header_lines: Option<Box<Vec<u8>>>,
}

impl GatewayError {
    /// A gateway-made error; the kind and side follow from the status.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        let kind = match status {
            401 => ErrorKind::Unauthorized,
            404 => ErrorKind::NotFound,
            405 => ErrorKind::MethodNotAllowed,
            408 => ErrorKind::RequestTimeout,
            413 => ErrorKind::TooLarge,
            431 => ErrorKind::HeadTooLarge,
            501 => ErrorKind::NotImplemented,
            503 => ErrorKind::Overloaded,
            400..=499 => ErrorKind::InvalidRequest,
            _ => ErrorKind::UpstreamFailed,
        };
        Self::of(kind, status, message)
    }

    pub fn of(kind: ErrorKind, status: u16, message: impl Into<String>) -> Self {
        let side = match kind {
            ErrorKind::Overloaded
            | ErrorKind::ShuttingDown
            | ErrorKind::CredentialsUnavailable
            | ErrorKind::ProviderUnavailable
            | ErrorKind::ProviderBusy => Side::Gateway,
            ErrorKind::UpstreamFailed | ErrorKind::UpstreamTimeout | ErrorKind::UpstreamStatus => {
                Side::Upstream
            }
            _ => Side::Client,
        };
        Self {
            kind,
            side,
            status,
            message: message.into(),
            code: None,
            retry_after: (status == 503).then_some(Duration::from_secs(1)),
            provider: None,
            committed: Committed::Nothing,
            answer: None,
            header_lines: None,
        }
    }

    /// The exchange with `provider` failed before an answer.
    pub fn upstream(provider: &str, e: &UpstreamError) -> Self {
        let kind = match e {
            _ if e.is_timeout() => ErrorKind::UpstreamTimeout,
            UpstreamError::Shutdown => ErrorKind::ShuttingDown,
            _ => ErrorKind::UpstreamFailed,
        };
        let mut err = Self::of(
            kind,
            e.status(),
            format!("upstream provider `{provider}` failed: {e}"),
        );
        err.provider = Some(provider.to_owned());
        err
    }

    /// The provider answered `status`; `answer` is what the client gets.
    pub fn upstream_status(
        provider: &str,
        status: u16,
        answer: UpstreamAnswer,
        retry_after: Option<Duration>,
    ) -> Self {
        let mut err = Self::of(
            ErrorKind::UpstreamStatus,
            status,
            format!("upstream provider `{provider}` answered {status}"),
        );
        err.provider = Some(provider.to_owned());
        err.retry_after = retry_after;
        err.answer = Some(Box::new(answer));
        err
    }

    /// The client hung up (nginx's 499, for metrics).
    pub fn client_closed() -> Self {
        let mut err = Self::of(ErrorKind::ClientClosed, 499, "client closed the connection");
        err.committed = Committed::Closed;
        err
    }

    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// Tell the client when to try again (`Retry-After`).
    pub fn retry_in(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    pub fn with_provider(mut self, provider: &str) -> Self {
        self.provider = Some(provider.to_owned());
        self
    }

    /// Marks what the client had already received when this happened.
    pub fn after(mut self, committed: Committed) -> Self {
        self.committed = committed;
        self
    }

    /// Whether the failure is transient at the provider: another attempt (a
    /// later one, another key or another target) may succeed. Connect errors,
    /// resets and timeouts before the response head, and 429, 500, 502, 503,
    /// 504 and 529 (Anthropic's overloaded) answers; never other 4xx.
    pub fn is_transient(&self) -> bool {
        match self.kind {
            ErrorKind::UpstreamFailed | ErrorKind::UpstreamTimeout => true,
            ErrorKind::UpstreamStatus => matches!(self.status, 429 | 500 | 502 | 503 | 504 | 529),
            _ => false,
        }
    }

    /// Whether the failure was decided before the upstream was touched and
    /// concerns this candidate only (its keys rest, its queue is full, no
    /// key serves the model): the next candidate is tried at once, and the
    /// same one is not retried.
    pub fn skips_candidate(&self) -> bool {
        // `RateLimited` reaches the retry rule only from a model's limit
        // (a key's is refused before any candidate).
        matches!(
            self.kind,
            ErrorKind::ProviderUnavailable | ErrorKind::ProviderBusy | ErrorKind::RateLimited
        )
    }

    /// The JSON error body in `dialect`.
    pub fn push_body(&self, dialect: Dialect, out: &mut Vec<u8>) {
        match dialect.error_shape() {
            ErrorShape::OpenAi => self.push_openai_body(out),
            shape => {
                let (kind, code) = openai_type_and_code(self.kind, self.status);
                super::hub::write_error(
                    shape,
                    self.status,
                    kind,
                    &self.message,
                    self.code.or(code),
                    out,
                );
            }
        }
    }

    /// The error as the last event of a stream the client has open, in the
    /// dialect's framing.
    pub fn push_event(&self, dialect: Dialect, out: &mut Vec<u8>) {
        match dialect {
            Dialect::AnthropicMessages | Dialect::AnthropicCountTokens => {
                out.extend_from_slice(b"event: error\ndata: ")
            }
            Dialect::Responses => out.extend_from_slice(b"event: error\ndata: "),
            _ => out.extend_from_slice(b"data: "),
        }
        if dialect == Dialect::Responses {
            // The Responses stream's own `error` event: its fields at the top.
            let (_, code) = openai_type_and_code(self.kind, self.status);
            out.extend_from_slice(b"{\"type\":\"error\",\"code\":");
            push_json_string(out, self.code.or(code).unwrap_or("server_error"));
            out.extend_from_slice(b",\"message\":");
            push_json_string(out, &self.message);
            out.extend_from_slice(b",\"param\":null}");
        } else {
            self.push_body(dialect, out);
        }
        out.extend_from_slice(b"\n\n");
    }

    /// OpenAI's shape: `{"error":{"message","type","param","code"}}`.
    fn push_openai_body(&self, out: &mut Vec<u8>) {
        let (kind, code) = openai_type_and_code(self.kind, self.status);
        out.extend_from_slice(b"{\"error\":{\"message\":");
        push_json_string(out, &self.message);
        out.extend_from_slice(b",\"type\":");
        push_json_string(out, kind);
        out.extend_from_slice(b",\"param\":null,\"code\":");
        match self.code.or(code) {
            Some(c) => push_json_string(out, c),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b"}}");
    }
}

/// The retry rule (Pingora's): another attempt only while nothing has
/// reached the client, and only for a failure another attempt may not repeat.
pub fn may_retry(err: &GatewayError) -> bool {
    err.committed == Committed::Nothing && err.is_transient()
}

/// OpenAI's `error.type` and `error.code` for a kind of failure.
fn openai_type_and_code(kind: ErrorKind, status: u16) -> (&'static str, Option<&'static str>) {
    const INVALID: &str = "invalid_request_error";
    match kind {
        ErrorKind::InvalidRequest => (INVALID, None),
        ErrorKind::Unauthorized => (INVALID, Some("invalid_api_key")),
        ErrorKind::NotFound => (INVALID, Some("not_found")),
        ErrorKind::ModelNotFound => (INVALID, Some("model_not_found")),
        ErrorKind::MethodNotAllowed => (INVALID, Some("method_not_allowed")),
        ErrorKind::RequestTimeout => (INVALID, Some("request_timeout")),
        ErrorKind::TooLarge => (INVALID, Some("request_too_large")),
        ErrorKind::HeadTooLarge => (INVALID, Some("request_header_fields_too_large")),
        ErrorKind::NotImplemented => (INVALID, Some("not_implemented")),
        ErrorKind::Overloaded | ErrorKind::ShuttingDown => {
            ("server_error", Some("service_unavailable"))
        }
        ErrorKind::CredentialsUnavailable => {
            ("server_error", Some("provider_credentials_unavailable"))
        }
        ErrorKind::ProviderUnavailable => match status {
            429 => ("rate_limit_error", Some("rate_limit_exceeded")),
            404 => (INVALID, Some("model_not_found")),
            _ => ("server_error", Some("provider_unavailable")),
        },
        ErrorKind::ProviderBusy => ("rate_limit_error", Some("provider_concurrency_limit")),
        ErrorKind::UpstreamTimeout => ("upstream_error", Some("gateway_timeout")),
        ErrorKind::UpstreamFailed | ErrorKind::UpstreamStatus => match status {
            429 => ("rate_limit_error", Some("rate_limit_exceeded")),
            503 => ("server_error", Some("service_unavailable")),
            504 => ("upstream_error", Some("gateway_timeout")),
            _ => ("upstream_error", Some("bad_gateway")),
        },
        ErrorKind::ClientClosed => (INVALID, None),
        ErrorKind::KeyRevoked => (INVALID, Some("invalid_api_key")),
        ErrorKind::RateLimited => ("rate_limit_error", Some("rate_limit_exceeded")),
        ErrorKind::ModelNotAllowed => ("permission_error", Some("model_not_allowed")),
        ErrorKind::BudgetExceeded => ("insufficient_quota", Some("budget_exceeded")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(err: &GatewayError) -> serde_json::Value {
        let mut out = Vec::new();
        err.push_body(Dialect::OpenAiChat, &mut out);
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn body_is_openai_shaped_json() {
        let v = body(&GatewayError::new(413, "too \"big\""));
        assert_eq!(v["error"]["message"], "too \"big\"");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["code"], "request_too_large");
        assert!(v["error"]["param"].is_null());
    }

    #[test]
    fn upstream_failures_are_typed_by_cause() {
        let timeout = GatewayError::upstream("groq", &UpstreamError::FirstByteTimeout);
        assert_eq!(
            (timeout.status, timeout.kind),
            (504, ErrorKind::UpstreamTimeout)
        );
        assert_eq!(timeout.side, Side::Upstream);
        assert_eq!(body(&timeout)["error"]["code"], "gateway_timeout");
        let reset = GatewayError::upstream("groq", &UpstreamError::ClosedBeforeResponse);
        assert_eq!((reset.status, reset.kind), (502, ErrorKind::UpstreamFailed));
        assert!(reset.message.contains("`groq`"));
        let cut = GatewayError::upstream("groq", &UpstreamError::Shutdown);
        assert_eq!((cut.status, cut.side), (503, Side::Gateway));
        assert_eq!(cut.retry_after, Some(Duration::from_secs(1)));
    }

    #[test]
    fn retry_only_transient_failures_before_the_first_byte() {
        let reset = GatewayError::upstream("a", &UpstreamError::ClosedBeforeResponse);
        assert!(may_retry(&reset));
        assert!(may_retry(&GatewayError::upstream(
            "a",
            &UpstreamError::ConnectTimeout
        )));
        // Once the client has bytes, no second attempt can be spliced in.
        assert!(!may_retry(
            &reset
                .clone()
                .after(Committed::EventStream { chunked: true })
        ));
        assert!(!may_retry(&reset.after(Committed::Closed)));
        let answered =
            |status| GatewayError::upstream_status("a", status, UpstreamAnswer::default(), None);
        for status in [429, 500, 502, 503, 504, 529] {
            assert!(may_retry(&answered(status)), "{status}");
        }
        for status in [400, 401, 403, 404, 408, 413, 422, 501] {
            assert!(!may_retry(&answered(status)), "{status}");
        }
        // The gateway's own refusals and the client's mistakes are final.
        assert!(!may_retry(&GatewayError::new(400, "bad")));
        assert!(!may_retry(&GatewayError::upstream(
            "a",
            &UpstreamError::Shutdown
        )));
        assert!(!may_retry(&GatewayError::client_closed()));
    }

    #[test]
    fn kinds_choose_codes_and_explicit_codes_win() {
        let missing = GatewayError::of(ErrorKind::ModelNotFound, 404, "no such model");
        assert_eq!(body(&missing)["error"]["code"], "model_not_found");
        let limited = GatewayError::upstream_status("a", 429, UpstreamAnswer::default(), None);
        assert_eq!(body(&limited)["error"]["type"], "rate_limit_error");
        let coded = GatewayError::new(400, "x").with_code("custom");
        assert_eq!(body(&coded)["error"]["code"], "custom");
    }
}
