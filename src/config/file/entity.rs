//! Keys, teams and customers made through the admin API: their JSON
//! descriptions, validated by the same rules as `[[virtual_keys]]`,
//! `[[teams]]` and `[[customers]]` in the file, and written back as JSON
//! for the store and the API's answers.

use serde_json::{json, Map, Value};

use super::governance::{budget, check_pattern, rate_limit, required_text};
use super::schema::{GroupFile, VirtualKeyFile};
use super::ConfigError;
use crate::config::calendar::{rfc3339, rfc3339_seconds};
use crate::config::{BudgetSettings, RateLimit};

/// A virtual key's description (its id and secret are kept beside it).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyDoc {
    pub name: String,
    pub team_id: Option<String>,
    pub customer_id: Option<String>,
    pub models: Vec<String>,
    pub rate_limit: RateLimit,
    pub budget: Option<BudgetSettings>,
    /// Unix seconds.
    pub expires_at: Option<u64>,
    pub disabled: bool,
}

/// A team's or customer's description.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupDoc {
    pub name: String,
    pub rate_limit: RateLimit,
    pub budget: Option<BudgetSettings>,
}

/// A key's description from JSON; `id` and `key` are not part of it.
pub fn key_doc(json: &Value) -> Result<KeyDoc, ConfigError> {
    let file: VirtualKeyFile = from_json(json)?;
    if file.key.is_some() {
        return Err(ConfigError::invalid("key", "keys are made by the gateway")
            .with_hint("leave `key` out; the answer to the create call holds it, once"));
    }
    let models = file.models.clone().unwrap_or_default();
    for (m, pattern) in models.iter().enumerate() {
        check_pattern(pattern, &format!("models[{m}]"))?;
    }
    let optional_id = |value: &Option<String>, path: &str| {
        value
            .as_deref()
            .map(|v| required_text(Some(v), path))
            .transpose()
    };
    Ok(KeyDoc {
        name: required_text(file.name.as_deref(), "name")?,
        team_id: optional_id(&file.team_id, "team_id")?,
        customer_id: optional_id(&file.customer_id, "customer_id")?,
        models,
        rate_limit: rate_limit(file.rate_limit.as_ref(), "rate_limit")?,
        budget: budget(file.budget.as_ref(), "budget")?,
        expires_at: file
            .expires_at
            .as_deref()
            .map(|t| {
                rfc3339_seconds(t).ok_or_else(|| {
                    ConfigError::invalid("expires_at", format!("{t:?} is not an RFC 3339 time"))
                        .with_hint("e.g. \"2027-01-31T00:00:00Z\"")
                })
            })
            .transpose()?,
        disabled: file.disabled,
    })
}

/// A team's or customer's description from JSON; `id` is not part of it
/// (the name defaults to `default_name`, the id).
pub fn group_doc(json: &Value, default_name: &str) -> Result<GroupDoc, ConfigError> {
    let file: GroupFile = from_json(json)?;
    Ok(GroupDoc {
        name: match &file.name {
            Some(name) => required_text(Some(name), "name")?,
            None => default_name.to_owned(),
        },
        rate_limit: rate_limit(file.rate_limit.as_ref(), "rate_limit")?,
        budget: budget(file.budget.as_ref(), "budget")?,
    })
}

impl KeyDoc {
    pub fn to_json(&self) -> Value {
        let mut doc = Map::new();
        doc.insert("name".into(), json!(self.name));
        if let Some(team) = &self.team_id {
            doc.insert("team_id".into(), json!(team));
        }
        if let Some(customer) = &self.customer_id {
            doc.insert("customer_id".into(), json!(customer));
        }
        doc.insert("models".into(), json!(self.models));
        doc.insert("rate_limit".into(), rate_json(self.rate_limit));
        doc.insert("budget".into(), budget_json(self.budget));
        doc.insert(
            "expires_at".into(),
            self.expires_at
                .map_or(Value::Null, |at| json!(rfc3339(at as i64))),
        );
        doc.insert("disabled".into(), json!(self.disabled));
        Value::Object(doc)
    }
}

impl GroupDoc {
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "rate_limit": rate_json(self.rate_limit),
            "budget": budget_json(self.budget),
        })
    }
}

fn rate_json(rate: RateLimit) -> Value {
    json!({"rpm": rate.rpm, "tpm": rate.tpm})
}

fn budget_json(budget: Option<BudgetSettings>) -> Value {
    budget.map_or(
        Value::Null,
        |b| json!({"limit_usd": b.limit_nanos as f64 / 1e9, "period": b.period.name()}),
    )
}

/// Deserialize with the file's rules (unknown members refused, the path of
/// a bad one named); JSON `null` members count as absent.
fn from_json<T: serde::de::DeserializeOwned>(json: &Value) -> Result<T, ConfigError> {
    let Value::Object(members) = json else {
        return Err(ConfigError::invalid("body", "must be a JSON object"));
    };
    let present: Map<String, Value> = members
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    serde_path_to_error::deserialize(Value::Object(present)).map_err(|err| {
        let path = err.path().to_string();
        let message = err.inner().to_string();
        match message.strip_prefix("unknown field `") {
            Some(rest) => {
                let field = rest.split('`').next().unwrap_or_default();
                let at = if path == "." { field.to_owned() } else { path };
                ConfigError::invalid(at, "unknown member")
            }
            None => ConfigError::invalid(path, message),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_doc_round_trips_and_bad_members_are_named() {
        let body = json!({
            "name": "ci", "team_id": "eng", "models": ["openai/*", "mock/echo"],
            "rate_limit": {"rpm": 60, "tpm": 100000},
            "budget": {"limit_usd": 10.0, "period": "monthly"},
            "expires_at": "2027-01-31T00:00:00Z"
        });
        let doc = key_doc(&body).unwrap();
        assert_eq!(doc.rate_limit.rpm, Some(60));
        assert_eq!(doc.budget.unwrap().limit_nanos, 10_000_000_000);
        assert_eq!(key_doc(&doc.to_json()).unwrap(), doc);
        let path_of = |v: Value| key_doc(&v).unwrap_err().path().unwrap().to_owned();
        assert_eq!(
            path_of(json!({"name": "x", "models": ["a*b/c"]})),
            "models[0]"
        );
        assert_eq!(
            path_of(json!({"name": "x", "budget": {"limit_usd": -1}})),
            "budget.limit_usd"
        );
        assert_eq!(
            path_of(json!({"name": "x", "budget": {"limit_usd": 1, "period": "hourly"}})),
            "budget.period"
        );
        assert_eq!(
            path_of(json!({"name": "x", "rate_limit": {"rpm": 0}})),
            "rate_limit.rpm"
        );
        assert_eq!(
            path_of(json!({"name": "x", "rate_limit": {"rpx": 1}})),
            "rate_limit.rpx"
        );
        assert_eq!(path_of(json!({"name": "x", "colour": 1})), "colour");
        assert_eq!(path_of(json!({"name": "x", "key": "mine"})), "key");
        assert_eq!(path_of(json!({"models": []})), "name");
        assert_eq!(path_of(json!({"name": 7})), "name");
        assert_eq!(path_of(json!([1])), "body");
    }

    #[test]
    fn a_group_doc_defaults_its_name_to_the_id() {
        let doc = group_doc(
            &json!({"budget": {"limit_usd": 0.5, "period": "daily"}}),
            "eng",
        )
        .unwrap();
        assert_eq!(doc.name, "eng");
        assert_eq!(group_doc(&doc.to_json(), "other").unwrap(), doc);
    }
}
