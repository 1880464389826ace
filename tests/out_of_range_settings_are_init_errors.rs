//! Sizes and timeouts have documented bounds: a value past them is an init error naming the setting
//! and the value, never a crash later (a capacity overflow in `reserve_exact`, a ring buffer of
//! `usize::MAX` slots).

mod support;

use std::collections::HashMap;

use tracewire::InitError;
use tracewire::config::{MAX_EXPORT_BATCH_SIZE, MAX_QUEUE_SIZE, MAX_THREAD_BUFFER_SIZE};

fn init_from(vars: &[(&str, String)]) -> Result<tracewire::Guard, InitError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    tracewire::Config::from_lookup(|name| map.get(name).cloned())?
        .with_exporter_kind(tracewire::ExporterKind::None)
        .with_diagnostics(tracewire::DiagLevel::None)
        .init()
}

#[track_caller]
fn env_error(result: Result<tracewire::Guard, InitError>) -> (&'static str, String, String) {
    match result {
        Err(InitError::InvalidEnv {
            name,
            value,
            expected,
        }) => (name, value, expected),
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("should be refused"),
    }
}

#[test]
fn queue_and_batch_sizes_near_usize_max_are_refused() {
    let _serial = support::serial();
    let huge = usize::MAX.to_string();
    let (name, value, expected) = env_error(init_from(&[
        ("OTEL_BSP_MAX_QUEUE_SIZE", huge.clone()),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", huge.clone()),
    ]));
    assert_eq!(
        (name, value.as_str()),
        ("OTEL_BSP_MAX_QUEUE_SIZE", huge.as_str())
    );
    assert_eq!(expected, format!("expected at most {MAX_QUEUE_SIZE}"));

    let (name, value, expected) = env_error(init_from(&[
        ("OTEL_BSP_MAX_QUEUE_SIZE", MAX_QUEUE_SIZE.to_string()),
        (
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
            (usize::MAX - 1).to_string(),
        ),
    ]));
    assert_eq!(name, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE");
    assert_eq!(value, (usize::MAX - 1).to_string());
    assert_eq!(
        expected,
        format!("expected at most {MAX_EXPORT_BATCH_SIZE}")
    );

    // The bounds themselves work.
    let guard = init_from(&[
        ("OTEL_BSP_MAX_QUEUE_SIZE", MAX_QUEUE_SIZE.to_string()),
        (
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
            MAX_EXPORT_BATCH_SIZE.to_string(),
        ),
    ])
    .expect("the largest sizes are accepted");
    tracewire::span("work").end();
    tracewire::force_flush().expect("exported");
    assert_eq!(tracewire::stats().spans_exported, 1);
    drop(guard);
}

#[test]
fn queue_and_batch_sizes_from_code_are_bounded_too() {
    let _serial = support::serial();
    let err = tracewire::Config::default()
        .with_exporter_kind(tracewire::ExporterKind::None)
        .with_max_queue_size(usize::MAX)
        .with_max_export_batch_size(usize::MAX)
        .init()
        .map(drop)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "Config::with_max_queue_size = \"{}\": expected at most {MAX_QUEUE_SIZE}",
            usize::MAX
        )
    );
}

#[test]
fn a_thread_buffer_of_usize_max_is_refused() {
    let _serial = support::serial();
    let result = tracewire::Config::default()
        .with_exporter_kind(tracewire::ExporterKind::None)
        .with_thread_buffer_size(usize::MAX)
        .init();
    match result {
        Err(InitError::InvalidConfig {
            setting,
            value,
            expected,
        }) => {
            assert_eq!(setting, "Config::with_thread_buffer_size");
            assert_eq!(value, usize::MAX.to_string());
            assert_eq!(
                expected,
                format!("expected at most {MAX_THREAD_BUFFER_SIZE}")
            );
        }
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("should be refused"),
    }
    let guard = tracewire::Config::default()
        .with_exporter_kind(tracewire::ExporterKind::None)
        .with_thread_buffer_size(MAX_THREAD_BUFFER_SIZE)
        .init()
        .expect("the largest buffer is accepted");
    tracewire::span("work").end();
    tracewire::force_flush().expect("exported");
    drop(guard);
}
