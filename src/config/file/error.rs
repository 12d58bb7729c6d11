//! `ConfigError` and the conversion of TOML/serde errors into it, with secrets
//! kept out of every message.

use std::fmt;
use std::io;
use std::path::PathBuf;

use serde_path_to_error::Segment;

/// Why the configuration was refused. Display never includes a secret: key values
/// are not echoed, and TOML source lines are not quoted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The file is not valid TOML.
    #[error(
        "config syntax error in `{}` at line {line}, column {column}: {message}",
        file.display()
    )]
    Syntax {
        file: PathBuf,
        /// 1-based.
        line: usize,
        /// 1-based, in characters.
        column: usize,
        message: String,
    },
    /// A key is unknown, has the wrong type, or its value fails validation.
    #[error("config error at `{path}`: {message}{}", Hint(hint))]
    Invalid {
        /// Dotted path of the bad key (`providers.groq.keys[0]`), or the name of the
        /// environment variable the bad value came from.
        path: String,
        message: String,
        hint: Option<String>,
    },
}

impl ConfigError {
    /// The dotted path of the bad key, if the error is about one key.
    pub fn path(&self) -> Option<&str> {
        match self {
            Self::Invalid { path, .. } => Some(path),
            Self::Read { .. } | Self::Syntax { .. } => None,
        }
    }

    /// The suggested fix, if any.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Self::Invalid { hint, .. } => hint.as_deref(),
            Self::Read { .. } | Self::Syntax { .. } => None,
        }
    }

    pub(crate) fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.into(),
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn with_hint(mut self, text: impl Into<String>) -> Self {
        if let Self::Invalid { hint, .. } = &mut self {
            *hint = Some(text.into());
        }
        self
    }

    /// Turns a deserialisation failure of the file at `file` (contents `text`) into
    /// a `Syntax` error (no key path: the TOML did not parse) or an `Invalid` one.
    pub(crate) fn from_toml(
        file: PathBuf,
        text: &str,
        err: serde_path_to_error::Error<toml::de::Error>,
    ) -> Self {
        let segments: Vec<&Segment> = err.path().iter().collect();
        let inner = err.inner();
        if segments.is_empty() {
            // Parse errors carry no key path. Only `message()` is used: the Display
            // of a toml error quotes the source line, which may hold a key.
            let (line, column) = inner
                .span()
                .map(|span| line_column(text, span.start))
                .unwrap_or((1, 1));
            let message = inner
                .message()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("; ");
            let message = if message.is_empty() {
                "invalid TOML".to_owned()
            } else {
                message
            };
            return Self::Syntax {
                file,
                line,
                column,
                message,
            };
        }
        let path = dotted_path(&segments);
        let message = redact_strings(inner.message());
        // serde: "unknown field `x`, expected one of `a`, `b`" / "expected `a`".
        if let Some(rest) = message.strip_prefix("unknown field `") {
            let valid = rest
                .split_once(", expected ")
                .map(|(_, list)| list.trim_start_matches("one of "))
                .map(|list| list.replace('`', ""));
            let err = Self::invalid(path, "unknown key");
            return match valid {
                Some(list) => err.with_hint(format!("valid keys here: {list}")),
                None => err.with_hint("no keys are allowed here"),
            };
        }
        Self::invalid(path, message)
    }
}

/// Formats the ` (hint: ...)` suffix, or nothing.
struct Hint<'a>(&'a Option<String>);

impl fmt::Display for Hint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(h) => write!(f, " (hint: {h})"),
            None => Ok(()),
        }
    }
}

/// `providers.groq.keys[0]`; keys that are not bare TOML keys are quoted
/// (`providers."a.b"`), so the path can be pasted back into the file.
fn dotted_path(segments: &[&Segment]) -> String {
    let mut out = String::new();
    for segment in segments {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } => push_key(&mut out, key),
            Segment::Enum { variant } => push_key(&mut out, variant),
            Segment::Unknown => push_key(&mut out, "?"),
        }
    }
    out
}

/// Appends `.key` (no dot at the start), quoting keys TOML would need quoted.
pub(crate) fn push_key(out: &mut String, key: &str) {
    if !out.is_empty() {
        out.push('.');
    }
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        out.push_str(key);
    } else {
        out.push_str(&format!("{key:?}"));
    }
}

/// 1-based line and character column of byte offset `at` in `text`.
fn line_column(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Replaces each `string "..."` that serde puts in type errors
/// (`invalid type: string "sk-...", expected a sequence`) with `a string`: the
/// quoted value may be an API key.
fn redact_strings(message: &str) -> String {
    const MARK: &str = "string \"";
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(MARK) {
        out.push_str(&rest[..start]);
        out.push_str("a string");
        let quoted = &rest[start + MARK.len()..];
        // The value is Debug-formatted: a `"` inside it is escaped as `\"`.
        let mut end = quoted.len();
        let mut escaped = false;
        for (i, c) in quoted.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    end = i + 1;
                    break;
                }
                _ => {}
            }
        }
        rest = &quoted[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_strings_removes_quoted_values_with_escapes() {
        assert_eq!(
            redact_strings(r#"invalid type: string "sk-\"x\"", expected a sequence"#),
            "invalid type: a string, expected a sequence"
        );
        assert_eq!(
            redact_strings("invalid type: integer `3`, expected a string"),
            "invalid type: integer `3`, expected a string"
        );
    }

    #[test]
    fn line_column_counts_lines_and_characters() {
        assert_eq!(line_column("a = 1\nbé = ", 11), (2, 5));
        assert_eq!(line_column("", 0), (1, 1));
    }

    #[test]
    fn display_has_path_message_and_hint() {
        let err = ConfigError::invalid("providers.groq.base_url", "bad").with_hint("fix it");
        assert_eq!(
            err.to_string(),
            "config error at `providers.groq.base_url`: bad (hint: fix it)"
        );
        let mut path = String::new();
        push_key(&mut path, "providers");
        push_key(&mut path, "a.b");
        assert_eq!(path, r#"providers."a.b""#);
    }
}
