//! The export queue, kept as ready-made batches so that no span is moved again on its way out.

use std::collections::VecDeque;

use opentelemetry_sdk::trace::SpanData;

/// Spans waiting for export, in batches of at most `batch_size`.
#[derive(Debug)]
pub(crate) struct BatchQueue {
    batch_size: usize,
    /// Full batches, oldest first.
    full: VecDeque<Vec<SpanData>>,
    /// The batch being filled.
    filling: Vec<SpanData>,
    len: usize,
}

impl BatchQueue {
    pub(crate) fn new(batch_size: usize) -> BatchQueue {
        let batch_size = batch_size.max(1);
        BatchQueue {
            batch_size,
            full: VecDeque::new(),
            filling: Vec::new(),
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether a full batch is waiting.
    pub(crate) fn has_full_batch(&self) -> bool {
        !self.full.is_empty()
    }

    pub(crate) fn push(&mut self, span: SpanData) {
        if self.filling.capacity() == 0 {
            self.filling.reserve_exact(self.batch_size);
        }
        self.filling.push(span);
        self.len += 1;
        if self.filling.len() >= self.batch_size {
            self.full.push_back(std::mem::take(&mut self.filling));
        }
    }

    /// The oldest batch, full or not; `None` when empty.
    pub(crate) fn pop_batch(&mut self) -> Option<Vec<SpanData>> {
        let batch = match self.full.pop_front() {
            Some(batch) => batch,
            None if !self.filling.is_empty() => std::mem::take(&mut self.filling),
            None => return None,
        };
        self.len -= batch.len();
        Some(batch)
    }

    /// Empties the queue; returns how many spans it held.
    pub(crate) fn clear(&mut self) -> usize {
        let len = self.len;
        self.full.clear();
        self.filling.clear();
        self.len = 0;
        len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(name: &'static str) -> SpanData {
        SpanData {
            span_context: opentelemetry::trace::SpanContext::empty_context(),
            parent_span_id: opentelemetry::trace::SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: opentelemetry::trace::SpanKind::Internal,
            name: name.into(),
            start_time: std::time::UNIX_EPOCH,
            end_time: std::time::UNIX_EPOCH,
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: Default::default(),
            links: Default::default(),
            status: opentelemetry::trace::Status::Unset,
            instrumentation_scope: Default::default(),
        }
    }

    #[test]
    fn batches_come_out_in_order_and_full_first() {
        let mut queue = BatchQueue::new(2);
        for name in ["a", "b", "c"] {
            queue.push(span(name));
        }
        assert_eq!(queue.len(), 3);
        assert!(queue.has_full_batch());
        let names = |batch: Vec<SpanData>| batch.into_iter().map(|s| s.name).collect::<Vec<_>>();
        assert_eq!(names(queue.pop_batch().unwrap()), ["a", "b"]);
        assert!(!queue.has_full_batch());
        assert_eq!(names(queue.pop_batch().unwrap()), ["c"]);
        assert!(queue.pop_batch().is_none());
        assert!(queue.is_empty());
    }

    #[test]
    fn clear_counts_what_it_dropped() {
        let mut queue = BatchQueue::new(2);
        for name in ["a", "b", "c"] {
            queue.push(span(name));
        }
        assert_eq!(queue.clear(), 3);
        assert!(queue.is_empty() && queue.pop_batch().is_none());
    }
}
