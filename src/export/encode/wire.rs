//! Protobuf fields of the OTLP messages, written with prost's encoding primitives.
//!
//! Every `*_len` function returns the exact encoded length of what the matching `put_*` writes, so
//! that a message's length can be written before its body (protobuf's length-delimited framing)
//! without encoding anything twice. Fields are written in tag order and fields holding their
//! default value are left out, as prost's generated code does: the bytes are those that
//! opentelemetry-proto's messages encode to.

use bytes::BufMut;
use opentelemetry::{Array, KeyValue, Value};
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint, key_len};

use crate::span::limits::cut;

/// The length of a length-delimited field holding `len` bytes.
#[inline]
pub(super) fn len_field(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

/// The key and length of a length-delimited field whose `len` bytes follow.
#[inline]
pub(super) fn put_len(tag: u32, len: usize, buf: &mut impl BufMut) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(len as u64, buf);
}

/// A `bytes` field (always written: ids are never empty).
#[inline]
pub(super) fn put_bytes(tag: u32, bytes: &[u8], buf: &mut impl BufMut) {
    put_len(tag, bytes.len(), buf);
    buf.put_slice(bytes);
}

/// The length of a `string` field; an empty string is the default and is left out.
#[inline]
pub(super) fn str_len(tag: u32, s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        len_field(tag, s.len())
    }
}

/// A `string` field; an empty string is left out.
#[inline]
pub(super) fn put_str(tag: u32, s: &str, buf: &mut impl BufMut) {
    if !s.is_empty() {
        put_bytes(tag, s.as_bytes(), buf);
    }
}

/// The length of a `uint32` (or enum) field; zero is left out.
#[inline]
pub(super) fn u32_len(tag: u32, value: u32) -> usize {
    if value == 0 {
        0
    } else {
        prost::encoding::uint32::encoded_len(tag, &value)
    }
}

/// A `uint32` (or enum) field; zero is left out.
#[inline]
pub(super) fn put_u32(tag: u32, value: u32, buf: &mut impl BufMut) {
    if value != 0 {
        prost::encoding::uint32::encode(tag, &value, buf);
    }
}

/// The length of a `fixed64` field; zero is left out.
#[inline]
pub(super) fn fixed64_len(tag: u32, value: u64) -> usize {
    if value == 0 { 0 } else { key_len(tag) + 8 }
}

/// A `fixed64` field; zero is left out.
#[inline]
pub(super) fn put_fixed64(tag: u32, value: u64, buf: &mut impl BufMut) {
    if value != 0 {
        prost::encoding::fixed64::encode(tag, &value, buf);
    }
}

/// The length of a `fixed32` field; zero is left out.
#[inline]
pub(super) fn fixed32_len(tag: u32, value: u32) -> usize {
    if value == 0 { 0 } else { key_len(tag) + 4 }
}

/// A `fixed32` field; zero is left out.
#[inline]
pub(super) fn put_fixed32(tag: u32, value: u32, buf: &mut impl BufMut) {
    if value != 0 {
        prost::encoding::fixed32::encode(tag, &value, buf);
    }
}

// `AnyValue`'s one-of fields: string 1, bool 2, int 3, double 4, array 5. A one-of field is
// written even when it holds its type's default (`false`, `0`, `""`).
const STRING: u32 = 1;
const BOOL: u32 = 2;
const INT: u32 = 3;
const DOUBLE: u32 = 4;
const ARRAY: u32 = 5;
/// `ArrayValue.values`, `KeyValue.key`.
const FIRST: u32 = 1;
/// `KeyValue.value`.
const VALUE: u32 = 2;

/// The body length of the `AnyValue` for `value`, strings cut to `max` bytes.
fn any_len(value: &Value, max: usize) -> usize {
    match value {
        Value::Bool(_) => key_len(BOOL) + 1,
        Value::I64(i) => key_len(INT) + encoded_len_varint(*i as u64),
        Value::F64(_) => key_len(DOUBLE) + 8,
        Value::String(s) => len_field(STRING, cut(s.as_str(), max).len()),
        Value::Array(array) => len_field(ARRAY, array_len(array, max)),
        // A kind added to the API later: an empty `AnyValue` rather than a panic.
        _ => 0,
    }
}

/// The body length of the `ArrayValue` for `array`.
fn array_len(array: &Array, max: usize) -> usize {
    match array {
        Array::Bool(items) => items.len() * len_field(FIRST, key_len(BOOL) + 1),
        Array::I64(items) => items
            .iter()
            .map(|i| len_field(FIRST, key_len(INT) + encoded_len_varint(*i as u64)))
            .sum(),
        Array::F64(items) => items.len() * len_field(FIRST, key_len(DOUBLE) + 8),
        Array::String(items) => items
            .iter()
            .map(|s| len_field(FIRST, len_field(STRING, cut(s.as_str(), max).len())))
            .sum(),
        _ => 0,
    }
}

/// Writes the `AnyValue` body for `value`.
fn put_any(value: &Value, max: usize, buf: &mut impl BufMut) {
    match value {
        Value::Bool(b) => prost::encoding::bool::encode(BOOL, b, buf),
        Value::I64(i) => prost::encoding::int64::encode(INT, i, buf),
        Value::F64(f) => prost::encoding::double::encode(DOUBLE, f, buf),
        Value::String(s) => put_bytes(STRING, cut(s.as_str(), max).as_bytes(), buf),
        Value::Array(array) => {
            put_len(ARRAY, array_len(array, max), buf);
            put_array(array, max, buf);
        }
        _ => {}
    }
}

/// Writes the `ArrayValue` body for `array`: one `AnyValue` per item.
fn put_array(array: &Array, max: usize, buf: &mut impl BufMut) {
    match array {
        Array::Bool(items) => {
            for b in items {
                put_len(FIRST, key_len(BOOL) + 1, buf);
                prost::encoding::bool::encode(BOOL, b, buf);
            }
        }
        Array::I64(items) => {
            for i in items {
                put_len(FIRST, key_len(INT) + encoded_len_varint(*i as u64), buf);
                prost::encoding::int64::encode(INT, i, buf);
            }
        }
        Array::F64(items) => {
            for f in items {
                put_len(FIRST, key_len(DOUBLE) + 8, buf);
                prost::encoding::double::encode(DOUBLE, f, buf);
            }
        }
        Array::String(items) => {
            for s in items {
                let s = cut(s.as_str(), max);
                put_len(FIRST, len_field(STRING, s.len()), buf);
                put_bytes(STRING, s.as_bytes(), buf);
            }
        }
        _ => {}
    }
}

/// The body length of the `KeyValue` for `kv` (its `value` is always present).
#[inline]
fn kv_body_len(kv: &KeyValue, max: usize) -> usize {
    str_len(FIRST, kv.key.as_str()) + len_field(VALUE, any_len(&kv.value, max))
}

/// The length of the fields `tag` holding `attributes`, string values cut to `max` bytes.
pub(super) fn attributes_len(tag: u32, attributes: &[KeyValue], max: usize) -> usize {
    attributes
        .iter()
        .map(|kv| len_field(tag, kv_body_len(kv, max)))
        .sum()
}

/// Writes `attributes` as fields `tag`, string values cut to `max` bytes.
pub(super) fn put_attributes(tag: u32, attributes: &[KeyValue], max: usize, buf: &mut impl BufMut) {
    for kv in attributes {
        let value_len = any_len(&kv.value, max);
        put_len(
            tag,
            str_len(FIRST, kv.key.as_str()) + len_field(VALUE, value_len),
            buf,
        );
        put_str(FIRST, kv.key.as_str(), buf);
        put_len(VALUE, value_len, buf);
        put_any(&kv.value, max, buf);
    }
}
