//! What `#[traced]` expansions call. Not a public API: it changes without notice.
//!
//! Generated code names only this module (through `::tracewire::__private` or the `crate = path`
//! given to the macro), never tracewire's dependencies, so the user's crate needs no other
//! dependency and no version can mismatch.

use std::borrow::Cow;
use std::fmt::{Debug, Display};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use opentelemetry::{Array, StringValue, Value};

pub use opentelemetry::trace::SpanKind;

use super::future::{Instrumented, KeepSpan, enter, record_panic};
use crate::collector;
use crate::context::{SpanContext, clone_current_into, current_span_context};
use crate::span::{Span, span_builder, start_span};

/// The parent an `async fn`'s span gets: the span context current when the function was called.
/// Holds no allocation (a trace state is shared); [`Parent::NONE`] when tracing was off.
#[derive(Clone)]
pub struct Parent(SpanContext);

impl Parent {
    /// Nothing was current at the call, or tracing was off.
    pub const NONE: Parent = Parent(SpanContext::NONE);
}

/// Captures the span context current at the call of an instrumented `async fn`. With tracing off
/// this is one relaxed atomic load.
#[inline(always)]
pub fn parent() -> Parent {
    if !collector::is_enabled() {
        return Parent::NONE;
    }
    capture()
}

#[inline(never)]
fn capture() -> Parent {
    let mut parent = Parent::NONE;
    clone_current_into(&mut parent.0);
    parent
}

/// Starts the span of an instrumented `async fn` at its first poll, as a child of the span that
/// was current at the call ([`parent`]). When nothing was current then (or tracing was off), the
/// span current now is the parent, as for any span: a future made outside any span and polled
/// inside one (`in_span`, `with_context`) keeps the parent it always had.
#[inline(always)]
pub fn start_in(name: &'static str, kind: SpanKind, parent: Parent) -> Span {
    if !collector::is_enabled() {
        return Span::none();
    }
    start_in_enabled(name, kind, parent)
}

#[inline(never)]
fn start_in_enabled(name: &'static str, kind: SpanKind, parent: Parent) -> Span {
    let Parent(called_in) = parent;
    // The usual case reads nothing more: the thread-local was read once, at the call.
    let parent = if called_in.is_valid() {
        called_in
    } else {
        current_span_context()
    };
    start_span(
        Cow::Borrowed(name),
        kind,
        parent,
        Default::default(),
        Vec::new(),
    )
}

/// Starts the span of an instrumented function. With tracing off this is one relaxed atomic load.
#[inline(always)]
pub fn start(name: &'static str, kind: SpanKind, root: bool) -> Span {
    if !collector::is_enabled() {
        return Span::none();
    }
    start_enabled(name, kind, root)
}

#[inline(never)]
fn start_enabled(name: &'static str, kind: SpanKind, root: bool) -> Span {
    if kind == SpanKind::Internal && !root {
        return crate::span::span(name); // the common case, without a builder
    }
    let builder = span_builder(name).with_kind(kind);
    if root {
        builder.root().start()
    } else {
        builder.start()
    }
}

/// Runs a sync function's body with its span current. A panic in the body is recorded on a
/// recording span (an `exception` event and an error status), then goes on unwinding.
#[inline]
pub fn run<R>(span: &Span, body: impl FnOnce() -> R) -> R {
    let _entered = enter(span);
    if !span.is_recording() {
        return body();
    }
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(payload) => {
            record_panic(span, &*payload);
            resume_unwind(payload)
        }
    }
}

/// An `async fn`'s body inside its span.
#[inline]
pub fn instrument<F: Future>(span: Span, body: F) -> Instrumented<F> {
    Instrumented::new(body, span)
}

/// An `async fn`'s body inside its span, completing with the output and the span (still open).
#[inline]
pub fn instrument_keep<F: Future>(span: Span, body: F) -> KeepSpan<F> {
    KeepSpan(Instrumented::new(body, span))
}

/// Sets a field of `fields(...)` or the `return` of `ret` (nothing for a `None`).
#[inline]
pub fn set_field(span: &Span, key: &'static str, value: Option<Value>) {
    if let Some(value) = value {
        span.set_attribute(key, value);
    }
}

/// Records the `Err` of a returned `Result` (for `err`).
#[inline]
pub fn record_err<R: TracedResult>(span: &Span, returned: &R) {
    returned.__tw_record_err(span);
}

/// What `#[traced(err)]` can record: a `Result` whose error implements `Display`.
#[diagnostic::on_unimplemented(
    message = "`#[traced(err)]` needs the function to return a `Result` whose error implements `Display`, but it returns `{Self}`",
    label = "`err` records the `Err` of a returned `Result`",
    note = "remove `err`, or return `Result<_, E>` with `E: Display`"
)]
pub trait TracedResult {
    #[doc(hidden)]
    fn __tw_record_err(&self, span: &Span);
}

impl<T, E: Display> TracedResult for Result<T, E> {
    fn __tw_record_err(&self, span: &Span) {
        if let Err(error) = self {
            span.record_exception(std::any::type_name::<E>(), error.to_string());
        }
    }
}

/// A value for a field or a return value: typed when it has an attribute type, its `Debug` text
/// otherwise. The expansion calls `(&Wrap(&value)).__tw_value()`; method resolution picks
/// [`ViaValue`] when `T: FieldValue` and falls back to [`ViaDebug`].
pub struct Wrap<'a, T: ?Sized>(pub &'a T);

/// The typed conversion (preferred).
pub trait ViaValue {
    #[doc(hidden)]
    fn __tw_value(&self) -> Option<Value>;
}

impl<T: FieldValue + ?Sized> ViaValue for Wrap<'_, T> {
    #[inline]
    fn __tw_value(&self) -> Option<Value> {
        self.0.field_value()
    }
}

/// The `Debug` fallback.
pub trait ViaDebug {
    #[doc(hidden)]
    fn __tw_value(&self) -> Option<Value>;
}

impl<T: Debug + ?Sized> ViaDebug for &Wrap<'_, T> {
    fn __tw_value(&self) -> Option<Value> {
        Some(Value::String(format!("{:?}", self.0).into()))
    }
}

/// Types recorded with their own attribute type (integers, floats, booleans, strings, arrays,
/// and `Option`s of them, where `None` records nothing).
pub trait FieldValue {
    #[doc(hidden)]
    fn field_value(&self) -> Option<Value>;
}

macro_rules! field_values {
    ($($ty:ty => |$v:ident| $e:expr),* $(,)?) => {
        $(impl FieldValue for $ty {
            #[inline]
            fn field_value(&self) -> Option<Value> {
                let $v = self;
                Some($e)
            }
        })*
    };
}

field_values! {
    i8 => |v| Value::I64(i64::from(*v)),
    i16 => |v| Value::I64(i64::from(*v)),
    i32 => |v| Value::I64(i64::from(*v)),
    i64 => |v| Value::I64(*v),
    u8 => |v| Value::I64(i64::from(*v)),
    u16 => |v| Value::I64(i64::from(*v)),
    u32 => |v| Value::I64(i64::from(*v)),
    u64 => |v| i64::try_from(*v).map_or_else(|_| Value::String(v.to_string().into()), Value::I64),
    usize => |v| i64::try_from(*v).map_or_else(|_| Value::String(v.to_string().into()), Value::I64),
    isize => |v| i64::try_from(*v).map_or_else(|_| Value::String(v.to_string().into()), Value::I64),
    i128 => |v| i64::try_from(*v).map_or_else(|_| Value::String(v.to_string().into()), Value::I64),
    u128 => |v| i64::try_from(*v).map_or_else(|_| Value::String(v.to_string().into()), Value::I64),
    f32 => |v| Value::F64(f64::from(*v)),
    f64 => |v| Value::F64(*v),
    bool => |v| Value::Bool(*v),
    str => |v| Value::String(v.to_owned().into()),
    String => |v| Value::String(v.clone().into()),
    Cow<'static, str> => |v| Value::String(v.clone().into()),
    StringValue => |v| Value::String(v.clone()),
    Value => |v| v.clone(),
    Array => |v| Value::Array(v.clone()),
}

impl<T: FieldValue + ?Sized> FieldValue for &T {
    #[inline]
    fn field_value(&self) -> Option<Value> {
        (**self).field_value()
    }
}

impl<T: FieldValue> FieldValue for Option<T> {
    #[inline]
    fn field_value(&self) -> Option<Value> {
        self.as_ref().and_then(FieldValue::field_value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value<T: FieldValue + ?Sized>(v: &T) -> Option<Value> {
        v.field_value()
    }

    #[test]
    fn values_keep_their_type() {
        assert_eq!(value(&3_u8), Some(Value::I64(3)));
        assert_eq!(
            value(&u64::MAX),
            Some(Value::String(u64::MAX.to_string().into()))
        );
        assert_eq!(value(&1.5_f32), Some(Value::F64(1.5)));
        assert_eq!(value("s"), Some(Value::String("s".into())));
        assert_eq!(value(&Some(true)), Some(Value::Bool(true)));
        assert_eq!(value(&None::<i64>), None);
    }

    #[test]
    #[allow(clippy::needless_borrow)] // the borrow is how the expansion picks `ViaDebug`
    fn other_types_fall_back_to_debug() {
        #[derive(Debug)]
        #[allow(dead_code)] // read by `Debug` only
        struct Point(i32, i32);
        #[allow(unused_imports)]
        use super::{ViaDebug as _, ViaValue as _};
        assert_eq!(
            (&Wrap(&Point(1, 2))).__tw_value(),
            Some(Value::String("Point(1, 2)".into()))
        );
        assert_eq!((&Wrap(&7_i64)).__tw_value(), Some(Value::I64(7)));
    }
}
