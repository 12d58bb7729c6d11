//! The one place a gateway error becomes a response: status plus an
//! OpenAI-style body `{"error":{"message","type","param","code"}}`.

use crate::schema::peek::push_json_string;

/// A client-facing error.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    /// OpenAI's `error.type`.
    pub kind: &'static str,
    /// OpenAI's `error.code`.
    pub code: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        let (kind, code) = match status {
            400 => ("invalid_request_error", None),
            401 => ("invalid_request_error", Some("invalid_api_key")),
            404 => ("invalid_request_error", Some("not_found")),
            405 => ("invalid_request_error", Some("method_not_allowed")),
            408 => ("invalid_request_error", Some("request_timeout")),
            413 => ("invalid_request_error", Some("request_too_large")),
            429 => ("rate_limit_error", Some("rate_limit_exceeded")),
            431 => (
                "invalid_request_error",
                Some("request_header_fields_too_large"),
            ),
            501 => ("invalid_request_error", Some("not_implemented")),
            502 => ("upstream_error", Some("bad_gateway")),
            503 => ("server_error", Some("service_unavailable")),
            504 => ("upstream_error", Some("gateway_timeout")),
            _ => ("server_error", None),
        };
        Self {
            status,
            message: message.into(),
            kind,
            code,
        }
    }

    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// The JSON body.
    pub fn push_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"error\":{\"message\":");
        push_json_string(out, &self.message);
        out.extend_from_slice(b",\"type\":");
        push_json_string(out, self.kind);
        out.extend_from_slice(b",\"param\":null,\"code\":");
        match self.code {
            Some(c) => push_json_string(out, c),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b"}}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_openai_shaped_json() {
        let mut out = Vec::new();
        ApiError::new(413, "too \"big\"").push_body(&mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["error"]["message"], "too \"big\"");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["code"], "request_too_large");
        assert!(v["error"]["param"].is_null());
    }
}
