//! Hexadecimal ids, parsed and written without allocating.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Which hex digits a grammar accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Case {
    /// `0-9a-f` only (W3C, B3).
    Lower,
    /// `0-9a-fA-F` (Jaeger, whose clients parse with `strconv.ParseUint(s, 16, 64)`).
    Any,
}

#[inline]
fn digit(b: u8, case: Case) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' if case == Case::Any => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The value of 1 to 32 hex digits.
#[inline]
pub(super) fn parse_u128(s: &[u8], case: Case) -> Option<u128> {
    if s.len() <= 16 {
        return parse_u64(s, case).map(u128::from);
    }
    if s.len() > 32 {
        return None;
    }
    // Two 64-bit halves: cheaper than shifting a u128 digit by digit.
    let (high, low) = s.split_at(s.len() - 16);
    Some((u128::from(parse_u64(high, case)?) << 64) | u128::from(parse_u64(low, case)?))
}

/// The value of 1 to 16 hex digits.
#[inline]
pub(super) fn parse_u64(s: &[u8], case: Case) -> Option<u64> {
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    s.iter().try_fold(0u64, |acc, &b| {
        digit(b, case).map(|d| (acc << 4) | u64::from(d))
    })
}

/// Writes `value` as `out.len()` lowercase hex digits (the low bits of `value`).
#[inline]
pub(super) fn write(out: &mut [u8], mut value: u128) {
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(value & 0xf) as usize];
        value >>= 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_write() {
        assert_eq!(
            parse_u64(b"00f067aa0ba902b7", Case::Lower),
            Some(0x00f0_67aa_0ba9_02b7)
        );
        assert_eq!(parse_u64(b"00F067AA0BA902B7", Case::Lower), None);
        assert_eq!(
            parse_u64(b"00F067AA0BA902B7", Case::Any),
            Some(0x00f0_67aa_0ba9_02b7)
        );
        assert_eq!(parse_u64(b"", Case::Any), None);
        assert_eq!(parse_u64(b"12345678901234567", Case::Any), None);
        assert_eq!(parse_u64(b"-1", Case::Any), None);
        assert_eq!(parse_u128(&[b'f'; 32], Case::Lower), Some(u128::MAX));
        assert_eq!(parse_u128(&[b'f'; 33], Case::Lower), None);
        let mut out = [0u8; 4];
        write(&mut out, 0x1_0abc);
        assert_eq!(&out, b"0abc");
    }
}
