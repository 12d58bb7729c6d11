//! The send and read phases against a scripted upstream on 127.0.0.1: the
//! body reader's pieces and payload for each framing, and the pool's reuse
//! decision after each.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::telemetry::Registry;

/// An upstream that answers the i-th request on a connection with
/// `answers[i]`, then closes if it was the last.
fn upstream(answers: Vec<&'static [u8]>) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = connections.clone();
    std::thread::spawn(move || {
        let mut next = 0;
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            loop {
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                if got.is_empty() || next >= answers.len() {
                    break;
                }
                let _ = conn.write_all(answers[next]);
                next += 1;
                if answers[next - 1].ends_with(b"CLOSE") {
                    break;
                }
            }
        }
    });
    (port, connections)
}

fn origin(port: u16) -> Origin {
    Origin::new(&BaseUrl {
        scheme: Scheme::Http,
        host: "127.0.0.1".into(),
        port,
        path: String::new(),
    })
}

const TIMEOUTS: UpstreamTimeouts = UpstreamTimeouts {
    connect: Duration::from_secs(5),
    first_byte: Duration::from_secs(5),
    stream_idle: Duration::from_secs(5),
};

fn run(f: impl std::future::Future<Output = ()>) {
    let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
        .unwrap();
    rt.block_on(f);
}

fn pools() -> Pools {
    let tls = client_config(None).unwrap();
    let metrics = Rc::new(Registry::new(1).core(0));
    Pools::new(tls, Arc::new(DnsCache::new()), metrics)
}

/// Send one GET and read the whole answer: (status, pieces, payload).
async fn exchange(
    pools: &Pools,
    origin: &Origin,
) -> Result<(u16, Vec<Vec<u8>>, Vec<u8>), UpstreamError> {
    let request = OutgoingRequest::whole(b"GET / HTTP/1.1\r\nhost: t\r\n\r\n".to_vec());
    let (res, _) = pools.send(origin, request, Vec::new(), &TIMEOUTS).await;
    let mut reader = BodyReader::new(res?, TIMEOUTS.stream_idle);
    let status = reader.head.status;
    let (mut pieces, mut payload) = (Vec::new(), Vec::new());
    let read = async {
        while reader
            .next(std::future::pending::<()>(), |p| {
                payload.extend_from_slice(p)
            })
            .await?
        {
            pieces.push(reader.piece().to_vec());
            if reader.is_done() {
                break;
            }
        }
        Ok::<(), UpstreamError>(())
    }
    .await;
    reader.finish(pools, origin, 8);
    read.map(|()| (status, pieces, payload))
}

#[test]
fn framings_are_followed_and_finished_connections_pooled() {
    let (port, connections) = upstream(vec![
        b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.0 200 OK\r\n\r\nuntil close CLOSE",
    ]);
    let origin = origin(port);
    run(async {
        let pools = pools();
        let (status, _, payload) = exchange(&pools, &origin).await.unwrap();
        assert_eq!((status, payload.as_slice()), (200, &b"hello"[..]));
        let (_, pieces, payload) = exchange(&pools, &origin).await.unwrap();
        assert_eq!(payload, b"abcde", "chunk framing removed from the payload");
        assert!(
            pieces.concat().ends_with(b"0\r\n\r\n"),
            "pieces keep the framing"
        );
        let (status, _, payload) = exchange(&pools, &origin).await.unwrap();
        assert_eq!((status, payload.len()), (204, 0));
        let (_, _, payload) = exchange(&pools, &origin).await.unwrap();
        assert_eq!(payload, b"until close CLOSE");
    });
    // Four answers on one connection: each finished body put it back in the pool.
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn a_body_cut_short_is_an_error_and_its_connection_is_not_reused() {
    let (port, connections) = upstream(vec![
        b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort CLOSE",
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
    ]);
    let origin = origin(port);
    run(async {
        let pools = pools();
        let err = exchange(&pools, &origin).await.unwrap_err();
        assert!(matches!(err, UpstreamError::Truncated), "{err}");
        // The next request needs a new connection; the upstream's script
        // continues on it.
        let (_, _, payload) = exchange(&pools, &origin).await.unwrap();
        assert_eq!(payload, b"ok");
    });
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[test]
fn nothing_listening_is_a_connect_error_and_silence_a_first_byte_timeout() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    run(async {
        let err = exchange(&pools(), &origin(port)).await.unwrap_err();
        assert!(matches!(err, UpstreamError::Connect(_)), "{err}");
        assert_eq!(err.status(), 502);
    });
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    run(async {
        let quick = UpstreamTimeouts {
            first_byte: Duration::from_millis(100),
            ..TIMEOUTS
        };
        let request = OutgoingRequest::whole(b"GET / HTTP/1.1\r\nhost: t\r\n\r\n".to_vec());
        let (res, _) = pools()
            .send(&origin(port), request, Vec::new(), &quick)
            .await;
        let err = res.err().unwrap();
        assert!(matches!(err, UpstreamError::FirstByteTimeout), "{err}");
        assert_eq!(err.status(), 504);
    });
    drop(silent);
}
