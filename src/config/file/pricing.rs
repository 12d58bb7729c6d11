//! `[pricing."provider/model"]`: the operator's prices, which replace or add
//! to the table shipped with the gateway. The provider is a configured
//! provider's name, so `my-azure` can be priced apart from `openai`.

use super::error::push_key;
use super::schema::{Ordered, PriceFile, MAX_PRICE_USD_PER_MILLION};
use super::ConfigError;
use crate::config::{PriceOverride, ProviderSettings};

/// Every price table, in file order.
pub(super) fn resolve(
    file: &Ordered<PriceFile>,
    providers: &[ProviderSettings],
    names: &dyn Fn() -> String,
) -> Result<Vec<PriceOverride>, ConfigError> {
    let mut out = Vec::with_capacity(file.0.len());
    for (key, price) in &file.0 {
        let mut base = String::new();
        push_key(&mut base, "pricing");
        push_key(&mut base, key);
        let Some((provider, model)) = key
            .split_once('/')
            .filter(|(p, m)| !p.is_empty() && !m.is_empty())
        else {
            return Err(ConfigError::invalid(
                base,
                format!("{key:?} is not of the form \"provider/model\""),
            )
            .with_hint("e.g. [pricing.\"openai/gpt-4o\"]"));
        };
        if !providers.iter().any(|p| p.name == provider) {
            return Err(ConfigError::invalid(
                base,
                format!("provider {provider:?} is not enabled"),
            )
            .with_hint(format!(
                "name a configured provider (not a kind); enabled providers: {}",
                names()
            )));
        }
        let at = |field: &str| format!("{base}.{field}");
        out.push(PriceOverride {
            provider: provider.to_owned(),
            model: model.to_owned(),
            input: usd(price.input, &at("input"))?.ok_or_else(|| required(&at("input")))?,
            output: usd(price.output, &at("output"))?.ok_or_else(|| required(&at("output")))?,
            cached_input: usd(price.cached_input, &at("cached_input"))?,
            reasoning: usd(price.reasoning, &at("reasoning"))?,
        });
    }
    Ok(out)
}

fn required(path: &str) -> ConfigError {
    ConfigError::invalid(path, "required: USD per million tokens")
}

/// A price as written, refused at `path` unless finite and in
/// `0..=MAX_PRICE_USD_PER_MILLION`.
fn usd(value: Option<f64>, path: &str) -> Result<Option<f64>, ConfigError> {
    match value {
        Some(v) if !(0.0..=MAX_PRICE_USD_PER_MILLION).contains(&v) => Err(ConfigError::invalid(
            path,
            format!("{v} is not a price from 0 to {MAX_PRICE_USD_PER_MILLION}"),
        )
        .with_hint("USD per million tokens, e.g. 2.5")),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{load_str, refused_at};
    use crate::config::PriceOverride;

    const GROQ: &str = "[providers.groq]\nkeys = [\"k\"]\n";

    #[test]
    fn prices_resolve_in_file_order_with_optional_fields_unset() {
        let settings = load_str(
            &format!(
                "{GROQ}[pricing.\"groq/llama-3.3-70b-versatile\"]\ninput = 0.5\noutput = 1\n\
                 [pricing.\"groq/openai/gpt-oss-120b\"]\ninput = 0.1\noutput = 0.5\n\
                 cached_input = 0.05\nreasoning = 0.6\n"
            ),
            &[],
        )
        .unwrap();
        assert_eq!(
            settings.pricing,
            [
                PriceOverride {
                    provider: "groq".into(),
                    model: "llama-3.3-70b-versatile".into(),
                    input: 0.5,
                    output: 1.0,
                    cached_input: None,
                    reasoning: None,
                },
                PriceOverride {
                    provider: "groq".into(),
                    model: "openai/gpt-oss-120b".into(),
                    input: 0.1,
                    output: 0.5,
                    cached_input: Some(0.05),
                    reasoning: Some(0.6),
                },
            ]
        );
    }

    #[test]
    fn a_key_without_provider_and_model_is_refused_at_its_path() {
        for (key, path) in [
            ("gpt-4o", "pricing.gpt-4o"),
            ("/gpt-4o", "pricing.\"/gpt-4o\""),
            ("groq/", "pricing.\"groq/\""),
        ] {
            let err = refused_at(
                &format!("{GROQ}[pricing.\"{key}\"]\ninput = 1\noutput = 1\n"),
                &[],
                path,
            );
            assert!(err.to_string().contains("provider/model"), "{err}");
        }
    }

    #[test]
    fn a_provider_that_is_not_configured_is_refused_with_the_enabled_ones() {
        let err = refused_at(
            &format!("{GROQ}[pricing.\"my-azure/gpt-4o\"]\ninput = 1\noutput = 1\n"),
            &[],
            "pricing.\"my-azure/gpt-4o\"",
        );
        assert!(err.hint().unwrap().contains("groq"), "{err}");
    }

    #[test]
    fn input_and_output_are_required() {
        refused_at(
            &format!("{GROQ}[pricing.\"groq/m\"]\noutput = 1\n"),
            &[],
            "pricing.\"groq/m\".input",
        );
        refused_at(
            &format!("{GROQ}[pricing.\"groq/m\"]\ninput = 1\n"),
            &[],
            "pricing.\"groq/m\".output",
        );
    }

    #[test]
    fn negative_infinite_nan_and_huge_prices_are_refused_at_their_field() {
        for (field, value) in [
            ("input", "-1"),
            ("output", "inf"),
            ("cached_input", "nan"),
            ("reasoning", "1e7"),
        ] {
            let mut text = format!("{GROQ}[pricing.\"groq/m\"]\n");
            for f in ["input", "output", "cached_input", "reasoning"] {
                let v = if f == field { value } else { "1" };
                text.push_str(&format!("{f} = {v}\n"));
            }
            refused_at(&text, &[], &format!("pricing.\"groq/m\".{field}"));
        }
    }

    #[test]
    fn an_unknown_field_is_refused_at_its_path() {
        let err = refused_at(
            &format!("{GROQ}[pricing.\"groq/m\"]\ninput = 1\noutput = 1\ncache_read = 1\n"),
            &[],
            "pricing.\"groq/m\".cache_read",
        );
        assert!(err.hint().unwrap().contains("cached_input"), "{err}");
    }
}
