//! The hub's side of every inbound dialect: the OpenAI chat completions
//! request their `to_chat` writes ([`request`]) and the chat answers their
//! `from_chat` and stream encoders read ([`answer`]). One set of types for
//! all dialects, so that what one server's quirk needs is read for all of
//! them; each dialect keeps its own mapping.

pub(crate) mod answer;
mod lenient;
pub(crate) mod request;
mod usage;
