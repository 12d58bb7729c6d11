//! What the client speaks. A [`Dialect`] is the inbound API a request came
//! in on; it is independent of the provider's wire format, and the pair of
//! the two picks the converter (`api::convert`).

/// The operation a request asks for, whatever the dialect spells it as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Chat,
    Completions,
    Embeddings,
    /// Anthropic's `count_tokens`: no generation, an input token count.
    CountTokens,
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
    /// `POST /v1/responses`
    Responses,
    /// `POST /v1/messages` (and under `/anthropic`)
    AnthropicMessages,
    /// `POST /v1/messages/count_tokens`
    AnthropicCountTokens,
    /// `POST /genai/v1beta/models/{model}:generateContent`; the model is in
    /// the path, not the body.
    GeminiGenerate,
    /// `…:streamGenerateContent`, as server-sent events (`?alt=sse`) or as
    /// one JSON array sent in pieces.
    GeminiStream { sse: bool },
}

/// The shape of error bodies a dialect's clients parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorShape {
    /// `{"error":{"message","type","param","code"}}`
    OpenAi,
    /// `{"type":"error","error":{"type","message"}}`
    Anthropic,
    /// `{"error":{"code","message","status"}}`
    Gemini,
}

impl Dialect {
    pub fn operation(self) -> Operation {
        match self {
            Dialect::OpenAiChat
            | Dialect::Responses
            | Dialect::AnthropicMessages
            | Dialect::GeminiGenerate
            | Dialect::GeminiStream { .. } => Operation::Chat,
            Dialect::OpenAiCompletions => Operation::Completions,
            Dialect::OpenAiEmbeddings => Operation::Embeddings,
            Dialect::AnthropicCountTokens => Operation::CountTokens,
        }
    }

    /// Metrics label (the `endpoint` label, unchanged since it was per path).
    pub fn label(self) -> &'static str {
        match self {
            Dialect::OpenAiChat => "chat_completions",
            Dialect::OpenAiCompletions => "completions",
            Dialect::OpenAiEmbeddings => "embeddings",
            Dialect::Responses => "responses",
            Dialect::AnthropicMessages => "messages",
            Dialect::AnthropicCountTokens => "count_tokens",
            Dialect::GeminiGenerate => "generate_content",
            Dialect::GeminiStream { .. } => "stream_generate_content",
        }
    }

    /// The path this request came in on, for messages.
    pub fn path(self) -> &'static str {
        match self {
            Dialect::OpenAiChat => "/v1/chat/completions",
            Dialect::OpenAiCompletions => "/v1/completions",
            Dialect::OpenAiEmbeddings => "/v1/embeddings",
            Dialect::Responses => "/v1/responses",
            Dialect::AnthropicMessages => "/v1/messages",
            Dialect::AnthropicCountTokens => "/v1/messages/count_tokens",
            Dialect::GeminiGenerate => "/v1beta/models/{model}:generateContent",
            Dialect::GeminiStream { .. } => "/v1beta/models/{model}:streamGenerateContent",
        }
    }

    /// The path below a provider's base URL when the request goes to a
    /// provider of the same wire format as bytes.
    pub fn native_path(self) -> &'static str {
        match self {
            Dialect::OpenAiChat => "/chat/completions",
            Dialect::OpenAiCompletions => "/completions",
            Dialect::OpenAiEmbeddings => "/embeddings",
            Dialect::Responses => "/responses",
            Dialect::AnthropicMessages => "/v1/messages",
            Dialect::AnthropicCountTokens => "/v1/messages/count_tokens",
            // Gemini's path carries the model; built where it is sent.
            Dialect::GeminiGenerate | Dialect::GeminiStream { .. } => "",
        }
    }

    pub fn error_shape(self) -> ErrorShape {
        match self {
            Dialect::OpenAiChat
            | Dialect::OpenAiCompletions
            | Dialect::OpenAiEmbeddings
            | Dialect::Responses => ErrorShape::OpenAi,
            Dialect::AnthropicMessages | Dialect::AnthropicCountTokens => ErrorShape::Anthropic,
            Dialect::GeminiGenerate | Dialect::GeminiStream { .. } => ErrorShape::Gemini,
        }
    }

    /// Whether requests reach providers of another wire format through the
    /// OpenAI chat hub (`crate::inbound`).
    pub fn through_hub(self) -> bool {
        !matches!(
            self,
            Dialect::OpenAiChat | Dialect::OpenAiCompletions | Dialect::OpenAiEmbeddings
        )
    }
}
