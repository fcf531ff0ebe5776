//! `spec.apiserver.featureGates` and `spec.clientFeatureGates`: the feature gates a scenario
//! turns on or off, by their upstream names, checked against the gates kubesim models.

use std::collections::BTreeMap;

use serde_saphyr::Spanned;

use super::error::{ScenarioError, SourcePos};
use crate::config::feature_gates::{ApiServerFeatureGates, ClientFeatureGates};

/// The gates as written (`None`: the scenario sets none) applied to the defaults through
/// `set`; an unknown name is an error at the map, under `path.<name>`.
fn read<G: Default>(
    written: Option<&Spanned<BTreeMap<String, bool>>>,
    path: &str,
    pos: impl Fn(&Spanned<BTreeMap<String, bool>>) -> SourcePos,
    set: impl Fn(&mut G, &str, bool) -> Result<(), String>,
) -> Result<G, ScenarioError> {
    let mut gates = G::default();
    let Some(written) = written else {
        return Ok(gates);
    };
    for (name, &on) in &written.value {
        set(&mut gates, name, on).map_err(|message| ScenarioError::Invalid {
            pos: pos(written),
            path: format!("{path}.{name}"),
            message,
        })?;
    }
    Ok(gates)
}

/// `spec.apiserver.featureGates`.
pub(super) fn apiserver(
    written: Option<&Spanned<BTreeMap<String, bool>>>,
    pos: impl Fn(&Spanned<BTreeMap<String, bool>>) -> SourcePos,
) -> Result<ApiServerFeatureGates, ScenarioError> {
    read(
        written,
        "spec.apiserver.featureGates",
        pos,
        ApiServerFeatureGates::set,
    )
}

/// `spec.clientFeatureGates`.
pub(super) fn client(
    written: Option<&Spanned<BTreeMap<String, bool>>>,
    pos: impl Fn(&Spanned<BTreeMap<String, bool>>) -> SourcePos,
) -> Result<ClientFeatureGates, ScenarioError> {
    read(
        written,
        "spec.clientFeatureGates",
        pos,
        ClientFeatureGates::set,
    )
}
