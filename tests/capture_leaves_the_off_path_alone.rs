//! A capture changes nothing for code outside it: with tracing off, spans on other threads still
//! record nothing and allocate nothing while a capture runs elsewhere, and once every capture has
//! ended the off path is back to its single relaxed load (nothing records, nothing allocates). A
//! counting global allocator (this binary's own) counts the test thread's allocations.
#![cfg(feature = "testing")]

mod counting_allocator;

use std::sync::mpsc::channel;

use counting_allocator::allocations_in;

fn record_spans(count: usize) -> bool {
    let mut any_recording = false;
    let parent = tracewire::span("parent");
    let _entered = parent.enter();
    for i in 0..count {
        let span = tracewire::span("child");
        span.set_attribute("index", i as i64);
        span.add_event("step", Vec::new());
        any_recording |= span.is_recording();
        span.end();
    }
    any_recording | parent.is_recording()
}

#[test]
fn spans_outside_a_capture_stay_off_and_allocate_nothing() {
    let mut recording = false;
    assert_eq!(allocations_in(|| recording = record_spans(1_000)), 0);
    assert!(!recording);

    let (started_tx, started_rx) = channel();
    let (finish_tx, finish_rx) = channel::<()>();
    let capturer = std::thread::spawn(move || {
        let ((), spans) = tracewire::testing::capture(|| {
            tracewire::in_span("captured", |_| ());
            started_tx.send(()).unwrap();
            finish_rx.recv().unwrap();
        });
        spans.names().len()
    });
    started_rx.recv().unwrap();
    // A capture is active on another thread: this thread's spans are not part of it.
    assert_eq!(allocations_in(|| recording = record_spans(1_000)), 0);
    assert!(!recording, "spans outside the capture must not record");
    finish_tx.send(()).unwrap();
    assert_eq!(capturer.join().unwrap(), 1);

    assert_eq!(allocations_in(|| recording = record_spans(1_000)), 0);
    assert!(!recording);
}
