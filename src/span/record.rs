//! What a finished span leaves behind for the background thread: plain data, no conversion yet.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU32, Ordering};

use opentelemetry::KeyValue;
use opentelemetry::trace::{Link, SpanId, SpanKind, Status};
use smallvec::SmallVec;

use super::clock::Ticks;
use crate::context::SpanContext;

/// Attributes a span holds without a heap allocation.
pub(crate) const INLINE_ATTRIBUTES: usize = 4;

/// Span limits read on the hot path (set by `init`; the defaults are the specification's).
pub(crate) static MAX_ATTRIBUTES: AtomicU32 = AtomicU32::new(128);
pub(crate) static MAX_EVENTS: AtomicU32 = AtomicU32::new(128);
pub(crate) static MAX_LINKS: AtomicU32 = AtomicU32::new(128);

#[inline]
pub(crate) fn limit(limit: &AtomicU32) -> usize {
    limit.load(Ordering::Relaxed) as usize
}

/// An event as recorded: its time is still in ticks.
#[derive(Debug)]
pub(crate) struct EventRecord {
    pub(crate) name: Cow<'static, str>,
    pub(crate) at: Ticks,
    pub(crate) attributes: Vec<KeyValue>,
}

/// What every sampled span has, stored inline: it travels to the background thread by value, through
/// the thread's contiguous ring, so a span without attributes touches no other memory.
#[derive(Debug)]
pub(crate) struct Recording {
    pub(crate) name: Cow<'static, str>,
    pub(crate) kind: SpanKind,
    pub(crate) parent_span_id: SpanId,
    pub(crate) parent_remote: bool,
    pub(crate) start: Ticks,
    /// Attributes, events, links and status, for the spans that have any.
    pub(crate) extras: Option<Box<Extras>>,
}

/// The optional part of a span, boxed. Boxes are recycled: the background thread empties them and
/// hands them back to the thread that uses them next, so the steady state allocates nothing.
#[derive(Debug)]
pub(crate) struct Extras {
    pub(crate) attributes: SmallVec<[KeyValue; INLINE_ATTRIBUTES]>,
    pub(crate) dropped_attributes: u32,
    pub(crate) events: SmallVec<[EventRecord; 1]>,
    pub(crate) dropped_events: u32,
    pub(crate) links: Vec<Link>,
    pub(crate) dropped_links: u32,
    pub(crate) status: Status,
}

impl Extras {
    /// An empty box's content, as the background thread returns them.
    pub(crate) fn blank() -> Extras {
        Extras {
            attributes: SmallVec::new(),
            dropped_attributes: 0,
            events: SmallVec::new(),
            dropped_events: 0,
            links: Vec::new(),
            dropped_links: 0,
            status: Status::Unset,
        }
    }

    #[inline]
    pub(crate) fn push_attribute(&mut self, attribute: KeyValue) {
        if self.attributes.len() < limit(&MAX_ATTRIBUTES) {
            self.attributes.push(attribute);
        } else {
            self.dropped_attributes = self.dropped_attributes.saturating_add(1);
        }
    }

    pub(crate) fn push_link(&mut self, link: Link) {
        if self.links.len() < limit(&MAX_LINKS) {
            self.links.push(link);
        } else {
            self.dropped_links = self.dropped_links.saturating_add(1);
        }
    }

    #[inline]
    pub(crate) fn push_event(&mut self, event: EventRecord) {
        if self.events.len() < limit(&MAX_EVENTS) {
            self.events.push(event);
        } else {
            self.dropped_events = self.dropped_events.saturating_add(1);
        }
    }
}

/// A finished span on its way to the background thread.
#[derive(Debug)]
pub(crate) struct SpanRecord {
    pub(crate) ctx: SpanContext,
    pub(crate) rec: Recording,
    pub(crate) end: Ticks,
}
