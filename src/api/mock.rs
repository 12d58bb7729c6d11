//! The mock converter: the built-in provider answers in-process, in the
//! client's dialect, with no upstream.

use super::error::{GatewayError, UpstreamAnswer};
use super::exchange::{Exchange, Record};
use super::hub::{self, HubStream};
use super::respond::{self, Client, Length};
use crate::http::response::push_header;
use crate::providers::mock::{self, MockBody};
use crate::schema::usage::{scan_usage, Tail};

/// Answer `body` (the client's, or its chat form on the hub leg), in the
/// client's dialect; `model` is the mock's model, `asked` the name the
/// client used (what a hub answer names).
pub(super) async fn answer<'a>(
    x: &Exchange<'a>,
    client: &mut Client,
    body: &[u8],
    model: &str,
    asked: &str,
    rec: &mut Record<'a>,
) -> Result<bool, GatewayError> {
    let reply = mock::respond(x.dialect.operation(), model, body);
    if x.dialect.through_hub() {
        if reply.status >= 400 {
            let MockBody::Full(bytes) = reply.body else {
                return Err(GatewayError::new(500, "the mock streamed an error"));
            };
            let answer = UpstreamAnswer {
                body: bytes,
                ..UpstreamAnswer::default()
            };
            // The driver puts it in the client's shape.
            return Err(GatewayError::upstream_status(
                rec.provider,
                reply.status,
                answer,
                None,
            ));
        }
        return through_hub(x, client, reply.body, asked, rec).await;
    }
    if let MockBody::Full(bytes) = &reply.body {
        // Before the head, which may carry the cost.
        rec.usage = scan_usage(bytes);
    }
    let mut out = client.take_wbuf();
    respond::push_head(
        &mut out,
        reply.status,
        reply.content_type.as_bytes(),
        Some(x.id),
    );
    push_header(&mut out, b"x-ringbridge-provider", rec.provider.as_bytes());
    rec.push_attempts_header(&mut out, reply.status);
    let keep = match &reply.body {
        MockBody::Full(bytes) => {
            let keep =
                client.finish_head(&mut out, Length::Known(bytes.len() as u64), x.keep_alive);
            client.captured(bytes);
            out.extend_from_slice(bytes);
            keep
        }
        MockBody::Events(events) => {
            let keep = client.finish_head(&mut out, Length::Unknown, x.keep_alive);
            let mut tail = Tail::new();
            for e in events {
                tail.push(e);
                client.push_piece(&mut out, e);
            }
            client.push_end(&mut out);
            rec.usage = tail.usage();
            keep
        }
    };
    rec.status = reply.status;
    Ok(client.write(out).await && keep)
}

/// A mock chat answer put in the client's dialect.
async fn through_hub(
    x: &Exchange<'_>,
    client: &mut Client,
    reply: MockBody,
    model: &str,
    rec: &mut Record<'_>,
) -> Result<bool, GatewayError> {
    let bad = |e: crate::inbound::BadAnswer| {
        GatewayError::new(
            500,
            format!("the mock's answer could not be converted: {e}"),
        )
    };
    let mut out = client.take_wbuf();
    let mut body = Vec::new();
    let (content_type, length) = match &reply {
        MockBody::Full(bytes) => {
            rec.usage = scan_usage(bytes);
            hub::whole(x.dialect, bytes, model, &mut body).map_err(bad)?;
            (&b"application/json"[..], Length::Known(body.len() as u64))
        }
        MockBody::Events(events) => {
            let Some(mut stream) = HubStream::new(x.dialect, model) else {
                return Err(GatewayError::new(500, "no stream encoder for this dialect"));
            };
            let mut tail = Tail::new();
            for e in events {
                tail.push(e);
                stream.feed(e, &mut body).map_err(bad)?;
            }
            stream.finish(&mut body);
            rec.usage = tail.usage();
            (stream.content_type(), Length::Unknown)
        }
    };
    respond::push_head(&mut out, 200, content_type, Some(x.id));
    push_header(&mut out, b"x-ringbridge-provider", rec.provider.as_bytes());
    rec.push_attempts_header(&mut out, 200);
    let keep = client.finish_head(&mut out, length, x.keep_alive);
    match length {
        Length::Unknown => {
            client.push_piece(&mut out, &body);
            client.push_end(&mut out);
        }
        _ => {
            client.captured(&body);
            out.extend_from_slice(&body)
        }
    }
    rec.status = 200;
    Ok(client.write(out).await && keep)
}
