//! Wire-format knowledge of the OpenAI dialect: what the fast path needs
//! without parsing a body (where the top-level `model` string sits, whether
//! `stream` is set, the `usage` numbers in a response's tail), and the typed
//! request bodies the translating path parses.

pub mod dialect;
pub mod openai;
pub mod peek;
pub mod usage;
