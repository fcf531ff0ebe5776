//! component-base's `LeaderElectionConfiguration` as plain data: kube-controller-manager's
//! `generic.leaderElection` (and its `--leader-elect*` flags) and kube-scheduler's
//! `leaderElection`, with upstream's defaults.
//!
//! Whether the timings are acceptable is client-go's check
//! ([`crate::client::leader_election::LeaderElectionConfig::validate`]), which the scenario
//! reader runs so that a bad timing is a load error at the field.

use serde::Deserialize;

use crate::sim::SimDuration;

/// The namespace both components' leases live in by default (`resourceNamespace`).
pub const DEFAULT_RESOURCE_NAMESPACE: &str = "kube-system";

/// The timings and lock of a component's leader election, as written (`None`: not written).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LeaderElectionConfiguration {
    /// `leaderElect`: run an election before running (upstream default true).
    pub leader_elect: Option<bool>,
    /// `leaseDuration` (default 15s).
    pub lease_duration: Option<SimDuration>,
    /// `renewDeadline` (default 10s).
    pub renew_deadline: Option<SimDuration>,
    /// `retryPeriod` (default 2s).
    pub retry_period: Option<SimDuration>,
    /// `resourceName`: the Lease's name (default the component's name).
    pub resource_name: Option<String>,
    /// `resourceNamespace`: the Lease's namespace (default `kube-system`).
    pub resource_namespace: Option<String>,
}

/// A component's leader election with every default filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderElectionSettings {
    /// Whether the component elects at all.
    pub leader_elect: bool,
    /// How long others wait before taking a lease they last saw change.
    pub lease_duration: SimDuration,
    /// How long a leader's renewals may fail before it gives up.
    pub renew_deadline: SimDuration,
    /// The time between tries.
    pub retry_period: SimDuration,
    /// The Lease's name.
    pub resource_name: String,
    /// The Lease's namespace.
    pub resource_namespace: String,
}

impl LeaderElectionSettings {
    /// Upstream's defaults for the component named `component` (its Lease's default name).
    pub fn defaults(component: &str) -> Self {
        LeaderElectionSettings {
            leader_elect: true,
            lease_duration: SimDuration::from_secs(15),
            renew_deadline: SimDuration::from_secs(10),
            retry_period: SimDuration::from_secs(2),
            resource_name: component.to_string(),
            resource_namespace: DEFAULT_RESOURCE_NAMESPACE.to_string(),
        }
    }
}

impl LeaderElectionConfiguration {
    /// The settings: what is written, upstream's defaults for `component` for the rest.
    pub fn settings(&self, component: &str) -> LeaderElectionSettings {
        let d = LeaderElectionSettings::defaults(component);
        LeaderElectionSettings {
            leader_elect: self.leader_elect.unwrap_or(d.leader_elect),
            lease_duration: self.lease_duration.unwrap_or(d.lease_duration),
            renew_deadline: self.renew_deadline.unwrap_or(d.renew_deadline),
            retry_period: self.retry_period.unwrap_or(d.retry_period),
            resource_name: self.resource_name.clone().unwrap_or(d.resource_name),
            resource_namespace: self
                .resource_namespace
                .clone()
                .unwrap_or(d.resource_namespace),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_not_written_takes_upstreams_default() {
        let written = LeaderElectionConfiguration {
            renew_deadline: Some(SimDuration::from_secs(8)),
            ..LeaderElectionConfiguration::default()
        };
        let s = written.settings("kube-scheduler");
        assert!(s.leader_elect);
        assert_eq!(s.lease_duration, SimDuration::from_secs(15));
        assert_eq!(s.renew_deadline, SimDuration::from_secs(8));
        assert_eq!(s.retry_period, SimDuration::from_secs(2));
        assert_eq!(
            (s.resource_namespace.as_str(), s.resource_name.as_str()),
            ("kube-system", "kube-scheduler")
        );
    }
}
