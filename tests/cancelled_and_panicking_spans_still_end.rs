//! A span ends whatever happens to its work: a future that loses a `select!` (or is dropped) ends
//! its span marked `tracewire.cancelled = true` with no error status, the span being current while
//! the future is dropped; a panic inside an instrumented function (sync or async) ends the span with
//! an error status and an `exception` event carrying the panic message, and the panic keeps
//! unwinding to the caller. Streams end their span when they end.
#![cfg(all(feature = "testing", feature = "tokio", feature = "futures"))]

mod recording;
mod support;

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use recording::{attribute, current_thread, one, record};
use tracewire::opentelemetry_sdk::trace::SpanData;
use tracewire::{CANCELLED_KEY, FutureExt as _, Status, StreamExt as _, Value, traced};

/// Starts a span named `name` when dropped: shows what is current during the drop.
struct SpanOnDrop(&'static str);

impl Drop for SpanOnDrop {
    fn drop(&mut self) {
        drop(tracewire::span(self.0));
    }
}

#[traced]
async fn slow() {
    let _marker = SpanOnDrop("dropped with slow");
    tokio::time::sleep(Duration::from_secs(30)).await;
}

#[traced]
async fn fast() -> u8 {
    tokio::task::yield_now().await;
    1
}

#[test]
fn the_loser_of_a_select_ends_its_span_as_cancelled() {
    let _serial = support::serial();
    let (winner, spans) = record(|| {
        current_thread(async {
            tokio::select! {
                () = slow() => 0,
                value = fast() => value,
            }
        })
    });
    assert_eq!(winner, 1);
    let slow = one(&spans, "slow");
    assert_eq!(attribute(slow, CANCELLED_KEY), Some(Value::Bool(true)));
    assert_eq!(slow.status, Status::Unset, "cancellation is not an error");
    let fast = one(&spans, "fast");
    assert_eq!(attribute(fast, CANCELLED_KEY), None);
    // The span was current while the future was dropped.
    let marker = one(&spans, "dropped with slow");
    assert_eq!(marker.parent_span_id, slow.span_context.span_id());
}

#[test]
fn a_future_dropped_before_its_first_poll_ends_its_span_as_cancelled() {
    let _serial = support::serial();
    let (_, spans) = record(|| {
        let future = async {}.in_span(tracewire::span("never polled"));
        drop(future);
        // A completed future is not cancelled.
        current_thread(async {}.in_span(tracewire::span("completed")));
    });
    let never = one(&spans, "never polled");
    assert_eq!(attribute(never, CANCELLED_KEY), Some(Value::Bool(true)));
    assert_eq!(attribute(one(&spans, "completed"), CANCELLED_KEY), None);
}

#[traced(fields(order = id))]
fn explode(id: i64) -> i64 {
    if id > 0 {
        panic!("order {id} exploded");
    }
    id
}

#[traced]
async fn explode_later(id: i64) -> i64 {
    tokio::task::yield_now().await;
    explode(id)
}

#[track_caller]
fn assert_panicked(span: &SpanData, message: &str) {
    assert!(
        matches!(&span.status, Status::Error { description } if description.contains(message)),
        "{span:#?}"
    );
    let event = span
        .events
        .events
        .iter()
        .find(|e| e.name == "exception")
        .unwrap_or_else(|| panic!("no exception event in {span:#?}"));
    let get = |key: &str| {
        event
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.to_string())
    };
    assert_eq!(get("exception.type").as_deref(), Some("panic"));
    assert_eq!(get("exception.message").as_deref(), Some(message));
}

#[test]
fn a_panic_ends_the_span_records_the_message_and_keeps_unwinding() {
    let _serial = support::serial();
    let (caught, spans) = record(|| std::panic::catch_unwind(|| explode(7)));
    let payload = caught.expect_err("the panic reached the caller");
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("order 7 exploded")
    );
    let span = one(&spans, "explode");
    assert_panicked(span, "order 7 exploded");
    assert_eq!(attribute(span, "order"), Some(Value::I64(7)));
    assert!(
        !tracewire::current_span_context().is_valid(),
        "nothing left current"
    );

    // Async: the panic leaves the task (tokio reports it) and both spans end.
    let (joined, spans) = record(|| current_thread(async { tokio::spawn(explode_later(3)).await }));
    assert!(joined.expect_err("task panicked").is_panic());
    assert_panicked(one(&spans, "explode"), "order 3 exploded");
    let outer = one(&spans, "explode_later");
    assert_panicked(outer, "order 3 exploded");
    assert_eq!(
        one(&spans, "explode").parent_span_id,
        outer.span_context.span_id()
    );

    // No panic: no error.
    let (value, spans) = record(|| explode(0));
    assert_eq!(value, 0);
    assert_eq!(one(&spans, "explode").status, Status::Unset);
}

#[test]
fn a_panic_in_a_future_polled_by_hand_still_ends_its_span() {
    let _serial = support::serial();
    let (caught, spans) = record(|| {
        let mut future = Box::pin(explode_later(5));
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        assert!(future.as_mut().poll(&mut cx).is_pending());
        let caught = std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut cx)));
        drop(future); // after the panic: not marked cancelled
        caught
    });
    assert!(caught.is_err());
    let outer = one(&spans, "explode_later");
    assert_panicked(outer, "order 5 exploded");
    assert_eq!(attribute(outer, CANCELLED_KEY), None);
}

#[test]
fn a_stream_span_is_current_during_each_poll_and_ends_with_the_stream() {
    use futures_util::StreamExt as _;
    let _serial = support::serial();
    let (items, spans) = record(|| {
        current_thread(async {
            let stream = futures_util::stream::iter(1..=3)
                .then(|n| async move {
                    drop(tracewire::span("item"));
                    n
                })
                .in_span(tracewire::span("stream"));
            let items: Vec<i32> = stream.collect().await;
            // Dropped after two items: cancelled.
            let mut partial = Box::pin(
                futures_util::stream::iter(1..=3).in_span(tracewire::span("partial stream")),
            );
            assert_eq!(partial.next().await, Some(1));
            drop(partial);
            items
        })
    });
    assert_eq!(items, [1, 2, 3]);
    let stream = one(&spans, "stream");
    let items: Vec<_> = spans.iter().filter(|s| s.name == "item").collect();
    assert_eq!(items.len(), 3);
    assert!(
        items
            .iter()
            .all(|i| i.parent_span_id == stream.span_context.span_id())
    );
    assert_eq!(attribute(stream, CANCELLED_KEY), None);
    let partial = one(&spans, "partial stream");
    assert_eq!(attribute(partial, CANCELLED_KEY), Some(Value::Bool(true)));
}
