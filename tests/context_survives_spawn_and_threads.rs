//! Spawned work keeps its parent: `tracewire::spawn` on a multi-thread runtime (tasks that move
//! between worker threads), `tracewire::spawn_blocking`, `std::thread::spawn` with
//! `Context::wrap`, rayon's pool (`Context::in_scope` in parallel closures, `Context::wrap` for
//! `rayon::spawn`), a channel message that carries its `Context`, and a future wrapped with
//! `in_current_span`. Without them, spawned work starts a new trace (the check that these tests can
//! fail), except a `#[traced]` async fn, which takes its parent when it is called (see
//! `traced_async_fns_keep_the_parent_of_their_call.rs`).
#![cfg(all(feature = "testing", feature = "tokio"))]

mod recording;
mod support;

use std::time::Duration;

use recording::{all, assert_children, record};
use tracewire::{Baggage, Context, FutureExt as _, KeyValue, SpanId, traced};

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("runtime")
}

#[traced(fields(task))]
async fn worker(task: i64) -> i64 {
    for _ in 0..5 {
        tokio::task::yield_now().await; // may resume on the other worker thread
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let step = tracewire::span("worker step"); // a child of worker, on whatever thread
    drop(step);
    task
}

#[traced]
async fn fan_out() -> i64 {
    let handles: Vec<_> = (0..4).map(|task| tracewire::spawn(worker(task))).collect();
    let mut sum = 0;
    for handle in handles {
        sum += handle.await.expect("task");
    }
    sum
}

#[test]
fn tasks_spawned_with_tracewire_spawn_keep_their_parent() {
    let _serial = support::serial();
    let runtime = multi_thread();
    let (sum, spans) = record(|| runtime.block_on(fan_out()));
    assert_eq!(sum, 6);
    assert_eq!(all(&spans, "worker").len(), 4);
    assert_children(&spans, "worker", "fan_out");
    for step in all(&spans, "worker step") {
        let parent_is_a_worker = all(&spans, "worker")
            .iter()
            .any(|w| w.span_context.span_id() == step.parent_span_id);
        assert!(parent_is_a_worker, "{step:#?}");
    }
}

#[traced]
async fn fan_out_without_context() {
    // Plain tokio::spawn: the context stays behind, but `worker(0)` was called here, and a
    // `#[traced]` async fn takes its parent at the call.
    let traced = tokio::spawn(worker(0));
    // A future that is not a `#[traced]` fn has nothing to carry: its span starts at its first
    // poll on a worker thread, where nothing is current.
    let untraced = tokio::spawn(async {
        tokio::task::yield_now().await;
        drop(tracewire::span("untraced step"));
    });
    traced.await.expect("task");
    untraced.await.expect("task");
}

#[test]
fn plain_tokio_spawn_keeps_the_parent_of_traced_fns_only() {
    let _serial = support::serial();
    let runtime = multi_thread();
    let (_, spans) = record(|| runtime.block_on(fan_out_without_context()));
    assert_children(&spans, "worker", "fan_out_without_context");
    assert_eq!(
        recording::one(&spans, "untraced step").parent_span_id,
        SpanId::INVALID
    );
}

#[test]
fn in_current_span_carries_the_context_into_tokio_spawn() {
    let _serial = support::serial();
    let runtime = multi_thread();
    let (_, spans) = record(|| {
        runtime.block_on(async {
            let parent = tracewire::span("parent");
            let handle = {
                let _entered = parent.enter();
                tokio::spawn(worker(1).in_current_span())
            };
            handle.await.expect("task");
        })
    });
    assert_children(&spans, "worker", "parent");
}

#[traced]
fn hash(input: &str) -> u64 {
    input.bytes().map(u64::from).sum()
}

#[test]
fn blocking_work_threads_and_channel_messages_keep_their_parent() {
    let _serial = support::serial();
    let runtime = multi_thread();
    let (_, spans) = record(|| {
        let parent = tracewire::span("parent");
        let _entered = parent.enter();

        // tokio's blocking pool
        let blocking = runtime.block_on(async {
            tracewire::spawn_blocking(|| hash("blocking"))
                .await
                .expect("blocking task")
        });
        assert_eq!(blocking, 841); // the byte sum of "blocking"

        // a thread
        std::thread::spawn(Context::current().wrap(|| hash("thread")))
            .join()
            .expect("thread");

        // a channel message that carries its context (and baggage) to the consumer thread
        let (tx, rx) = std::sync::mpsc::channel::<(Context, &'static str)>();
        let consumer = std::thread::spawn(move || {
            let mut tenants = Vec::new();
            while let Ok((cx, message)) = rx.recv() {
                let _attached = cx.attach();
                tenants.push(
                    Context::current()
                        .baggage()
                        .get("tenant")
                        .map(|v| v.to_string()),
                );
                hash(message);
            }
            tenants
        });
        let cx =
            Context::current().with_baggage(Baggage::from_iter([KeyValue::new("tenant", "acme")]));
        tx.send((cx, "message")).expect("send");
        drop(tx);
        let tenants = consumer.join().expect("consumer");
        assert_eq!(tenants, [Some("acme".to_owned())]);
    });
    assert_eq!(all(&spans, "hash").len(), 3);
    assert_children(&spans, "hash", "parent");
}

#[test]
fn rayon_closures_keep_their_parent() {
    let _serial = support::serial();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("pool");
    let (sums, spans) = record(|| {
        let parent = tracewire::span("parent");
        let _entered = parent.enter();
        let cx = Context::current();
        // Parallel closures run on the pool's threads (and maybe this one): each attaches the
        // shared context for the work it does.
        let sums: Vec<u64> = pool.install(|| {
            use rayon::prelude::*;
            ["a", "bb", "ccc", "dddd"]
                .par_iter()
                .map(|input| cx.in_scope(|| hash(input)))
                .collect()
        });
        // A fire-and-forget job: `wrap` moves the context in with it.
        let (tx, rx) = std::sync::mpsc::channel();
        pool.spawn(Context::current().wrap(move || {
            let _ = tx.send(hash("spawned"));
        }));
        let spawned = rx.recv_timeout(Duration::from_secs(10)).expect("job ran");
        (sums, spawned)
    });
    assert_eq!(sums.0, [97, 196, 297, 400]);
    assert_eq!(sums.1, 754); // the byte sum of "spawned"
    assert_eq!(all(&spans, "hash").len(), 5);
    assert_children(&spans, "hash", "parent");
}
