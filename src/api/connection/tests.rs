//! The connection loop on a real socket: pipelining, keep-alive across a
//! configuration publish, and a refusal before the body.

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::*;
use crate::config::{self, LoadOptions, Settings};
use crate::credentials::Secret;
use crate::telemetry::Registry;
use crate::worker::Gateway;

fn settings(key: &str) -> Settings {
    let mut s = config::load(&LoadOptions::default(), &|_: &str| None).expect("zero config");
    s.auth_keys = vec![Secret::new(key)];
    s.workers = 1;
    s
}

/// One answer as a client reads it: status, head text, body.
fn read_answer(r: &mut impl BufRead) -> (u16, String, String) {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        assert!(
            r.read_line(&mut line).unwrap() > 0,
            "closed inside a head: {head}"
        );
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let status = head[9..12].parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .expect("a sized answer")
        .trim()
        .parse()
        .unwrap();
    let mut body = vec![0; length];
    r.read_exact(&mut body).unwrap();
    (status, head, String::from_utf8(body).unwrap())
}

fn chat(key: &str, text: &str) -> String {
    let body =
        format!(r#"{{"model":"mock/echo","messages":[{{"role":"user","content":"{text}"}}]}}"#);
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {key}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Serve exactly one connection on a worker of `gw` while `client` runs
/// against it on its own thread; returns what `client` returns.
fn with_one_connection<T: Send + 'static>(
    gw: Arc<Gateway>,
    client: impl FnOnce(std::net::TcpStream) -> T + Send + 'static,
) -> T {
    let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
        .unwrap();
    rt.block_on(async move {
        let listener = monoio::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = std::thread::spawn(move || {
            let stream = std::net::TcpStream::connect(addr).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            client(stream)
        });
        let (stream, _) = listener.accept().await.unwrap();
        let worker = Rc::new(Worker::new(gw.clone(), 0));
        assert!(gw.capacity.opened());
        serve_connection(worker, stream).await;
        assert_eq!(
            gw.capacity.open_connections(),
            0,
            "the connection gave back its slot"
        );
        client.join().unwrap()
    })
}

fn gateway(key: &str) -> Arc<Gateway> {
    Arc::new(Gateway::new(
        settings(key),
        Registry::new(1),
        Arc::new(AtomicBool::new(false)),
        crate::upstream::client_config(None).unwrap(),
    ))
}

#[test]
fn pipelined_requests_are_answered_in_order_on_one_connection() {
    let gw = gateway("k1");
    let answers = with_one_connection(gw, |mut s| {
        let mut wire = b"GET /health HTTP/1.1\r\nhost: t\r\n\r\n".to_vec();
        wire.extend_from_slice(chat("k1", "first").as_bytes());
        wire.extend_from_slice(b"GET /v1/nothing HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n");
        s.write_all(&wire).unwrap();
        let mut r = BufReader::new(s);
        let answers: Vec<_> = (0..3).map(|_| read_answer(&mut r)).collect();
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert!(
            rest.is_empty(),
            "closed after the `connection: close` answer"
        );
        answers
    });
    assert_eq!(answers[0].0, 200);
    assert_eq!(answers[0].2, r#"{"status":"ok"}"#);
    assert_eq!(answers[1].0, 200, "{}", answers[1].2);
    assert!(answers[1].2.contains("first"), "{}", answers[1].2);
    assert_eq!(answers[2].0, 404);
    assert!(
        answers[2].1.contains("connection: close"),
        "{}",
        answers[2].1
    );
}

#[test]
fn a_kept_connection_serves_each_request_under_the_configuration_current_at_its_head() {
    let gw = gateway("k1");
    let published = gw.clone();
    let answers = with_one_connection(gw, move |mut s| {
        let mut r = BufReader::new(s.try_clone().unwrap());
        s.write_all(chat("k1", "before").as_bytes()).unwrap();
        let before = read_answer(&mut r);
        // A new key set is published while the connection stays open.
        assert_eq!(published.config.publish(settings("k2")), 2);
        s.write_all(chat("k2", "after").as_bytes()).unwrap();
        let after = read_answer(&mut r);
        // The old key is now refused from the head, before its body is read;
        // the connection closes after the answer.
        s.write_all(chat("k1", "refused").as_bytes()).unwrap();
        let refused = read_answer(&mut r);
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
        [before, after, refused]
    });
    assert_eq!(answers[0].0, 200, "{}", answers[0].2);
    assert_eq!(answers[1].0, 200, "{}", answers[1].2);
    assert!(answers[1].2.contains("after"));
    assert_eq!(answers[2].0, 401, "{}", answers[2].2);
    assert!(
        answers[2].2.contains("invalid gateway API key"),
        "{}",
        answers[2].2
    );
    assert!(
        answers[2].1.contains("connection: close"),
        "{}",
        answers[2].1
    );
}
