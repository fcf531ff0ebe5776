//! Scenario files: multi-document YAML holding real Kubernetes manifests and at most one
//! `kind: Scenario` document that says what happens when. Parsing, validation and loading of
//! referenced files live here; building a world from a loaded scenario is [`crate::world`]'s job.

pub mod error;
mod feature_gates;
mod flow_control;
mod leader_election;
pub mod load;
pub mod manifest;
pub mod model;
pub mod overrides;
mod owners;
mod populations;
mod traffic;
pub mod yaml;

pub use error::{ScenarioError, SourcePos};
pub use load::{
    Action, ConfigResolver, Drain, Note, Scenario, TimedAction, load, load_with_overrides,
};
