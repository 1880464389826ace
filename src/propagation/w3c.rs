//! W3C Trace Context: the `traceparent` and `tracestate` headers.
//!
//! Follows <https://www.w3.org/TR/trace-context/> (Level 1) and the random trace-id flag of
//! <https://www.w3.org/TR/trace-context-2/> (Level 2), with the rules of the W3C test suite
//! (`w3c/trace-context`, `test/test.py`, strict level 2) where the text leaves a choice.

use opentelemetry::trace::{SpanId, TraceFlags, TraceId};
use smallvec::SmallVec;

use super::carrier::{Extractor, Injector};
use super::hex::{self, Case};
use crate::{SpanContext, TraceState};

pub(super) const TRACEPARENT: &str = "traceparent";
pub(super) const TRACESTATE: &str = "tracestate";

/// The flags this version defines: sampled (0x01) and, in Level 2, random trace id (0x02). The
/// others are reserved and "vendors MUST set those to zero".
const KNOWN_FLAGS: u8 = 0x03;
/// `00-` + 32 + `-` + 16 + `-` + 2.
const LEN: usize = 55;
/// "There can be a maximum of 32 list-members in a list."
const MAX_MEMBERS: usize = 32;

/// Spaces and horizontal tabs (HTTP's optional whitespace) removed from both ends.
pub(super) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Parses a `traceparent` value into a remote span context (with no trace state).
///
/// Version `00` must be exactly 55 characters; a higher version (not `ff`) is read by the
/// version-00 layout, and may continue after the flags only with a `-`. Ids and flags are
/// lowercase hex, ids are not all zeros. Of the flags, sampled (`01`) and the Level 2 random
/// trace-id flag (`02`) are kept; the reserved bits are dropped. Leading and trailing spaces and
/// tabs are ignored.
///
/// # Examples
///
/// ```
/// use tracewire::propagation::parse_traceparent;
///
/// let cx = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
/// assert!(cx.is_remote() && cx.is_sampled());
/// assert_eq!(cx.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
///
/// assert!(parse_traceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").is_none());
/// assert!(parse_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none());
/// assert!(parse_traceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01").is_none());
/// // A future version may add fields after a dash.
/// assert!(parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz").is_some());
/// ```
pub fn parse_traceparent(value: impl AsRef<[u8]>) -> Option<SpanContext> {
    parse(value.as_ref())
}

fn parse(value: &[u8]) -> Option<SpanContext> {
    let v = trim_ows(value);
    if v.len() < LEN || v[2] != b'-' || v[35] != b'-' || v[52] != b'-' {
        return None;
    }
    let version = hex::parse_u64(&v[..2], Case::Lower)?;
    match version {
        0xff => return None,
        0 if v.len() != LEN => return None,
        _ if v.len() > LEN && v[LEN] != b'-' => return None,
        _ => {}
    }
    let trace_id = hex::parse_u128(&v[3..35], Case::Lower)?;
    let span_id = hex::parse_u64(&v[36..52], Case::Lower)?;
    let flags = hex::parse_u64(&v[53..55], Case::Lower)? as u8;
    if trace_id == 0 || span_id == 0 {
        return None;
    }
    Some(SpanContext::new(
        TraceId::from(trace_id),
        SpanId::from(span_id),
        TraceFlags::new(flags & KNOWN_FLAGS),
        true,
        TraceState::default(),
    ))
}

/// The `traceparent` value of `cx`: version `00`, its ids, and the flags it holds (sampled and
/// random trace id; reserved bits are written as zero). `None` for an invalid context.
///
/// # Examples
///
/// ```
/// use tracewire::propagation::{format_traceparent, parse_traceparent};
///
/// let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03";
/// let cx = parse_traceparent(header).unwrap();
/// assert_eq!(format_traceparent(&cx).as_deref(), Some(header));
/// assert_eq!(format_traceparent(&tracewire::SpanContext::NONE), None);
/// ```
pub fn format_traceparent(cx: &SpanContext) -> Option<String> {
    if !cx.is_valid() {
        return None;
    }
    let mut out = *b"00-________________________________-________________-__";
    hex::write(
        &mut out[3..35],
        u128::from_be_bytes(cx.trace_id().to_bytes()),
    );
    hex::write(
        &mut out[36..52],
        u128::from(u64::from_be_bytes(cx.span_id().to_bytes())),
    );
    hex::write(
        &mut out[53..55],
        u128::from(cx.trace_flags().to_u8() & KNOWN_FLAGS),
    );
    std::str::from_utf8(&out).ok().map(str::to_owned)
}

/// `keychar = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"`
fn keychar(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'*' | b'/' | b'@')
}

/// The key grammar of the current specification (which no longer splits `tenant@system`):
///
/// ```abnf
/// key = ( lcalpha / DIGIT ) 0*255( keychar )
/// ```
///
/// so a key is 1 to 256 characters and may hold `@` anywhere but first (`foo@`, `foo@@bar`).
fn valid_key(key: &[u8]) -> bool {
    matches!(key, [first, rest @ ..]
        if (first.is_ascii_lowercase() || first.is_ascii_digit())
            && rest.len() <= 255
            && rest.iter().all(|&b| keychar(b)))
}

/// `value = 0*255(chr) nblk-chr`, `chr = %x20 / nblk-chr`, `nblk-chr = %x21-2B / %x2D-3C / %x3E-7E`.
fn valid_value(value: &[u8]) -> bool {
    let nblk = |b: u8| matches!(b, 0x21..=0x2b | 0x2d..=0x3c | 0x3e..=0x7e);
    matches!(value, [.., last] if nblk(*last))
        && value.len() <= 256
        && value.iter().all(|&b| b == b' ' || nblk(b))
}

/// Why a `tracestate` was discarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Invalid {
    Member,
    TooMany,
}

/// Parses the `tracestate` header lines, combined in order as RFC 7230 combines repeated fields.
///
/// Empty and whitespace-only members are skipped. A member that breaks the key or value grammar,
/// or more than 32 members, make the whole header invalid: it is discarded (the W3C test suite's
/// strict rules), never partly kept. A key that appears again is not an error: the specification
/// lets a vendor discard duplicate keys it did not generate, so the first member with that key is
/// kept and the later ones are dropped (the list sent on then has unique keys, as it must). The
/// 32-member limit counts the members as received, duplicates included.
pub(crate) fn parse_tracestate<'a>(
    lines: impl Iterator<Item = &'a [u8]>,
) -> Result<TraceState, Invalid> {
    let mut members: SmallVec<[(&str, &str); 8]> = SmallVec::new();
    let mut received = 0;
    for line in lines {
        for member in line.split(|&b| b == b',') {
            let member = trim_ows(member);
            if member.is_empty() {
                continue;
            }
            let eq = member
                .iter()
                .position(|&b| b == b'=')
                .ok_or(Invalid::Member)?;
            let (key, value) = (&member[..eq], &member[eq + 1..]);
            if !valid_key(key) || !valid_value(value) {
                return Err(Invalid::Member);
            }
            // Both are ASCII now.
            let (Ok(key), Ok(value)) = (std::str::from_utf8(key), std::str::from_utf8(value))
            else {
                return Err(Invalid::Member);
            };
            received += 1;
            if received > MAX_MEMBERS {
                return Err(Invalid::TooMany);
            }
            if !members.iter().any(|(k, _)| *k == key) {
                members.push((key, value));
            }
        }
    }
    if members.is_empty() {
        return Ok(TraceState::default());
    }
    Ok(TraceState::from_members(
        members
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    ))
}

pub(super) fn inject(cx: &SpanContext, carrier: &mut impl Injector) {
    let Some(traceparent) = format_traceparent(cx) else {
        return;
    };
    carrier.set(TRACEPARENT, traceparent);
    let state = cx.trace_state();
    if !state.is_empty() {
        carrier.set(TRACESTATE, state.header());
    }
}

pub(super) fn extract(carrier: &impl Extractor) -> Option<SpanContext> {
    let mut lines = carrier.get_all(TRACEPARENT);
    let first = lines.next()?;
    if lines.next().is_some() {
        // Two traceparent fields: no way to know which one is the parent.
        return None;
    }
    let cx = parse(first)?;
    // "If the vendor failed to parse traceparent, it MUST NOT attempt to parse tracestate"; and
    // a bad tracestate does not affect the traceparent.
    match parse_tracestate(carrier.get_all(TRACESTATE)) {
        Ok(state) if !state.is_empty() => Some(SpanContext::new(
            cx.trace_id(),
            cx.span_id(),
            cx.trace_flags(),
            true,
            state,
        )),
        Ok(_) => Some(cx),
        Err(why) => {
            crate::diag::diag!(Debug, "incoming tracestate discarded ({why:?})");
            Some(cx)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(lines: &[&str]) -> Result<TraceState, Invalid> {
        parse_tracestate(lines.iter().map(|l| l.as_bytes()))
    }

    #[test]
    fn key_grammar() {
        let all = "abcdefghijklmnopqrstuvwxyz0123456789_-*/";
        for good in [
            "a",
            all,
            &format!("{all}@a-z0-9_-*/"),
            &"z".repeat(256),
            &format!("{}@{}", "t".repeat(241), "v".repeat(14)),
            &format!("{}@v", "t".repeat(242)),
            &format!("t@{}", "v".repeat(15)),
            "0tenant@sys",
            "0abc",
            "t@v",
            "foo@",
            "foo@@bar",
            "foo@bar@baz",
            "foo@0bar",
        ] {
            assert!(valid_key(good.as_bytes()), "{good}");
        }
        for bad in [
            "",
            "Foo",
            "foo.bar",
            "foo ",
            "@foo",
            "_foo",
            "*foo",
            "foo=",
            &"z".repeat(257),
            &format!("{}@{}", "t".repeat(241), "v".repeat(15)),
        ] {
            assert!(!valid_key(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn value_grammar() {
        let all: String = (0x20u8..=0x7e)
            .filter(|b| *b != b',' && *b != b'=')
            .map(char::from)
            .collect();
        for good in ["1", " leading space kept", "a b", &all, &"v".repeat(256)] {
            assert!(valid_value(good.as_bytes()), "{good:?}");
        }
        for bad in [
            "",
            "trailing ",
            "a,b",
            "a=b",
            "tab\there",
            "caf\u{e9}",
            &"v".repeat(257),
        ] {
            assert!(!valid_value(bad.as_bytes()), "{bad:?}");
        }
    }

    #[test]
    fn tracestate_combines_lines_skips_empty_members_and_discards_invalid_headers() {
        let ok = state(&["foo=1,bar=2", "rojo=1,congo=2", "", "baz=3"]).unwrap();
        assert_eq!(ok.header(), "foo=1,bar=2,rojo=1,congo=2,baz=3");
        assert_eq!(
            state(&["foo=1 \t , \t bar=2, \t baz=3"]).unwrap().header(),
            "foo=1,bar=2,baz=3"
        );
        assert_eq!(state(&[" , ,\t"]).unwrap(), TraceState::default());
        assert_eq!(state(&["foo= x"]).unwrap().get("foo"), Some(" x"));
        // A later duplicate is dropped; the first member with the key is kept, in place.
        let kept = |lines: &[&str]| state(lines).map(|s| s.header());
        assert_eq!(kept(&["foo=1,foo=1"]), Ok("foo=1".to_owned()));
        assert_eq!(kept(&["foo=1,bar=2,foo=2"]), Ok("foo=1,bar=2".to_owned()));
        assert_eq!(kept(&["foo=1", "foo=2"]), Ok("foo=1".to_owned()));
        assert_eq!(state(&["foo=bar=baz"]), Err(Invalid::Member));
        assert_eq!(state(&["foo=,bar=3"]), Err(Invalid::Member));
        assert_eq!(state(&["foo"]), Err(Invalid::Member));
        let members = |n: usize| {
            (1..=n)
                .map(|i| format!("k{i}=v"))
                .collect::<Vec<_>>()
                .join(",")
        };
        assert_eq!(state(&[&members(32)]).map(|s| s.header()), Ok(members(32)));
        assert_eq!(state(&[&members(33)]), Err(Invalid::TooMany));
    }

    #[test]
    fn keys_opentelemetry_refuses_are_kept_and_only_left_out_of_its_form() {
        let key = format!("t@{}", "v".repeat(14));
        let parsed = state(&[&format!("a=1,{key}=2,b=3")]).unwrap();
        assert_eq!(parsed.get(&key), Some("2"));
        assert_eq!(parsed.header(), format!("a=1,{key}=2,b=3"));
        assert_eq!(parsed.to_otel().header(), "a=1,b=3");
    }

    #[test]
    fn traceparent_versions() {
        let ids = "12345678901234567890123456789012-1234567890123456";
        assert!(parse(format!("00-{ids}-01").as_bytes()).is_some());
        assert!(parse(format!(" \t00-{ids}-01\t ").as_bytes()).is_some());
        assert!(parse(format!("00-{ids}-01-").as_bytes()).is_none());
        assert!(parse(format!("cc-{ids}-01").as_bytes()).is_some());
        assert!(parse(format!("cc-{ids}-01-future").as_bytes()).is_some());
        assert!(parse(format!("cc-{ids}-01.future").as_bytes()).is_none());
        assert!(parse(format!("ff-{ids}-01").as_bytes()).is_none());
        assert!(parse(format!("0g-{ids}-01").as_bytes()).is_none());
        assert!(parse(format!("0A-{ids}-01").as_bytes()).is_none());
    }

    #[test]
    fn flags_keep_sampled_and_random_and_drop_reserved_bits() {
        let ids = "12345678901234567890123456789012-1234567890123456";
        let flags =
            |f: &str| parse(format!("00-{ids}-{f}").as_bytes()).map(|c| c.trace_flags().to_u8());
        assert_eq!(flags("00"), Some(0));
        assert_eq!(flags("01"), Some(1));
        assert_eq!(flags("02"), Some(2));
        assert_eq!(flags("03"), Some(3));
        assert_eq!(flags("ff"), Some(3));
        assert_eq!(flags("09"), Some(1));
        assert_eq!(flags("0F"), None);
    }

    #[test]
    fn format_writes_version_00_and_masks_reserved_flags() {
        let cx = SpanContext::new(
            TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128),
            SpanId::from(0x00f0_67aa_0ba9_02b7_u64),
            TraceFlags::new(0xff),
            false,
            TraceState::default(),
        );
        assert_eq!(
            format_traceparent(&cx).as_deref(),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03")
        );
    }
}
