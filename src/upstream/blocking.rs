//! A small blocking HTTP/1.1 client for the control plane (model lists, OAuth
//! token requests, OTLP trace export). It runs on the control thread, never on a
//! worker, so plain `std` sockets are right. Error strings never quote a request
//! header, so credentials sent in one cannot reach a log through them.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use super::{DnsCache, Origin};
use crate::http::chunked::{ChunkedDecoder, ChunkedScanner, DecodeStep};
use crate::http::response::{parse_response_head, ResponseFraming};
use crate::http::url::Scheme;

/// Largest response accepted (model lists of big aggregators run to a few MB).
const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// `GET path` on `origin`; returns status and decoded body.
pub fn get(
    dns: &DnsCache,
    tls: &Arc<rustls::ClientConfig>,
    origin: &Origin,
    path: &str,
    auth_line: Option<&[u8]>,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    let exchange = Exchange {
        method: "GET",
        path,
        headers: auth_line.unwrap_or_default(),
        body: None,
        accept: "application/json",
    };
    request(dns, tls, origin, &exchange, timeout)
}

/// `POST path` with a form-encoded body (OAuth token requests); returns status
/// and decoded body.
pub fn post_form(
    dns: &DnsCache,
    tls: &Arc<rustls::ClientConfig>,
    origin: &Origin,
    path: &str,
    form: &str,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    let exchange = Exchange {
        method: "POST",
        path,
        headers: b"",
        body: Some(("application/x-www-form-urlencoded", form.as_bytes())),
        accept: "application/json",
    };
    request(dns, tls, origin, &exchange, timeout)
}

/// A `POST` for [`post`].
#[derive(Debug, Clone, Copy)]
pub struct PostRequest<'a> {
    pub path: &'a str,
    /// Sent as `content-type`, and as `accept` too: a server answering in kind is what
    /// the callers want (an OTLP collector answers protobuf with protobuf).
    pub content_type: &'a str,
    /// Further header lines, each a complete `name: value\r\n` (e.g. `authorization`).
    pub extra_headers: &'a [u8],
    pub body: &'a [u8],
}

/// `POST` with any body (OTLP trace batches); returns status and decoded body.
pub fn post(
    dns: &DnsCache,
    tls: &Arc<rustls::ClientConfig>,
    origin: &Origin,
    req: &PostRequest<'_>,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    let exchange = Exchange {
        method: "POST",
        path: req.path,
        headers: req.extra_headers,
        body: Some((req.content_type, req.body)),
        accept: req.content_type,
    };
    request(dns, tls, origin, &exchange, timeout)
}

/// One request: `headers` are complete `name: value\r\n` lines; `body` is the
/// content type and the bytes.
struct Exchange<'a> {
    method: &'a str,
    path: &'a str,
    headers: &'a [u8],
    body: Option<(&'a str, &'a [u8])>,
    accept: &'a str,
}

fn request(
    dns: &DnsCache,
    tls: &Arc<rustls::ClientConfig>,
    origin: &Origin,
    spec: &Exchange<'_>,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    let addrs = dns
        .lookup(&origin.host, origin.port)
        .ok_or_else(|| format!("could not resolve host {}", origin.host))?;
    let mut last = String::from("no address");
    let mut tcp = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = e.to_string(),
        }
    }
    let tcp = tcp.ok_or_else(|| format!("connect failed: {last}"))?;
    tcp.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    tcp.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;

    let body_len = spec.body.map_or(0, |(_, body)| body.len());
    let mut req = Vec::with_capacity(512 + spec.headers.len() + body_len);
    req.extend_from_slice(
        format!(
            "{} {} HTTP/1.1\r\nhost: {}\r\n",
            spec.method, spec.path, origin.host_header
        )
        .as_bytes(),
    );
    req.extend_from_slice(spec.headers);
    if let Some((content_type, body)) = spec.body {
        req.extend_from_slice(
            format!(
                "content-type: {content_type}\r\ncontent-length: {}\r\n",
                body.len()
            )
            .as_bytes(),
        );
    }
    req.extend_from_slice(
        format!("accept: {}\r\nconnection: close\r\n\r\n", spec.accept).as_bytes(),
    );
    if let Some((_, body)) = spec.body {
        req.extend_from_slice(body);
    }

    let raw = match origin.scheme {
        Scheme::Http => exchange(tcp, &req)?,
        Scheme::Https => {
            let name = match origin.host.parse::<std::net::IpAddr>() {
                Ok(ip) => rustls::pki_types::ServerName::IpAddress(ip.into()),
                Err(_) => rustls::pki_types::ServerName::try_from(origin.host.clone())
                    .map_err(|e| e.to_string())?,
            };
            let conn =
                rustls::ClientConnection::new(tls.clone(), name).map_err(|e| e.to_string())?;
            exchange(rustls::StreamOwned::new(conn, tcp), &req)?
        }
    };
    let head = parse_response_head(&raw, Vec::new())
        .map_err(|e| e.to_string())?
        .ok_or("incomplete response head")?;
    let mut body = raw;
    let start = head.head_len;
    match head.framing {
        ResponseFraming::Empty => body.truncate(start),
        ResponseFraming::Length(n) => body.truncate(start + (n as usize).min(body.len() - start)),
        ResponseFraming::UntilClose => {}
        ResponseFraming::Chunked => {
            let mut dec = ChunkedDecoder::new(start);
            match dec.feed(&mut body).map_err(|e| e.to_string())? {
                DecodeStep::Done { .. } => body.truncate(dec.write),
                DecodeStep::NeedMore => return Err("truncated chunked body".into()),
            }
        }
    }
    body.drain(..start);
    Ok((head.status, body))
}

/// Write the request, then read until the response is complete (by its own
/// framing, so a server that ignores `connection: close` does not stall us).
fn exchange<S: Read + Write>(mut s: S, req: &[u8]) -> Result<Vec<u8>, String> {
    s.write_all(req).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&chunk[..n]);
                if out.len() > MAX_RESPONSE_BYTES {
                    return Err("response too large".into());
                }
                if is_complete(&out) {
                    break;
                }
            }
            // Servers that skip TLS close_notify end the stream this way.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !out.is_empty() => break,
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(out)
}

fn is_complete(raw: &[u8]) -> bool {
    let Ok(Some(head)) = parse_response_head(raw, Vec::new()) else {
        return false;
    };
    let body = &raw[head.head_len..];
    match head.framing {
        ResponseFraming::Empty => true,
        ResponseFraming::Length(n) => body.len() as u64 >= n,
        ResponseFraming::Chunked => matches!(ChunkedScanner::new().scan(body, |_| {}), Ok(Some(_))),
        ResponseFraming::UntilClose => false,
    }
}
