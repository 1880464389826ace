//! `#[traced]` functions build the span tree their calls make: nested async fns joined with
//! `tokio::join!` keep their own parents although one task polls them in turn, recursion nests, and
//! methods of generic impls, `async fn` in traits and `#[async_trait]` methods are children of their
//! caller. Checked on the spans the in-memory exporter receives.
#![cfg(all(feature = "testing", feature = "tokio"))]

mod recording;
mod support;

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;

use recording::{assert_children, attribute, current_thread, one, record};
use tracewire::opentelemetry_sdk::trace::SpanData;
use tracewire::{SpanId, Value, traced};

// ------------------------------------------------------------------------------------------------
// tokio::join!

#[traced]
async fn handler() -> u32 {
    let (a, b) = tokio::join!(step_a(), step_b());
    a + b
}

#[traced]
async fn step_a() -> u32 {
    tokio::task::yield_now().await; // step_b is polled while step_a waits
    leaf_a().await + 1
}

#[traced]
async fn step_b() -> u32 {
    tokio::task::yield_now().await;
    let value = leaf_b().await;
    tokio::task::yield_now().await;
    value + 2
}

#[traced]
async fn leaf_a() -> u32 {
    tokio::task::yield_now().await;
    10
}

#[traced]
async fn leaf_b() -> u32 {
    tokio::task::yield_now().await;
    20
}

#[test]
fn async_fns_joined_keep_their_own_parents() {
    let _serial = support::serial();
    let (value, spans) = record(|| current_thread(handler()));
    assert_eq!(value, 33);
    assert_eq!(spans.len(), 5, "{spans:#?}");
    assert_eq!(one(&spans, "handler").parent_span_id, SpanId::INVALID);
    assert_children(&spans, "step_a", "handler");
    assert_children(&spans, "step_b", "handler");
    assert_children(&spans, "leaf_a", "step_a");
    assert_children(&spans, "leaf_b", "step_b");
    // Nothing stays current once the future is done.
    assert!(!tracewire::current_span_context().is_valid());
}

// ------------------------------------------------------------------------------------------------
// Recursion

#[traced(fields(n))]
fn factorial(n: u64) -> u64 {
    if n <= 1 { 1 } else { n * factorial(n - 1) }
}

#[traced(fields(n))]
async fn countdown(n: i64) -> i64 {
    if n == 0 {
        return 0;
    }
    tokio::task::yield_now().await;
    1 + Box::pin(countdown(n - 1)).await
}

/// The spans of `name`, by their attribute `n`.
fn by_n<'a>(spans: &'a [SpanData], name: &str) -> HashMap<i64, &'a SpanData> {
    spans
        .iter()
        .filter(|s| s.name == name)
        .map(|s| match attribute(s, "n") {
            Some(Value::I64(n)) => (n, s),
            other => panic!("span {:?} has n = {other:?}", s.name),
        })
        .collect()
}

#[track_caller]
fn assert_chain(spans: &[SpanData], name: &str, from: i64, to: i64) {
    let by_n = by_n(spans, name);
    assert_eq!(by_n.len() as i64, from - to + 1, "{spans:#?}");
    assert_eq!(by_n[&from].parent_span_id, SpanId::INVALID);
    for n in to..from {
        assert_eq!(
            by_n[&n].parent_span_id,
            by_n[&(n + 1)].span_context.span_id(),
            "{name}({n}) should be a child of {name}({})",
            n + 1
        );
    }
}

#[test]
fn recursion_nests_each_call_under_the_one_before() {
    let _serial = support::serial();
    let (value, spans) = record(|| factorial(6));
    assert_eq!(value, 720);
    assert_chain(&spans, "factorial", 6, 1);

    let (value, spans) = record(|| current_thread(countdown(5)));
    assert_eq!(value, 5);
    assert_chain(&spans, "countdown", 5, 0);
}

// ------------------------------------------------------------------------------------------------
// A method on a generic impl

struct Cache<K, V> {
    entries: HashMap<K, V>,
}

impl<K, V> Cache<K, V>
where
    K: Hash + Eq + Debug,
    V: Clone,
{
    #[traced(fields(key = format!("{key:?}"), size = self.entries.len()))]
    fn get(&self, key: &K) -> Option<V> {
        self.entries.get(key).cloned()
    }

    #[traced(err, name = "cache.load")]
    async fn load(&mut self, key: K, value: V) -> Result<V, String> {
        tokio::task::yield_now().await;
        if self.entries.contains_key(&key) {
            return Err(format!("{key:?} is already cached"));
        }
        self.entries.insert(key, value.clone());
        Ok(value)
    }
}

#[test]
fn methods_of_generic_impls_are_children_of_their_caller() {
    let _serial = support::serial();
    let mut cache = Cache {
        entries: HashMap::new(),
    };
    let (_, spans) = record(|| {
        tracewire::in_span("request", |_| {
            assert_eq!(cache.get(&"missing"), None::<u32>);
            let loaded = current_thread(cache.load("k", 7));
            assert_eq!(loaded, Ok(7));
            assert!(current_thread(cache.load("k", 8)).is_err());
        })
    });
    assert_children(&spans, "get", "request");
    let get = one(&spans, "get");
    assert_eq!(attribute(get, "key"), Some(Value::from("\"missing\"")));
    assert_eq!(attribute(get, "size"), Some(Value::I64(0)));
    let loads: Vec<_> = spans.iter().filter(|s| s.name == "cache.load").collect();
    assert_eq!(loads.len(), 2);
    let request = one(&spans, "request").span_context.span_id();
    assert!(loads.iter().all(|s| s.parent_span_id == request));
    assert_eq!(loads[0].status, tracewire::Status::Unset);
    assert!(matches!(loads[1].status, tracewire::Status::Error { .. }));
    assert_eq!(loads[1].events.events[0].name, "exception");
}

// ------------------------------------------------------------------------------------------------
// async fn in traits and #[async_trait]

trait Store {
    async fn fetch(&self, id: u64) -> Option<u64>;
}

#[async_trait::async_trait]
trait DynStore: Send + Sync {
    async fn fetch_boxed(&self, id: u64) -> Result<u64, String>;
}

struct Numbers;

impl Store for Numbers {
    #[traced(fields(id))]
    async fn fetch(&self, id: u64) -> Option<u64> {
        tokio::task::yield_now().await;
        let inner = tracewire::span("inside fetch"); // a child of fetch: it is current
        drop(inner);
        Some(id * 2)
    }
}

#[async_trait::async_trait]
impl DynStore for Numbers {
    #[traced(err, fields(id))]
    async fn fetch_boxed(&self, id: u64) -> Result<u64, String> {
        tokio::task::yield_now().await;
        let inner = tracewire::span("inside fetch_boxed");
        drop(inner);
        if id == 0 {
            return Err("no id 0".to_owned());
        }
        Ok(id * 3)
    }
}

#[traced]
async fn use_stores(store: &dyn DynStore) -> (Option<u64>, Result<u64, String>) {
    (Numbers.fetch(2).await, store.fetch_boxed(2).await)
}

#[test]
fn trait_methods_and_async_trait_methods_are_children_of_their_caller() {
    let _serial = support::serial();
    let (value, spans) = record(|| current_thread(use_stores(&Numbers)));
    assert_eq!(value, (Some(4), Ok(6)));
    assert_children(&spans, "fetch", "use_stores");
    assert_children(&spans, "inside fetch", "fetch");
    assert_children(&spans, "fetch_boxed", "use_stores");
    assert_children(&spans, "inside fetch_boxed", "fetch_boxed");
    assert_eq!(attribute(one(&spans, "fetch"), "id"), Some(Value::I64(2)));
    assert_eq!(
        attribute(one(&spans, "fetch_boxed"), "id"),
        Some(Value::I64(2))
    );

    // The boxed future is what is instrumented: created and dropped unpolled, it leaves no span;
    // an error is recorded on the span of the future that returned it.
    let (_, spans) = record(|| {
        drop(Numbers.fetch_boxed(1));
        current_thread(Numbers.fetch_boxed(0))
    });
    assert_eq!(spans.len(), 2, "{spans:#?}");
    assert!(matches!(
        one(&spans, "fetch_boxed").status,
        tracewire::Status::Error { .. }
    ));
}
