//! The bench's output: the markdown tables, from the children's results.

use std::fmt::Write as _;
use std::time::Duration;

use super::{Cell, LIBRARIES, OTEL_SDK, Outcome, PROTOCOLS, RATES, TRACEWIRE};

/// One child's result.
pub struct Row {
    pub cell: Cell,
    pub run: u64,
    pub outcome: Outcome,
}

impl Outcome {
    fn lost_share(&self) -> f64 {
        if self.created == 0 {
            return 0.0;
        }
        self.created.saturating_sub(self.delivered) as f64 / self.created as f64
    }

    fn made_per_sec(&self) -> f64 {
        self.created as f64 / self.window_secs.max(1e-9)
    }

    fn delivered_per_sec(&self) -> f64 {
        self.received_in_window as f64 / self.window_secs.max(1e-9)
    }

    fn caller_ns_per_span(&self) -> f64 {
        self.busy_ns as f64 / self.created.max(1) as f64
    }

    fn caller_cpu_ns_per_span(&self) -> f64 {
        self.busy_cpu_ns as f64 / self.created.max(1) as f64
    }
}

/// The machine: cores, CPU model, load average when the bench started.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, model)| model.trim())
        .to_owned();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!(
        "nproc {cores}, {model}, load average {} at start",
        load.join(" ")
    )
}

/// One line for the progress output.
pub fn summary(o: &Outcome) -> String {
    format!(
        "created {}, delivered {} ({} lost), {} delivered/s in the run, made {}/s, caller {} ns/span \
         ({} CPU), shutdown {} ms, {} requests{}",
        o.created,
        o.delivered,
        percent(o.lost_share()),
        per_sec(o.delivered_per_sec()),
        per_sec(o.made_per_sec()),
        ns(o.caller_ns_per_span()),
        ns(o.caller_cpu_ns_per_span()),
        o.shutdown_ms,
        o.requests,
        if o.bad_requests > 0 {
            format!(", {} BAD requests", o.bad_requests)
        } else {
            String::new()
        }
    )
}

fn percent(share: f64) -> String {
    if share == 0.0 {
        "0 %".into()
    } else if share < 0.0001 {
        "<0.01 %".into()
    } else if share < 0.01 {
        format!("{:.2} %", share * 100.0)
    } else {
        format!("{:.1} %", share * 100.0)
    }
}

fn per_sec(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{:.2}M", rate / 1e6)
    } else {
        format!("{:.0}k", rate / 1e3)
    }
}

fn ns(value: f64) -> String {
    if value < 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.0}")
    }
}

fn count(value: f64) -> String {
    format!("{value:.0}")
}

fn ratio(value: f64) -> String {
    format!("{value:.2}×")
}

/// `a–b` over the values (one figure when they print the same), `–` when there are none.
fn range(values: impl IntoIterator<Item = f64>, show: fn(f64) -> String) -> String {
    let values: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
    let (Some(min), Some(max)) = (
        values.iter().copied().reduce(f64::min),
        values.iter().copied().reduce(f64::max),
    ) else {
        return "–".into();
    };
    let (low, high) = (show(min), show(max));
    if low == high {
        low
    } else {
        // Keep one unit suffix: "1.5–3.3 %".
        match (low.split_once(' '), high.split_once(' ')) {
            (Some((l, unit)), Some((h, unit2))) if unit == unit2 => format!("{l}–{h} {unit}"),
            _ => format!("{low}–{high}"),
        }
    }
}

fn outcomes<'a>(rows: &'a [Row], library: &str, protocol: &str, rate: &str) -> Vec<&'a Row> {
    rows.iter()
        .filter(|r| {
            r.cell.library == library && r.cell.protocol == protocol && r.cell.rate_name == rate
        })
        .collect()
}

/// Ratios `f(tracewire) / f(opentelemetry_sdk)` of the runs where both ran.
fn ratios(rows: &[Row], protocol: &str, rate: &str, f: fn(&Outcome) -> f64) -> Vec<f64> {
    let ours = outcomes(rows, TRACEWIRE, protocol, rate);
    let theirs = outcomes(rows, OTEL_SDK, protocol, rate);
    ours.iter()
        .filter_map(|o| {
            let t = theirs.iter().find(|t| t.run == o.run)?;
            Some(f(&o.outcome) / f(&t.outcome))
        })
        .collect()
}

fn protocol_label(protocol: &str) -> &'static str {
    if protocol == "grpc" { "gRPC" } else { "HTTP" }
}

const RATIO_HEADER: &str = "\nRatios tracewire / opentelemetry_sdk, run by run (delivered/s: higher is better for \
         tracewire; caller cost: opentelemetry_sdk's ns/span over tracewire's, higher is better):\n\n\
         | offered | protocol | delivered/s | lost (tracewire; opentelemetry_sdk) | caller cost (wall) | caller cost (CPU) |\n\
         |---|---|---|---|---|---|\n";

/// The markdown report.
pub fn render(rows: &[Row], machine: &str, window: Duration, runs: u64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n### Delivery to an in-process OTLP receiver (benches/export.rs)\n\n\
         Machine: {machine}. Run window {} s per cell, {runs} run(s) per cell; ranges are over \
         the runs. Workload: a root span with {} children, 2 attributes each, on one thread; \
         default settings for both libraries.\n",
        window.as_secs(),
        super::CHILDREN
    );
    out.push_str(
        "| cell | made/s | created | delivered | lost | delivered/s (run) | caller ns/span | caller CPU ns/span | shutdown ms |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for (rate, _) in RATES {
        for protocol in PROTOCOLS {
            for library in LIBRARIES {
                let cell = outcomes(rows, library, protocol, rate);
                if cell.is_empty() {
                    continue;
                }
                let o = || cell.iter().map(|r| &r.outcome);
                let _ = writeln!(
                    out,
                    "| {library}/{protocol}/{rate} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    range(o().map(Outcome::made_per_sec), per_sec),
                    range(o().map(|o| o.created as f64), count),
                    range(o().map(|o| o.delivered as f64), count),
                    range(o().map(Outcome::lost_share), percent),
                    range(o().map(Outcome::delivered_per_sec), per_sec),
                    range(o().map(Outcome::caller_ns_per_span), ns),
                    range(o().map(Outcome::caller_cpu_ns_per_span), ns),
                    range(o().map(|o| o.shutdown_ms as f64), count),
                );
            }
        }
    }
    out.push_str(
        "\nIn the issue's shape (lost; delivered/s in the run; caller ns/span):\n\n\
         | offered | tracewire gRPC | opentelemetry_sdk gRPC | tracewire HTTP | opentelemetry_sdk HTTP |\n\
         |---|---|---|---|---|\n",
    );
    for (rate, _) in RATES {
        let mut line = format!("| {rate} |");
        let mut any = false;
        for protocol in PROTOCOLS {
            for library in LIBRARIES {
                let cell = outcomes(rows, library, protocol, rate);
                any |= !cell.is_empty();
                let o = || cell.iter().map(|r| &r.outcome);
                let _ = write!(
                    line,
                    " {} lost; {}/s; {} ns |",
                    range(o().map(Outcome::lost_share), percent),
                    range(o().map(Outcome::delivered_per_sec), per_sec),
                    range(o().map(Outcome::caller_ns_per_span), ns),
                );
            }
        }
        if any {
            let _ = writeln!(out, "{line}");
        }
    }
    let mut ratio_header = false;
    for (rate, _) in RATES {
        for protocol in PROTOCOLS {
            let delivered = ratios(rows, protocol, rate, Outcome::delivered_per_sec);
            if delivered.is_empty() {
                continue;
            }
            if !ratio_header {
                ratio_header = true;
                out.push_str(RATIO_HEADER);
            }
            let cost = ratios(rows, protocol, rate, Outcome::caller_ns_per_span);
            let cpu = ratios(rows, protocol, rate, Outcome::caller_cpu_ns_per_span);
            let lost = |library| {
                range(
                    outcomes(rows, library, protocol, rate)
                        .iter()
                        .map(|r| r.outcome.lost_share()),
                    percent,
                )
            };
            let _ = writeln!(
                out,
                "| {rate} | {} | {} | {}; {} | {} | {} |",
                protocol_label(protocol),
                range(delivered, ratio),
                lost(TRACEWIRE),
                lost(OTEL_SDK),
                range(cost.into_iter().map(|c| 1.0 / c), ratio),
                range(cpu.into_iter().map(|c| 1.0 / c), ratio),
            );
        }
    }
    let stats: Vec<&Row> = rows
        .iter()
        .filter(|r| r.outcome.tracewire_stats.is_some())
        .collect();
    if !stats.is_empty() {
        out.push_str("\ntracewire's `stats()` after the guard dropped:\n\n```text\n");
        for row in stats {
            let _ = writeln!(
                out,
                "{} run {}: {}",
                row.cell.name(),
                row.run,
                row.outcome.tracewire_stats.as_deref().unwrap_or("")
            );
        }
        out.push_str("```\n");
    }
    out
}
