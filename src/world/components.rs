//! kubesim's components answering the scenario loader about their configuration documents:
//! the one place that knows which component resolves which document. The loader
//! ([`crate::scenario::load`]) reads the documents ([`crate::config`]) but knows no component;
//! it is handed [`Components`] and asks it.

use crate::config::ConfigError;
use crate::config::kube_scheduler::KubeSchedulerConfiguration;
use crate::config::legacy_policy::{FeatureGates, Policy, PolicyNote};
use crate::scenario::ConfigResolver;
use crate::scheduler;

/// kubesim's components, as the scenario loader asks them whether their configuration
/// documents resolve: kube-scheduler resolves a `KubeSchedulerConfiguration` and translates a
/// legacy `Policy`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Components;

impl ConfigResolver for Components {
    fn resolve_scheduler_configuration(
        &self,
        config: &KubeSchedulerConfiguration,
    ) -> Result<(), ConfigError> {
        scheduler::config::resolve(config).map(|_| ())
    }

    fn translate_scheduler_policy(
        &self,
        policy: &Policy,
        gates: FeatureGates,
    ) -> Result<(KubeSchedulerConfiguration, Vec<PolicyNote>), ConfigError> {
        let translation =
            scheduler::legacy_policy::translate(policy, gates).map_err(|e| ConfigError {
                path: e.path().to_string(),
                message: e.message(),
            })?;
        Ok((translation.configuration, translation.notes))
    }
}
