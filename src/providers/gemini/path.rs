//! Request paths below the provider's base URL
//! (`https://generativelanguage.googleapis.com/v1beta`, or a Vertex AI
//! `.../locations/{loc}/publishers/google` base).

/// Path for a chat request to `model`: `/models/{model}:generateContent`, or
/// `/models/{model}:streamGenerateContent?alt=sse` when `stream` (without
/// `alt=sse` Gemini streams one JSON array instead of SSE).
///
/// A model given as `models/x` keeps one `models/` prefix; `tunedModels/x`
/// keeps its own collection. Anything outside RFC 3986 unreserved characters
/// in the model id is percent-encoded.
pub fn request_path(model: &str, stream: bool) -> String {
    model_path(
        model,
        if stream {
            ":streamGenerateContent?alt=sse"
        } else {
            ":generateContent"
        },
    )
}

/// Path for an embeddings request to `model`: `/models/{model}:batchEmbedContents`.
pub fn embeddings_path(model: &str) -> String {
    model_path(model, ":batchEmbedContents")
}

/// `models/{id}`, the resource name Gemini uses for `model` in bodies.
pub(super) fn model_resource(model: &str) -> String {
    let mut name = String::with_capacity(model.len() + 16);
    push_resource(&mut name, model);
    name
}

pub(super) fn model_path(model: &str, method: &str) -> String {
    let mut path = String::with_capacity(model.len() + method.len() + 16);
    path.push('/');
    push_resource(&mut path, model);
    path.push_str(method);
    path
}

fn push_resource(out: &mut String, model: &str) {
    let (collection, id) = if let Some(id) = model.strip_prefix("models/") {
        ("models/", id)
    } else if let Some(id) = model.strip_prefix("tunedModels/") {
        ("tunedModels/", id)
    } else {
        ("models/", model)
    };
    out.push_str(collection);
    crate::http::percent::push_encoded(out, id.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_paths_name_the_method_and_sse_for_streams() {
        assert_eq!(
            request_path("gemini-2.5-pro", false),
            "/models/gemini-2.5-pro:generateContent"
        );
        assert_eq!(
            request_path("gemini-2.5-pro", true),
            "/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
        );
    }

    #[test]
    fn models_prefix_is_not_doubled() {
        assert_eq!(
            request_path("models/gemini-2.0-flash", false),
            "/models/gemini-2.0-flash:generateContent"
        );
        assert_eq!(
            request_path("tunedModels/my-tune", false),
            "/tunedModels/my-tune:generateContent"
        );
        assert_eq!(model_resource("gemini-x"), "models/gemini-x");
        assert_eq!(model_resource("models/gemini-x"), "models/gemini-x");
    }

    #[test]
    fn reserved_characters_in_model_are_percent_encoded() {
        assert_eq!(
            request_path("a b/c:d?é", false),
            "/models/a%20b%2Fc%3Ad%3F%C3%A9:generateContent"
        );
        assert_eq!(
            embeddings_path("text-embedding-004"),
            "/models/text-embedding-004:batchEmbedContents"
        );
    }
}
