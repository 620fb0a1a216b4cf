//! The operator's Prometheus metrics: reconciles by result and duration, membership operations
//! by kind and outcome, clusters by phase.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub reconciles: IntCounterVec,
    pub reconcile_seconds: HistogramVec,
    pub membership_ops: IntCounterVec,
    pub clusters_by_phase: IntGaugeVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let reconciles = IntCounterVec::new(
            Opts::new("kiwi_operator_reconciles_total", "Reconciles by result"),
            &["result"],
        )
        .expect("valid metric");
        let reconcile_seconds = HistogramVec::new(
            HistogramOpts::new(
                "kiwi_operator_reconcile_duration_seconds",
                "Reconcile duration",
            )
            .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
            &["result"],
        )
        .expect("valid metric");
        let membership_ops = IntCounterVec::new(
            Opts::new(
                "kiwi_operator_membership_operations_total",
                "Membership and pod operations by kind and outcome",
            ),
            &["kind", "outcome"],
        )
        .expect("valid metric");
        let clusters_by_phase = IntGaugeVec::new(
            Opts::new("kiwi_operator_clusters", "KiwiClusters by phase"),
            &["namespace", "name", "phase"],
        )
        .expect("valid metric");
        for collector in [
            Box::new(reconciles.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(reconcile_seconds.clone()),
            Box::new(membership_ops.clone()),
            Box::new(clusters_by_phase.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric registered once");
        }
        Metrics {
            registry,
            reconciles,
            reconcile_seconds,
            membership_ops,
            clusters_by_phase,
        }
    }

    /// Records the phase of one cluster (one gauge set to 1, the cluster's other phases removed).
    pub fn set_phase(&self, namespace: &str, name: &str, phase: &str) {
        for other in crate::crd::ALL_PHASES {
            if other.as_str() != phase {
                let _ =
                    self.clusters_by_phase
                        .remove_label_values(&[namespace, name, other.as_str()]);
            }
        }
        self.clusters_by_phase
            .with_label_values(&[namespace, name, phase])
            .set(1);
    }

    /// Removes every gauge of one cluster.
    pub fn forget(&self, namespace: &str, name: &str) {
        for phase in crate::crd::ALL_PHASES {
            let _ = self
                .clusters_by_phase
                .remove_label_values(&[namespace, name, phase.as_str()]);
        }
    }

    /// Drops the gauges of clusters for which `exists(namespace, name)` is false: a deleted
    /// KiwiCluster is never reconciled again, so nothing else would remove them.
    pub fn retain_clusters(&self, exists: impl Fn(&str, &str) -> bool) {
        use prometheus::core::Collector;
        let mut gone: std::collections::BTreeSet<(String, String)> = Default::default();
        for family in self.clusters_by_phase.collect() {
            for metric in family.get_metric() {
                let label = |key: &str| {
                    metric
                        .get_label()
                        .iter()
                        .find(|l| l.name() == key)
                        .map(|l| l.value().to_string())
                        .unwrap_or_default()
                };
                let (namespace, name) = (label("namespace"), label("name"));
                if !exists(&namespace, &name) {
                    gone.insert((namespace, name));
                }
            }
        }
        for (namespace, name) in gone {
            self.forget(&namespace, &name);
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deleted_clusters_phase_gauge_goes_away() {
        let metrics = Metrics::new();
        metrics.set_phase("prod", "a", "Running");
        metrics.set_phase("prod", "b", "Degraded");
        metrics.set_phase("dev", "a", "Scaling");
        metrics.retain_clusters(|namespace, name| (namespace, name) != ("prod", "a"));
        let text = metrics.render();
        assert!(!text.contains(r#"name="a",namespace="prod""#), "{text}");
        assert!(
            text.contains(r#"name="b",namespace="prod",phase="Degraded"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"name="a",namespace="dev",phase="Scaling"} 1"#),
            "{text}"
        );
    }
}
