use tracewire::testing::InMemoryExporter;

#[tracewire::traced]
async fn child(n: u64) -> u64 {
    n + 1
}

#[tracewire::traced]
async fn parent(name: String, n: &u64) -> String {
    let value = child(*n).await;
    format!("{name}{value}")
}

fn main() {
    let memory = InMemoryExporter::default();
    let guard = tracewire::Config::default().with_exporter(memory.clone()).init().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert_eq!(runtime.block_on(parent("n".to_owned(), &1)), "n2");
    guard.shutdown().unwrap();
    let parent = memory.span_named("parent").unwrap();
    let child = memory.span_named("child").unwrap();
    assert_eq!(child.parent_span_id, parent.span_context.span_id());
}
