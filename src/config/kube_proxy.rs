//! kube-proxy's configuration: the `KubeProxyConfiguration` fields kubesim acts on, under their
//! real names and with their real defaults.
//!
//! A scenario writes it under `spec.kubeProxy`; every node's kube-proxy shares it. What
//! kubesim models of a proxy mode is its rule-sync loop, whose periods each mode keeps in its
//! own section (`iptables`, `ipvs`, `nftables` of `kubeproxy.config.k8s.io/v1alpha1`) and
//! `v1alpha2` keeps at the root (`syncPeriod`, `minSyncPeriod`).

use crate::sim::SimDuration;

/// `mode`: which proxier programs the node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProxyMode {
    /// `iptables`, the Linux default.
    #[default]
    Iptables,
    /// `ipvs`.
    Ipvs,
    /// `nftables`.
    Nftables,
}

impl ProxyMode {
    /// Every mode, in the order the configuration lists their sections.
    pub const ALL: [ProxyMode; 3] = [ProxyMode::Iptables, ProxyMode::Ipvs, ProxyMode::Nftables];

    /// The mode (and its section) as the configuration spells it.
    pub const fn name(self) -> &'static str {
        match self {
            ProxyMode::Iptables => "iptables",
            ProxyMode::Ipvs => "ipvs",
            ProxyMode::Nftables => "nftables",
        }
    }

    /// The mode `name` names; empty is the default (`iptables`).
    pub fn from_name(name: &str) -> Option<ProxyMode> {
        if name.is_empty() {
            return Some(ProxyMode::default());
        }
        ProxyMode::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The mode's defaults (v1alpha1 `SetDefaults_KubeProxyConfiguration`): every `syncPeriod`
    /// 30 s; `minSyncPeriod` 1 s for iptables and nftables, 0 for ipvs.
    pub const fn default_periods(self) -> SyncPeriods {
        SyncPeriods {
            sync_period: SimDuration::from_secs(30),
            min_sync_period: match self {
                ProxyMode::Ipvs => SimDuration::ZERO,
                ProxyMode::Iptables | ProxyMode::Nftables => SimDuration::from_secs(1),
            },
        }
    }
}

/// The periods of a proxier's rule-sync loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncPeriods {
    /// `syncPeriod`: how soon a failed sync is retried (the sync runner's retry interval).
    pub sync_period: SimDuration,
    /// `minSyncPeriod`: the least time from the end of one sync to the start of the next;
    /// changes within it wait and are synced together (0: every change syncs at once).
    pub min_sync_period: SimDuration,
}

impl SyncPeriods {
    /// Upstream's validation of the pair: `syncPeriod` must be positive and at least
    /// `minSyncPeriod`. The error names the field, under `prefix` (`iptables.`, or empty for
    /// the root fields).
    pub fn check(&self, prefix: &str) -> Result<(), crate::config::ConfigError> {
        let error = |message: String| crate::config::ConfigError {
            path: format!("{prefix}syncPeriod"),
            message,
        };
        if self.sync_period.is_zero() {
            return Err(error("must be greater than 0".into()));
        }
        if self.sync_period < self.min_sync_period {
            return Err(error(format!(
                "must be greater than or equal to {prefix}minSyncPeriod ({})",
                self.min_sync_period
            )));
        }
        Ok(())
    }
}

/// What every kube-proxy of a run runs with.
#[derive(Clone, Debug, PartialEq)]
pub struct KubeProxySettings {
    /// Whether kube-proxies run (by default, wherever kubelets do).
    pub enabled: bool,
    /// The proxy mode.
    pub mode: ProxyMode,
    /// The periods of the mode in use.
    pub periods: SyncPeriods,
    /// `clientConnection.qps` / `clientConnection.burst`: every kube-proxy's API client
    /// (default 5 / 10; zero means unset).
    pub client_connection: super::ClientConnection,
}

impl Default for KubeProxySettings {
    fn default() -> Self {
        KubeProxySettings {
            enabled: true,
            mode: ProxyMode::default(),
            periods: ProxyMode::default().default_periods(),
            client_connection: super::ClientConnection::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_validation_follow_upstream() {
        assert_eq!(
            KubeProxySettings::default().periods,
            SyncPeriods {
                sync_period: SimDuration::from_secs(30),
                min_sync_period: SimDuration::from_secs(1),
            }
        );
        assert!(ProxyMode::Ipvs.default_periods().min_sync_period.is_zero());
        assert_eq!(ProxyMode::from_name(""), Some(ProxyMode::Iptables));
        assert_eq!(ProxyMode::from_name("kernelspace"), None);
        let below = SyncPeriods {
            sync_period: SimDuration::from_secs(1),
            min_sync_period: SimDuration::from_secs(2),
        };
        let err = below.check("iptables.").err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "field `iptables.syncPeriod`: must be greater than or equal to \
                 iptables.minSyncPeriod (2s)"
            )
        );
    }
}
