//! tracewire's diagnostics never panic and never block the application, even when standard error is
//! a closed pipe or a full one that nobody reads. Some are raised on the application's thread,
//! inside `Span::drop` (a full span buffer): the test makes that happen in a child process (this
//! test binary, run again) whose standard error is such a pipe.

use std::io::{Read as _, Write as _};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD: &str = "TRACEWIRE_DIAG_CHILD";
/// A generous bound for the child's run; it takes well under a second when nothing blocks.
const CHILD_TIMEOUT: Duration = Duration::from_secs(30);

/// The child's work: spans far faster than a 16-span thread buffer drains, so that spans are
/// dropped and the warning is raised inside `Span::drop`; then a clean shutdown.
fn child_work() {
    let guard = tracewire::Config::default()
        .with_exporter_kind(tracewire::ExporterKind::None)
        .with_thread_buffer_size(16)
        .with_max_queue_size(16)
        .with_max_export_batch_size(16)
        .with_diagnostics(tracewire::DiagLevel::Warn)
        .init()
        .expect("init");
    for _ in 0..200_000 {
        tracewire::span("busy").end();
    }
    let stats = tracewire::stats();
    drop(guard);
    // Only reached when no diagnostic panicked or blocked.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "child done: {} spans dropped",
        stats.dropped_buffer_full
    );
    let _ = out.flush();
}

/// Runs the child with `stderr`, waits at most [`CHILD_TIMEOUT`], and returns its stdout; a child
/// that hangs is killed and fails the test.
///
/// The child is this test binary running only `test` (the test that called this), with [`CHILD`] set:
/// each test is its own child.
fn run_child(test: &str, stderr: Stdio) -> String {
    let exe = std::env::current_exe().expect("the test binary");
    let mut child = Command::new(exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("spawn the child");
    let started = Instant::now();
    // Bounded: at most CHILD_TIMEOUT / 20 ms turns.
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break status;
        }
        if started.elapsed() > CHILD_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the child did not finish within {CHILD_TIMEOUT:?}: a diagnostic blocked it");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stdout = String::new();
    if let Some(mut pipe) = child.stdout.take() {
        let _ = pipe.read_to_string(&mut stdout);
    }
    assert!(
        status.success(),
        "the child failed ({status}); its output:\n{stdout}"
    );
    stdout
}

#[test]
fn a_closed_stderr_pipe_never_panics_the_application() {
    if std::env::var_os(CHILD).is_some() {
        return child_work();
    }
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader); // every write to the child's stderr now fails with EPIPE
    let stdout = run_child(
        "a_closed_stderr_pipe_never_panics_the_application",
        writer.into(),
    );
    assert!(stdout.contains("child done"), "{stdout}");
    let dropped: u64 = stdout
        .split("child done: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        dropped > 0,
        "the child should have dropped spans (and warned): {stdout}"
    );
}

#[test]
fn a_full_stderr_pipe_never_blocks_the_application() {
    if std::env::var_os(CHILD).is_some() {
        return child_work();
    }
    let (reader, writer) = std::io::pipe().expect("a pipe");
    // Fill the pipe so that the child's first write would block; nobody reads it until the end.
    let mut filler = writer.try_clone().expect("clone the pipe");
    let filling = std::thread::spawn(move || {
        let chunk = [b'x'; 4096];
        // Blocks once the pipe is full; ends with EPIPE when the reader is dropped below.
        for _ in 0..1024 {
            if filler.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(100));
    let stdout = run_child(
        "a_full_stderr_pipe_never_blocks_the_application",
        writer.into(),
    );
    assert!(stdout.contains("child done"), "{stdout}");
    drop(reader);
    let _ = filling.join();
}
