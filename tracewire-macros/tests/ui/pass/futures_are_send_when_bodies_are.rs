//! An instrumented `async fn`'s future is `Send` exactly when its body is: it can be given to
//! `tokio::spawn` (which needs `Send + 'static`) whenever the plain `async fn` could be. The other
//! half, a body that is not `Send`, is `ui/fail/not_send_body.rs`.

use std::rc::Rc;
use std::sync::Arc;

fn assert_send<T: Send>(_: &T) {}

#[tracewire::traced]
async fn owned(n: u64, name: String) -> String {
    tokio::task::yield_now().await;
    format!("{name}{n}")
}

struct Service {
    prefix: Arc<str>,
}

impl Service {
    #[tracewire::traced(fields(n))]
    async fn call(&self, n: u64) -> String {
        tokio::task::yield_now().await;
        format!("{}{n}", self.prefix)
    }
}

#[tracewire::traced]
async fn generic<T: Clone + Send + Sync>(value: &T) -> T {
    tokio::task::yield_now().await;
    value.clone()
}

#[tracewire::traced]
async fn not_send_inside_but_not_across_awaits() -> usize {
    let len = {
        let local = Rc::new(3); // dropped before the `.await`: the future stays `Send`
        *local
    };
    tokio::task::yield_now().await;
    len
}

trait Handler {
    async fn handle(&self, n: u64) -> u64;
}

impl Handler for Service {
    #[tracewire::traced]
    async fn handle(&self, n: u64) -> u64 {
        tokio::task::yield_now().await;
        n + self.prefix.len() as u64
    }
}

fn main() {
    let service = Service { prefix: "s".into() };
    assert_send(&owned(1, String::new()));
    assert_send(&service.call(1));
    assert_send(&generic(&5));
    assert_send(&not_send_inside_but_not_across_awaits());
    assert_send(&service.handle(1));

    // `tokio::spawn` needs `Send + 'static` on any runtime.
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let spawned = runtime.block_on(async {
        let service = Arc::new(Service { prefix: "s".into() });
        let a = tokio::spawn(owned(1, "a".to_owned()));
        let b = tokio::spawn({
            let service = service.clone();
            async move { service.call(2).await }
        });
        let c = tokio::spawn(not_send_inside_but_not_across_awaits());
        (a.await.unwrap(), b.await.unwrap(), c.await.unwrap())
    });
    assert_eq!(spawned, ("a1".to_owned(), "s2".to_owned(), 3));
}
