use tracewire::testing::InMemoryExporter;
use tracewire::{SpanKind, Value};

mod reexported {
    pub use tracewire as tw;
}

#[tracewire::traced(
    name = "custom name",
    kind = client,
    fields(a, b.len = b.len(), "quoted.key" = a * 2, r#type = "x", maybe = None::<i64>),
    err,
    ret,
)]
fn all(a: i64, b: &str) -> Result<i64, String> {
    Ok(a + b.len() as i64)
}

#[tracewire::traced(root, module_path, kind = producer)]
fn detached() {}

#[reexported::tw::traced(crate = reexported::tw, kind = consumer)]
fn via_reexport() {}

#[tracewire::traced(kind = server)]
fn server() {}

#[tracewire::traced(kind = internal)]
fn internal() {}

fn main() {
    let memory = InMemoryExporter::default();
    let guard = tracewire::Config::default().with_exporter(memory.clone()).init().unwrap();
    tracewire::in_span("outer", |_| {
        assert_eq!(all(2, "abc"), Ok(5));
        detached();
        via_reexport();
        server();
        internal();
    });
    guard.shutdown().unwrap();
    let span = memory.span_named("custom name").unwrap();
    assert_eq!(span.span_kind, SpanKind::Client);
    let get = |key: &str| span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.clone());
    assert_eq!(get("a"), Some(Value::I64(2)));
    assert_eq!(get("b.len"), Some(Value::I64(3)));
    assert_eq!(get("quoted.key"), Some(Value::I64(4)));
    assert_eq!(get("type"), Some(Value::from("x")));
    assert_eq!(get("maybe"), None);
    assert_eq!(get("return"), Some(Value::from("Ok(5)")));
    let detached = memory.spans().into_iter().find(|s| s.name.ends_with("::detached")).unwrap();
    assert_eq!(detached.name, format!("{}::detached", module_path!()));
    assert_eq!(detached.span_kind, SpanKind::Producer);
    let outer = memory.span_named("outer").unwrap();
    assert_ne!(detached.span_context.trace_id(), outer.span_context.trace_id());
    assert_eq!(memory.span_named("via_reexport").unwrap().span_kind, SpanKind::Consumer);
    assert_eq!(memory.span_named("server").unwrap().span_kind, SpanKind::Server);
    assert_eq!(memory.span_named("internal").unwrap().span_kind, SpanKind::Internal);
}
