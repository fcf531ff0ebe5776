//! The leader election settings of kube-controller-manager (`spec.controllerManager`'s
//! `generic.leaderElection` section or its `--leader-elect*` flags) and kube-scheduler (its
//! KubeSchedulerConfiguration's `leaderElection`), checked as client-go's `NewLeaderElector`
//! checks them, so that a bad timing is a load error naming the field and its place.

use super::error::{ScenarioError, SourcePos};
use super::model::ControllerManagerSpec;
use crate::client::leader_election::LeaderElectionError;
use crate::client::lease_lock::elector_config;
use crate::config::leader_election::{LeaderElectionConfiguration, LeaderElectionSettings};
use crate::sim::SimDuration;

/// One duration as written: where, and under which field path.
#[derive(Clone, Debug)]
pub(super) struct Written {
    /// The field path the user wrote.
    pub path: String,
    /// Where, if it was written.
    pub pos: Option<SourcePos>,
}

/// Where each timing of one election was written.
#[derive(Clone, Debug)]
pub(super) struct TimingFields {
    /// `leaseDuration`.
    pub lease_duration: Written,
    /// `renewDeadline`.
    pub renew_deadline: Written,
    /// `retryPeriod`.
    pub retry_period: Written,
    /// Where to point when no field of the three was written (the document, the file).
    pub fallback: SourcePos,
}

/// `settings` if client-go accepts them; else the error at the field most to blame: of the
/// fields a check compares, the first one written.
pub(super) fn checked(
    settings: LeaderElectionSettings,
    fields: &TimingFields,
) -> Result<LeaderElectionSettings, ScenarioError> {
    if !settings.leader_elect {
        // Upstream checks the timings only when it elects.
        return Ok(settings);
    }
    let blame = |candidates: &[&Written], message: String| {
        let field = candidates
            .iter()
            .find(|w| w.pos.is_some())
            .unwrap_or(&candidates[0]);
        ScenarioError::Invalid {
            pos: field.pos.clone().unwrap_or_else(|| fields.fallback.clone()),
            path: field.path.clone(),
            message,
        }
    };
    let (lease, renew, retry) = (
        &fields.lease_duration,
        &fields.renew_deadline,
        &fields.retry_period,
    );
    match elector_config(&settings).validate() {
        Ok(()) => Ok(settings),
        Err(e @ LeaderElectionError::LeaseNotLongerThanDeadline { .. }) => Err(blame(
            &[lease, renew],
            format!("{e} (leaseDuration > renewDeadline)"),
        )),
        Err(e @ LeaderElectionError::DeadlineNotLongerThanJitteredRetry { .. }) => Err(blame(
            &[renew, retry],
            format!("{e} (renewDeadline > 1.2 × retryPeriod)"),
        )),
        Err(e) => {
            let mut zero: Vec<&Written> = [
                (lease, settings.lease_duration),
                (renew, settings.renew_deadline),
                (retry, settings.retry_period),
            ]
            .into_iter()
            .filter(|(_, d)| d.is_zero())
            .map(|(w, _)| w)
            .collect();
            if zero.is_empty() {
                zero.push(lease);
            }
            Err(blame(&zero, e.to_string()))
        }
    }
}

/// kube-controller-manager's election: `generic.leaderElection` or the `--leader-elect*`
/// flags (a setting written both ways is refused), upstream's defaults for the rest.
pub(super) fn controller_manager(
    spec: &ControllerManagerSpec,
    at: impl Fn(&serde_saphyr::Location) -> SourcePos,
    whole_file: SourcePos,
) -> Result<LeaderElectionSettings, ScenarioError> {
    let section = &spec.generic.leader_election;
    let prefix = "spec.controllerManager";
    let config_path = |field: &str| format!("{prefix}.generic.leaderElection.{field}");
    let flag_path = |field: &str| format!("{prefix}.{field}");
    let both = |field: &str, flag: &str, pos: Option<SourcePos>| ScenarioError::Invalid {
        pos: pos.unwrap_or_else(|| whole_file.clone()),
        path: flag_path(flag),
        message: format!(
            "set both as {} and as the flag; expected one of them",
            config_path(field)
        ),
    };
    // One setting, from the section or the flag.
    let either = |field: &str,
                  flag: &str,
                  config: Option<&serde_saphyr::Spanned<SimDuration>>,
                  flagged: Option<&serde_saphyr::Spanned<SimDuration>>|
     -> Result<(Option<SimDuration>, Written), ScenarioError> {
        match (config, flagged) {
            (Some(_), Some(f)) => Err(both(field, flag, Some(at(&f.referenced)))),
            (Some(c), None) => Ok((
                Some(c.value),
                Written {
                    path: config_path(field),
                    pos: Some(at(&c.referenced)),
                },
            )),
            (None, Some(f)) => Ok((
                Some(f.value),
                Written {
                    path: flag_path(flag),
                    pos: Some(at(&f.referenced)),
                },
            )),
            (None, None) => Ok((
                None,
                Written {
                    path: config_path(field),
                    pos: None,
                },
            )),
        }
    };
    let (lease_duration, lease_written) = either(
        "leaseDuration",
        "leaderElectLeaseDuration",
        section.lease_duration.as_ref(),
        spec.leader_elect_lease_duration.as_ref(),
    )?;
    let (renew_deadline, renew_written) = either(
        "renewDeadline",
        "leaderElectRenewDeadline",
        section.renew_deadline.as_ref(),
        spec.leader_elect_renew_deadline.as_ref(),
    )?;
    let (retry_period, retry_written) = either(
        "retryPeriod",
        "leaderElectRetryPeriod",
        section.retry_period.as_ref(),
        spec.leader_elect_retry_period.as_ref(),
    )?;
    let plain = |field: &str, flag: &str, config: Option<String>, flagged: Option<String>| match (
        config, flagged,
    ) {
        (Some(_), Some(_)) => Err(both(field, flag, None)),
        (config, flagged) => Ok(config.or(flagged)),
    };
    let leader_elect = match (section.leader_elect, spec.leader_elect) {
        (Some(_), Some(_)) => return Err(both("leaderElect", "leaderElect", None)),
        (config, flag) => config.or(flag),
    };
    let written = LeaderElectionConfiguration {
        leader_elect,
        lease_duration,
        renew_deadline,
        retry_period,
        resource_name: plain(
            "resourceName",
            "leaderElectResourceName",
            section.resource_name.clone(),
            spec.leader_elect_resource_name.clone(),
        )?,
        resource_namespace: plain(
            "resourceNamespace",
            "leaderElectResourceNamespace",
            section.resource_namespace.clone(),
            spec.leader_elect_resource_namespace.clone(),
        )?,
    };
    let settings = written.settings("kube-controller-manager");
    lock_named(&settings, &config_path, &whole_file)?;
    checked(
        settings,
        &TimingFields {
            lease_duration: lease_written,
            renew_deadline: renew_written,
            retry_period: retry_written,
            fallback: whole_file.clone(),
        },
    )
}

/// Refuses an empty Lease name or namespace (`resourceName` / `resourceNamespace`).
pub(super) fn lock_named(
    settings: &LeaderElectionSettings,
    path: &dyn Fn(&str) -> String,
    pos: &SourcePos,
) -> Result<(), ScenarioError> {
    for (field, value) in [
        ("resourceName", &settings.resource_name),
        ("resourceNamespace", &settings.resource_namespace),
    ] {
        if settings.leader_elect && value.is_empty() {
            return Err(ScenarioError::Invalid {
                pos: pos.clone(),
                path: path(field),
                message: "expected the Lease's name, found an empty string".into(),
            });
        }
    }
    Ok(())
}
