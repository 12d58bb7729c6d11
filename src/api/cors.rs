//! CORS, for web apps calling the gateway from a browser: the headers an
//! allowed origin gets on every answer, and the preflight answer. Off unless
//! `[cors] allowed_origins` is configured.

use super::error::GatewayError;
use super::respond::{self, Client, Length, RequestId};
use super::target::Request;
use crate::config::Cors;
use crate::http::response::{push_header, push_header_u64, push_status_line};

/// Request headers a browser may send when the preflight names none.
const DEFAULT_ALLOWED_HEADERS: &[u8] =
    b"authorization, content-type, x-api-key, x-request-id, openai-organization, anthropic-version";
/// Response headers a page's script may read.
const EXPOSED_HEADERS: &[u8] =
    b"x-request-id, x-ringbridge-provider, x-ringbridge-attempts, retry-after, x-ratelimit-remaining-requests, x-ratelimit-remaining-tokens";

/// The header lines for a response to `origin`, if it is allowed.
pub(super) fn push_headers(cors: &Cors, origin: Option<&[u8]>, out: &mut Vec<u8>) {
    let Some(origin) = origin else { return };
    if !cors.is_on() {
        return;
    }
    push_header(out, b"vary", b"origin");
    if cors.allows(origin) && is_token_text(origin) {
        push_header(out, b"access-control-allow-origin", origin);
        push_header(out, b"access-control-expose-headers", EXPOSED_HEADERS);
    }
}

/// Answer an `OPTIONS` preflight: 204 with what the origin may do, or 403.
pub(super) async fn preflight(
    rbuf: &[u8],
    req: &Request,
    client: &mut Client,
    keep_alive: bool,
    id: Option<&RequestId>,
) -> bool {
    let cors = &req.config.settings.cors;
    let origin = req.head.header(rbuf, b"origin");
    if !origin.is_some_and(|o| cors.allows(o)) {
        let err = GatewayError::new(
            403,
            "this origin is not in the gateway's cors.allowed_origins",
        )
        .with_code("cors_origin_not_allowed");
        return respond::plain_error(client, &err, keep_alive, id).await && keep_alive;
    }
    let asked = req
        .head
        .header(rbuf, b"access-control-request-headers")
        .filter(|h| !h.is_empty() && h.len() <= 1024 && is_token_text(h));
    let mut out = client.take_wbuf();
    push_status_line(&mut out, 204);
    push_header(
        &mut out,
        b"access-control-allow-methods",
        b"GET, POST, OPTIONS",
    );
    push_header(
        &mut out,
        b"access-control-allow-headers",
        asked.unwrap_or(DEFAULT_ALLOWED_HEADERS),
    );
    push_header_u64(&mut out, b"access-control-max-age", cors.max_age_secs);
    push_header(&mut out, b"vary", b"access-control-request-headers");
    if let Some(id) = id {
        push_header(&mut out, b"x-request-id", id.as_bytes());
    }
    let keep = client.finish_head(&mut out, Length::NoBody, keep_alive);
    client.write(out).await && keep
}

/// Printable header text without separators that could split a header.
fn is_token_text(v: &[u8]) -> bool {
    v.iter().all(|&c| (0x20..0x7f).contains(&c))
}
