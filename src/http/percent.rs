//! RFC 3986 percent-encoding of one path segment or form value: the
//! unreserved characters (`A-Z a-z 0-9 - . _ ~`) are kept, every other byte
//! becomes `%XX` with uppercase hex. This is also exactly SigV4's `UriEncode`.

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn encode(bytes: &[u8], mut push: impl FnMut(u8)) {
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            push(b);
        } else {
            push(b'%');
            push(HEX[usize::from(b >> 4)]);
            push(HEX[usize::from(b & 0xf)]);
        }
    }
}

/// Appends `bytes`, percent-encoded, to `out`.
pub fn push_encoded(out: &mut String, bytes: &[u8]) {
    // Every byte pushed is ASCII.
    encode(bytes, |b| out.push(char::from(b)));
}

/// Appends `bytes`, percent-encoded, to a byte buffer.
pub fn push_encoded_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    encode(bytes, |b| out.push(b));
}

/// Decode `%XX` escapes (a path segment as clients encode it); `None` for a
/// broken escape or a result that is not UTF-8.
pub fn decode(bytes: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hi = (hex[0] as char).to_digit(16)?;
            let lo = (hex[1] as char).to_digit(16)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_undoes_escapes_and_refuses_broken_ones() {
        assert_eq!(decode(b"openai%2Fgpt-4o").as_deref(), Some("openai/gpt-4o"));
        assert_eq!(decode(b"mock/echo").as_deref(), Some("mock/echo"));
        assert_eq!(decode(b"a%2"), None);
        assert_eq!(decode(b"a%zz"), None);
        assert_eq!(decode(b"%ff"), None);
    }

    #[test]
    fn unreserved_bytes_stay_and_the_rest_is_uppercase_hex() {
        let mut s = String::new();
        push_encoded(&mut s, "aZ09-._~ /:%é".as_bytes());
        assert_eq!(s, "aZ09-._~%20%2F%3A%25%C3%A9");
        let mut v = Vec::new();
        push_encoded_bytes(&mut v, b"a:b");
        assert_eq!(v, b"a%3Ab");
    }
}
