//! The admin API's keys, teams and customers: create, list, read, update,
//! delete, on the store thread. Keys made here are kept as SHA-256 hashes
//! of their secrets; the secret is in the create answer only. Entities from
//! the config file are listed and readable, and changed only in the file.
//!
//! Every change is written to the store first, then the caller publishes
//! the returned [`ApiEntities`] as a new configuration snapshot.

use serde_json::{json, Map, Value};

use super::{secret_hash, ApiEntities, ApiGroup, ApiKey, Governance, Holder};
use crate::config::calendar::rfc3339;
use crate::config::{group_doc, key_doc, ConfigError};
use crate::store::{EntityKind, Store, StoreError, StoredEntity};

/// An admin answer: a status and a JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    fn ok(status: u16, body: Value) -> Self {
        Self { status, body }
    }

    /// An OpenAI-shaped error.
    pub fn error(status: u16, code: &str, message: impl Into<String>) -> Self {
        let kind = match status {
            401 | 403 => "authentication_error",
            404 => "not_found_error",
            409 => "conflict_error",
            500..=599 => "server_error",
            _ => "invalid_request_error",
        };
        Self {
            status,
            body: json!({"error": {"message": message.into(), "type": kind, "code": code}}),
        }
    }
}

impl From<StoreError> for Answer {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => Answer::error(409, "conflict", m),
            StoreError::Unavailable(m) => Answer::error(
                503,
                "store_unavailable",
                format!("the store is unavailable: {m}"),
            ),
            StoreError::Other(m) => Answer::error(500, "store_error", m),
        }
    }
}

fn invalid(e: ConfigError) -> Answer {
    let path = e.path().unwrap_or("body").to_owned();
    let text = e.to_string();
    // "config error at `path`: message" reads as "`path`: message" here.
    let message = text
        .split_once("`: ")
        .map_or(text.clone(), |(_, m)| format!("`{path}`: {m}"));
    Answer::error(400, "invalid_request", message)
}

/// What a change leaves: the answer, and the entities to publish.
pub type Changed = (Answer, Option<ApiEntities>);

/// Where the admin code gets randomness (ids and secrets).
pub trait Random {
    fn fill(&mut self, out: &mut [u8]);
}

/// The operating system's generator.
pub struct SystemRandom(ring::rand::SystemRandom);

impl Default for SystemRandom {
    fn default() -> Self {
        Self(ring::rand::SystemRandom::new())
    }
}

impl Random for SystemRandom {
    fn fill(&mut self, out: &mut [u8]) {
        use ring::rand::SecureRandom;
        self.0.fill(out).expect("the OS random generator failed");
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The entities the store holds, as the snapshot is built from them; a row
/// whose description no longer validates is skipped and logged.
pub fn load(store: &mut dyn Store) -> Result<ApiEntities, StoreError> {
    let mut out = ApiEntities::default();
    for e in store.entities()? {
        let Ok(Value::Object(mut doc)) = serde_json::from_str::<Value>(&e.doc) else {
            tracing::warn!(kind = e.kind.as_str(), id = %e.id, "stored entity is not JSON; skipped");
            continue;
        };
        let hint = doc
            .remove("key_hint")
            .and_then(|h| h.as_str().map(str::to_owned));
        let doc = Value::Object(doc);
        let stamps = (e.created_ms, e.updated_ms);
        let loaded = match e.kind {
            EntityKind::Key => key_doc(&doc).map(|d| {
                out.keys.push(ApiKey {
                    id: e.id.clone(),
                    secret_hash: e.secret_hash.unwrap_or_default(),
                    hint: hint.unwrap_or_default(),
                    doc: d,
                    stamps,
                })
            }),
            EntityKind::Team | EntityKind::Customer => group_doc(&doc, &e.id).map(|d| {
                let group = ApiGroup {
                    id: e.id.clone(),
                    doc: d,
                    stamps,
                };
                match e.kind {
                    EntityKind::Team => out.teams.push(group),
                    _ => out.customers.push(group),
                }
            }),
        };
        if let Err(err) = loaded {
            tracing::warn!(kind = e.kind.as_str(), id = %e.id, error = %err, "stored entity does not validate; skipped");
        }
    }
    Ok(out)
}

/// The admin operations, against the entities in force (`current`, the
/// published snapshot's) and the store.
pub struct Admin<'a> {
    pub store: &'a mut dyn Store,
    pub governance: &'a Governance,
    pub current: &'a ApiEntities,
    pub now_ms: i64,
}

impl Admin<'_> {
    pub fn list(&self, kind: EntityKind) -> Answer {
        let g = self.governance;
        let data: Vec<Value> = match kind {
            EntityKind::Key => g.keys.iter().map(|k| self.key_json(k)).collect(),
            EntityKind::Team => g.teams.iter().map(|h| self.group_json(kind, h)).collect(),
            EntityKind::Customer => g
                .customers
                .iter()
                .map(|h| self.group_json(kind, h))
                .collect(),
        };
        Answer::ok(200, json!({"object": "list", "data": data}))
    }

    pub fn get(&self, kind: EntityKind, id: &str) -> Answer {
        let g = self.governance;
        let found = match kind {
            EntityKind::Key => g
                .keys
                .iter()
                .find(|k| k.holder.id == id)
                .map(|k| self.key_json(k)),
            EntityKind::Team => g
                .teams
                .iter()
                .find(|h| h.id == id)
                .map(|h| self.group_json(kind, h)),
            EntityKind::Customer => g
                .customers
                .iter()
                .find(|h| h.id == id)
                .map(|h| self.group_json(kind, h)),
        };
        found.map_or_else(|| not_found(kind, id), |body| Answer::ok(200, body))
    }

    pub fn create(&mut self, kind: EntityKind, body: &Value, random: &mut dyn Random) -> Changed {
        match self.try_create(kind, body, random) {
            Ok(changed) => changed,
            Err(answer) => (answer, None),
        }
    }

    fn try_create(
        &mut self,
        kind: EntityKind,
        body: &Value,
        random: &mut dyn Random,
    ) -> Result<Changed, Answer> {
        let (id, body) = split_id(body)?;
        let id = match id {
            Some(id) => id,
            None => {
                let mut bytes = [0u8; 8];
                random.fill(&mut bytes);
                format!("{}_{}", kind.as_str(), hex(&bytes))
            }
        };
        if self.exists(kind, &id) {
            return Err(Answer::error(
                409,
                "conflict",
                format!("a {} with id `{id}` exists", kind.as_str()),
            ));
        }
        let mut next = self.current.clone();
        let stamps = (self.now_ms, self.now_ms);
        let (answer, stored) = match kind {
            EntityKind::Key => {
                let doc = key_doc(&body).map_err(invalid)?;
                self.check_refs(&doc.team_id, &doc.customer_id)?;
                let mut secret = [0u8; 24];
                random.fill(&mut secret);
                let secret = format!("rb-{}", hex(&secret));
                let key = ApiKey {
                    id: id.clone(),
                    secret_hash: secret_hash(secret.as_bytes()),
                    hint: format!("rb-…{}", &secret[secret.len() - 4..]),
                    doc,
                    stamps,
                };
                let stored = key_entity(&key);
                let mut answer = self.api_key_json(&key, None);
                answer["key"] = json!(secret);
                next.keys.push(key);
                (answer, stored)
            }
            EntityKind::Team | EntityKind::Customer => {
                let doc = group_doc(&body, &id).map_err(invalid)?;
                let group = ApiGroup {
                    id: id.clone(),
                    doc,
                    stamps,
                };
                let stored = group_entity(kind, &group);
                let answer = api_group_json(kind, &group, None, self.now_ms);
                match kind {
                    EntityKind::Team => next.teams.push(group),
                    _ => next.customers.push(group),
                }
                (answer, stored)
            }
        };
        self.store.put_entity(&stored)?;
        Ok((Answer::ok(201, answer), Some(next)))
    }

    pub fn update(&mut self, kind: EntityKind, id: &str, patch: &Value) -> Changed {
        match self.try_update(kind, id, patch) {
            Ok(changed) => changed,
            Err(answer) => (answer, None),
        }
    }

    fn try_update(&mut self, kind: EntityKind, id: &str, patch: &Value) -> Result<Changed, Answer> {
        let Value::Object(patch) = patch else {
            return Err(Answer::error(
                400,
                "invalid_request",
                "the body must be a JSON object",
            ));
        };
        if patch.contains_key("id") {
            return Err(Answer::error(
                400,
                "invalid_request",
                "`id` cannot be changed",
            ));
        }
        let mut next = self.current.clone();
        let stored = match kind {
            EntityKind::Key => {
                let Some(key) = next.keys.iter_mut().find(|k| k.id == id) else {
                    return Err(self.missing_or_config(kind, id));
                };
                let merged = merge(key.doc.to_json(), patch);
                let doc = key_doc(&merged).map_err(invalid)?;
                self.check_refs(&doc.team_id, &doc.customer_id)?;
                key.doc = doc;
                key.stamps.1 = self.now_ms;
                key_entity(key)
            }
            EntityKind::Team | EntityKind::Customer => {
                let list = match kind {
                    EntityKind::Team => &mut next.teams,
                    _ => &mut next.customers,
                };
                let Some(group) = list.iter_mut().find(|g| g.id == id) else {
                    return Err(self.missing_or_config(kind, id));
                };
                let merged = merge(group.doc.to_json(), patch);
                group.doc = group_doc(&merged, id).map_err(invalid)?;
                group.stamps.1 = self.now_ms;
                group_entity(kind, group)
            }
        };
        self.store.put_entity(&stored)?;
        let body = match kind {
            EntityKind::Key => {
                let key = next.keys.iter().find(|k| k.id == id).expect("just updated");
                self.api_key_json(
                    key,
                    self.governance
                        .keys
                        .iter()
                        .find(|k| k.holder.id == id)
                        .map(|k| &k.holder),
                )
            }
            _ => {
                let list = if kind == EntityKind::Team {
                    &next.teams
                } else {
                    &next.customers
                };
                let group = list.iter().find(|g| g.id == id).expect("just updated");
                api_group_json(kind, group, self.holder(kind, id), self.now_ms)
            }
        };
        Ok((Answer::ok(200, body), Some(next)))
    }

    pub fn delete(&mut self, kind: EntityKind, id: &str) -> Changed {
        let mut next = self.current.clone();
        let before = next.keys.len() + next.teams.len() + next.customers.len();
        match kind {
            EntityKind::Key => next.keys.retain(|k| k.id != id),
            EntityKind::Team => next.teams.retain(|g| g.id != id),
            EntityKind::Customer => next.customers.retain(|g| g.id != id),
        }
        if next.keys.len() + next.teams.len() + next.customers.len() == before {
            return (self.missing_or_config(kind, id), None);
        }
        let members = match kind {
            EntityKind::Key => 0,
            EntityKind::Team => next
                .keys
                .iter()
                .filter(|k| k.doc.team_id.as_deref() == Some(id))
                .count(),
            EntityKind::Customer => next
                .keys
                .iter()
                .filter(|k| k.doc.customer_id.as_deref() == Some(id))
                .count(),
        };
        if members > 0 {
            let message = format!(
                "{members} key(s) belong to {} `{id}`; move or delete them first",
                kind.as_str()
            );
            return (Answer::error(409, "conflict", message), None);
        }
        match self.store.delete_entity(kind, id) {
            Ok(_) => (
                Answer::ok(
                    200,
                    json!({"id": id, "object": kind.as_str(), "deleted": true}),
                ),
                Some(next),
            ),
            Err(e) => (e.into(), None),
        }
    }

    fn exists(&self, kind: EntityKind, id: &str) -> bool {
        let g = self.governance;
        match kind {
            EntityKind::Key => g.keys.iter().any(|k| k.holder.id == id),
            EntityKind::Team => g.teams.iter().any(|h| h.id == id),
            EntityKind::Customer => g.customers.iter().any(|h| h.id == id),
        }
    }

    fn holder(&self, kind: EntityKind, id: &str) -> Option<&Holder> {
        let g = self.governance;
        match kind {
            EntityKind::Key => g.keys.iter().map(|k| &k.holder).find(|h| h.id == id),
            EntityKind::Team => g.teams.iter().find(|h| h.id == id),
            EntityKind::Customer => g.customers.iter().find(|h| h.id == id),
        }
    }

    fn missing_or_config(&self, kind: EntityKind, id: &str) -> Answer {
        match self.holder(kind, id) {
            Some(h) if !h.from_api => Answer::error(
                409,
                "defined_in_config",
                format!(
                    "{} `{id}` is defined in the config file; change it there and reload",
                    kind.as_str()
                ),
            ),
            _ => not_found(kind, id),
        }
    }

    fn check_refs(&self, team: &Option<String>, customer: &Option<String>) -> Result<(), Answer> {
        for (kind, id, field) in [
            (EntityKind::Team, team, "team_id"),
            (EntityKind::Customer, customer, "customer_id"),
        ] {
            if let Some(id) = id {
                if !self.exists(kind, id) {
                    return Err(Answer::error(
                        400,
                        "invalid_request",
                        format!("`{field}`: no {} has id `{id}`", kind.as_str()),
                    ));
                }
            }
        }
        Ok(())
    }

    fn key_json(&self, key: &super::VirtualKey) -> Value {
        match self.current.keys.iter().find(|k| k.id == key.holder.id) {
            Some(api) if key.holder.from_api => self.api_key_json(api, Some(&key.holder)),
            _ => {
                let g = self.governance;
                let mut doc = Map::new();
                doc.insert("id".into(), json!(key.holder.id));
                doc.insert("object".into(), json!("key"));
                doc.insert("name".into(), json!(key.holder.name));
                doc.insert("team_id".into(), json!(key.team.map(|t| &g.teams[t].id)));
                doc.insert(
                    "customer_id".into(),
                    json!(key.customer.map(|c| &g.customers[c].id)),
                );
                doc.insert("models".into(), json!(key.patterns_list()));
                doc.insert("disabled".into(), json!(key.disabled));
                doc.insert(
                    "expires_at".into(),
                    json!(key.expires_at.map(|at| rfc3339(at as i64))),
                );
                doc.insert("source".into(), json!("config"));
                let mut doc = Value::Object(doc);
                limits_json(&mut doc, &key.holder, self.now_ms);
                doc
            }
        }
    }

    fn api_key_json(&self, key: &ApiKey, holder: Option<&Holder>) -> Value {
        let mut doc = key.doc.to_json();
        doc["id"] = json!(key.id);
        doc["object"] = json!("key");
        doc["source"] = json!("api");
        doc["key_hint"] = json!(key.hint);
        stamps_json(&mut doc, key.stamps);
        if let Some(h) = holder {
            limits_json(&mut doc, h, self.now_ms);
        }
        doc
    }

    fn group_json(&self, kind: EntityKind, holder: &Holder) -> Value {
        let list = if kind == EntityKind::Team {
            &self.current.teams
        } else {
            &self.current.customers
        };
        match list.iter().find(|g| g.id == holder.id) {
            Some(api) if holder.from_api => api_group_json(kind, api, Some(holder), self.now_ms),
            _ => {
                let mut doc = json!({
                    "id": holder.id, "object": kind.as_str(), "name": holder.name, "source": "config",
                });
                limits_json(&mut doc, holder, self.now_ms);
                doc
            }
        }
    }
}

fn api_group_json(
    kind: EntityKind,
    group: &ApiGroup,
    holder: Option<&Holder>,
    now_ms: i64,
) -> Value {
    let mut doc = group.doc.to_json();
    doc["id"] = json!(group.id);
    doc["object"] = json!(kind.as_str());
    doc["source"] = json!("api");
    stamps_json(&mut doc, group.stamps);
    if let Some(h) = holder {
        limits_json(&mut doc, h, now_ms);
    }
    doc
}

fn stamps_json(doc: &mut Value, (created, updated): (i64, i64)) {
    doc["created_at"] = json!(rfc3339(created.div_euclid(1000)));
    doc["updated_at"] = json!(rfc3339(updated.div_euclid(1000)));
}

/// `rate_limit` and `budget` as in force, with the budget's spend.
fn limits_json(doc: &mut Value, holder: &Holder, now_ms: i64) {
    let limits = &holder.limits;
    doc["rate_limit"] = json!({
        "rpm": limits.requests.as_ref().map(|g| g.per_minute()),
        "tpm": limits.tokens.as_ref().map(|g| g.per_minute()),
    });
    let now = now_ms / 1000;
    doc["budget"] = match &holder.budget {
        None => Value::Null,
        Some(b) => {
            let period = b.settings.period;
            json!({
                "limit_usd": b.settings.limit_nanos as f64 / 1e9,
                "period": period.name(),
                "spent_usd": b.spent(now) as f64 / 1e9,
                "period_start": rfc3339(super::budget::period_start(period, now)),
                "resets_at": super::budget::period_end(period, now).map(rfc3339),
            })
        }
    };
}

fn not_found(kind: EntityKind, id: &str) -> Answer {
    Answer::error(
        404,
        "not_found",
        format!("no {} has id `{id}`", kind.as_str()),
    )
}

/// The body without `id`, and the id if given (validated like a name).
fn split_id(body: &Value) -> Result<(Option<String>, Value), Answer> {
    let Value::Object(members) = body else {
        return Err(Answer::error(
            400,
            "invalid_request",
            "the body must be a JSON object",
        ));
    };
    let mut members = members.clone();
    let id = match members.remove("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id))
            if !id.is_empty()
                && id.len() <= 128
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:@".contains(&b)) =>
        {
            Some(id)
        }
        Some(_) => {
            return Err(Answer::error(
                400,
                "invalid_request",
                "`id`: 1 to 128 letters, digits or -_.:@",
            ))
        }
    };
    Ok((id, Value::Object(members)))
}

/// A JSON merge patch of one level: members replace, `null` removes.
fn merge(mut doc: Value, patch: &Map<String, Value>) -> Value {
    if let Value::Object(members) = &mut doc {
        for (k, v) in patch {
            match v {
                Value::Null => {
                    members.remove(k);
                }
                v => {
                    members.insert(k.clone(), v.clone());
                }
            }
        }
    }
    doc
}

fn key_entity(key: &ApiKey) -> StoredEntity {
    let mut doc = key.doc.to_json();
    doc["key_hint"] = json!(key.hint);
    StoredEntity {
        kind: EntityKind::Key,
        id: key.id.clone(),
        secret_hash: Some(key.secret_hash),
        doc: doc.to_string(),
        created_ms: key.stamps.0,
        updated_ms: key.stamps.1,
    }
}

fn group_entity(kind: EntityKind, group: &ApiGroup) -> StoredEntity {
    StoredEntity {
        kind,
        id: group.id.clone(),
        secret_hash: None,
        doc: group.doc.to_json().to_string(),
        created_ms: group.stamps.0,
        updated_ms: group.stamps.1,
    }
}
