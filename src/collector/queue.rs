//! The export queue: sealed batches, oldest first, each ready to send as it is (an encoded OTLP
//! request, or the `SpanData` of a user's exporter), so no span is moved or encoded again on its
//! way out, retries included.

use std::collections::VecDeque;

use opentelemetry_sdk::trace::SpanData;

/// What a batch carries.
#[derive(Debug)]
pub(crate) enum Payload {
    /// An encoded `ExportTraceServiceRequest`, for tracewire's own OTLP transports.
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    Encoded(bytes::Bytes),
    /// Spans for an [`opentelemetry_sdk::trace::SpanExporter`] (console, none, a user's).
    Spans(Vec<SpanData>),
}

/// One batch: one export request.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) payload: Payload,
    pub(crate) spans: usize,
    /// Attempts so far: its requests, plus the failed probes of an unreachable collector made
    /// while it waited (see [`BatchQueue::expire`]).
    pub(crate) attempts: u32,
    /// Whether a request was ever made with it.
    pub(crate) sent: bool,
}

impl Batch {
    /// Its encoded size (0 for `SpanData`, whose size the span bound already bounds).
    pub(crate) fn bytes(&self) -> usize {
        match &self.payload {
            #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
            Payload::Encoded(body) => body.len(),
            Payload::Spans(_) => 0,
        }
    }
}

/// Sealed batches waiting to be sent, oldest first.
#[derive(Debug, Default)]
pub(crate) struct BatchQueue {
    batches: VecDeque<Batch>,
    spans: usize,
    bytes: usize,
}

impl BatchQueue {
    /// Spans in the queue.
    pub(crate) fn len(&self) -> usize {
        self.spans
    }

    /// Encoded bytes in the queue.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// Adds a newly sealed batch at the back.
    pub(crate) fn push(&mut self, batch: Batch) {
        self.spans += batch.spans;
        self.bytes += batch.bytes();
        self.batches.push_back(batch);
    }

    /// Puts a batch to retry back at the front: it goes out before newer ones.
    pub(crate) fn push_front(&mut self, batch: Batch) {
        self.spans += batch.spans;
        self.bytes += batch.bytes();
        self.batches.push_front(batch);
    }

    /// The oldest batch; `None` when empty.
    pub(crate) fn pop(&mut self) -> Option<Batch> {
        let batch = self.batches.pop_front()?;
        self.spans -= batch.spans;
        self.bytes -= batch.bytes();
        Some(batch)
    }

    /// Counts one more attempt for every batch (a failed probe of an unreachable collector stood
    /// for all of them) and takes out those that reached `max` attempts, oldest first.
    pub(crate) fn expire(&mut self, max: u32) -> Vec<Batch> {
        let mut expired = Vec::new();
        let mut kept = VecDeque::with_capacity(self.batches.len());
        for mut batch in self.batches.drain(..) {
            batch.attempts += 1;
            if batch.attempts >= max {
                self.spans -= batch.spans;
                self.bytes -= batch.bytes();
                expired.push(batch);
            } else {
                kept.push_back(batch);
            }
        }
        self.batches = kept;
        expired
    }

    /// Empties the queue; returns how many spans it held.
    pub(crate) fn clear(&mut self) -> usize {
        let spans = self.spans;
        self.batches.clear();
        self.spans = 0;
        self.bytes = 0;
        spans
    }
}

#[cfg(all(test, any(feature = "otlp-grpc", feature = "otlp-http")))]
mod tests {
    use super::*;

    fn batch(spans: usize, bytes: usize) -> Batch {
        Batch {
            payload: Payload::Encoded(bytes::Bytes::from(vec![0; bytes])),
            spans,
            attempts: 0,
            sent: false,
        }
    }

    #[test]
    fn batches_come_out_in_order_retries_first() {
        let mut queue = BatchQueue::default();
        queue.push(batch(1, 10));
        queue.push(batch(2, 20));
        assert_eq!((queue.len(), queue.bytes()), (3, 30));
        let first = queue.pop().unwrap();
        assert_eq!(first.spans, 1);
        queue.push_front(first);
        assert_eq!(queue.pop().unwrap().spans, 1);
        assert_eq!(queue.pop().unwrap().spans, 2);
        assert!(queue.pop().is_none() && queue.is_empty());
        assert_eq!((queue.len(), queue.bytes()), (0, 0));
    }

    #[test]
    fn expire_takes_out_the_batches_out_of_attempts() {
        let mut queue = BatchQueue::default();
        queue.push(batch(1, 10));
        let mut old = batch(2, 20);
        old.attempts = 3;
        queue.push_front(old);
        let expired = queue.expire(4);
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].spans, 2);
        assert_eq!((queue.len(), queue.bytes()), (1, 10));
        assert_eq!(queue.pop().unwrap().attempts, 1);
    }

    #[test]
    fn clear_counts_what_it_dropped() {
        let mut queue = BatchQueue::default();
        queue.push(batch(3, 1));
        queue.push(batch(4, 1));
        assert_eq!(queue.clear(), 7);
        assert!(queue.is_empty() && queue.bytes() == 0);
    }
}
