//! A `#[traced]` async fn takes its parent from the span current when it is *called*, so its span
//! stays in the caller's trace when the future is first polled somewhere nothing is current: a
//! plain `tokio::spawn` on a multi-thread runtime, a plain `std::thread::spawn` of a `block_on`, a
//! `futures::executor::ThreadPool`. A span current at the first poll does not change that parent
//! (a wrapper span is a sibling, a worker of another trace is not the parent), unless nothing was
//! current at the call. The shapes that keep first-poll semantics (an attribute macro below
//! `#[traced]`) are held here too.
//!
//! Each test prints the span tree it checks (`cargo test --test NAME -- --nocapture`).
#![cfg(feature = "testing")]

mod recording;
mod support;

use std::collections::HashMap;

use recording::{attribute, record};
use tracewire::opentelemetry_sdk::trace::SpanData;
use tracewire::{FutureExt as _, SpanId, traced};

#[traced(fields(n))]
async fn leaf(n: i64) -> i64 {
    tokio::task::yield_now().await;
    n
}

/// The example: `join!` and a plain `tokio::spawn` in one parent.
#[traced]
async fn parent() -> i64 {
    let (a, b) = tokio::join!(leaf(1), leaf(2));
    let c = tokio::spawn(leaf(3)).await.expect("task");
    a + b + c
}

/// A sync parent that hands the future to a thread of its own, which polls it with `block_on`.
#[traced]
fn thread_parent() -> i64 {
    let future = leaf(4); // called here, polled there
    std::thread::spawn(move || futures_executor::block_on(future))
        .join()
        .expect("thread")
}

/// A parent that spawns on a `futures` thread pool and waits for the result on a channel.
#[traced]
fn pool_parent(pool: &futures_executor::ThreadPool) -> i64 {
    let (tx, rx) = std::sync::mpsc::channel();
    let future = leaf(5);
    pool.spawn_ok(async move {
        let _ = tx.send(future.await);
    });
    rx.recv_timeout(std::time::Duration::from_secs(10))
        .expect("the pool ran the task")
}

#[async_trait::async_trait]
trait Store {
    async fn load(&self, n: i64) -> i64;
}

struct Memory;

#[async_trait::async_trait]
impl Store for Memory {
    #[traced(fields(n))]
    async fn load(&self, n: i64) -> i64 {
        tokio::task::yield_now().await;
        n
    }
}

trait Handler {
    async fn handle(&self, n: i64) -> i64;
}

impl Handler for Memory {
    #[traced(fields(n))]
    async fn handle(&self, n: i64) -> i64 {
        tokio::task::yield_now().await;
        n
    }
}

/// `#[async_trait]` methods (boxed futures) and async fns in traits, spawned plainly.
#[traced]
async fn trait_parent(store: &'static (dyn Store + Sync), handler: &'static Memory) -> i64 {
    let boxed = store.load(8); // the parent is captured before the boxing
    let a = tokio::spawn(boxed).await.expect("task");
    let b = tokio::spawn(handler.handle(9)).await.expect("task");
    a + b
}

/// The spans as an indented tree: each span's name (and `n` when it has one), children sorted,
/// roots in the order given by their names. A span whose parent was not exported is a root.
fn tree(spans: &[SpanData]) -> String {
    let ids: Vec<SpanId> = spans.iter().map(|s| s.span_context.span_id()).collect();
    let mut children: HashMap<SpanId, Vec<&SpanData>> = HashMap::new();
    let mut roots = Vec::new();
    for span in spans {
        if ids.contains(&span.parent_span_id) {
            children.entry(span.parent_span_id).or_default().push(span);
        } else {
            roots.push(span);
        }
    }
    fn label(span: &SpanData) -> String {
        match attribute(span, "n") {
            Some(n) => format!("{} n={n}", span.name),
            None => span.name.to_string(),
        }
    }
    fn write(
        out: &mut String,
        span: &SpanData,
        depth: usize,
        children: &HashMap<SpanId, Vec<&SpanData>>,
    ) {
        out.push_str(&"  ".repeat(depth));
        out.push_str(&label(span));
        out.push('\n');
        let mut kids = children
            .get(&span.span_context.span_id())
            .cloned()
            .unwrap_or_default();
        kids.sort_by_key(|s| label(s));
        for kid in kids {
            assert_eq!(kid.span_context.trace_id(), span.span_context.trace_id());
            write(out, kid, depth + 1, children);
        }
    }
    roots.sort_by_key(|s| label(s));
    let mut out = String::new();
    for root in roots {
        write(&mut out, root, 0, &children);
    }
    out
}

#[track_caller]
fn assert_tree(spans: &[SpanData], expected: &str) {
    let tree = tree(spans);
    println!("{tree}");
    assert_eq!(tree, expected, "span tree");
}

#[test]
fn plain_tokio_spawn_keeps_the_parent() {
    let _serial = support::serial();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let (sum, spans) = record(|| runtime.block_on(parent()));
    assert_eq!(sum, 6);
    assert_tree(&spans, "parent\n  leaf n=1\n  leaf n=2\n  leaf n=3\n");
}

#[test]
fn plain_tokio_spawn_of_trait_methods_keeps_the_parent() {
    let _serial = support::serial();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let (value, spans) = record(|| runtime.block_on(trait_parent(&Memory, &Memory)));
    assert_eq!(value, 17);
    assert_tree(&spans, "trait_parent\n  handle n=9\n  load n=8\n");
}

#[test]
fn plain_std_thread_spawn_of_a_block_on_keeps_the_parent() {
    let _serial = support::serial();
    let (value, spans) = record(thread_parent);
    assert_eq!(value, 4);
    assert_tree(&spans, "thread_parent\n  leaf n=4\n");
}

#[test]
fn a_futures_executor_spawn_keeps_the_parent() {
    let _serial = support::serial();
    let pool = futures_executor::ThreadPool::builder()
        .pool_size(1)
        .create()
        .expect("pool");
    let (value, spans) = record(|| pool_parent(&pool));
    assert_eq!(value, 5);
    assert_tree(&spans, "pool_parent\n  leaf n=5\n");
}

#[test]
fn a_wrapper_span_at_the_first_poll_does_not_change_the_parent_taken_at_the_call() {
    let _serial = support::serial();
    let (_, spans) = record(|| {
        let request = tracewire::span("request");
        let _entered = request.enter();
        // Called inside `request`, first polled inside `wrapper`, a child of `request`: the
        // function's span is a child of `request` (a sibling of `wrapper`).
        futures_executor::block_on(leaf(6).in_span(tracewire::span("wrapper")))
    });
    assert_tree(&spans, "request\n  leaf n=6\n  wrapper\n");
}

#[test]
fn called_outside_any_span_the_span_current_at_the_first_poll_is_the_parent() {
    let _serial = support::serial();
    let (_, spans) = record(|| {
        let future = leaf(7); // nothing is current here
        futures_executor::block_on(future.in_span(tracewire::span("wrapper")))
    });
    assert_tree(&spans, "wrapper\n  leaf n=7\n");
}

#[test]
fn a_span_of_another_trace_current_at_the_first_poll_is_not_the_parent() {
    let _serial = support::serial();
    let (_, spans) = record(|| {
        let future = {
            let request = tracewire::span("request");
            let _entered = request.enter();
            leaf(8)
        };
        // A worker of its own trace polls a future made for the request.
        let worker = tracewire::span_builder("worker").root().start();
        let _entered = worker.enter();
        futures_executor::block_on(future)
    });
    assert_tree(&spans, "request\n  leaf n=8\nworker\n");
}

/// `#[traced]` above an attribute macro it does not know (which may need an `async fn`, as
/// `#[tokio::main]` does) keeps the `async fn`, so its span takes its parent at the first poll.
#[traced]
#[tracing::instrument(skip_all)]
async fn first_poll_leaf(n: i64) -> i64 {
    tokio::task::yield_now().await;
    n
}

#[traced]
async fn first_poll_parent() -> i64 {
    let a = first_poll_leaf(1).await; // polled in place: a child
    let b = tokio::spawn(first_poll_leaf(2)).await.expect("task"); // polled on a worker: a root
    a + b
}

#[test]
fn an_async_fn_with_an_attribute_macro_below_traced_keeps_first_poll_semantics() {
    let _serial = support::serial();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let (sum, spans) = record(|| runtime.block_on(first_poll_parent()));
    assert_eq!(sum, 3);
    assert_tree(
        &spans,
        "first_poll_leaf\nfirst_poll_parent\n  first_poll_leaf\n",
    );
}
