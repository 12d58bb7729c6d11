//! `[limits]`: the client-side limits and timeouts, resolved and checked.

use std::time::Duration;

use super::schema::*;
use super::{ranged, ConfigError};
use crate::config::Limits;

pub(super) fn resolve(file: &LimitsFile) -> Result<Limits, ConfigError> {
    let ms = |key, value, default| {
        ranged(&format!("limits.{key}"), value, default, 1, MAX_TIMEOUT_MS)
            .map(Duration::from_millis)
    };
    let bytes = |key: &str, value, default, min| {
        ranged(
            &format!("limits.{key}"),
            value,
            default,
            min,
            usize::MAX as u64,
        )
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
    };
    let max_body_bytes = bytes(
        "max_body_bytes",
        file.max_body_bytes,
        DEFAULT_MAX_BODY_BYTES,
        1,
    )?;
    let max_buffered_body_bytes = bytes(
        "max_buffered_body_bytes",
        file.max_buffered_body_bytes,
        DEFAULT_MAX_BUFFERED_BODY_BYTES.max(max_body_bytes as u64),
        max_body_bytes as u64,
    )
    .map_err(|e| e.with_hint("it must be at least limits.max_body_bytes, or one largest body could never be admitted"))?;
    let max_connections = ranged(
        "limits.max_connections",
        file.max_connections,
        0,
        0,
        MAX_MAX_CONNECTIONS,
    )? as usize;
    Ok(Limits {
        max_head_bytes: ranged(
            "limits.max_head_bytes",
            file.max_head_bytes,
            DEFAULT_MAX_HEAD_BYTES,
            MIN_MAX_HEAD_BYTES,
            MAX_MAX_HEAD_BYTES,
        )? as usize,
        max_body_bytes,
        header_read_timeout: ms(
            "header_read_timeout_ms",
            file.header_read_timeout_ms,
            DEFAULT_HEADER_READ_TIMEOUT_MS,
        )?,
        idle_timeout: ms(
            "idle_timeout_ms",
            file.idle_timeout_ms,
            DEFAULT_IDLE_TIMEOUT_MS,
        )?,
        body_read_timeout: ms(
            "body_read_timeout_ms",
            file.body_read_timeout_ms,
            DEFAULT_BODY_READ_TIMEOUT_MS,
        )?,
        shutdown_timeout: ms(
            "shutdown_timeout_ms",
            file.shutdown_timeout_ms,
            DEFAULT_SHUTDOWN_TIMEOUT_MS,
        )?,
        max_connections: (max_connections > 0).then_some(max_connections),
        max_buffered_body_bytes,
    })
}
