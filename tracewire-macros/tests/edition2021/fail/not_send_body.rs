//! The edition 2021 copy of `ui/fail/not_send_body.rs` (trybuild names a file outside the crate
//! under test differently): a body holding an `Rc` across an `.await` is not `Send`, and neither is
//! the instrumented future.

use std::rc::Rc;

#[tracewire::traced]
async fn holds_rc_across_await() -> usize {
    let local = Rc::new(3);
    tokio::task::yield_now().await;
    *local
}

fn assert_send<T: Send>(_: T) {}

fn main() {
    assert_send(holds_rc_across_await());
}
