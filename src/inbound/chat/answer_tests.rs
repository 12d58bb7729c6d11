use serde_json::value::RawValue;

use super::*;

/// Each piece of the message `json` as (is reasoning, its JSON token).
fn pieces(json: &str) -> Vec<(bool, String)> {
    let delta: Delta<'_> = serde_json::from_str(json).unwrap();
    let mut all = Vec::new();
    delta
        .pieces(|piece| {
            all.push(match piece {
                Piece::Reasoning(r) => (true, r.raw().get().to_owned()),
                Piece::Text(t) => (false, t.raw().get().to_owned()),
            });
            Ok(())
        })
        .unwrap();
    all
}

fn reasoning(token: &str) -> (bool, String) {
    (true, token.to_owned())
}

fn text(token: &str) -> (bool, String) {
    (false, token.to_owned())
}

#[test]
fn reasoning_comes_first_under_either_name_then_content_then_refusal() {
    assert_eq!(
        pieces(r#"{"content":"b","reasoning_content":"a","refusal":"c"}"#),
        [reasoning(r#""a""#), text(r#""b""#), text(r#""c""#)]
    );
    assert_eq!(pieces(r#"{"reasoning":"r"}"#), [reasoning(r#""r""#)]);
    // Servers that send both send the same text: it is read once.
    assert_eq!(
        pieces(r#"{"reasoning_content":"r","reasoning":"r"}"#),
        [reasoning(r#""r""#)]
    );
    // An empty `reasoning_content` does not hide `reasoning`.
    assert_eq!(
        pieces(r#"{"reasoning_content":"","reasoning":"r"}"#),
        [reasoning(r#""r""#)]
    );
}

#[test]
fn empty_null_and_wrongly_typed_text_fields_carry_nothing() {
    for json in [
        r#"{"content":"","reasoning_content":"","refusal":""}"#,
        r#"{"content":null,"reasoning":null,"refusal":null}"#,
        r#"{"content":5,"reasoning":{"a":1},"refusal":7}"#,
        r#"{"content":{},"reasoning_content":[]}"#,
        "{}",
    ] {
        assert_eq!(pieces(json), [], "{json}");
    }
}

#[test]
fn text_keeps_its_escapes_until_a_dialect_asks_for_the_text() {
    let delta: Delta<'_> = serde_json::from_str(r#"{"content":"a\"b\u00e9"}"#).unwrap();
    delta
        .pieces(|piece| {
            let Piece::Text(t) = piece else {
                panic!("{piece:?}")
            };
            assert_eq!(t.raw().get(), r#""a\"b\u00e9""#);
            assert_eq!(t.text().unwrap(), "a\"bé");
            Ok(())
        })
        .unwrap();
}

#[test]
fn mistral_thinking_parts_are_reasoning_in_either_shape() {
    let parts = r#"{"content":[
        {"type":"thinking","thinking":[{"type":"text","text":"hm"},{"text":"m"}]},
        {"type":"text","text":"ok"},
        {"type":"image_url","image_url":{"url":"x"}},
        {"text":"untyped"},
        {"type":"thinking","thinking":"again"},
        {"type":"text","text":""}]}"#;
    assert_eq!(
        pieces(parts),
        [
            reasoning(r#""hm""#),
            reasoning(r#""m""#),
            text(r#""ok""#),
            text(r#""untyped""#),
            reasoning(r#""again""#),
        ]
    );
}

#[test]
fn content_parts_that_are_not_objects_are_a_bad_answer() {
    let delta: Delta<'_> = serde_json::from_str(r#"{"content":["a"]}"#).unwrap();
    let err = delta.pieces(|_| Ok(())).unwrap_err();
    assert!(err.0.starts_with("hub content parts: "), "{err}");
}

#[test]
fn arguments_are_a_string_or_the_object_itself() {
    let arguments = |json: &str| {
        let call: ToolCallPiece<'_> = serde_json::from_str(json).unwrap();
        call.arguments().unwrap().into_owned()
    };
    let function = |arguments: &str| format!(r#"{{"function":{{"arguments":{arguments}}}}}"#);
    assert_eq!(arguments(&function(r#""{\"a\":1}""#)), r#"{"a":1}"#);
    assert_eq!(arguments(&function(r#"{"a":1}"#)), r#"{"a":1}"#);
    assert_eq!(arguments(&function("null")), "");
    assert_eq!(arguments(r#"{"function":{"name":"f"}}"#), "");
    assert_eq!(arguments(r#"{"index":0}"#), "");
}

#[test]
fn tool_call_ids_and_names_of_other_types_read_as_absent() {
    let call: ToolCallPiece<'_> =
        serde_json::from_str(r#"{"index":1,"id":5,"function":{"name":null}}"#).unwrap();
    assert_eq!(call.index, Some(1));
    assert!(call.id.is_none());
    assert!(call.function.is_some() && call.name().is_none());
}

#[test]
fn arguments_become_an_object_or_else_an_empty_one() {
    let object = |arguments: &str| serde_json::to_string(&ArgumentsObject::parse(arguments));
    assert_eq!(object(r#"{"a": 1}"#).unwrap(), r#"{"a": 1}"#);
    for not_an_object in ["", "[1]", "\"x\"", "{\"a\":"] {
        assert_eq!(object(not_an_object).unwrap(), "{}", "{not_an_object}");
    }
}

#[test]
fn usage_counts_default_to_zero_and_unknown_shapes_are_none() {
    fn read(usage: &str) -> Option<Usage> {
        let body = format!(r#"{{"usage":{usage},"choices":[]}}"#);
        ChatAnswer::parse_chunk(body.as_bytes()).unwrap().usage()
    }
    assert_eq!(
        read(
            r#"{"prompt_tokens":10,"completion_tokens":5,"total_tokens":16,"extra":1,
            "prompt_tokens_details":{"cached_tokens":4},
            "completion_tokens_details":{"reasoning_tokens":2}}"#
        ),
        Some(Usage {
            prompt_tokens: 10,
            completion_tokens: 5,
            total_tokens: 16,
            cached_tokens: 4,
            reasoning_tokens: 2,
        })
    );
    assert_eq!(
        read(r#"{"prompt_tokens":3,"completion_tokens":4,"prompt_tokens_details":null}"#),
        Some(Usage {
            prompt_tokens: 3,
            completion_tokens: 4,
            total_tokens: 7,
            ..Usage::default()
        })
    );
    assert_eq!(read("{}"), Some(Usage::default()));
    // A count of another type is absent; the others stand.
    assert_eq!(
        read(
            r#"{"prompt_tokens":"x","completion_tokens":-1,"total_tokens":1.5,
            "prompt_tokens_details":[1,{"cached_tokens":2}],
            "completion_tokens_details":{"reasoning_tokens":{"n":1}},"extra":[{}]}"#
        ),
        Some(Usage::default())
    );
    assert_eq!(
        read(r#"{"completion_tokens":2,"prompt_tokens":null}"#).map(|u| u.total_tokens),
        Some(2)
    );
    for not_a_usage in [r#""x""#, "[]", "[{}]", "7", "true", "null"] {
        assert_eq!(read(not_a_usage), None, "{not_a_usage}");
    }
    let no_usage = ChatAnswer::parse_chunk(br#"{"choices":[]}"#).unwrap();
    assert_eq!(no_usage.usage(), None);
}

#[test]
fn in_band_errors_are_read_as_far_as_they_go() {
    let read = |json: &'static str| {
        let raw: &RawValue = serde_json::from_str(json).unwrap();
        let e = UpstreamError::read(raw);
        (
            e.message.map(Cow::into_owned),
            e.kind.map(Cow::into_owned),
            e.status,
        )
    };
    assert_eq!(
        read(r#"{"message":"slow","type":"rate_limit_error","code":429}"#),
        (
            Some("slow".into()),
            Some("rate_limit_error".into()),
            Some(429)
        )
    );
    assert_eq!(
        read(r#"{"message":"x","status_code":503,"code":"overloaded"}"#),
        (Some("x".into()), None, Some(503))
    );
    assert_eq!(read(r#""broken""#), (Some("broken".into()), None, None));
    assert_eq!(read("[1]"), (None, None, None));
}

#[test]
fn an_answer_is_a_json_object() {
    for body in ["", "  ", "[]", "[DONE]", "5"] {
        let err = ChatAnswer::parse_chunk(body.as_bytes()).err().unwrap();
        assert_eq!(err.0, "chat chunk is not a JSON object", "{body:?}");
    }
    let err = ChatAnswer::parse_completion(b"{\"choices\":")
        .err()
        .unwrap();
    assert!(err.0.starts_with("chat completion: EOF"), "{err}");
    let answer = ChatAnswer::parse_chunk(br#"{"id":7,"error":null,"usage":null}"#).unwrap();
    assert!(answer.id.is_none() && answer.error().is_none() && answer.usage().is_none());
}

#[test]
fn the_choice_read_is_index_zero_else_a_completions_first() {
    let body = br#"{"choices":[{"index":1},{"index":0},{}]}"#;
    let answer = ChatAnswer::parse_completion(body).unwrap();
    assert_eq!(answer.completion_choice().map(|c| c.index), Some(Some(0)));
    assert_eq!(answer.chunk_choice().map(|c| c.index), Some(Some(0)));

    let only_second = br#"{"choices":[{"index":1}]}"#;
    let answer = ChatAnswer::parse_completion(only_second).unwrap();
    assert_eq!(answer.completion_choice().map(|c| c.index), Some(Some(1)));
    assert!(answer.chunk_choice().is_none());
}

#[test]
fn a_completion_needs_a_choice_with_a_message() {
    fn finish_reason(body: &[u8]) -> Result<Option<String>, BadAnswer> {
        let answer = ChatAnswer::parse_completion(body).unwrap();
        let (_, finish_reason) = answer.completion_message()?;
        Ok(finish_reason.map(str::to_owned))
    }
    assert_eq!(
        finish_reason(br#"{"choices":[{"message":{},"finish_reason":"stop"}]}"#).unwrap(),
        Some("stop".into())
    );
    // A finish reason of another type reads as none.
    assert_eq!(
        finish_reason(br#"{"choices":[{"message":{},"finish_reason":1}]}"#).unwrap(),
        None
    );
    assert_eq!(
        finish_reason(br#"{"choices":[]}"#).unwrap_err().0,
        "chat completion has no choices"
    );
    assert_eq!(
        finish_reason(br#"{"choices":[{"index":0}]}"#)
            .unwrap_err()
            .0,
        "chat completion choice has no message"
    );
}

#[test]
fn a_chunk_may_carry_a_message_where_a_delta_belongs() {
    let answer = ChatAnswer::parse_chunk(br#"{"choices":[{"message":{"content":"x"}}]}"#).unwrap();
    assert!(answer.chunk_choice().and_then(Choice::delta).is_some());
}

#[test]
fn strings_without_escapes_are_borrowed_and_others_decoded() {
    let raw: &RawValue = serde_json::from_str(r#""plain""#).unwrap();
    assert!(matches!(string(raw).unwrap(), Cow::Borrowed("plain")));
    let raw: &RawValue = serde_json::from_str(r#""a\u00e9\n\"""#).unwrap();
    assert_eq!(string(raw).unwrap(), "aé\n\"");
    let raw: &RawValue = serde_json::from_str("5").unwrap();
    assert!(string(raw).is_err());
}
