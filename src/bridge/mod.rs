//! Bridges from the rest of the ecosystem into tracewire: the OpenTelemetry trace API
//! ([`otel_api`]), the `tracing` crate (`layer`, feature `tracing`) and log lines that carry trace
//! ids (`logs`).
//!
//! Each bridge turns the other side's spans into tracewire [`Span`](crate::Span)s, so they share
//! tracewire's ids, sampling, buffers and exporter, and their parents are found in both directions
//! through tracewire's current context (see [`current_span_context`](crate::current_span_context)).

#[cfg(feature = "tracing")]
pub(crate) mod layer;
pub(crate) mod logs;
pub mod otel_api;

use std::sync::{Mutex, PoisonError};

/// A value reached only through `&mut`, which makes it shareable between threads (`Sync`) whatever
/// it is: `tracing` span extensions and OpenTelemetry spans must be `Sync`, and a tracewire
/// [`Span`](crate::Span) is only `Send`.
///
/// The mutex is never locked: [`Mutex::get_mut`] borrows through `&mut` without touching it, so this
/// costs nothing at run time and needs no `unsafe`.
#[derive(Debug, Default)]
pub(crate) struct Exclusive<T>(Mutex<T>);

impl<T> Exclusive<T> {
    pub(crate) fn new(value: T) -> Self {
        Exclusive(Mutex::new(value))
    }

    pub(crate) fn get_mut(&mut self) -> &mut T {
        // Never locked, so never poisoned; take the value either way.
        self.0.get_mut().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(feature = "tracing")]
    pub(crate) fn into_inner(self) -> T {
        self.0.into_inner().unwrap_or_else(PoisonError::into_inner)
    }
}
