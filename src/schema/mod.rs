//! Wire-format knowledge of the OpenAI dialect that the fast path needs without
//! parsing a body: where the top-level `model` string sits, whether `stream` is
//! set, and the `usage` numbers in a response's tail.

pub mod peek;
pub mod usage;
