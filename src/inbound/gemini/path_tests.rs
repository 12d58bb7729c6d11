use super::*;

fn parsed(path: &str) -> Option<(String, Method)> {
    parse_path(path.as_bytes()).map(|(model, method)| (model.into_owned(), method))
}

#[test]
fn model_and_method_come_from_the_path() {
    assert_eq!(
        parsed("openai/gpt-4o-mini:generateContent"),
        Some(("openai/gpt-4o-mini".to_owned(), Method::Generate))
    );
    assert_eq!(
        parsed("gemini-2.5-flash:streamGenerateContent"),
        Some(("gemini-2.5-flash".to_owned(), Method::StreamGenerate))
    );
}

#[test]
fn percent_encoded_paths_are_decoded() {
    assert_eq!(
        parsed("openai%2Fgpt-4o-mini:generateContent"),
        Some(("openai/gpt-4o-mini".to_owned(), Method::Generate))
    );
    assert_eq!(
        parsed("openai%2fgpt-4o-mini%3AstreamGenerateContent"),
        Some(("openai/gpt-4o-mini".to_owned(), Method::StreamGenerate))
    );
    assert_eq!(
        parsed("caf%C3%A9%20model:generateContent"),
        Some(("café model".to_owned(), Method::Generate))
    );
}

#[test]
fn a_colon_in_the_model_name_stays_in_the_model() {
    assert_eq!(
        parsed("ollama/llama3:8b:generateContent"),
        Some(("ollama/llama3:8b".to_owned(), Method::Generate))
    );
    assert_eq!(
        parsed("ollama/llama3%3A8b:streamGenerateContent"),
        Some(("ollama/llama3:8b".to_owned(), Method::StreamGenerate))
    );
}

#[test]
fn a_plain_path_is_borrowed() {
    let (model, _) = parse_path(b"a/b:generateContent").unwrap();
    assert!(matches!(model, Cow::Borrowed("a/b")));
    let (model, _) = parse_path(b"a%2Fb:generateContent").unwrap();
    assert!(matches!(model, Cow::Owned(_)));
}

#[test]
fn other_methods_empty_models_and_bad_escapes_are_none() {
    for path in [
        "gemini-2.5-flash:countTokens",
        "gemini-2.5-flash:embedContent",
        "gemini-2.5-flash:generatecontent",
        "gemini-2.5-flash:generateContent/",
        "gemini-2.5-flash",
        ":generateContent",
        "%3AgenerateContent",
        "",
        "model%2:generateContent",
        "model%:generateContent",
        "model%zz:generateContent",
        "model%FF:generateContent",
    ] {
        assert_eq!(parsed(path), None, "{path}");
    }
    assert_eq!(parse_path(b"\xff:generateContent"), None);
}

#[test]
fn alt_sse_is_found_among_the_query_pairs() {
    assert!(alt_sse(b"alt=sse"));
    assert!(alt_sse(b"?alt=sse"));
    assert!(alt_sse(b"key=abc&alt=sse"));
    assert!(alt_sse(b"alt=sse&key=abc"));
    assert!(alt_sse(b"alt=json&alt=sse"));
    assert!(!alt_sse(b""));
    assert!(!alt_sse(b"alt=json"));
    assert!(!alt_sse(b"alt=sse&alt=json"));
    assert!(!alt_sse(b"salt=sse"));
    assert!(!alt_sse(b"alt=sses"));
    assert!(!alt_sse(b"alt=SSE"));
}
