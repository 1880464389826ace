//! `#[traced]` above another attribute macro that needs an `async fn` (here `#[tokio::main]`):
//! the function stays an `async fn` for that macro (and its span keeps first-poll semantics).

#[tracewire::traced]
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let memory = tracewire::testing::InMemoryExporter::default();
    drop(memory);
    tokio::task::yield_now().await;
}
