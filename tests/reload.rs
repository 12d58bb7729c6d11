//! Configuration reload: `POST /admin/reload` and SIGHUP publish the file
//! again; a bad file is refused with its error's path and the running
//! configuration keeps serving; requests under load never fail across it.

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;

const CHAT: &str = "/v1/chat/completions";
const ADMIN_TOKEN: &str = "admin-token-for-tests-0123";

/// A config file the test rewrites, and a gateway started on it.
struct Reloadable {
    path: PathBuf,
    gw: Proc,
}

impl Reloadable {
    fn start(config: &str, listen: Option<&str>, env: Vec<(&'static str, String)>) -> Self {
        let path = std::env::temp_dir().join(format!(
            "ringbridge-reload-{}-{}.toml",
            std::process::id(),
            unique()
        ));
        std::fs::write(&path, config).unwrap();
        let gw = gateway(GatewayOpts {
            args: vec!["--config", path.to_str().unwrap()],
            env,
            listen,
            ..Default::default()
        });
        Self { path, gw }
    }

    fn rewrite(&self, config: &str) {
        std::fs::write(&self.path, config).unwrap();
    }

    fn reload(&self, token: Option<&str>) -> Resp {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("authorization", a.as_str())).collect();
        roundtrip(self.gw.addr, &post("/admin/reload", "", &headers))
    }

    fn status_of(&self, model: &str) -> u16 {
        let body =
            format!(r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}]}}"#);
        roundtrip(self.gw.addr, &post(CHAT, &body, &[])).status
    }
}

impl Drop for Reloadable {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn aliases(name: &str) -> String {
    format!("[aliases]\n{name} = \"mock/echo\"\n")
}

#[test]
fn a_reload_publishes_the_file_and_a_bad_one_changes_nothing() {
    let r = Reloadable::start(&aliases("fast"), None, vec![]);
    assert_eq!(r.status_of("fast"), 200);
    r.rewrite(&aliases("quick"));
    let answer = r.reload(None);
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["generation"], 2);
    assert_eq!(r.status_of("quick"), 200);
    assert_eq!(r.status_of("fast"), 404);

    // A file that does not load: 400 naming the bad key, and the running
    // configuration keeps serving.
    r.rewrite("[aliases]\nbroken = \"nosuch/model\"\n");
    let answer = r.reload(None);
    assert_eq!(answer.status, 400, "{}", answer.text());
    let message = answer.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("aliases.broken"), "{message}");
    assert_eq!(answer.json()["error"]["code"], "invalid_config");
    assert_eq!(r.status_of("quick"), 200);
    assert_eq!(r.reload(None).status, 400, "still the bad file");

    // SIGHUP reloads too, and never stops the process.
    r.rewrite(&aliases("hup"));
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(r.gw.child.id() as i32, libc::SIGHUP) };
    assert!(eventually(Duration::from_secs(5), || r.status_of("hup") == 200));
    assert_eq!(r.status_of("quick"), 404);
}

#[test]
fn the_admin_token_guards_reload_and_a_reload_can_set_it() {
    let r = Reloadable::start(&aliases("fast"), None, vec![]);
    // No token, loopback listener: allowed. The new file sets a token.
    r.rewrite(&format!(
        "[admin]\ntoken = \"{ADMIN_TOKEN}\"\n{}",
        aliases("fast")
    ));
    assert_eq!(r.reload(None).status, 200);
    let refused = r.reload(None);
    assert_eq!(refused.status, 401, "{}", refused.text());
    assert_eq!(r.reload(Some("wrong-token-0123456789")).status, 401);
    assert_eq!(r.reload(Some(ADMIN_TOKEN)).status, 200);
    // The gateway's own API keys are not admin tokens, and the admin token
    // is not an API key.
    assert_eq!(r.status_of("fast"), 200);
}

#[test]
fn without_a_token_admin_is_off_on_a_public_listener() {
    let r = Reloadable::start(
        &aliases("fast"),
        Some("0.0.0.0:0"),
        vec![("RINGBRIDGE_API_KEYS", "gw-key-0123456789".to_owned())],
    );
    let refused = r.reload(None);
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(
        refused.text().contains("[admin] token"),
        "{}",
        refused.text()
    );
    // With the token from the environment, it answers.
    let r = Reloadable::start(
        &aliases("fast"),
        Some("0.0.0.0:0"),
        vec![
            ("RINGBRIDGE_API_KEYS", "gw-key-0123456789".to_owned()),
            ("RINGBRIDGE_ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
        ],
    );
    assert_eq!(r.reload(Some(ADMIN_TOKEN)).status, 200);
}

#[test]
fn requests_under_load_never_fail_across_reloads() {
    let mock = mock_provider(&[]);
    let config = |alias: &str| {
        format!(
            "{}[providers.openai]\nbase_url = \"http://{}/v1\"\nkeys = [\"sk-test-0123456789\"]\n",
            aliases(alias),
            mock.addr
        )
    };
    let r = Reloadable::start(&config("a0"), None, vec![]);
    let addr = r.gw.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let clients: Vec<_> = (0..4)
        .map(|i| {
            let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
            std::thread::spawn(move || {
                let mut c = Conn::open(addr);
                let model = if i % 2 == 0 { "openai/m" } else { "mock/echo" };
                let body = format!(
                    r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}]}}"#
                );
                while !stop.load(Ordering::Relaxed) {
                    c.send(&post(CHAT, &body, &[]));
                    match c.recv() {
                        Some(resp) if resp.status == 200 => ok.fetch_add(1, Ordering::Relaxed),
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    for n in 1..=10 {
        r.rewrite(&config(&format!("a{n}")));
        let answer = r.reload(None);
        assert_eq!(answer.status, 200, "{}", answer.text());
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    assert_eq!(failed.load(Ordering::Relaxed), 0);
    assert!(
        ok.load(Ordering::Relaxed) > 100,
        "{}",
        ok.load(Ordering::Relaxed)
    );
    assert_eq!(r.status_of("a10"), 200);
}
