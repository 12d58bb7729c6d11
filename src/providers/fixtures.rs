//! Test support shared by the providers' golden tests: where the recorded
//! traffic lives (`RINGBRIDGE_FIXTURES`, default `../shared/fixtures`, read in
//! place and never copied) and a plain SSE splitter for `.sse` recordings.

use std::path::PathBuf;

/// `<fixtures>/<provider>`; a missing directory fails the test with a clear message.
pub(crate) fn dir(provider: &str) -> PathBuf {
    let dir = std::env::var_os("RINGBRIDGE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures"))
        })
        .join(provider);
    assert!(
        dir.is_dir(),
        "fixture directory {} is missing; set RINGBRIDGE_FIXTURES to the shared fixtures",
        dir.display()
    );
    dir
}

/// The bytes of `<fixtures>/<provider>/<name>`.
pub(crate) fn read(provider: &str, name: &str) -> Vec<u8> {
    let path = dir(provider).join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Test-only SSE splitter: `event:`/`data:` lines, events separated by a blank
/// line, LF or CRLF. Independent of `http::sse`, so it checks that parser too.
pub(crate) fn split_sse(body: &str) -> Vec<(String, String)> {
    let mut events = Vec::new();
    let (mut event, mut data) = (String::new(), Vec::<&str>::new());
    for line in body.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)) {
        if line.is_empty() {
            if !data.is_empty() {
                events.push((std::mem::take(&mut event), data.join("\n")));
                data.clear();
            }
            event.clear();
        } else if let Some(v) = line.strip_prefix("event:") {
            event = v.trim_start().to_owned();
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    if !data.is_empty() {
        events.push((event, data.join("\n")));
    }
    events
}
