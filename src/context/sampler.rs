//! Head sampling: the decision is made once, when a root span starts, and children follow their parent.

/// Which traces are recorded (`OTEL_TRACES_SAMPLER`).
///
/// The default is `ParentBased(AlwaysOn)`: a root span is sampled, and a child follows its parent's
/// decision, whether the parent is local or came from an incoming request. An unsampled span still
/// has a valid context, so the decision travels to downstream services.
///
/// # Examples
///
/// ```
/// use tracewire::Sampler;
/// // Keep 1 trace in 10, and follow the caller's decision for traces that started elsewhere.
/// let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(0.1)));
/// let config = tracewire::Config::default().with_sampler(sampler);
/// # drop(config);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Sampler {
    /// Record every span (`always_on`).
    AlwaysOn,
    /// Record nothing (`always_off`).
    AlwaysOff,
    /// Record a root span when its trace id falls in the given fraction, from 0.0 to 1.0
    /// (`traceidratio`). The decision depends only on the trace id, so it is the same for every
    /// service that uses the same rule.
    TraceIdRatio(f64),
    /// Follow the parent's decision; use the inner sampler for root spans (`parentbased_*`).
    ParentBased(Box<Sampler>),
}

impl Default for Sampler {
    fn default() -> Self {
        Sampler::ParentBased(Box::new(Sampler::AlwaysOn))
    }
}

/// A sampler flattened into plain numbers, so the hot path reads it without locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SamplerRule {
    /// Follow a parent's decision when there is a parent.
    pub(crate) parent_based: bool,
    /// Root spans are sampled when the trace id's low 63 bits are below this bound; `u64::MAX`
    /// samples everything and 0 nothing.
    pub(crate) root_bound: u64,
}

impl SamplerRule {
    pub(crate) fn from_sampler(sampler: &Sampler) -> SamplerRule {
        match sampler {
            Sampler::AlwaysOn => SamplerRule {
                parent_based: false,
                root_bound: u64::MAX,
            },
            Sampler::AlwaysOff => SamplerRule {
                parent_based: false,
                root_bound: 0,
            },
            Sampler::TraceIdRatio(ratio) => SamplerRule {
                parent_based: false,
                root_bound: ratio_bound(*ratio),
            },
            Sampler::ParentBased(root) => SamplerRule {
                parent_based: true,
                ..SamplerRule::from_sampler(root)
            },
        }
    }

    /// The decision for a span whose trace id's low 64 bits are `trace_id_low`, and, if any, a
    /// parent sampled or not.
    #[inline]
    pub(crate) fn should_sample(self, trace_id_low: u64, parent_sampled: Option<bool>) -> bool {
        match parent_sampled {
            Some(sampled) if self.parent_based => sampled,
            _ => self.root_bound == u64::MAX || trace_id_low >> 1 < self.root_bound,
        }
    }
}

/// The upper bound for a ratio, on the same scale as [`trace_id_bits`].
fn ratio_bound(ratio: f64) -> u64 {
    if ratio.is_nan() || ratio <= 0.0 {
        0
    } else if ratio >= 1.0 {
        u64::MAX
    } else {
        (ratio * (1u64 << 63) as f64) as u64
    }
}

// A ratio compares the low 8 bytes of the trace id, shifted to 63 bits, with its bound: the rule
// opentelemetry-rust uses, so the two agree on which traces a ratio keeps.

#[cfg(test)]
mod tests {
    use super::*;

    fn id(low: u64) -> u64 {
        low
    }

    #[test]
    fn always_on_and_off_ignore_the_trace_id() {
        let on = SamplerRule::from_sampler(&Sampler::AlwaysOn);
        let off = SamplerRule::from_sampler(&Sampler::AlwaysOff);
        for low in [0, 1, u64::MAX / 2, u64::MAX] {
            assert!(on.should_sample(id(low), None));
            assert!(!off.should_sample(id(low), None));
            // Not parent-based: the parent's decision does not matter.
            assert!(on.should_sample(id(low), Some(false)));
            assert!(!off.should_sample(id(low), Some(true)));
        }
    }

    #[test]
    fn ratio_splits_on_the_low_bits() {
        let half = SamplerRule::from_sampler(&Sampler::TraceIdRatio(0.5));
        assert!(half.should_sample(id(0), None));
        assert!(half.should_sample(id((1 << 63) - 2), None));
        assert!(!half.should_sample(id(1 << 63), None));
        assert!(!half.should_sample(id(u64::MAX), None));
        assert!(!SamplerRule::from_sampler(&Sampler::TraceIdRatio(0.0)).should_sample(id(0), None));
        assert!(
            SamplerRule::from_sampler(&Sampler::TraceIdRatio(1.0))
                .should_sample(id(u64::MAX), None)
        );
    }

    #[test]
    fn parent_based_follows_the_parent_and_samples_roots_with_the_inner_rule() {
        let rule = SamplerRule::from_sampler(&Sampler::ParentBased(Box::new(Sampler::AlwaysOff)));
        assert!(rule.should_sample(id(0), Some(true)));
        assert!(!rule.should_sample(id(0), Some(false)));
        assert!(!rule.should_sample(id(0), None));
        let default = SamplerRule::from_sampler(&Sampler::default());
        assert!(default.should_sample(id(7), None));
        assert!(!default.should_sample(id(7), Some(false)));
    }
}
