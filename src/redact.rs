//! Redaction of URLs: credentials and signature query parameters, for `url.full`, errors,
//! diagnostics and `Debug` output.

use std::borrow::Cow;

/// The query parameters whose values are redacted, matched without regard to case: the HTTP
/// semantic conventions' list for `url.full` (`AWSAccessKeyId`, `Signature`, `sig`,
/// `X-Goog-Signature`) and the other signed-URL parameters of AWS SigV4 and Google Cloud Storage.
const SENSITIVE_QUERY_KEYS: [&str; 9] = [
    "AWSAccessKeyId",
    "Signature",
    "sig",
    "X-Goog-Signature",
    "X-Goog-Credential",
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
    "X-Goog-Security-Token",
];

/// `query` with the values of signature parameters replaced by `REDACTED`.
pub(crate) fn redact_query(query: &str) -> Cow<'_, str> {
    let sensitive = |pair: &str| {
        let key = pair.split_once('=').map_or(pair, |(key, _)| key);
        pair.contains('=')
            && SENSITIVE_QUERY_KEYS
                .iter()
                .any(|sensitive| sensitive.eq_ignore_ascii_case(key))
    };
    if !query.split('&').any(sensitive) {
        return Cow::Borrowed(query);
    }
    let mut out = String::with_capacity(query.len());
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((key, _)) if sensitive(pair) => {
                out.push_str(key);
                out.push_str("=REDACTED");
            }
            _ => out.push_str(pair),
        }
    }
    Cow::Owned(out)
}

/// An absolute URL with its credentials replaced by `REDACTED:REDACTED` and the values of
/// signature query parameters by `REDACTED`.
pub(crate) fn redact_url(url: &str) -> Cow<'_, str> {
    let (before_fragment, fragment) = match url.find('#') {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    let (before_query, query) = match before_fragment.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (before_fragment, None),
    };
    let authority_start = before_query.find("://").map_or(0, |i| i + 3);
    let rest = &before_query[authority_start..];
    let authority_len = rest.find('/').unwrap_or(rest.len());
    let userinfo_end = rest[..authority_len].rfind('@');
    let redacted_query = query.map(redact_query);
    if userinfo_end.is_none() && !matches!(redacted_query, Some(Cow::Owned(_))) {
        return Cow::Borrowed(url);
    }
    let mut out = String::with_capacity(url.len() + 16);
    out.push_str(&before_query[..authority_start]);
    match userinfo_end {
        Some(at) => {
            out.push_str("REDACTED:REDACTED@");
            out.push_str(&rest[at + 1..]);
        }
        None => out.push_str(rest),
    }
    if let Some(query) = redacted_query {
        out.push('?');
        out.push_str(&query);
    }
    out.push_str(fragment);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_signatures_are_redacted() {
        let cases = [
            ("http://127.0.0.1:8080/a?b=1", "http://127.0.0.1:8080/a?b=1"),
            (
                "https://user:pass@example.com/x",
                "https://REDACTED:REDACTED@example.com/x",
            ),
            (
                "https://user@example.com",
                "https://REDACTED:REDACTED@example.com",
            ),
            (
                "https://h/p?sig=abc&x=1&Signature=s#frag",
                "https://h/p?sig=REDACTED&x=1&Signature=REDACTED#frag",
            ),
            ("https://h/p?a=b@c", "https://h/p?a=b@c"),
            ("https://h/p?sig", "https://h/p?sig"),
        ];
        for (input, expected) in cases {
            assert_eq!(redact_url(input), expected, "{input}");
        }
    }

    #[test]
    fn signed_url_parameters_are_redacted_whatever_their_case() {
        let url = "https://bucket.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256\
                   &X-Amz-Credential=AKIA%2F20260101&X-Amz-Date=20260101T000000Z\
                   &X-Amz-Security-Token=tok&X-Amz-Signature=abc&x-amz-signature=def\
                   &SIG=1&signature=2&awsaccesskeyid=3&X-Goog-Signature=4&x-goog-credential=5";
        let expected = "https://bucket.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256\
                        &X-Amz-Credential=REDACTED&X-Amz-Date=20260101T000000Z\
                        &X-Amz-Security-Token=REDACTED&X-Amz-Signature=REDACTED\
                        &x-amz-signature=REDACTED&SIG=REDACTED&signature=REDACTED\
                        &awsaccesskeyid=REDACTED&X-Goog-Signature=REDACTED&x-goog-credential=REDACTED";
        assert_eq!(redact_url(url), expected);
    }
}
