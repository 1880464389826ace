//! Patterns as arguments of an `async fn`: tuples, structs, slices, `mut`, `ref`, `_` and `x @`.
//! As in an `async fn`, every argument lives in the future until it completes (`_` included).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Point {
    x: i64,
    y: i64,
}

/// Counts its drops.
struct Token(Arc<AtomicUsize>);

impl Drop for Token {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[tracewire::traced(fields(a))]
async fn patterns(
    (a, b): (i64, i64),
    Point { x, y: why }: Point,
    [first, ..]: [u8; 3],
    mut count: u32,
    ref name: String,
    all @ (_, _): (u8, u8),
) -> i64 {
    count += 1;
    a + b + x + why + i64::from(first) + i64::from(count) + name.len() as i64 + i64::from(all.0)
}

#[tracewire::traced]
async fn ignored(_: Token, _unused: Token, drops: Arc<AtomicUsize>) -> usize {
    tokio::task::yield_now().await;
    drops.load(Ordering::SeqCst) // neither token is dropped before the body ran
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let total = runtime.block_on(patterns(
        (1, 2),
        Point { x: 3, y: 4 },
        [5, 6, 7],
        0,
        "ab".to_owned(),
        (8, 9),
    ));
    assert_eq!(total, 1 + 2 + 3 + 4 + 5 + 1 + 2 + 8);
    let drops = Arc::new(AtomicUsize::new(0));
    let future = ignored(Token(drops.clone()), Token(drops.clone()), drops.clone());
    assert_eq!(drops.load(Ordering::SeqCst), 0, "the call keeps the arguments");
    assert_eq!(runtime.block_on(future), 0);
    assert_eq!(drops.load(Ordering::SeqCst), 2, "dropped with the future");
}
