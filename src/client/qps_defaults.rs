//! Each component's client-side rate limit as it ships — QPS and burst of the token bucket in
//! front of its requests — under the setting names a user writes to change them, and how a
//! component fills in what is left unset. The config layer reads a scenario's values under these
//! names and hands them to [`ClientConnectionDefaults::rate_limit`].
//!
//! | component | QPS / burst | settings |
//! |---|---|---|
//! | kubelet | 50 / 100 (since v1.27; 5 / 10 before) | `kubeAPIQPS` / `kubeAPIBurst` (`--kube-api-qps` / `--kube-api-burst`) |
//! | kubelet's event client | 50 / 100 | `eventRecordQPS` / `eventBurst` |
//! | kube-controller-manager | 20 / 30 | `--kube-api-qps` / `--kube-api-burst` |
//! | kube-scheduler | 50 / 100 | `clientConnection.qps` / `clientConnection.burst` |
//! | kube-proxy | 5 / 10 | `clientConnection.qps` / `clientConnection.burst` |
//! | any other client-go client | 5 / 10 | `rest.Config` `QPS` / `Burst` |
//!
//! The component's own defaulting comes first: a zero (or absent) value means "unset" and takes
//! the component's default — except the kubelet's `kubeAPIQPS`, a pointer upstream, where only
//! an absent value does and an explicit 0 reaches client-go, which then runs at its own 5 QPS.
//! Then client-go's rules apply ([`ClientRateLimit::from_rest_config`]): a negative QPS turns
//! the limit off.
//!
//! Some values are refused before client-go sees them, by the component's own validation: the
//! kubelet refuses a negative `kubeAPIQPS` or `kubeAPIBurst` ("must not be a negative number"),
//! kube-scheduler and kube-proxy a negative `clientConnection.burst` ("must be non-negative",
//! component-base's `ValidateClientConnectionConfiguration`); and client-go refuses a positive
//! QPS with a burst below 1 (only reachable with a negative burst once the component has
//! filled in its default). [`ClientConnectionDefaults::checked_rate_limit`] applies both and
//! names the setting it refuses.
//!
//! Upstream, kube-controller-manager builds a client per controller (each with its own bucket at
//! these numbers); kube-scheduler and each kubelet and kube-proxy share one.

use super::rate_limiter::{ClientRateLimit, RateLimiterError};
use crate::config::ClientConnection;

/// A client connection setting the component (or client-go under it) refuses.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{setting}: {message}")]
pub struct ClientConnectionError {
    /// The setting, as the user writes it (`kubeAPIBurst`, `clientConnection.qps`).
    pub setting: &'static str,
    /// What is wrong and what was expected.
    pub message: String,
}

/// One component's shipped client rate limit and the names of its settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClientConnectionDefaults {
    /// The component, as its binary is called.
    pub component: &'static str,
    /// Requests per second when unset.
    pub qps: f32,
    /// Burst when unset.
    pub burst: u32,
    /// The setting for the QPS, as a user writes it.
    pub qps_setting: &'static str,
    /// The setting for the burst.
    pub burst_setting: &'static str,
    /// Whether a QPS of zero means unset (true everywhere but the kubelet's `kubeAPIQPS`).
    pub zero_qps_is_unset: bool,
    /// Whether the component's validation refuses a negative QPS (the kubelet's).
    pub negative_qps_refused: bool,
    /// Whether the component's validation refuses a negative burst.
    pub negative_burst_refused: bool,
}

/// The kubelet's API client (`KubeletConfiguration`).
pub const KUBELET: ClientConnectionDefaults = ClientConnectionDefaults {
    component: "kubelet",
    qps: 50.0,
    burst: 100,
    qps_setting: "kubeAPIQPS",
    burst_setting: "kubeAPIBurst",
    zero_qps_is_unset: false,
    negative_qps_refused: true,
    negative_burst_refused: true,
};

/// The kubelet's Event client.
pub const KUBELET_EVENTS: ClientConnectionDefaults = ClientConnectionDefaults {
    component: "kubelet",
    qps: 50.0,
    burst: 100,
    qps_setting: "eventRecordQPS",
    burst_setting: "eventBurst",
    zero_qps_is_unset: false,
    negative_qps_refused: true,
    negative_burst_refused: true,
};

/// kube-controller-manager (its generic `ClientConnection`, set by flags).
pub const KUBE_CONTROLLER_MANAGER: ClientConnectionDefaults = ClientConnectionDefaults {
    component: "kube-controller-manager",
    qps: 20.0,
    burst: 30,
    qps_setting: "--kube-api-qps",
    burst_setting: "--kube-api-burst",
    zero_qps_is_unset: true,
    negative_qps_refused: false,
    negative_burst_refused: false,
};

/// kube-scheduler (`KubeSchedulerConfiguration.clientConnection`).
pub const KUBE_SCHEDULER: ClientConnectionDefaults = ClientConnectionDefaults {
    component: "kube-scheduler",
    qps: 50.0,
    burst: 100,
    qps_setting: "clientConnection.qps",
    burst_setting: "clientConnection.burst",
    zero_qps_is_unset: true,
    negative_qps_refused: false,
    negative_burst_refused: true,
};

/// kube-proxy (`KubeProxyConfiguration.clientConnection`).
pub const KUBE_PROXY: ClientConnectionDefaults = ClientConnectionDefaults {
    component: "kube-proxy",
    qps: 5.0,
    burst: 10,
    qps_setting: "clientConnection.qps",
    burst_setting: "clientConnection.burst",
    zero_qps_is_unset: true,
    negative_qps_refused: false,
    negative_burst_refused: true,
};

/// A client-go client whose `rest.Config` leaves QPS and burst unset (kubectl, operators).
pub const REST_CONFIG: ClientConnectionDefaults = ClientConnectionDefaults {
    component: "client-go",
    qps: super::rate_limiter::DEFAULT_QPS,
    burst: super::rate_limiter::DEFAULT_BURST,
    qps_setting: "QPS",
    burst_setting: "Burst",
    zero_qps_is_unset: true,
    negative_qps_refused: false,
    negative_burst_refused: false,
};

/// Every row of the table, in the order of the module docs.
pub const ALL: [ClientConnectionDefaults; 6] = [
    KUBELET,
    KUBELET_EVENTS,
    KUBE_CONTROLLER_MANAGER,
    KUBE_SCHEDULER,
    KUBE_PROXY,
    REST_CONFIG,
];

impl ClientConnectionDefaults {
    /// The QPS and burst the component runs with, given what the user set (`None`: not set).
    pub fn effective(&self, qps: Option<f32>, burst: Option<i64>) -> (f32, i64) {
        let qps = match qps {
            None => self.qps,
            Some(q) if q == 0.0 && self.zero_qps_is_unset => self.qps,
            Some(q) => q,
        };
        let burst = match burst {
            None | Some(0) => i64::from(self.burst),
            Some(b) => b,
        };
        (qps, burst)
    }

    /// The rate limiter of the component's client, given what the user set.
    pub fn rate_limit(
        &self,
        qps: Option<f32>,
        burst: Option<i64>,
    ) -> Result<ClientRateLimit, RateLimiterError> {
        let (qps, burst) = self.effective(qps, burst);
        ClientRateLimit::from_rest_config(qps, burst)
    }

    /// The rate limiter of the component's client given `written`, after the component's own
    /// validation; the error names the setting refused and what was expected.
    pub fn checked_rate_limit(
        &self,
        written: ClientConnection,
    ) -> Result<ClientRateLimit, ClientConnectionError> {
        let refuse = |setting, message| Err(ClientConnectionError { setting, message });
        if let Some(qps) = written.qps {
            if !qps.is_finite() {
                return refuse(
                    self.qps_setting,
                    format!("expected a finite number of requests per second, found {qps}"),
                );
            }
            if self.negative_qps_refused && qps < 0.0 {
                return refuse(
                    self.qps_setting,
                    format!("must not be a negative number, found {qps}"),
                );
            }
        }
        if let Some(burst) = written.burst
            && self.negative_burst_refused
            && burst < 0
        {
            return refuse(
                self.burst_setting,
                format!("must not be a negative number, found {burst}"),
            );
        }
        self.rate_limit(written.qps, written.burst.map(i64::from))
            .map_err(|e| match e {
                RateLimiterError::InvalidQps(_) => ClientConnectionError {
                    setting: self.qps_setting,
                    message: e.to_string(),
                },
                RateLimiterError::BurstRequired(_) => ClientConnectionError {
                    setting: self.burst_setting,
                    message: format!("{e}; expected a burst of at least 1"),
                },
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(limit: Result<ClientRateLimit, RateLimiterError>) -> (f64, u32) {
        match limit {
            Ok(ClientRateLimit::Bucket(b)) => (b.qps(), b.burst()),
            other => panic!("expected a bucket, got {other:?}"),
        }
    }

    #[test]
    fn shipped_defaults() {
        let table: Vec<(&str, &str, f32, u32)> = ALL
            .iter()
            .map(|d| (d.component, d.qps_setting, d.qps, d.burst))
            .collect();
        assert_eq!(
            table,
            [
                ("kubelet", "kubeAPIQPS", 50.0, 100),
                ("kubelet", "eventRecordQPS", 50.0, 100),
                ("kube-controller-manager", "--kube-api-qps", 20.0, 30),
                ("kube-scheduler", "clientConnection.qps", 50.0, 100),
                ("kube-proxy", "clientConnection.qps", 5.0, 10),
                ("client-go", "QPS", 5.0, 10),
            ]
        );
        // Unset: the component's numbers.
        assert_eq!(
            bucket(KUBE_CONTROLLER_MANAGER.rate_limit(None, None)),
            (20.0, 30)
        );
        assert_eq!(
            bucket(KUBE_SCHEDULER.rate_limit(Some(0.0), Some(0))),
            (50.0, 100)
        );
    }

    #[test]
    fn overrides_and_zeroes() {
        // --kube-api-qps 100 --kube-api-burst 200.
        assert_eq!(
            bucket(KUBE_CONTROLLER_MANAGER.rate_limit(Some(100.0), Some(200))),
            (100.0, 200)
        );
        // Only the burst set: the default QPS with it.
        assert_eq!(bucket(KUBE_PROXY.rate_limit(None, Some(50))), (5.0, 50));
        // kubeAPIQPS: 0 written out reaches client-go, which runs at its own 5 QPS (with the
        // kubelet's burst, 100).
        assert_eq!(bucket(KUBELET.rate_limit(Some(0.0), None)), (5.0, 100));
        // A negative QPS: no limit.
        assert_eq!(
            KUBE_SCHEDULER.rate_limit(Some(-1.0), None),
            Ok(ClientRateLimit::Unlimited)
        );
        // A negative burst with a positive QPS is refused.
        assert_eq!(
            KUBE_PROXY.rate_limit(Some(5.0), Some(-1)),
            Err(RateLimiterError::BurstRequired(-1))
        );
    }

    #[test]
    fn each_component_refuses_what_its_validation_refuses() {
        let written = |qps, burst| ClientConnection { qps, burst };
        let refused = |d: &ClientConnectionDefaults, w| match d.checked_rate_limit(w) {
            Err(e) => e.setting,
            Ok(limit) => panic!("{} accepted {w:?}: {limit:?}", d.component),
        };
        // The kubelet: neither may be negative.
        assert_eq!(refused(&KUBELET, written(Some(-1.0), None)), "kubeAPIQPS");
        assert_eq!(refused(&KUBELET, written(None, Some(-1))), "kubeAPIBurst");
        // kube-scheduler and kube-proxy: a negative burst, even with no limit at all.
        assert_eq!(
            refused(&KUBE_SCHEDULER, written(Some(-1.0), Some(-5))),
            "clientConnection.burst"
        );
        assert_eq!(
            refused(&KUBE_PROXY, written(None, Some(-5))),
            "clientConnection.burst"
        );
        // kube-controller-manager: client-go's rule only (a positive QPS needs a burst).
        assert_eq!(
            refused(&KUBE_CONTROLLER_MANAGER, written(Some(5.0), Some(-1))),
            "--kube-api-burst"
        );
        assert_eq!(
            KUBE_CONTROLLER_MANAGER.checked_rate_limit(written(Some(-1.0), Some(-1))),
            Ok(ClientRateLimit::Unlimited)
        );
        // Nobody takes an infinite rate.
        assert_eq!(
            refused(&KUBE_PROXY, written(Some(f32::INFINITY), None)),
            "clientConnection.qps"
        );
        // Nothing written: the shipped bucket.
        assert_eq!(
            bucket(
                KUBELET
                    .checked_rate_limit(ClientConnection::default())
                    .map_err(|_| { RateLimiterError::InvalidQps(0.0) })
            ),
            (50.0, 100)
        );
    }
}
