//! ringbridge: an OpenAI-compatible AI gateway on a thread-per-core io_uring
//! data plane. See ARCHITECTURE.md for how the modules fit together.

pub mod api;
pub mod config;
pub mod credentials;
#[doc(hidden)]
pub mod fuzz_targets;
pub mod governance;
pub mod http;
pub mod inbound;
pub mod pricing;
pub mod providers;
pub mod router;
pub mod runtime;
pub mod schema;
pub mod store;
pub mod telemetry;
pub mod upstream;
pub mod worker;
