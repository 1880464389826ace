//! A body holding an `Rc` across an `.await` is not `Send`, and neither is the instrumented future:
//! `tokio::spawn` refuses it, as it refuses the plain `async fn`.

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
