//! Threads that come and go while the collector is stuck leave no memory behind: 10,000 short-lived
//! threads, in bounded waves, each end a few spans while the exports in flight hang on a
//! collector that accepts the connection and never answers, and the export queue is small and full.
//! The rings of the exited threads are reclaimed and their spans counted as dropped (buffer full),
//! the peak RSS growth stays under a generous bound (it is printed), and after shutdown every span
//! is accounted for: `ended == exported + dropped + queued`.
//!
//! No timing is asserted: the waits are bounded polls, and the RSS bound is in bytes.

mod support;

use std::io::Read;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use support::Transport;

const THREADS: usize = 10_000;
const WAVE: usize = 100;
const SPANS_PER_THREAD: u64 = 5;
const MAX_QUEUE_SIZE: usize = 256;
const BATCH_SIZE: usize = 64;
/// Requests in flight at once: out of the queue while in flight, so they add to what is held.
const CONCURRENT_EXPORTS: usize = 4;
/// The most spans held while the collector is stuck: the queue and the requests in flight.
const HELD: usize = MAX_QUEUE_SIZE + CONCURRENT_EXPORTS * BATCH_SIZE;
/// Generous: a thread's ring starts at 64 slots of about 100 bytes, and exited threads' rings are
/// freed while the queue is full; without that, 10,000 rings stay behind.
const MAX_RSS_GROWTH: u64 = 48 << 20;
const SCENARIO_BOUND: Duration = Duration::from_secs(240);

/// `VmRSS` and `VmHWM` (peak RSS) of this process, in bytes.
fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map_or(0, |kib| kib * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A collector that accepts connections, reads what it is sent, and never answers.
fn half_open_collector() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        // Bounded: the exporter opens few connections (one export at a time, long timeout).
        for stream in listener.incoming().take(64).flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut sink = [0_u8; 16 * 1024];
                while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
            });
        }
    });
    format!("http://{address}")
}

#[test]
fn exited_threads_leave_no_rings_behind_while_the_collector_is_stuck() {
    let _serial = support::serial();
    let endpoint = half_open_collector();
    let config = support::config_to(Transport::Http, endpoint)
        .with_max_queue_size(MAX_QUEUE_SIZE)
        .with_max_export_batch_size(BATCH_SIZE)
        .with_max_concurrent_exports(CONCURRENT_EXPORTS)
        // Longer than the whole test: the first exports stay in flight, the queue stays full.
        .with_export_timeout(Duration::from_secs(600))
        .with_batch_export_timeout(Duration::from_secs(600))
        .with_shutdown_timeout(Duration::from_secs(1));
    let (stats, after, rss_before, rss_after) =
        support::bounded("thread churn", SCENARIO_BOUND, move || {
            let guard = config.init().expect("init");
            // Fill the queue and get the export stuck before measuring.
            for _ in 0..HELD {
                tracewire::span("fill").end();
            }
            std::thread::sleep(Duration::from_millis(300));
            let rss_before = rss();
            for wave in 0..THREADS / WAVE {
                let threads: Vec<_> = (0..WAVE)
                    .map(|i| {
                        std::thread::spawn(move || {
                            for n in 0..SPANS_PER_THREAD {
                                let span = tracewire::span("short-lived thread");
                                span.set_attribute("wave", wave as i64);
                                span.set_attribute("thread", i as i64);
                                span.set_attribute("n", n as i64);
                                span.end();
                            }
                        })
                    })
                    .collect();
                for thread in threads {
                    thread.join().expect("a span thread");
                }
            }
            // Every exited thread's ring is reclaimed within a few drains (every 100 ms).
            let started = Instant::now();
            let bound = HELD as u64;
            let mut stats = tracewire::stats();
            // Spans not yet settled: in the queue, in flight, or in rings.
            let held = |stats: &tracewire::Stats| {
                stats.spans_ended - stats.spans_exported - stats.dropped()
            };
            while held(&stats) > bound && started.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(50));
                stats = tracewire::stats();
            }
            let rss_after = rss();
            drop(guard);
            (stats, tracewire::stats(), rss_before, rss_after)
        });
    let growth = rss_after.1.saturating_sub(rss_before.0);
    println!(
        "VmRSS before {} KiB, after {} KiB; VmHWM before {} KiB, after {} KiB: peak growth {} KiB \
         for {THREADS} threads of {SPANS_PER_THREAD} spans",
        rss_before.0 >> 10,
        rss_after.0 >> 10,
        rss_before.1 >> 10,
        rss_after.1 >> 10,
        growth >> 10
    );
    println!("while stuck: {stats:?}");
    println!("after shutdown: {after:?}");

    let spans = (THREADS as u64) * SPANS_PER_THREAD + HELD as u64;
    assert_eq!(stats.spans_ended, spans, "{stats:#?}");
    assert_eq!(stats.spans_exported, 0, "{stats:#?}");
    // The exited threads' spans are counted as dropped while the collector is stuck, not held.
    assert!(
        stats.dropped_buffer_full >= spans - HELD as u64,
        "exited threads' spans still held, not counted: {stats:#?}"
    );
    assert!(stats.queued <= HELD as u64, "{stats:#?}");
    assert!(
        growth < MAX_RSS_GROWTH,
        "peak RSS grew by {} KiB (bound {} KiB)",
        growth >> 10,
        MAX_RSS_GROWTH >> 10
    );
    // After shutdown: nothing queued, every span exported or dropped for a counted reason.
    assert_eq!(after.queued, 0, "{after:#?}");
    assert_eq!(after.spans_ended, spans, "{after:#?}");
    support::assert_accounted(&after);
}
