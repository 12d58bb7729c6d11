//! The shipped table, lookups by kind and name, overrides and costs.

use super::*;

fn shipped() -> Pricing {
    Pricing::new(&[]).expect("the shipped table parses")
}

fn usd(micro_usd: u64) -> UsdPerMillion {
    UsdPerMillion::from_micro_usd(micro_usd)
}

/// The price a provider of `kind` named after it gets for `model`.
fn price_of(pricing: &Pricing, kind: ProviderKind, model: &str) -> Option<Price> {
    pricing.price(kind.name(), kind, model).copied()
}

fn override_of(provider: &str, model: &str, input: f64, output: f64) -> PriceOverride {
    PriceOverride {
        provider: provider.into(),
        model: model.into(),
        input,
        output,
        cached_input: None,
        reasoning: None,
    }
}

#[test]
fn every_price_list_parses_and_has_models() {
    let pricing = shipped();
    for list in PriceList::ALL {
        let entries = pricing.shipped.list(list).entries();
        assert!(!entries.is_empty(), "[{}] is empty", list.section());
        for (model, price) in entries {
            // Every line has an input price; only embeddings have no output.
            assert!(price.input > UsdPerMillion::ZERO, "{model}");
            assert!(
                price.output > UsdPerMillion::ZERO || model.contains("embed"),
                "{model}"
            );
            if let Some(cached) = price.cached_input {
                assert!(cached < price.input, "{model}: cache reads cost less");
            }
        }
    }
}

#[test]
fn an_unknown_section_or_field_or_a_bad_price_is_refused() {
    assert!(table::parse_shipped("[openai]\n\"m\" = { input = 1, output = 1 }").is_ok());
    for bad in [
        "[nope]\n\"m\" = { input = 1, output = 1 }",
        "[openai]\n\"m\" = { input = 1, output = 1, cache = 1 }",
        "[openai]\n\"m\" = { input = 1 }",
        "[openai]\n\"m\" = { input = -1, output = 1 }",
        "[openai]\n\"m\" = { input = nan, output = 1 }",
    ] {
        assert!(table::parse_shipped(bad).is_err(), "{bad}");
    }
}

#[test]
fn known_models_price_exactly() {
    let pricing = shipped();
    let gpt_4o = price_of(&pricing, ProviderKind::OpenAi, "gpt-4o").unwrap();
    assert_eq!(
        gpt_4o,
        Price {
            input: usd(2_500_000),
            output: usd(10_000_000),
            cached_input: Some(usd(1_250_000)),
            reasoning: None,
        }
    );
    let haiku = price_of(
        &pricing,
        ProviderKind::Anthropic,
        "claude-3-5-haiku-20241022",
    )
    .unwrap();
    assert_eq!((haiku.input, haiku.output), (usd(800_000), usd(4_000_000)));
    let flash_8b = price_of(&pricing, ProviderKind::Gemini, "gemini-1.5-flash-8b").unwrap();
    assert_eq!(flash_8b.input, usd(37_500));
}

#[test]
fn costs_split_cached_input_and_reasoning() {
    let pricing = shipped();
    // A million tokens each way of gpt-4o: $2.50 + $10.
    let gpt_4o = price_of(&pricing, ProviderKind::OpenAi, "gpt-4o").unwrap();
    assert_eq!(
        cost_nanos(&gpt_4o, &Usage::new(1_000_000, 1_000_000)),
        12_500_000_000
    );
    // gpt-5: 2,000 uncached at $1.25, 8,000 cached at $0.125, 2,000 out
    // (1,500 of them reasoning, at the output price) at $10.
    let gpt_5 = price_of(&pricing, ProviderKind::OpenAi, "gpt-5-2025-08-07").unwrap();
    let usage = Usage::new(10_000, 2_000).with_details(8_000, 1_500);
    assert_eq!(
        cost_nanos(&gpt_5, &usage),
        2_500_000 + 1_000_000 + 20_000_000
    );
    // Claude, cache reads at a tenth of input.
    let sonnet = price_of(
        &pricing,
        ProviderKind::Anthropic,
        "claude-sonnet-4-5-20250929",
    )
    .unwrap();
    let usage = Usage::new(4_020, 7).with_details(3_000, 0);
    assert_eq!(cost_nanos(&sonnet, &usage), 3_060_000 + 900_000 + 105_000);
    // A reasoning price of its own: 400 answer tokens at $8, 600 at $3.
    let research = price_of(&pricing, ProviderKind::Perplexity, "sonar-deep-research").unwrap();
    let usage = Usage::new(0, 1_000).with_details(0, 600);
    assert_eq!(cost_nanos(&research, &usage), 3_200_000 + 1_800_000);
}

#[test]
fn costs_round_to_the_nearest_nano_dollar_and_saturate() {
    // $0.0375 a million tokens is 37.5 nano-dollars a token.
    let price = Price {
        input: usd(37_500),
        ..Price::FREE
    };
    assert_eq!(cost_nanos(&price, &Usage::new(1, 0)), 38);
    assert_eq!(cost_nanos(&price, &Usage::new(2, 0)), 75);
    assert_eq!(cost_nanos(&price, &Usage::new(3, 0)), 113);
    let dear = Price::from_usd(1e9, 1e9, None, None).unwrap();
    assert_eq!(cost_nanos(&dear, &Usage::new(u64::MAX, u64::MAX)), u64::MAX);
    // Details larger than their totals are capped, never underflow.
    let usage = Usage {
        prompt_tokens: 1,
        completion_tokens: 1,
        cached_tokens: 5,
        reasoning_tokens: 5,
    };
    assert_eq!(cost_nanos(&Price::FREE, &usage), 0);
}

#[test]
fn dated_and_versioned_names_find_their_model() {
    let pricing = shipped();
    let cases = [
        (ProviderKind::OpenAi, "gpt-4o-2024-08-06", "gpt-4o"),
        (
            ProviderKind::OpenAi,
            "gpt-4o-mini-2024-07-18",
            "gpt-4o-mini",
        ),
        (
            ProviderKind::OpenAi,
            "gpt-4o-2024-05-13",
            "gpt-4o-2024-05-13",
        ),
        (ProviderKind::OpenAi, "o3-mini-2025-01-31", "o3-mini"),
        (
            ProviderKind::OpenAi,
            "ft:gpt-4o-mini-2024-07-18:acme::AbC123",
            "ft:gpt-4o-mini",
        ),
        (
            ProviderKind::Azure,
            "gpt-4.1-nano-2025-04-14",
            "gpt-4.1-nano",
        ),
        (
            ProviderKind::Anthropic,
            "claude-3-5-sonnet-20241022",
            "claude-3-5-sonnet",
        ),
        (
            ProviderKind::Anthropic,
            "claude-3-7-sonnet-latest",
            "claude-3-7-sonnet",
        ),
        (
            ProviderKind::Anthropic,
            "claude-opus-4-1-20250805",
            "claude-opus-4-1",
        ),
        (
            ProviderKind::Anthropic,
            "claude-opus-4-20250514",
            "claude-opus-4",
        ),
        (
            ProviderKind::Gemini,
            "models/gemini-2.5-flash",
            "gemini-2.5-flash",
        ),
        (
            ProviderKind::Gemini,
            "gemini-2.5-flash-lite-preview-06-17",
            "gemini-2.5-flash-lite",
        ),
        (
            ProviderKind::Vertex,
            "gemini-2.0-flash-001",
            "gemini-2.0-flash",
        ),
        (
            ProviderKind::Vertex,
            "publishers/google/models/gemini-2.5-pro",
            "gemini-2.5-pro",
        ),
        (
            ProviderKind::Bedrock,
            "anthropic.claude-3-5-sonnet-20241022-v2:0",
            "anthropic.claude-3-5-sonnet",
        ),
        (
            ProviderKind::Bedrock,
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "anthropic.claude-sonnet-4-5",
        ),
        (
            ProviderKind::Bedrock,
            "amazon.titan-embed-text-v2:0",
            "amazon.titan-embed-text-v2",
        ),
        (
            ProviderKind::Bedrock,
            "meta.llama3-1-70b-instruct-v1:0",
            "meta.llama3-1-70b-instruct",
        ),
        (ProviderKind::Mistral, "mistral-small-2506", "mistral-small"),
        (ProviderKind::Cohere, "command-a-03-2025", "command-a"),
        (
            ProviderKind::Cohere,
            "command-r-plus-08-2024",
            "command-r-plus-08-2024",
        ),
        (ProviderKind::XAi, "grok-4-fast-reasoning", "grok-4-fast"),
        (
            ProviderKind::Groq,
            "openai/gpt-oss-120b",
            "openai/gpt-oss-120b",
        ),
        (
            ProviderKind::Fireworks,
            "accounts/fireworks/models/deepseek-v3",
            "deepseek-v3",
        ),
    ];
    for (kind, model, entry) in cases {
        let list = PriceList::of(kind).unwrap();
        let expected = pricing.shipped.list(list).exact(entry).copied();
        assert!(expected.is_some(), "{entry} is not in [{}]", list.section());
        assert_eq!(
            price_of(&pricing, kind, model),
            expected,
            "{kind:?} {model}"
        );
    }
}

#[test]
fn unknown_models_and_unpriced_kinds_have_no_price() {
    let pricing = shipped();
    assert_eq!(
        price_of(&pricing, ProviderKind::OpenAi, "no-such-model"),
        None
    );
    assert_eq!(price_of(&pricing, ProviderKind::Anthropic, "gpt-4o"), None);
    assert_eq!(
        price_of(&pricing, ProviderKind::Gemini, "gemini-3.1-pro-preview"),
        None
    );
    assert_eq!(
        price_of(&pricing, ProviderKind::OpenRouter, "openai/gpt-4o"),
        None
    );
    assert_eq!(
        price_of(&pricing, ProviderKind::OpenAiCompatible, "gpt-4o"),
        None
    );
    assert_eq!(price_of(&pricing, ProviderKind::OpenAi, ""), None);
}

#[test]
fn ollama_and_the_mock_are_free() {
    let pricing = shipped();
    assert_eq!(
        price_of(&pricing, ProviderKind::Ollama, "llama3.2"),
        Some(Price::FREE)
    );
    assert_eq!(
        price_of(&pricing, ProviderKind::Mock, "echo"),
        Some(Price::FREE)
    );
}

#[test]
fn overrides_win_for_their_provider_name_and_may_add_models() {
    let pricing = Pricing::new(&[
        override_of("my-azure", "gpt-4o", 1.0, 2.0),
        override_of("my-azure", "team-deployment", 3.0, 4.0),
        override_of("local", "llama3.2", 0.5, 0.5),
        override_of("vllm", "qwen/qwen3-8b", 0.25, 0.25),
    ])
    .unwrap();
    let mine = Price::from_usd(1.0, 2.0, None, None);
    let azure = |model| {
        pricing
            .price("my-azure", ProviderKind::Azure, model)
            .copied()
    };
    assert_eq!(azure("gpt-4o"), mine);
    // An override also prices its model's dated snapshots.
    assert_eq!(azure("gpt-4o-2024-08-06"), mine);
    assert_eq!(
        azure("team-deployment"),
        Price::from_usd(3.0, 4.0, None, None)
    );
    // Models it does not name keep the shipped price; other providers too.
    let mini = price_of(&pricing, ProviderKind::OpenAi, "gpt-4o-mini");
    assert_eq!(azure("gpt-4o-mini"), mini);
    // A longer shipped name wins over a shorter override.
    assert_eq!(azure("gpt-4o-mini-2024-07-18"), mini);
    assert_eq!(
        pricing
            .price("azure", ProviderKind::Azure, "gpt-4o")
            .map(|p| p.input),
        Some(usd(2_500_000))
    );
    // Over Ollama's free default, and for a kind with no shipped list.
    assert_eq!(
        pricing
            .price("local", ProviderKind::Ollama, "llama3.2")
            .copied(),
        Price::from_usd(0.5, 0.5, None, None)
    );
    assert_eq!(
        pricing
            .price("vllm", ProviderKind::OpenAiCompatible, "qwen/qwen3-8b")
            .map(|p| p.input),
        Some(usd(250_000))
    );
}

#[test]
fn an_override_given_twice_or_out_of_range_is_refused() {
    let twice = [
        override_of("p", "m", 1.0, 1.0),
        override_of("p", "m", 2.0, 2.0),
    ];
    assert!(Pricing::new(&twice).unwrap_err().contains("p/m"));
    assert!(Pricing::new(&[override_of("p", "m", f64::NAN, 1.0)]).is_err());
    assert!(Pricing::new(&[override_of("p", "m", 1.0, -0.5)]).is_err());
}

#[test]
fn prices_in_usd_keep_six_decimals() {
    assert_eq!(UsdPerMillion::from_usd(0.0375), Some(usd(37_500)));
    assert_eq!(UsdPerMillion::from_usd(0.000_000_4), Some(usd(0)));
    assert_eq!(UsdPerMillion::from_usd(2.5).unwrap().usd(), 2.5);
    assert_eq!(UsdPerMillion::from_usd(f64::INFINITY), None);
    assert_eq!(UsdPerMillion::from_usd(-0.01), None);
}
