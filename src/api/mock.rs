//! The mock converter: the built-in provider answers in-process, in the
//! client's dialect, with no upstream.

use super::error::GatewayError;
use super::exchange::{Exchange, Record};
use super::respond::{self, Client, Length};
use crate::http::response::push_header;
use crate::providers::mock::{self, MockBody};
use crate::schema::usage::{scan_usage, Tail};

pub(super) async fn answer<'a>(
    x: &Exchange<'a>,
    client: &mut Client,
    model: &str,
    rec: &mut Record<'a>,
) -> Result<bool, GatewayError> {
    let reply = mock::respond(x.dialect.operation(), model, x.body());
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
            rec.usage = scan_usage(bytes);
            let keep =
                client.finish_head(&mut out, Length::Known(bytes.len() as u64), x.keep_alive);
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
