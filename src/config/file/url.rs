//! Parsing provider base URLs into [`BaseUrl`], and turning `OLLAMA_HOST` into one.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::config::{BaseUrl, Scheme};

/// Parses `http[s]://host[:port][/path]`. The host is lower-cased, an IPv6 literal
/// loses its brackets, the port defaults to 80/443, and trailing slashes are cut
/// from the path. Query, fragment and user info are refused. The error is a
/// message for `ConfigError`; it quotes the URL unless the URL may hold a
/// password (user info).
pub(crate) fn parse_base_url(url: &str) -> Result<BaseUrl, String> {
    if url.contains('@') {
        return Err(
            "invalid URL: user info (`user:password@`) is not supported; \
                    put credentials in `keys`"
                .to_owned(),
        );
    }
    parse_inner(url).map_err(|why| format!("invalid URL {url:?}: {why}"))
}

fn parse_inner(url: &str) -> Result<BaseUrl, &'static str> {
    if url.is_empty() {
        return Err("empty");
    }
    if url
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err("contains whitespace or control characters");
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or("missing scheme (expected http:// or https://)")?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        _ => return Err("scheme must be http or https"),
    };
    if rest.contains('?') {
        return Err("a query string is not allowed");
    }
    if rest.contains('#') {
        return Err("a fragment is not allowed");
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (host, port) = split_host_port(authority)?;
    let port = match port {
        Some(p) => p,
        None if scheme == Scheme::Https => 443,
        None => 80,
    };
    Ok(BaseUrl {
        scheme,
        host,
        port,
        path: path.trim_end_matches('/').to_owned(),
    })
}

/// Splits `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_host_port(authority: &str) -> Result<(String, Option<u16>), &'static str> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (literal, after) = v6.split_once(']').ok_or("unclosed `[` in host")?;
        literal
            .parse::<Ipv6Addr>()
            .map_err(|_| "invalid IPv6 address")?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or("junk after `]`")?),
        };
        (literal.to_owned(), port)
    } else {
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        if host.contains(':') {
            return Err("an IPv6 address must be in brackets: http://[::1]:8080");
        }
        let valid = host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if host.is_empty() {
            return Err("missing host");
        }
        if !valid || host.starts_with('.') || host.starts_with('-') {
            return Err("invalid host name");
        }
        (host.to_ascii_lowercase(), port)
    };
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(0) => return Err("port 0 is not allowed"),
            Ok(n) if p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
            _ => return Err("invalid port"),
        },
    };
    Ok((host, port))
}

/// Ollama's own `OLLAMA_HOST` convention, as a base URL with `/v1` appended:
/// `host[:port]` without a scheme means `http` with port 11434; with an explicit
/// scheme the port defaults to that scheme's. An empty host or a wildcard bind
/// address (`0.0.0.0`, `::`), which the Ollama server accepts for listening,
/// means this machine.
pub(crate) fn ollama_host_url(value: &str) -> String {
    let value = value.trim();
    let (scheme, rest, default_port) = match value.split_once("://") {
        Some((scheme, rest)) => (scheme, rest, None),
        None => ("http", value, Some(11434)),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (host, port) = match authority.rsplit_once(':') {
        // `::1` alone is an IPv6 address, not host `:` port `1`.
        Some((h, p)) if !h.contains(':') || h.ends_with(']') => (h, Some(p)),
        _ => (authority, None),
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let host = if bare.is_empty()
        || bare.parse::<Ipv4Addr>() == Ok(Ipv4Addr::UNSPECIFIED)
        || bare.parse::<Ipv6Addr>() == Ok(Ipv6Addr::UNSPECIFIED)
    {
        "127.0.0.1".to_owned()
    } else if bare.parse::<Ipv6Addr>().is_ok() {
        format!("[{bare}]")
    } else {
        bare.to_owned()
    };
    let port = match (port, default_port) {
        (Some(p), _) => format!(":{p}"),
        (None, Some(p)) => format!(":{p}"),
        (None, None) => String::new(),
    };
    format!("{scheme}://{host}{port}{}/v1", path.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str) -> (Scheme, String, u16, String) {
        let u = parse_base_url(url).unwrap();
        (u.scheme, u.host, u.port, u.path)
    }

    #[test]
    fn base_url_defaults_port_and_trims_trailing_slash() {
        assert_eq!(
            ok("https://api.groq.com/openai/v1/"),
            (
                Scheme::Https,
                "api.groq.com".into(),
                443,
                "/openai/v1".into()
            )
        );
        assert_eq!(
            ok("HTTP://LocalHost"),
            (Scheme::Http, "localhost".into(), 80, "".into())
        );
        assert_eq!(
            ok("http://10.0.0.1:8000/"),
            (Scheme::Http, "10.0.0.1".into(), 8000, "".into())
        );
    }

    #[test]
    fn base_url_ipv6_literal_loses_brackets() {
        assert_eq!(
            ok("http://[::1]:11434/v1"),
            (Scheme::Http, "::1".into(), 11434, "/v1".into())
        );
        assert_eq!(ok("https://[2001:db8::1]").2, 443);
    }

    #[test]
    fn base_url_rejects_each_malformed_part() {
        for (url, why) in [
            ("ftp://x", "scheme must be http or https"),
            ("api.openai.com/v1", "missing scheme"),
            ("https://", "missing host"),
            ("https://a.com:0", "port 0"),
            ("https://a.com:99999", "invalid port"),
            ("https://a.com:+80", "invalid port"),
            ("https://a.com/v1?x=1", "query"),
            ("https://a.com/v1#top", "fragment"),
            ("https://[::1", "unclosed"),
            ("https://[zz]:80", "invalid IPv6"),
            ("https://::1/v1", "in brackets"),
            ("https://a b.com", "whitespace"),
            ("https://a!b.com", "invalid host"),
        ] {
            let err = parse_base_url(url).unwrap_err();
            assert!(err.contains(why), "{url}: {err}");
            assert!(err.starts_with(&format!("invalid URL {url:?}: ")), "{err}");
        }
    }

    #[test]
    fn base_url_with_user_info_is_not_echoed() {
        let err = parse_base_url("https://user:hunter2@api.example.com").unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn ollama_host_follows_ollama_conventions() {
        for (host, url) in [
            ("127.0.0.1:11434", "http://127.0.0.1:11434/v1"),
            ("gpu-box", "http://gpu-box:11434/v1"),
            ("0.0.0.0", "http://127.0.0.1:11434/v1"),
            (":9000", "http://127.0.0.1:9000/v1"),
            ("http://gpu-box:8080", "http://gpu-box:8080/v1"),
            (
                "https://ollama.example.com/",
                "https://ollama.example.com/v1",
            ),
            ("http://proxy/ollama", "http://proxy/ollama/v1"),
            ("[::1]:11434", "http://[::1]:11434/v1"),
            ("::1", "http://[::1]:11434/v1"),
        ] {
            assert_eq!(ollama_host_url(host), url, "{host}");
            parse_base_url(url).unwrap();
        }
    }
}
