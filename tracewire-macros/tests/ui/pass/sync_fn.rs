use tracewire::testing::InMemoryExporter;

#[tracewire::traced]
fn add(a: u32, b: u32) -> u32 {
    a + b
}

#[tracewire::traced]
fn nothing() {}

fn main() {
    let memory = InMemoryExporter::default();
    let guard = tracewire::Config::default().with_exporter(memory.clone()).init().unwrap();
    assert_eq!(add(2, 3), 5);
    nothing();
    guard.shutdown().unwrap();
    assert!(memory.span_named("add").is_some());
    assert!(memory.span_named("nothing").is_some());
    // arguments are not recorded unless listed
    assert!(memory.span_named("add").unwrap().attributes.is_empty());
}
