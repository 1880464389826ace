//! What a finished span leaves behind for the background thread: plain data, no conversion yet.

use std::borrow::Cow;
use std::collections::HashSet;
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

    /// Sets an attribute. Below the limit this pushes without looking for the key (conversion
    /// collapses duplicates); at the limit, setting a key that is already there still replaces its
    /// value, and only a new key is dropped, as the specification says.
    #[inline]
    pub(crate) fn push_attribute(&mut self, attribute: KeyValue) {
        let limit = limit(&MAX_ATTRIBUTES);
        if self.attributes.len() < limit {
            self.attributes.push(attribute);
        } else {
            self.push_attribute_at_limit(attribute, limit);
        }
    }

    #[cold]
    #[inline(never)]
    fn push_attribute_at_limit(&mut self, attribute: KeyValue, limit: usize) {
        // The last occurrence of a key is the value conversion keeps, so replacing it is setting it.
        if let Some(same) = self.attributes.iter_mut().rfind(|a| a.key == attribute.key) {
            same.value = attribute.value;
            return;
        }
        let kept = keep_last_of_each_key(&mut self.attributes);
        self.attributes.truncate(kept);
        if self.attributes.len() < limit {
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

/// Collapses attributes set more than once: each key keeps its last value, in the place where it was
/// first set. Works in place and returns how many attributes remain at the front; truncate to it.
pub(crate) fn keep_last_of_each_key(attributes: &mut [KeyValue]) -> usize {
    let has_duplicates = if attributes.len() <= 16 {
        attributes
            .iter()
            .enumerate()
            .any(|(i, a)| attributes[..i].iter().any(|b| b.key == a.key))
    } else {
        let mut seen = HashSet::with_capacity(attributes.len());
        !attributes.iter().all(|a| seen.insert(&a.key))
    };
    if !has_duplicates {
        return attributes.len();
    }
    // `attributes[..kept]` holds one attribute per key seen so far, in first-set order.
    let mut kept = 0;
    for i in 0..attributes.len() {
        let (front, rest) = attributes.split_at_mut(i);
        let current = &mut rest[0];
        match front[..kept].iter_mut().find(|k| k.key == current.key) {
            Some(first) => std::mem::swap(&mut first.value, &mut current.value),
            None => {
                attributes.swap(kept, i);
                kept += 1;
            }
        }
    }
    kept
}

/// A finished span on its way to the background thread.
#[derive(Debug)]
pub(crate) struct SpanRecord {
    pub(crate) ctx: SpanContext,
    pub(crate) rec: Recording,
    pub(crate) end: Ticks,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sets `MAX_ATTRIBUTES` for one test, serialised with the others that change it.
    fn with_attribute_limit(max: u32, test: impl FnOnce()) {
        static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let previous = MAX_ATTRIBUTES.swap(max, Ordering::Relaxed);
        test();
        MAX_ATTRIBUTES.store(previous, Ordering::Relaxed);
    }

    /// The attributes as conversion will export them.
    fn exported(extras: &Extras) -> Vec<KeyValue> {
        let mut attributes = extras.attributes.to_vec();
        let kept = keep_last_of_each_key(&mut attributes);
        attributes.truncate(kept);
        attributes
    }

    #[test]
    fn setting_one_key_many_times_does_not_use_up_the_limit() {
        with_attribute_limit(128, || {
            let mut extras = Extras::blank();
            for i in 0..200_i64 {
                extras.push_attribute(KeyValue::new("done", i));
            }
            extras.push_attribute(KeyValue::new("other", true));
            assert_eq!(
                exported(&extras),
                vec![KeyValue::new("done", 199_i64), KeyValue::new("other", true)]
            );
            assert_eq!(extras.dropped_attributes, 0);
        });
    }

    #[test]
    fn one_distinct_key_past_the_limit_is_dropped() {
        with_attribute_limit(8, || {
            let mut extras = Extras::blank();
            for i in 0..9_i64 {
                extras.push_attribute(KeyValue::new(format!("k{i}"), i));
            }
            let attributes = exported(&extras);
            assert_eq!(attributes.len(), 8);
            assert_eq!(attributes[7], KeyValue::new("k7", 7_i64));
            assert_eq!(extras.dropped_attributes, 1);
        });
    }

    #[test]
    fn setting_a_key_again_at_the_limit_replaces_its_value() {
        with_attribute_limit(8, || {
            let mut extras = Extras::blank();
            for i in 0..8_i64 {
                extras.push_attribute(KeyValue::new(format!("k{i}"), i));
            }
            extras.push_attribute(KeyValue::new("k3", "new"));
            let attributes = exported(&extras);
            assert_eq!(attributes.len(), 8);
            assert_eq!(attributes[3], KeyValue::new("k3", "new"));
            assert_eq!(extras.dropped_attributes, 0);
        });
    }

    #[test]
    fn a_key_set_twice_below_the_limit_is_replaced_at_it_too() {
        // Duplicates below the limit are kept raw; at the limit the newest value must still win.
        with_attribute_limit(4, || {
            let mut extras = Extras::blank();
            for (key, value) in [("a", 1_i64), ("b", 2), ("a", 3), ("c", 4)] {
                extras.push_attribute(KeyValue::new(key, value));
            }
            extras.push_attribute(KeyValue::new("a", 5_i64));
            extras.push_attribute(KeyValue::new("d", 6_i64));
            extras.push_attribute(KeyValue::new("e", 7_i64));
            assert_eq!(
                exported(&extras),
                vec![
                    KeyValue::new("a", 5_i64),
                    KeyValue::new("b", 2_i64),
                    KeyValue::new("c", 4_i64),
                    KeyValue::new("d", 6_i64),
                ]
            );
            assert_eq!(extras.dropped_attributes, 1);
        });
    }

    #[test]
    fn duplicate_keys_keep_the_last_value_in_the_first_place() {
        let mut attributes = vec![
            KeyValue::new("a", 1_i64),
            KeyValue::new("b", 2_i64),
            KeyValue::new("a", 3_i64),
        ];
        let kept = keep_last_of_each_key(&mut attributes);
        attributes.truncate(kept);
        assert_eq!(
            attributes,
            vec![KeyValue::new("a", 3_i64), KeyValue::new("b", 2_i64)]
        );
    }

    #[test]
    fn many_attributes_are_deduplicated_too() {
        let mut attributes: Vec<KeyValue> = (0..40)
            .map(|i| KeyValue::new(format!("k{}", i % 20), i64::from(i)))
            .collect();
        let kept = keep_last_of_each_key(&mut attributes);
        attributes.truncate(kept);
        assert_eq!(attributes.len(), 20);
        assert_eq!(attributes[0], KeyValue::new("k0", 20_i64));
        assert_eq!(attributes[19], KeyValue::new("k19", 39_i64));
    }
}
