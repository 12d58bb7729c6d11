//! Signing a Bedrock request with SigV4: the headers for one request to the
//! runtime, from the configured AWS credentials and the clock ([`super::sigv4`]
//! is the pure algorithm).

use std::time::SystemTime;

use super::sigv4;
use crate::config::AwsSettings;
use crate::http::response::push_header;

/// Append `x-amz-date`, `x-amz-security-token` (temporary credentials) and
/// `authorization` for a JSON `POST` of `body` to `path` on `host`.
pub fn push_signed_headers(
    out: &mut Vec<u8>,
    aws: &AwsSettings,
    host: &str,
    path: &str,
    body: &[u8],
    now: SystemTime,
) {
    let creds = sigv4::Credentials {
        access_key_id: aws.access_key_id.expose().to_owned(),
        secret_access_key: aws.secret_access_key.expose().to_owned(),
        session_token: aws.session_token.as_ref().map(|t| t.expose().to_owned()),
    };
    let signed = sigv4::sign(
        "POST",
        host,
        path,
        "",
        &[("content-type", "application/json")],
        body,
        &creds,
        &aws.region,
        super::SIGNING_SERVICE,
        &amz_date(now),
    );
    push_header(out, b"x-amz-date", signed.x_amz_date.as_bytes());
    if let Some(token) = &signed.x_amz_security_token {
        push_header(out, b"x-amz-security-token", token.as_bytes());
    }
    push_header(out, b"authorization", signed.authorization.as_bytes());
}

/// `YYYYMMDDTHHMMSSZ` in UTC, as SigV4 signs it.
fn amz_date(now: SystemTime) -> String {
    let secs = now
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::Secret;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn signed_headers_carry_the_scope_and_the_session_token() {
        let aws = AwsSettings {
            region: "us-west-2".into(),
            access_key_id: Secret::new("AKIDEXAMPLE"),
            secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            session_token: Some(Secret::new("session-token")),
        };
        let mut out = Vec::new();
        let at = UNIX_EPOCH + Duration::from_secs(1_440_938_160);
        let host = "bedrock-runtime.us-west-2.amazonaws.com";
        push_signed_headers(&mut out, &aws, host, "/model/m/converse", b"{}", at);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("x-amz-date: 20150830T123600Z\r\n"),
            "{text}"
        );
        assert!(
            text.contains("x-amz-security-token: session-token\r\n"),
            "{text}"
        );
        assert!(
            text.contains("authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-west-2/bedrock/aws4_request, SignedHeaders="),
            "{text}"
        );
        assert!(
            !text.contains("wJalrXUtnFEMI"),
            "the secret key is never sent"
        );
    }

    #[test]
    fn amz_dates_match_known_instants() {
        assert_eq!(amz_date(UNIX_EPOCH), "19700101T000000Z");
        // The SigV4 test suite's instant.
        assert_eq!(
            amz_date(UNIX_EPOCH + Duration::from_secs(1_440_938_160)),
            "20150830T123600Z"
        );
        assert_eq!(
            amz_date(UNIX_EPOCH + Duration::from_secs(1_709_208_000)),
            "20240229T120000Z"
        );
    }
}
