//! What the client speaks. A [`Dialect`] is the inbound API a request came
//! in on; it is independent of the provider's wire format, and the pair of
//! the two picks the converter (`api::convert`).

/// The operation a request asks for, whatever the dialect spells it as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Chat,
    Completions,
    Embeddings,
}

/// The inbound APIs the gateway serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `POST /v1/chat/completions`
    OpenAiChat,
    /// `POST /v1/completions`
    OpenAiCompletions,
    /// `POST /v1/embeddings`
    OpenAiEmbeddings,
}

impl Dialect {
    pub fn operation(self) -> Operation {
        match self {
            Dialect::OpenAiChat => Operation::Chat,
            Dialect::OpenAiCompletions => Operation::Completions,
            Dialect::OpenAiEmbeddings => Operation::Embeddings,
        }
    }

    /// Metrics label (the `endpoint` label, unchanged since it was per path).
    pub fn label(self) -> &'static str {
        match self {
            Dialect::OpenAiChat => "chat_completions",
            Dialect::OpenAiCompletions => "completions",
            Dialect::OpenAiEmbeddings => "embeddings",
        }
    }

    /// The path this request came in on, for messages.
    pub fn path(self) -> &'static str {
        match self {
            Dialect::OpenAiChat => "/v1/chat/completions",
            Dialect::OpenAiCompletions => "/v1/completions",
            Dialect::OpenAiEmbeddings => "/v1/embeddings",
        }
    }
}

impl Operation {
    /// Path of this operation below an OpenAI-compatible base URL.
    pub fn openai_path(self) -> &'static str {
        match self {
            Operation::Chat => "/chat/completions",
            Operation::Completions => "/completions",
            Operation::Embeddings => "/embeddings",
        }
    }
}
