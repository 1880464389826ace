//! Flush and shutdown stay correct while other threads keep ending spans: a flush finishes and
//! delivers the caller's spans, every span is accounted for across repeated init and shutdown, and
//! the export thread goes away even after a shutdown gave up on a stuck exporter.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracewire::opentelemetry_sdk::error::OTelSdkResult;
use tracewire::opentelemetry_sdk::trace::{SpanData, SpanExporter};
use tracewire::{Config, DiagLevel};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Remembers span names; each export takes `delay` (cooperatively) or blocks its thread for `block`.
#[derive(Debug, Clone, Default)]
struct Recorder {
    names: Arc<Mutex<Vec<String>>>,
    delay: Duration,
    block: Duration,
}

impl SpanExporter for Recorder {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if !self.block.is_zero() {
            // A badly behaved exporter: blocks the export thread itself.
            std::thread::sleep(self.block);
        }
        tokio::time::sleep(self.delay).await;
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        names.extend(batch.into_iter().map(|span| span.name.into_owned()));
        Ok(())
    }
}

/// Ends spans on its own thread until stopped (at most `limit`).
fn background_load(stop: Arc<AtomicBool>, limit: usize) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut ended = 0;
        while !stop.load(Ordering::Relaxed) && ended < limit {
            tracewire::span("background").end();
            ended += 1;
            std::thread::sleep(Duration::from_micros(200));
        }
        ended
    })
}

#[test]
fn flush_finishes_under_steady_load_and_delivers_the_callers_spans() {
    let _serial = serial();
    let recorder = Recorder {
        delay: Duration::from_millis(2),
        ..Recorder::default()
    };
    let guard = Config::default()
        .with_exporter(recorder.clone())
        .with_max_export_batch_size(8)
        .with_diagnostics(DiagLevel::None)
        .init()
        .expect("init");
    let stop = Arc::new(AtomicBool::new(false));
    let load = background_load(Arc::clone(&stop), 100_000);
    std::thread::sleep(Duration::from_millis(50));
    for i in 0..5 {
        tracewire::span(format!("mine {i}")).end();
    }
    let flushed = tracewire::force_flush_timeout(Duration::from_secs(20));
    let delivered = recorder
        .names
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    stop.store(true, Ordering::Relaxed);
    load.join().expect("load thread");
    drop(guard);
    assert_eq!(flushed, Ok(()));
    for i in 0..5 {
        assert!(
            delivered.contains(&format!("mine {i}")),
            "mine {i} was not delivered by the flush"
        );
    }
}

#[test]
fn every_span_is_accounted_for_across_repeated_init_and_shutdown() {
    let _serial = serial();
    for round in 0..40 {
        let guard = Config::default()
            .with_exporter(Recorder::default())
            .with_diagnostics(DiagLevel::None)
            .init()
            .expect("init");
        let started = Arc::new(std::sync::Barrier::new(5));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let started = Arc::clone(&started);
                std::thread::spawn(move || {
                    // Start while running; end them while the guard drops.
                    let spans: Vec<_> = (0..200).map(|_| tracewire::span("racing")).collect();
                    started.wait();
                    // Spread the ends over a few milliseconds, so that they straddle the shutdown.
                    for span in spans {
                        span.end();
                        let pause = Instant::now();
                        while pause.elapsed() < Duration::from_micros(20) {
                            std::hint::spin_loop();
                        }
                    }
                })
            })
            .collect();
        started.wait();
        drop(guard); // races with the threads ending their spans
        for thread in threads {
            thread.join().expect("thread");
        }
        let stats = tracewire::stats();
        assert_eq!(stats.spans_ended, 800, "round {round}: {stats:?}");
        assert_eq!(
            stats.spans_ended,
            stats.spans_exported + stats.dropped() + stats.queued,
            "round {round}: {stats:?}"
        );
    }
}

/// Names of this process's threads (Linux).
fn thread_names() -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .collect()
}

#[test]
#[cfg(target_os = "linux")]
fn export_thread_exits_after_a_shutdown_that_gave_up() {
    let _serial = serial();
    let recorder = Recorder {
        block: Duration::from_millis(1500),
        ..Recorder::default()
    };
    let guard = Config::default()
        .with_exporter(recorder)
        .with_shutdown_timeout(Duration::from_millis(200))
        .with_diagnostics(DiagLevel::None)
        .init()
        .expect("init");
    tracewire::span("stuck").end();
    // The export of "stuck" blocks its thread for 1.5 s; shutdown gives up after 200 ms + grace.
    assert!(guard.shutdown().is_err());
    // Liveness: the thread must finish on its own once the exporter returns (bounded wait).
    let deadline = Instant::now() + Duration::from_secs(20);
    while thread_names()
        .iter()
        .any(|name| name.starts_with("tracewire-expor"))
    {
        assert!(
            Instant::now() < deadline,
            "the export thread is still running"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
