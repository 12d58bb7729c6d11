//! Inbound API: the client connection loop, the OpenAI dialect's endpoints,
//! inbound auth, CORS, health/readiness/metrics/models, and the request
//! driver behind the API endpoints.
//!
//! Within it, imports point one way: `connection` -> `dispatch` -> `driver`
//! -> the converters (`passthrough`, `translate`, `mock`) -> `exchange` ->
//! `target`, `respond`, `error`.

mod admin;
mod admit;
pub mod connection;
mod convert;
mod cors;
mod dispatch;
mod driver;
pub mod error;
mod exchange;
mod mock;
mod passthrough;
pub mod respond;
mod target;
mod translate;

pub use crate::worker::{Gateway, Worker};
pub use connection::serve_connection;
