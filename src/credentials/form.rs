//! `application/x-www-form-urlencoded` bodies for OAuth token requests.

/// Builds `k=v&k=v` with every byte outside RFC 3986's unreserved set
/// percent-encoded (spaces as `%20`, which every server accepts).
#[derive(Default)]
pub struct FormEncoder {
    out: String,
}

impl FormEncoder {
    pub fn pair(&mut self, key: &str, value: &str) -> &mut Self {
        if !self.out.is_empty() {
            self.out.push('&');
        }
        encode_into(key, &mut self.out);
        self.out.push('=');
        encode_into(value, &mut self.out);
        self
    }

    pub fn finish(self) -> String {
        self.out
    }
}

fn encode_into(s: &str, out: &mut String) {
    crate::http::percent::push_encoded(out, s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_and_non_ascii_bytes_are_percent_encoded() {
        let mut form = FormEncoder::default();
        form.pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
            .pair("scope", "https://x.y/.default")
            .pair("secret", "a+b/c=d&e é");
        assert_eq!(
            form.finish(),
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer\
             &scope=https%3A%2F%2Fx.y%2F.default\
             &secret=a%2Bb%2Fc%3Dd%26e%20%C3%A9"
        );
    }
}
