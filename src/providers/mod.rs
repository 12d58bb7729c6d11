//! Providers: what differs per provider family. The OpenAI-compatible family is
//! served by the pass-through path (config catalogue: `config::ProviderKind`);
//! `mock` is answered in-process.

pub mod mock;
