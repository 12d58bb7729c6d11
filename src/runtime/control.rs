//! The control plane thread: configuration reload, DNS refresh, access-token
//! refresh and model-list refresh. It may block; workers only ever read what it publishes.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::config::{LoadOptions, ProviderAuth, ProviderKind};
use crate::credentials::{Refresher, TokenTransport};
use crate::upstream::{blocking, Origin};
use crate::worker::models::ModelList;
use crate::worker::snapshot::Snapshot;
use crate::worker::Gateway;

const DNS_REFRESH_EVERY: Duration = Duration::from_secs(30);
const MODELS_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const TOKEN_FETCH_TIMEOUT: Duration = Duration::from_secs(10);
const TICK: Duration = Duration::from_millis(100);

pub fn spawn(gw: Arc<Gateway>, reload_options: LoadOptions) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("ringbridge-control".into())
        .spawn(move || control_loop(&gw, &reload_options))
        .expect("spawning the control thread")
}

/// Token requests through the blocking client.
struct Blocking<'a>(&'a Gateway);

impl TokenTransport for Blocking<'_> {
    fn post_form(&self, origin: &Origin, path: &str, form: &str) -> Result<(u16, Vec<u8>), String> {
        blocking::post_form(
            &self.0.dns,
            &self.0.tls,
            origin,
            path,
            form,
            TOKEN_FETCH_TIMEOUT,
        )
    }
}

/// What the control plane keeps fresh for one configuration snapshot.
struct Duties {
    generation: u64,
    refreshers: Vec<Refresher>,
    hosts: Vec<String>,
}

impl Duties {
    fn of(config: &Snapshot, now: Instant) -> Self {
        let refreshers: Vec<Refresher> = config
            .routes
            .providers
            .iter()
            .filter_map(|p| match (&p.settings.auth, &p.token) {
                (ProviderAuth::Refreshed(source), Some(slot)) => {
                    Some(Refresher::new(p.name(), source.clone(), slot.clone(), now))
                }
                _ => None,
            })
            .collect();
        let mut hosts: Vec<String> = config
            .routes
            .providers
            .iter()
            .filter(|p| p.kind() != ProviderKind::Mock)
            .map(|p| p.origin.host.clone())
            .chain(refreshers.iter().map(|r| r.host().to_owned()))
            .collect();
        hosts.sort();
        hosts.dedup();
        Self {
            generation: config.generation,
            refreshers,
            hosts,
        }
    }
}

fn control_loop(gw: &Gateway, reload_options: &LoadOptions) {
    let mut config = gw.config.load();
    let mut duties = Duties::of(&config, Instant::now());
    let mut next_dns = Instant::now();
    let mut next_models = Instant::now();
    let mut first_dns = true;
    while !gw.shutting_down() {
        super::reload::serve_pending(gw, reload_options);
        if gw.config.generation() != duties.generation {
            // A new configuration: its hosts, tokens and model list now.
            config = gw.config.load();
            duties = Duties::of(&config, Instant::now());
            next_dns = Instant::now();
            next_models = Instant::now();
            first_dns = true;
        }
        if Instant::now() >= next_dns {
            for (host, err) in gw.dns.refresh(&duties.hosts) {
                if first_dns {
                    tracing::warn!(host = %host, error = %err, "DNS lookup failed; requests to this host fail until it resolves");
                } else {
                    tracing::debug!(host = %host, error = %err, "DNS refresh failed; keeping the previous answer");
                }
            }
            first_dns = false;
            next_dns = Instant::now() + DNS_REFRESH_EVERY;
        }
        for refresher in &mut duties.refreshers {
            refresher.refresh(Instant::now(), SystemTime::now(), &Blocking(gw));
        }
        if Instant::now() >= next_models {
            refresh_models(gw, &config);
            next_models = Instant::now() + config.settings.models_refresh;
        }
        std::thread::sleep(TICK);
    }
}

/// Rebuild the `/v1/models` document: configured model lists where given, the
/// provider's own `/models` otherwise, plus aliases.
fn refresh_models(gw: &Gateway, config: &Snapshot) {
    let mut ids: Vec<(String, String)> = Vec::new();
    let mut complete = Vec::new();
    for p in &config.routes.providers {
        if gw.shutting_down() {
            return;
        }
        let name = p.name();
        if p.kind() == ProviderKind::Mock {
            let mut models = Vec::new();
            crate::providers::mock::models(&mut models);
            ids.extend(
                models
                    .into_iter()
                    .map(|m| (format!("{name}/{m}"), name.to_owned())),
            );
            complete.push(name.to_owned());
            continue;
        }
        if !p.settings.models.is_empty() {
            ids.extend(
                p.settings
                    .models
                    .iter()
                    .map(|m| (format!("{name}/{m}"), name.to_owned())),
            );
            complete.push(name.to_owned());
            continue;
        }
        // Azure deployments, Bedrock and Vertex publisher models are not
        // listed with a key: configure `models` to have them listed.
        let Some(models_path) = p.spec.models_path else {
            continue;
        };
        let path = format!("{}{models_path}", p.settings.base_url.path);
        match blocking::get(
            &gw.dns,
            &gw.tls,
            &p.origin,
            &path,
            p.auth_lines.first().map(Vec::as_slice),
            MODELS_FETCH_TIMEOUT,
        ) {
            Ok((200, body)) => match model_ids(&body) {
                Some(list) => {
                    ids.extend(
                        list.into_iter()
                            .map(|m| (format!("{name}/{m}"), name.to_owned())),
                    );
                    complete.push(name.to_owned());
                }
                None => tracing::warn!(provider = name, "model list is not an OpenAI-style list"),
            },
            Ok((status, _)) => {
                tracing::warn!(provider = name, status, "model list request refused")
            }
            Err(e) => tracing::debug!(provider = name, error = %e, "model list unavailable"),
        }
    }
    for (alias, provider, model) in config.routes.aliases() {
        ids.push((alias.to_owned(), format!("{provider}/{model}")));
    }
    for (route, target) in config.routes.route_names() {
        ids.push((route.to_owned(), target.to_owned()));
    }
    ids.sort();
    ids.dedup_by(|a, b| a.0 == b.0);
    gw.models.store(Arc::new(ModelList::new(&ids, complete)));
}

/// Model ids from a list in OpenAI's shape (`data[].id`, also Anthropic's), or
/// Google's and Cohere's (`models[].name`, Google's prefixed `models/`).
fn model_ids(body: &[u8]) -> Option<Vec<String>> {
    #[derive(serde::Deserialize)]
    struct List {
        data: Option<Vec<Entry>>,
        models: Option<Vec<Named>>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        id: String,
    }
    #[derive(serde::Deserialize)]
    struct Named {
        name: String,
    }
    let list: List = serde_json::from_slice(body).ok()?;
    match (list.data, list.models) {
        (Some(data), _) => Some(data.into_iter().map(|e| e.id).collect()),
        (None, Some(models)) => Some(
            models
                .into_iter()
                .map(|m| {
                    m.name
                        .strip_prefix("models/")
                        .map(str::to_owned)
                        .unwrap_or(m.name)
                })
                .collect(),
        ),
        (None, None) => None,
    }
}
