//! Head sampling does what each sampler says, whether it comes from code (`Config::with_sampler`) or
//! from `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`: the counts of exported and not-sampled
//! spans match the decisions, only sampled spans reach the collector, unsampled spans still carry a
//! valid context (non-zero ids, same trace as their parent), and parent-based samplers follow the
//! parent, local or remote.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use support::{Receiver, Transport};
use tracewire::{Sampler, SpanContext, SpanId, TraceFlags, TraceId, TraceState};

const WAIT: Duration = Duration::from_secs(15);
const ROOTS: u64 = 20;

/// What a sampler decides, by the parent's flag (`None` for a root).
#[derive(Clone, Copy, Debug)]
enum Rule {
    AlwaysOn,
    AlwaysOff,
    Ratio0,
    Ratio1,
    ParentBasedOn,
    ParentBasedOff,
    ParentBasedRatio0,
    ParentBasedRatio1,
}

impl Rule {
    const ALL: [Rule; 8] = [
        Rule::AlwaysOn,
        Rule::AlwaysOff,
        Rule::Ratio0,
        Rule::Ratio1,
        Rule::ParentBasedOn,
        Rule::ParentBasedOff,
        Rule::ParentBasedRatio0,
        Rule::ParentBasedRatio1,
    ];

    fn sampler(self) -> Sampler {
        match self {
            Rule::AlwaysOn => Sampler::AlwaysOn,
            Rule::AlwaysOff => Sampler::AlwaysOff,
            Rule::Ratio0 => Sampler::TraceIdRatio(0.0),
            Rule::Ratio1 => Sampler::TraceIdRatio(1.0),
            Rule::ParentBasedOn => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
            Rule::ParentBasedOff => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
            Rule::ParentBasedRatio0 => Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(0.0))),
            Rule::ParentBasedRatio1 => Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(1.0))),
        }
    }

    /// `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`.
    fn env(self) -> (&'static str, Option<&'static str>) {
        match self {
            Rule::AlwaysOn => ("always_on", None),
            Rule::AlwaysOff => ("always_off", None),
            Rule::Ratio0 => ("traceidratio", Some("0")),
            Rule::Ratio1 => ("traceidratio", Some("1")),
            Rule::ParentBasedOn => ("parentbased_always_on", None),
            Rule::ParentBasedOff => ("parentbased_always_off", None),
            Rule::ParentBasedRatio0 => ("parentbased_traceidratio", Some("0")),
            Rule::ParentBasedRatio1 => ("parentbased_traceidratio", Some("1.0")),
        }
    }

    fn samples_roots(self) -> bool {
        matches!(
            self,
            Rule::AlwaysOn | Rule::Ratio1 | Rule::ParentBasedOn | Rule::ParentBasedRatio1
        )
    }

    fn parent_based(self) -> bool {
        matches!(
            self,
            Rule::ParentBasedOn
                | Rule::ParentBasedOff
                | Rule::ParentBasedRatio0
                | Rule::ParentBasedRatio1
        )
    }

    fn decide(self, parent_sampled: Option<bool>) -> bool {
        match parent_sampled {
            Some(sampled) if self.parent_based() => sampled,
            _ => self.samples_roots(),
        }
    }
}

/// A remote parent, as extracted from a `traceparent` header.
fn remote_parent(sampled: bool) -> SpanContext {
    let flags = if sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::NOT_SAMPLED
    };
    SpanContext::new(
        TraceId::from(0x0af7651916cd43dd8448eb211c80319c_u128),
        SpanId::from(0xb7ad6b7169203331_u64),
        flags,
        true,
        TraceState::default(),
    )
}

#[track_caller]
fn assert_valid(ctx: &SpanContext, what: &str) {
    assert!(ctx.is_valid(), "{what}: invalid context {ctx:?}");
    assert_ne!(ctx.trace_id(), TraceId::INVALID, "{what}");
    assert_ne!(ctx.span_id(), SpanId::INVALID, "{what}");
}

/// Records roots with a local child each, and children of a sampled and of an unsampled remote
/// parent; checks every decision and returns how many spans should have been sampled.
fn record_and_check(rule: Rule) -> (u64, u64) {
    let mut sampled = 0;
    let mut not_sampled = 0;
    let mut count = |is: bool| {
        if is {
            sampled += 1;
        } else {
            not_sampled += 1;
        }
    };
    for _ in 0..ROOTS {
        let root = tracewire::span_builder("root").root().start();
        let root_ctx = root.context().clone();
        assert_valid(&root_ctx, "root");
        assert_eq!(root_ctx.is_sampled(), rule.decide(None), "{rule:?}: root");
        assert_eq!(root.is_recording(), root_ctx.is_sampled(), "{rule:?}: root");
        count(root_ctx.is_sampled());
        {
            let _entered = root.enter();
            let child = tracewire::span("local child");
            let ctx = child.context().clone();
            assert_valid(&ctx, "local child");
            assert_eq!(ctx.trace_id(), root_ctx.trace_id(), "{rule:?}: same trace");
            assert_ne!(ctx.span_id(), root_ctx.span_id(), "{rule:?}: own span id");
            assert_eq!(
                ctx.is_sampled(),
                rule.decide(Some(root_ctx.is_sampled())),
                "{rule:?}: local child"
            );
            if rule.parent_based() && !root_ctx.is_sampled() {
                assert!(!ctx.is_sampled(), "{rule:?}: child of an unsampled parent");
            }
            count(ctx.is_sampled());
            child.end();
        }
        root.end();
    }
    for parent_sampled in [true, false] {
        let parent = remote_parent(parent_sampled);
        let child = tracewire::span_builder("remote child")
            .with_parent(&parent)
            .start();
        let ctx = child.context().clone();
        assert_valid(&ctx, "remote child");
        assert_eq!(
            ctx.trace_id(),
            parent.trace_id(),
            "{rule:?}: remote trace kept"
        );
        assert_eq!(
            ctx.is_sampled(),
            rule.decide(Some(parent_sampled)),
            "{rule:?}: child of a remote parent sampled={parent_sampled}"
        );
        assert!(!ctx.is_remote(), "a child is local");
        count(ctx.is_sampled());
        child.end();
    }
    (sampled, not_sampled)
}

fn run(rule: Rule, config: tracewire::Config, receiver: &Receiver) {
    let guard = config.init().expect("init");
    let (sampled, not_sampled) = record_and_check(rule);
    tracewire::force_flush().expect("force_flush");
    let stats = tracewire::stats();
    drop(guard);

    assert_eq!(sampled + not_sampled, 2 * ROOTS + 2);
    assert_eq!(stats.spans_started, sampled, "{rule:?}: {stats:#?}");
    assert_eq!(stats.spans_ended, sampled, "{rule:?}: {stats:#?}");
    assert_eq!(stats.spans_not_sampled, not_sampled, "{rule:?}: {stats:#?}");
    assert_eq!(stats.spans_exported, sampled, "{rule:?}: {stats:#?}");
    assert_eq!(stats.dropped(), 0, "{rule:?}: {stats:#?}");
    // The receiver gets exactly the sampled spans; after the flush and the drop nothing else comes.
    let received = receiver.wait_for_spans(sampled as usize, WAIT);
    assert_eq!(received.len() as u64, sampled, "{rule:?}");
    for span in &received {
        assert_eq!(
            span.span.flags & 0x01,
            0x01,
            "{rule:?}: exported spans are sampled"
        );
    }
}

#[test]
fn samplers_from_code() {
    let _serial = support::serial();
    for rule in Rule::ALL {
        let receiver = Receiver::start(Transport::Grpc);
        let config = support::config_for(&receiver).with_sampler(rule.sampler());
        run(rule, config, &receiver);
    }
}

#[test]
fn samplers_from_otel_traces_sampler() {
    let _serial = support::serial();
    for rule in Rule::ALL {
        let receiver = Receiver::start(Transport::Grpc);
        let (name, arg) = rule.env();
        let mut vars = HashMap::from([("OTEL_TRACES_SAMPLER", name)]);
        if let Some(arg) = arg {
            vars.insert("OTEL_TRACES_SAMPLER_ARG", arg);
        }
        let base = tracewire::Config::from_lookup(|key| vars.get(key).map(|v| (*v).to_owned()))
            .unwrap_or_else(|e| panic!("{rule:?} from {vars:?}: {e}"));
        let config = support::configure(base, Transport::Grpc, receiver.endpoint());
        run(rule, config, &receiver);
    }
}

/// The default is `parentbased_always_on`.
#[test]
fn default_sampler_is_parent_based_always_on() {
    let _serial = support::serial();
    let receiver = Receiver::start(Transport::Grpc);
    run(
        Rule::ParentBasedOn,
        support::config_for(&receiver),
        &receiver,
    );
}

/// Code wins over the environment.
#[test]
fn with_sampler_overrides_otel_traces_sampler() {
    let _serial = support::serial();
    let receiver = Receiver::start(Transport::Grpc);
    let base = tracewire::Config::from_lookup(|key| {
        (key == "OTEL_TRACES_SAMPLER").then(|| "always_off".to_owned())
    })
    .expect("from_lookup");
    let config = support::configure(base, Transport::Grpc, receiver.endpoint())
        .with_sampler(Sampler::AlwaysOn);
    run(Rule::AlwaysOn, config, &receiver);
}

/// A ratio samples about that share of roots (2000 roots at 0.5: the bounds are over 8 standard
/// deviations away), and their children follow them.
#[test]
fn trace_id_ratio_half_samples_about_half() {
    let _serial = support::serial();
    const N: u64 = 2000;
    let receiver = Receiver::start(Transport::Grpc);
    let guard = support::config_for(&receiver)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(0.5))))
        .with_max_queue_size(4096)
        .with_thread_buffer_size(8192)
        .init()
        .expect("init");
    let mut sampled = 0_u64;
    for _ in 0..N {
        tracewire::in_span("ratio root", |root| {
            let child = tracewire::span("ratio child");
            assert_eq!(child.context().is_sampled(), root.context().is_sampled());
            if root.context().is_sampled() {
                sampled += 1;
            }
        });
    }
    tracewire::force_flush().expect("force_flush");
    let stats = tracewire::stats();
    drop(guard);
    assert!((800..=1200).contains(&sampled), "sampled {sampled} of {N}");
    assert_eq!(stats.spans_not_sampled, 2 * (N - sampled), "{stats:#?}");
    assert_eq!(stats.spans_exported, 2 * sampled, "{stats:#?}");
    let received = receiver.wait_for_spans(2 * sampled as usize, WAIT);
    assert_eq!(received.len() as u64, 2 * sampled);
}
