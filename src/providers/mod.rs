//! Providers: what differs per provider family. OpenAI-compatible upstreams
//! take the pass-through path (their catalogue is `config::ProviderKind`);
//! Anthropic is translated; `mock` is answered in-process.

pub mod anthropic;
pub mod bedrock;
pub mod cohere;
pub mod common;
pub mod embeddings;
pub mod gemini;
pub mod mock;
pub mod spec;

#[cfg(test)]
pub(crate) mod fixtures;
