//! Configuration reload, on the control thread: read and validate the file
//! again (with the same command-line overrides and the environment as it is
//! now) and publish it as a new snapshot. A file that does not load is
//! refused with the path of its error, and the running configuration keeps
//! serving. Requests in flight finish on the snapshot they started with.

use crate::config::{self, LoadOptions, Settings};
use crate::worker::reload::Outcome;
use crate::worker::Gateway;

/// Serve the reload asked for, if any (SIGHUP or `POST /admin/reload`).
pub fn serve_pending(gw: &Gateway, opts: &LoadOptions) {
    let Some(ticket) = gw.reloads.pending() else {
        return;
    };
    let outcome = reload(gw, opts);
    match &outcome {
        Ok(generation) => tracing::info!(generation, "configuration reloaded"),
        Err(e) => {
            tracing::warn!(error = %e, "configuration reload refused; the running configuration keeps serving")
        }
    }
    gw.reloads.served(ticket, outcome);
}

fn reload(gw: &Gateway, opts: &LoadOptions) -> Outcome {
    let env = |k: &str| std::env::var(k).ok();
    let mut next = config::load(opts, &env).map_err(|e| e.to_string())?;
    keep_startup_only(&gw.config.load().settings, &mut next);
    Ok(gw.config.publish(next))
}

/// Settings fixed when the gateway started (sockets, threads, gateway-wide
/// budgets, the TLS trust store) keep their running values; a change to one
/// is logged as needing a restart.
fn keep_startup_only(running: &Settings, next: &mut Settings) {
    macro_rules! keep {
        ($($field:ident).+) => {
            if next.$($field).+ != running.$($field).+ {
                tracing::warn!(
                    key = stringify!($($field).+),
                    "changed, but takes a restart; the running value stays"
                );
                next.$($field).+ = running.$($field).+.clone();
            }
        };
    }
    keep!(listen);
    keep!(workers);
    keep!(pin_workers);
    keep!(extra_ca_file);
    keep!(limits.max_buffered_body_bytes);
    keep!(store);
    keep!(otlp);
    // Resolved against the open-file limit at start; the file's value is
    // not comparable, so the running one always stays.
    next.limits.max_connections = running.limits.max_connections;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str) -> Settings {
        Settings::from_test_toml(text)
    }

    #[test]
    fn startup_only_settings_keep_their_running_values() {
        let running = settings("listen = \"127.0.0.1:8080\"\nworkers = 2\n");
        let mut next = settings(
            "listen = \"127.0.0.1:9090\"\nworkers = 3\n[aliases]\nfast = \"mock/echo\"\n[limits]\nmax_body_bytes = 1024\n",
        );
        keep_startup_only(&running, &mut next);
        assert_eq!(next.listen, running.listen);
        assert_eq!(next.workers, 2);
        // What may change, changes.
        assert_eq!(next.limits.max_body_bytes, 1024);
        assert_eq!(next.aliases.len(), 1);
    }
}
