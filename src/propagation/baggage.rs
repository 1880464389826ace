//! W3C Baggage: the `baggage` header (<https://www.w3.org/TR/baggage/>).
//!
//! ```abnf
//! baggage-string = list-member 0*179( OWS "," OWS list-member )
//! list-member    = key OWS "=" OWS value *( OWS ";" OWS property )
//! property       = key OWS "=" OWS value / key OWS
//! key            = token
//! value          = *baggage-octet  ; percent-encoded
//! ```
//!
//! A member that breaks the grammar is skipped and the others kept, as OpenTelemetry's baggage
//! propagator does. Properties travel as the entry's metadata. The limits of
//! [`Baggage`](crate::Baggage) apply (64 entries, 8192 bytes): entries past them are dropped.

use std::fmt::Write as _;

use opentelemetry::baggage::{Baggage, BaggageMetadata};

use super::carrier::{Extractor, Injector};
use super::w3c::trim_ows;

pub(super) const BAGGAGE: &str = "baggage";

/// RFC 7230 `tchar`.
fn tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `baggage-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E`
fn baggage_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| tchar(b))
}

/// Decodes `%XX` escapes; invalid UTF-8 becomes U+FFFD, as the specification requires. `None` if
/// an escape is malformed.
fn percent_decode(s: &[u8]) -> Option<String> {
    if !s.contains(&b'%') {
        return std::str::from_utf8(s).ok().map(str::to_owned);
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// One `list-member`: key, decoded value, properties.
fn parse_member(member: &[u8]) -> Option<(&str, String, &str)> {
    let (pair, properties) = match member.iter().position(|&b| b == b';') {
        Some(semi) => (&member[..semi], trim_ows(&member[semi + 1..])),
        None => (member, &[][..]),
    };
    let eq = pair.iter().position(|&b| b == b'=')?;
    let key = trim_ows(&pair[..eq]);
    let value = trim_ows(&pair[eq + 1..]);
    if !is_token(key) || !value.iter().all(|&b| baggage_octet(b)) {
        return None;
    }
    // Properties are kept as given, so they must be baggage text themselves.
    let properties_ok = properties
        .iter()
        .all(|&b| baggage_octet(b) || matches!(b, b' ' | b'\t' | b'=' | b';'));
    if !properties_ok {
        return None;
    }
    Some((
        std::str::from_utf8(key).ok()?,
        percent_decode(value)?,
        std::str::from_utf8(properties).ok()?,
    ))
}

/// The baggage of all `baggage` lines, combined; `None` when there is none.
pub(super) fn extract(carrier: &impl Extractor) -> Option<Baggage> {
    let mut baggage = Baggage::new();
    for line in carrier.get_all(BAGGAGE) {
        for member in line.split(|&b| b == b',') {
            let member = trim_ows(member);
            if member.is_empty() {
                continue;
            }
            if let Some((key, value, properties)) = parse_member(member) {
                baggage.insert_with_metadata(
                    key.to_owned(),
                    value,
                    BaggageMetadata::from(properties),
                );
            }
        }
    }
    (!baggage.is_empty()).then_some(baggage)
}

/// Writes `value` percent-encoded: everything outside `baggage-octet`, `%` itself, and `=` (which
/// the grammar allows in a value, but some peers, opentelemetry_sdk's among them, split on).
fn encode_into(out: &mut String, value: &str) {
    for &b in value.as_bytes() {
        if baggage_octet(b) && b != b'%' && b != b'=' {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

pub(super) fn inject(baggage: &Baggage, carrier: &mut impl Injector) {
    if baggage.is_empty() {
        return;
    }
    let mut header = String::new();
    for (key, (value, metadata)) in baggage {
        if !is_token(key.as_str().as_bytes()) {
            continue;
        }
        if !header.is_empty() {
            header.push(',');
        }
        header.push_str(key.as_str());
        header.push('=');
        encode_into(&mut header, value.as_str());
        let metadata = metadata.as_str().trim();
        let metadata_ok = metadata
            .bytes()
            .all(|b| baggage_octet(b) || matches!(b, b' ' | b'\t' | b'=' | b';'));
        if !metadata.is_empty() && metadata_ok {
            header.push(';');
            header.push_str(metadata);
        }
    }
    if !header.is_empty() {
        carrier.set(BAGGAGE, header);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn extract_str(header: &str) -> Baggage {
        let map = HashMap::from([(BAGGAGE.to_owned(), header.to_owned())]);
        extract(&map).unwrap_or_default()
    }

    #[test]
    fn members_values_and_properties() {
        let b =
            extract_str(" userId = alice ,serverNode=DF%2028,isProduction=false;ttl=30 ; secure, ");
        assert_eq!(b.get("userId").map(|v| v.as_str()), Some("alice"));
        assert_eq!(b.get("serverNode").map(|v| v.as_str()), Some("DF 28"));
        let (value, metadata) = b.get_with_metadata("isProduction").unwrap();
        assert_eq!(
            (value.as_str(), metadata.as_str()),
            ("false", "ttl=30 ; secure")
        );
    }

    #[test]
    fn bad_members_are_skipped_alone() {
        let b = extract_str("ok=1,no-equals,bad key=2,quote=\"x\",pct=%zz,also=2");
        let mut keys: Vec<&str> = b.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["also", "ok"]);
        assert_eq!(
            extract_str("bad=%FF").get("bad").map(|v| v.as_str()),
            Some("\u{fffd}")
        );
    }

    #[test]
    fn values_round_trip_through_percent_encoding() {
        let original = Baggage::from_iter([opentelemetry::KeyValue::new("k", "a,b;c=d %e\u{e9}")]);
        let mut map: HashMap<String, String> = HashMap::new();
        inject(&original, &mut map);
        assert_eq!(map[BAGGAGE], "k=a%2Cb%3Bc%3Dd%20%25e%C3%A9");
        assert_eq!(extract_str(&map[BAGGAGE]).get("k"), original.get("k"));
    }
}
