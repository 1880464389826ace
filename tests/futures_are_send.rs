//! Instrumented futures and streams are `Send` when what they wrap is (so they can be spawned on a
//! multi-thread runtime), and so are `#[traced]` async fns and methods: checked at compile time,
//! this file compiling is the test. `Unpin` follows the inner future too.
#![cfg(all(feature = "tokio", feature = "futures"))]

use tracewire::{Context, FutureExt as _, StreamExt as _, traced};

fn assert_send<T: Send>(_: &T) {}
fn assert_unpin<T: Unpin>(_: &T) {}

#[traced(err, ret, fields(id))]
async fn load(id: u64) -> Result<u64, String> {
    tokio::task::yield_now().await;
    Ok(id)
}

struct Service {
    name: String,
}

impl Service {
    #[traced(fields(name = self.name.as_str()))]
    async fn call(&self, input: &str) -> usize {
        tokio::task::yield_now().await;
        input.len() + self.name.len()
    }
}

#[test]
fn wrappers_and_traced_async_fns_are_send() {
    let future = async { 1 }.in_span(tracewire::span("x"));
    assert_send(&future);
    assert_send(&async { 1 }.in_current_span());
    assert_send(&async { 1 }.with_context(Context::current()));
    assert_send(&load(1));
    let service = Service {
        name: "svc".to_owned(),
    };
    assert_send(&service.call("input"));
    assert_send(&futures_util::stream::iter([1, 2]).in_span(tracewire::span("s")));
}

#[test]
fn wrappers_are_unpin_when_the_inner_future_is() {
    assert_unpin(&std::future::ready(1).in_span(tracewire::span("x")));
    assert_unpin(&std::future::ready(1).in_current_span());
}
