//! `testing::capture` needs no `init` and sees exactly the spans of the code it runs: on the
//! calling thread, and on the threads and tasks that code hands its context to. Captures running
//! in parallel never see each other's spans; with another test's `init` running, captured spans
//! are not exported and exported spans are not captured.
#![cfg(all(feature = "testing", feature = "tokio"))]

use std::collections::HashSet;
use std::sync::Mutex;

use tracewire::prelude::*;
use tracewire::testing::{InMemoryExporter, capture};
use tracewire::{Context, SpanContext, SpanId, SpanKind, TraceFlags, TraceId, TraceState};

/// Held by the test that calls `init` and by those that record spans outside any capture (which
/// that test's exporter would see); the others run alongside it on purpose.
static INIT: Mutex<()> = Mutex::new(());

fn outside_spans() -> std::sync::MutexGuard<'static, ()> {
    INIT.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn a_span_tree_on_the_calling_thread_is_captured_without_init() {
    let ((), spans) = capture(|| {
        tracewire::in_span("request", |span| {
            span.set_attribute("items", 2_i64);
            tracewire::in_span("load", |_| ());
            tracewire::in_span("render", |_| ());
        });
    });
    assert_eq!(spans.names(), ["load", "render", "request"]);
    let request = spans.span_named("request").expect("request");
    let children: Vec<_> = spans
        .children_of(request)
        .map(|s| s.name.as_ref())
        .collect();
    assert_eq!(children, ["load", "render"]);
    assert_eq!(spans.roots().count(), 1);
    assert_eq!(request.attributes[0].key.as_str(), "items");
}

#[test]
fn threads_given_the_context_are_captured_and_others_are_not() {
    let _outside = outside_spans();
    let ((), spans) = capture(|| {
        // Even with no span current, the context handed over carries the capture.
        let cx = Context::current();
        std::thread::spawn(cx.wrap(|| tracewire::in_span("root on a thread", |_| ())))
            .join()
            .unwrap();
        tracewire::in_span("parent", |parent| {
            let cx = Context::current();
            std::thread::spawn(cx.wrap(|| tracewire::in_span("wrapped", |_| ())))
                .join()
                .unwrap();
            let ctx = parent.context().clone();
            std::thread::spawn(move || {
                let _entered = ctx.enter();
                tracewire::in_span("entered", |_| ());
            })
            .join()
            .unwrap();
            // Not handed the context: not part of this capture.
            std::thread::spawn(|| tracewire::in_span("stranger", |_| ()))
                .join()
                .unwrap();
        });
    });
    let names: HashSet<_> = spans.names().into_iter().collect();
    assert_eq!(
        names,
        HashSet::from(["root on a thread", "wrapped", "entered", "parent"])
    );
    let parent = spans.span_named("parent").unwrap();
    assert_eq!(spans.children_of(parent).count(), 2);
}

#[test]
fn tasks_spawned_with_the_context_are_captured() {
    let _outside = outside_spans();
    let ((), spans) = capture(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        runtime.block_on(async {
            let parent = tracewire::span("handler");
            let _entered = parent.enter();
            tracewire::spawn(async { tracewire::in_span("spawned", |_| ()) })
                .await
                .unwrap();
            tracewire::spawn_blocking(|| tracewire::in_span("blocking", |_| ()))
                .await
                .unwrap();
            let future = async { tracewire::in_span("in current span", |_| ()) };
            tokio::spawn(future.in_current_span()).await.unwrap();
            tokio::spawn(async { tracewire::in_span("plain tokio::spawn", |_| ()) })
                .await
                .unwrap();
        });
    });
    let handler = spans.span_named("handler").expect("handler");
    let mut children: Vec<_> = spans
        .children_of(handler)
        .map(|s| s.name.as_ref())
        .collect();
    children.sort_unstable();
    assert_eq!(children, ["blocking", "in current span", "spawned"]);
    assert!(spans.span_named("plain tokio::spawn").is_none());
}

#[test]
fn a_child_of_a_captured_span_is_captured_wherever_it_starts() {
    let ((), spans) = capture(|| {
        let parent = tracewire::span("parent");
        let ctx = parent.context().clone();
        // Nothing entered on that thread: only the explicit parent ties the child to the capture.
        std::thread::spawn(move || {
            tracewire::span_builder("explicit child")
                .with_parent(&ctx)
                .start()
                .end();
        })
        .join()
        .unwrap();
    });
    assert_eq!(spans.names(), ["explicit child", "parent"]);
}

#[test]
fn a_span_with_a_remote_parent_is_captured() {
    let remote = SpanContext::new(
        TraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736_u128),
        SpanId::from(0x00f067aa0ba902b7_u64),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    let ((), spans) = capture(|| {
        tracewire::span_builder("GET /users/{id}")
            .with_kind(SpanKind::Server)
            .with_parent(&remote)
            .start()
            .end();
    });
    let server = spans.span_named("GET /users/{id}").expect("captured");
    assert_eq!(server.parent_span_id, remote.span_id());
    assert!(server.parent_span_is_remote);
}

#[test]
fn parallel_captures_never_mix() {
    let threads: Vec<_> = (0..6)
        .map(|t| {
            std::thread::spawn(move || {
                let ((), spans) = capture(|| {
                    for i in 0..200 {
                        tracewire::in_span(format!("t{t}-{i}"), |_| ());
                    }
                });
                let prefix = format!("t{t}-");
                assert_eq!(spans.spans().len(), 200);
                assert!(spans.names().iter().all(|n| n.starts_with(&prefix)));
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

#[test]
fn with_init_running_captured_spans_are_not_exported_nor_exported_ones_captured() {
    let _init = outside_spans();
    let memory = InMemoryExporter::default();
    let guard = tracewire::Config::default()
        .with_exporter(memory.clone())
        .with_diagnostics(tracewire::DiagLevel::None)
        .init()
        .expect("init");
    let ((), spans) = capture(|| {
        tracewire::in_span("insider", |_| ());
        std::thread::spawn(|| tracewire::in_span("outsider", |_| ()))
            .join()
            .unwrap();
    });
    tracewire::in_span("after the capture", |_| ());
    tracewire::force_flush().expect("flush");
    let stats = tracewire::stats();
    drop(guard);
    assert_eq!(spans.names(), ["insider"]);
    let exported: Vec<_> = memory.spans().into_iter().map(|s| s.name).collect();
    assert_eq!(exported, ["outsider", "after the capture"]);
    assert_eq!(
        stats.spans_started, 2,
        "captured spans are not counted: {stats:?}"
    );
}

#[test]
fn a_panicking_closure_ends_its_capture() {
    let result = std::panic::catch_unwind(|| {
        capture(|| {
            let _span = tracewire::span("doomed");
            panic!("boom");
        })
    });
    assert!(result.is_err());
    // The next capture starts clean and sees only its own spans.
    let ((), spans) = capture(|| tracewire::in_span("next", |_| ()));
    assert_eq!(spans.names(), ["next"]);
}
