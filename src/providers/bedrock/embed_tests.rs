//! Request and response shapes from the Bedrock model-parameter pages for
//! Titan Text Embeddings and Cohere Embed (no recorded InvokeModel traffic
//! exists in the shared fixtures, so the bodies here follow the docs).

use super::*;
use serde_json::{json, Value};

const TITAN_V2: &str = "amazon.titan-embed-text-v2:0";
const TITAN_V1: &str = "amazon.titan-embed-text-v1";
const COHERE_V3: &str = "cohere.embed-english-v3";
const COHERE_V4: &str = "cohere.embed-v4:0";

fn plan(body: Value, model: &str) -> EmbeddingsPlan<'static> {
    let bytes: &'static [u8] = Box::leak(body.to_string().into_bytes().into_boxed_slice());
    plan_embeddings(bytes, model).unwrap()
}

fn plan_err(body: Value, model: &str) -> String {
    let bytes = body.to_string();
    match plan_embeddings(bytes.as_bytes(), model) {
        Err(TranslateError::BadRequest(msg)) => msg,
        other => panic!("expected BadRequest, got {other:?}"),
    }
}

/// Every call's body, as JSON.
fn bodies(p: &EmbeddingsPlan<'_>) -> Vec<Value> {
    (0..p.calls())
        .map(|i| {
            let mut out = Vec::new();
            p.translate_request(i, &mut out).unwrap();
            serde_json::from_slice(&out).unwrap()
        })
        .collect()
}

/// Runs `answers` (one per call, with an optional token header) through the
/// plan and returns the OpenAI list and its prompt tokens.
fn answer(p: &EmbeddingsPlan<'_>, answers: &[(&str, Option<u64>)]) -> (Value, u64) {
    assert_eq!(answers.len(), p.calls());
    let mut out = Vec::new();
    let mut list = ListWriter::begin(p.base64(), &mut out);
    let mut tokens = 0;
    for (i, (body, header)) in answers.iter().enumerate() {
        tokens += p
            .translate_response(i, body.as_bytes(), *header, &mut list, &mut out)
            .unwrap();
    }
    list.finish("bedrock/m", tokens, &mut out);
    (serde_json::from_slice(&out).unwrap(), tokens)
}

#[test]
fn model_ids_pick_the_request_shape() {
    for (id, want) in [
        (TITAN_V2, Some(EmbeddingModel::TitanTextV2)),
        (TITAN_V1, Some(EmbeddingModel::TitanText)),
        (
            "amazon.titan-embed-g1-text-02",
            Some(EmbeddingModel::TitanText),
        ),
        (
            "amazon.titan-embed-image-v1",
            Some(EmbeddingModel::TitanMultimodal),
        ),
        (COHERE_V3, Some(EmbeddingModel::CohereV3)),
        (
            "cohere.embed-multilingual-v3",
            Some(EmbeddingModel::CohereV3),
        ),
        (COHERE_V4, Some(EmbeddingModel::Cohere)),
        ("us.cohere.embed-v4:0", Some(EmbeddingModel::Cohere)),
        (
            "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0",
            Some(EmbeddingModel::TitanTextV2),
        ),
        ("anthropic.claude-3-haiku-20240307-v1:0", None),
        ("amazon.nova-lite-v1:0", None),
        ("cohere.command-r-v1:0", None),
        ("titan-embed-text-v2", None),
    ] {
        assert_eq!(EmbeddingModel::of(id), want, "{id}");
    }
}

#[test]
fn other_models_are_bad_request_naming_the_families() {
    let msg = plan_err(
        json!({"input":"a"}),
        "anthropic.claude-3-haiku-20240307-v1:0",
    );
    assert!(
        msg.contains("amazon.titan-embed") && msg.contains("cohere.embed"),
        "{msg}"
    );
}

#[test]
fn titan_v2_sends_one_call_per_text_with_dimensions_and_normalize() {
    let p = plan(
        json!({"model":"x","input":["a","b\"c","d"],"dimensions":256}),
        TITAN_V2,
    );
    assert_eq!(p.calls(), 3);
    assert_eq!(
        bodies(&p),
        vec![
            json!({"inputText":"a","dimensions":256,"normalize":true}),
            json!({"inputText":"b\"c","dimensions":256,"normalize":true}),
            json!({"inputText":"d","dimensions":256,"normalize":true}),
        ]
    );
    let p = plan(json!({"input":"only"}), TITAN_V2);
    assert_eq!(
        bodies(&p),
        vec![json!({"inputText":"only","normalize":true})]
    );
    assert!(!p.base64());
}

#[test]
fn titan_v1_takes_input_text_only_and_refuses_dimensions() {
    let p = plan(
        json!({"input":"a","input_type":"search_query","user":"u"}),
        TITAN_V1,
    );
    assert_eq!(bodies(&p), vec![json!({"inputText":"a"})]);
    let msg = plan_err(json!({"input":"a","dimensions":512}), TITAN_V1);
    assert!(msg.contains("dimensions"), "{msg}");
}

#[test]
fn titan_multimodal_sizes_through_embedding_config() {
    let p = plan(
        json!({"input":"a","dimensions":384}),
        "amazon.titan-embed-image-v1",
    );
    assert_eq!(
        bodies(&p),
        vec![json!({"inputText":"a","embeddingConfig":{"outputEmbeddingLength":384}})]
    );
}

#[test]
fn cohere_sends_texts_search_document_and_float_in_calls_of_96() {
    let p = plan(json!({"input":["a","b"]}), COHERE_V3);
    assert_eq!(p.calls(), 1);
    assert_eq!(
        bodies(&p),
        vec![json!({"texts":["a","b"],"input_type":"search_document","embedding_types":["float"]})]
    );
    let p = plan(
        json!({"input":"q","input_type":"search_query","dimensions":1024}),
        COHERE_V4,
    );
    assert_eq!(
        bodies(&p),
        vec![
            json!({"texts":["q"],"input_type":"search_query","embedding_types":["float"],
            "output_dimension":1024})
        ]
    );
    let many: Vec<String> = (0..MAX_COHERE_TEXTS * 2 + 1)
        .map(|i| i.to_string())
        .collect();
    let p = plan(json!({ "input": many }), COHERE_V3);
    assert_eq!(p.calls(), 3);
    let sent: Vec<Value> = bodies(&p).iter().map(|b| b["texts"].clone()).collect();
    assert_eq!(sent[0].as_array().unwrap().len(), MAX_COHERE_TEXTS);
    assert_eq!(sent[1][0], MAX_COHERE_TEXTS.to_string());
    assert_eq!(sent[2], json!([(MAX_COHERE_TEXTS * 2).to_string()]));
}

#[test]
fn cohere_v3_refuses_dimensions() {
    let msg = plan_err(json!({"input":"a","dimensions":256}), COHERE_V3);
    assert!(msg.contains("fixed size"), "{msg}");
}

#[test]
fn token_arrays_empty_oversized_and_unknown_formats_are_bad_request() {
    let too_many: Vec<&str> = vec!["x"; MAX_INPUTS + 1];
    for model in [TITAN_V2, COHERE_V3] {
        for body in [
            json!({"input":[1,2,3]}),
            json!({"input":[[1,2]]}),
            json!({"input":[]}),
            json!({"input":""}),
            json!({"input":["a",""]}),
            json!({"input":5}),
            json!({"model":"m"}),
            json!({"input":too_many}),
            json!({"input":"a","encoding_format":"int8"}),
        ] {
            plan_err(body.clone(), model);
        }
        assert!(plan_embeddings(b"\xff", model).is_err());
    }
    let msg = plan_err(json!({"input":[1,2,3]}), TITAN_V2);
    assert!(msg.contains("token arrays"), "{msg}");
}

#[test]
fn calls_outside_the_plan_write_nothing() {
    let p = plan(json!({"input":["a"]}), TITAN_V2);
    let mut out = b"keep".to_vec();
    assert!(p.translate_request(1, &mut out).is_err());
    let p = plan(json!({"input":["a"]}), COHERE_V3);
    assert!(p.translate_request(1, &mut out).is_err());
    assert_eq!(out, b"keep");
}

#[test]
fn titan_answers_become_one_list_in_input_order_with_summed_tokens() {
    let p = plan(json!({"input":["a","b"]}), TITAN_V2);
    let (v, tokens) = answer(
        &p,
        &[
            (
                r#"{"embedding":[0.5,-0.25],"inputTextTokenCount":3,"embeddingsByType":{"float":[0.5,-0.25]}}"#,
                Some(99),
            ),
            (r#"{"embedding":[1,2],"inputTextTokenCount":4}"#, None),
        ],
    );
    // The body's count wins over the header's.
    assert_eq!(tokens, 7);
    assert_eq!(
        v,
        json!({"object":"list","data":[
            {"object":"embedding","index":0,"embedding":[0.5,-0.25]},
            {"object":"embedding","index":1,"embedding":[1,2]}],
            "model":"bedrock/m","usage":{"prompt_tokens":7,"total_tokens":7}})
    );
    // G1 answers without a count fall back to the header, then 0.
    let p = plan(json!({"input":["a","b"]}), TITAN_V1);
    let (_, tokens) = answer(
        &p,
        &[
            (r#"{"embedding":[1]}"#, Some(5)),
            (r#"{"embedding":[2]}"#, None),
        ],
    );
    assert_eq!(tokens, 5);
}

#[test]
fn cohere_answers_by_type_and_plain_floats_are_both_read() {
    let p = plan(json!({"input":["a","b"]}), COHERE_V3);
    for body in [
        r#"{"id":"e1","embeddings":{"float":[[1.0,-0.5],[0.25,2]]},"texts":["a","b"],"response_type":"embeddings_by_type"}"#,
        r#"{"id":"e1","embeddings":[[1.0,-0.5],[0.25,2]],"texts":["a","b"],"response_type":"embeddings_floats"}"#,
    ] {
        let (v, tokens) = answer(&p, &[(body, Some(6))]);
        assert_eq!(tokens, 6, "Cohere counts come from the header");
        assert_eq!(
            v["data"][1],
            json!({"object":"embedding","index":1,"embedding":[0.25,2]})
        );
        assert_eq!(v["usage"]["prompt_tokens"], 6);
    }
    let (_, tokens) = answer(&p, &[(r#"{"embeddings":[[1],[2]]}"#, None)]);
    assert_eq!(tokens, 0);
}

#[test]
fn indices_run_on_across_cohere_calls() {
    let texts: Vec<String> = (0..=MAX_COHERE_TEXTS).map(|i| i.to_string()).collect();
    let p = plan(json!({ "input": texts }), COHERE_V4);
    let first = format!(
        r#"{{"embeddings":{{"float":[{}]}}}}"#,
        vec!["[0]"; MAX_COHERE_TEXTS].join(",")
    );
    let (v, tokens) = answer(
        &p,
        &[
            (&first, Some(10)),
            (r#"{"embeddings":{"float":[[7]]}}"#, Some(1)),
        ],
    );
    assert_eq!(tokens, 11);
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), MAX_COHERE_TEXTS + 1);
    assert_eq!(data[MAX_COHERE_TEXTS]["index"], MAX_COHERE_TEXTS);
    assert_eq!(data[MAX_COHERE_TEXTS]["embedding"], json!([7]));
}

#[test]
fn base64_is_little_endian_f32_like_openai() {
    let p = plan(json!({"input":"a","encoding_format":"base64"}), TITAN_V2);
    assert!(p.base64());
    let (v, _) = answer(
        &p,
        &[(r#"{"embedding":[1.0,-0.5],"inputTextTokenCount":1}"#, None)],
    );
    // 1.0f32 = 00 00 80 3f, -0.5f32 = 00 00 00 bf
    assert_eq!(v["data"][0]["embedding"], "AACAPwAAAL8=");
    let p = plan(
        json!({"input":["a","b"],"encoding_format":"base64"}),
        COHERE_V3,
    );
    let (v, _) = answer(
        &p,
        &[(r#"{"embeddings":{"float":[[0.25,2],[1.0]]}}"#, None)],
    );
    // 0.25f32 = 00 00 80 3e, 2.0f32 = 00 00 00 40
    assert_eq!(v["data"][0]["embedding"], "AACAPgAAAEA=");
    assert_eq!(v["data"][1]["embedding"], "AACAPw==");
}

#[test]
fn malformed_or_miscounted_answers_are_bad_response() {
    let titan = plan(json!({"input":"a"}), TITAN_V2);
    let cohere = plan(json!({"input":["a","b"]}), COHERE_V3);
    for (p, body) in [
        (&titan, "not json"),
        (&titan, "{}"),
        (&titan, r#"{"embedding":"x"}"#),
        (&titan, r#"{"embedding":["x"]}"#),
        (&titan, r#"{"embeddings":[[1]]}"#),
        (&cohere, r#"{"embeddings":[[1]]}"#),
        (&cohere, r#"{"embeddings":{"float":[[1],[2],[3]]}}"#),
        (&cohere, r#"{"embeddings":{"int8":[[1],[2]]}}"#),
        (&cohere, r#"{"embeddings":[[1],"x"]}"#),
        (&cohere, r#"{"embedding":[1]}"#),
    ] {
        for base64 in [false, true] {
            let mut out = Vec::new();
            let mut list = ListWriter::begin(base64, &mut out);
            let err = p
                .translate_response(0, body.as_bytes(), None, &mut list, &mut out)
                .unwrap_err();
            assert!(
                matches!(err, TranslateError::BadResponse(_)),
                "{body}: {err}"
            );
        }
    }
}
