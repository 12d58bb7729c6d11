//! Inbound API: the client connection loop, the dialects' endpoints,
//! inbound auth, CORS, health/readiness/metrics/models, and the request
//! driver behind the API endpoints.
//!
//! Within it, imports point one way: `connection` -> `dispatch` -> `driver`
//! -> the converters (`passthrough`, `translate`, `mock`; `hub` puts their
//! chat answers in the client's dialect) -> `exchange` -> `target`,
//! `respond`, `error`.

mod admin;
mod admin_data;
mod admit;
pub mod connection;
mod convert;
mod cors;
mod dispatch;
mod driver;
pub mod error;
mod exchange;
mod govern;
mod hub;
mod mock;
mod passthrough;
mod raw;
mod request_log;
pub mod respond;
mod target;
mod translate;

pub use crate::worker::{Gateway, Worker};
pub use connection::serve_connection;
