//! Loading a scenario: the file (or folder of manifests) the user names, the manifest files and
//! folders it references, and the checks that need the whole picture (times within the
//! duration, one Scenario document at most).

use std::sync::Arc;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_saphyr::Spanned;
use sha2::{Digest, Sha256};

use super::error::{ScenarioError, SourcePos};
use super::flow_control::{FlowControlDocuments, request_path};
use super::manifest::{Manifest, read_manifest};
use super::model::{
    ControllerManagerSpec, KubeProxySpec, KubeletSpec, NodePool, ReplaySpec, RolloutAction,
    SCENARIO_API_VERSION, SCENARIO_KIND, ScenarioDoc, ScenarioSpec, SyncPeriodsSpec, TimelineEntry,
    TypeMeta, user_field_path,
};
use super::overrides::{FieldPath, Override, Target};
use super::owners;
use super::yaml::{Document, YamlNode, locate, parse_lenient, parse_strict, split_documents};
use crate::api::gpu::validate_gpu_declaration;
use crate::api::labels::validate_label_value;
use crate::api::node::{LABEL_HOSTNAME, LABEL_ZONE, Node};
use crate::api::{Kind, Object, ObjectKey};
use crate::apiserver::{ApiServerConfig, PropagationPolicy};
use crate::client::qps_defaults::{self, ClientConnectionDefaults};
use crate::config::feature_gates::ClientFeatureGates;
use crate::config::gpu_sharing::Policy;
use crate::config::kube_controller_manager::{
    HpaControllerConfig, KubeControllerManagerConfig, MAX_CONCURRENT_SERVICE_ENDPOINT_SYNCS,
    MAX_MAX_ENDPOINTS_PER_SLICE,
};
use crate::config::kube_proxy::{KubeProxySettings, ProxyMode};
use crate::config::kube_scheduler::{CycleCost, KubeSchedulerConfiguration};
use crate::config::kubelet::{Distribution, KubeletSettings};
use crate::config::legacy_policy::{self, FeatureGates, PolicyNote};
use crate::config::populations::ClientPopulation;
use crate::config::{ClientConnection, ConfigError};
use crate::sim::{SimDuration, SimTime};

/// Virtual time simulated when the scenario does not say.
pub const DEFAULT_DURATION: SimDuration = SimDuration::from_mins(10);
/// Sampling period of the time series when the scenario does not say.
pub const DEFAULT_SAMPLE_EVERY: SimDuration = SimDuration::from_secs(10);
/// Seed used when neither the scenario nor the command line gives one.
pub const DEFAULT_SEED: u64 = 1;

/// A scenario ready to build a world from.
#[derive(Debug)]
pub struct Scenario {
    /// Name (the Scenario's `metadata.name`, else the file stem).
    pub name: String,
    /// Description from the Scenario document.
    pub description: String,
    /// SHA-256 over every input file, in load order.
    pub hash: String,
    /// Seed from the scenario (the command line may override it).
    pub seed: u64,
    /// Virtual time to simulate.
    pub duration: SimDuration,
    /// Stop early once only periodic work is pending.
    pub stop_when_quiescent: bool,
    /// Objects that exist at time 0, in apply order (node pools first).
    pub initial: Vec<Object>,
    /// Timed actions, in time order (ties keep file order).
    pub timeline: Vec<TimedAction>,
    /// Apiserver settings.
    pub apiserver: ApiServerConfig,
    /// Sampling period of the time series.
    pub sample_every: SimDuration,
    /// Scheduler settings.
    pub scheduler: SchedulerSettings,
    /// kube-controller-manager settings.
    pub controller_manager: KubeControllerManagerConfig,
    /// Kubelet settings (`spec.kubelet`).
    pub kubelet: KubeletSettings,
    /// kube-proxy settings (`spec.kubeProxy`).
    pub kube_proxy: KubeProxySettings,
    /// Client populations (`spec.clients`), in the order written.
    pub clients: Vec<ClientPopulation>,
    /// client-go's feature gates of every client (`spec.clientFeatureGates`).
    pub client_feature_gates: ClientFeatureGates,
    /// Things kubesim ignored, for `--verbose` and the report.
    pub notes: Vec<Note>,
    /// Things the user should know even without `--verbose` (an object defined twice).
    pub warnings: Vec<Note>,
    /// The folder the scenario's relative paths are resolved against; reports show paths
    /// relative to it, so they do not depend on where the scenario was run from.
    pub root: PathBuf,
    /// A trace replay to run instead of the cluster simulation (`spec.replay`).
    pub replay: Option<ReplaySettings>,
    /// Offered load per Service (`spec.traffic`).
    pub traffic: Vec<crate::workload::load::Traffic>,
    /// metrics-server, if the run has one (`spec.metricsServer`).
    pub metrics_server: Option<crate::config::metrics_server::MetricsServerConfig>,
    /// The custom and external metrics adapter, when it runs (by default with traffic).
    pub metrics_adapter: Option<crate::config::metrics_adapter::MetricsAdapterConfig>,
    /// A node's price per hour by instance type (`spec.report.nodePricePerHour`).
    pub node_prices: BTreeMap<String, f64>,
}

/// `spec.replay` resolved: the openb replay protocol (`kubesim replay openb`) as a scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplaySettings {
    /// Node list file, resolved against the scenario's folder.
    pub nodes: PathBuf,
    /// Pod list file, resolved against the scenario's folder.
    pub pods: PathBuf,
    /// The node list as the scenario writes it; outputs show this, so they do not depend on
    /// the working directory.
    pub nodes_as_written: String,
    /// The pod list as the scenario writes it.
    pub pods_as_written: String,
    /// The GPU-sharing policy.
    pub policy: Policy,
}

/// How kube-scheduler runs in the scenario.
#[derive(Clone, Debug, Default)]
pub struct SchedulerSettings {
    /// Whether kube-scheduler runs.
    pub enabled: bool,
    /// The virtual cost of a cycle.
    pub cycle_cost: CycleCost,
    /// The KubeSchedulerConfiguration (defaults when the scenario has none); already checked.
    pub config: KubeSchedulerConfiguration,
}

/// Something ignored while loading, with where it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// Where.
    pub pos: SourcePos,
    /// What was ignored and why.
    pub message: String,
}

/// An action at a virtual time.
#[derive(Clone, Debug, PartialEq)]
pub struct TimedAction {
    /// When.
    pub at: SimTime,
    /// What.
    pub action: Action,
}

/// What a timeline entry does; each is one or more API requests, as `kubectl` would send them.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Create each object, or replace it if it exists (`kubectl apply`).
    Apply(Vec<Object>),
    /// Delete an object (`kubectl delete`, whose `--cascade` is background by default).
    Delete(Kind, ObjectKey, PropagationPolicy),
    /// Set a workload's replicas (`kubectl scale`).
    Scale(Kind, ObjectKey, i32),
    /// Set a container image (`kubectl set image`).
    SetImage {
        /// Kind of the target.
        kind: Kind,
        /// Target.
        key: ObjectKey,
        /// Container (all when None).
        container: Option<String>,
        /// New image.
        image: String,
    },
    /// `kubectl cordon` (true) or `uncordon` (false).
    Cordon(String, bool),
    /// `kubectl rollout undo deployment/<name> [--to-revision N]` (0: the previous revision).
    RolloutUndo(ObjectKey, i64),
    /// `kubectl rollout pause` (true) or `resume` (false) of a Deployment.
    RolloutPause(ObjectKey, bool),
    /// `kubectl rollout restart` of a Deployment.
    RolloutRestart(ObjectKey),
    /// `kubectl drain` of a node (see [`Drain`]).
    Drain(Drain),
    /// An eviction of a pod, with the grace period of its deletion (None: the pod's own).
    Evict(ObjectKey, Option<i64>),
    /// A fault: not kubectl's, the world carries it out.
    Fault(crate::faults::Fault),
}

/// A `kubectl drain <node> --ignore-daemonsets --delete-emptydir-data --force`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drain {
    /// The node.
    pub node: String,
    /// How long the drain may take (`--timeout`; None: no limit).
    pub timeout: Option<SimDuration>,
    /// The pods' grace period (`--grace-period`; None: each pod's own).
    pub grace_period: Option<i64>,
}

impl Action {
    /// A short description for logs and reports.
    pub fn describe(&self) -> String {
        match self {
            Action::Apply(objects) => format!("apply {} object(s)", objects.len()),
            Action::Delete(kind, key, PropagationPolicy::Background) => {
                format!("delete {kind} {key}")
            }
            Action::Delete(kind, key, cascade) => {
                format!(
                    "delete {kind} {key} --cascade={}",
                    cascade.name().to_lowercase()
                )
            }
            Action::Scale(kind, key, n) => format!("scale {kind} {key} to {n}"),
            Action::SetImage {
                kind, key, image, ..
            } => format!("set image of {kind} {key} to {image}"),
            Action::Cordon(node, true) => format!("cordon {node}"),
            Action::Cordon(node, false) => format!("uncordon {node}"),
            Action::RolloutUndo(key, 0) => format!("rollout undo Deployment {key}"),
            Action::RolloutUndo(key, n) => {
                format!("rollout undo Deployment {key} to revision {n}")
            }
            Action::RolloutPause(key, true) => format!("rollout pause Deployment {key}"),
            Action::RolloutPause(key, false) => format!("rollout resume Deployment {key}"),
            Action::RolloutRestart(key) => format!("rollout restart Deployment {key}"),
            Action::Drain(d) => match d.timeout {
                Some(timeout) => format!("drain {} --timeout={timeout}", d.node),
                None => format!("drain {}", d.node),
            },
            Action::Evict(key, _) => format!("evict Pod {key}"),
            Action::Fault(fault) => fault.describe(),
        }
    }
}

/// What the loader asks of the components whose configuration documents a scenario holds.
///
/// The documents are data ([`crate::config`]), and the loader reads them itself; whether one
/// resolves — which plugins exist, what their args mean, what a legacy Policy becomes — only
/// the component knows. The loader asks while it still knows where each field was written, so
/// a document that does not resolve is a load error at its file, line and column. The caller
/// says who answers: [`crate::world::Components`] for kubesim's components.
pub trait ConfigResolver {
    /// Resolves `config` as kube-scheduler would; the error names the field that does not
    /// resolve.
    fn resolve_scheduler_configuration(
        &self,
        config: &KubeSchedulerConfiguration,
    ) -> Result<(), ConfigError>;

    /// The `KubeSchedulerConfiguration` kube-scheduler 1.22 made of the legacy `policy` with
    /// `gates`, and what of the Policy it reads but does not act on; the error names the
    /// Policy's field it refuses.
    fn translate_scheduler_policy(
        &self,
        policy: &legacy_policy::Policy,
        gates: FeatureGates,
    ) -> Result<(KubeSchedulerConfiguration, Vec<PolicyNote>), ConfigError>;
}

/// Everything read from files so far.
#[derive(Default)]
struct Inputs {
    hasher: Sha256,
    /// The Scenario document, its file and the line its document starts on.
    scenario: Option<(PathBuf, ScenarioDoc, u64)>,
    objects: Vec<Object>,
    /// Where each object (kind, namespace, name) was first defined.
    defined_at: BTreeMap<(Kind, String, String), SourcePos>,
    /// Where each object of the apply being read (the initial one, or a timeline entry's) was
    /// first defined, to warn of repeats.
    applied_together: BTreeMap<(Kind, String, String), SourcePos>,
    scheduler_configurations: Vec<(PathBuf, Document)>,
    /// Legacy scheduler Policy documents (at most one is allowed).
    scheduler_policies: Vec<(PathBuf, Document)>,
    /// FlowSchema and PriorityLevelConfiguration documents.
    flow_control: FlowControlDocuments,
    notes: Vec<Note>,
    warnings: Vec<Note>,
    /// Overrides to apply to the Scenario, KubeSchedulerConfiguration and Policy documents.
    overrides: Vec<ParsedOverride>,
}

/// An override with its path and value parsed.
#[derive(Clone, Debug)]
struct ParsedOverride {
    given: Override,
    path: FieldPath,
    value: YamlNode,
}

/// Turns positions inside the Scenario document into positions in its file.
struct Locator<'a> {
    file: &'a Path,
    /// Lines of the file before the Scenario document.
    line_offset: u64,
}

impl Locator<'_> {
    fn at(&self, location: &serde_saphyr::Location) -> SourcePos {
        SourcePos {
            file: self.file.to_path_buf(),
            line: location.line() + self.line_offset,
            column: location.column(),
        }
    }

    fn whole_file(&self) -> SourcePos {
        SourcePos {
            file: self.file.to_path_buf(),
            line: 0,
            column: 0,
        }
    }
}

/// Loads the scenario at `path`: a YAML file, or a folder of manifest files; `resolver`
/// resolves the components' configuration documents it holds.
pub fn load(path: &Path, resolver: &dyn ConfigResolver) -> Result<Scenario, ScenarioError> {
    load_with_overrides(path, &[], resolver)
}

/// Loads the scenario at `path` with `overrides` applied, as `kubesim sweep --vary` runs it.
///
/// Each override sets one field of the Scenario document (a key under `spec.` or
/// `metadata.`) or, with the prefix `scheduler.`, of the KubeSchedulerConfiguration document,
/// or, with the prefix `policy.`, of the legacy scheduler Policy. It is applied to the parsed
/// document tree before the typed parse: missing map keys are created (and a missing document
/// too: an empty Scenario or KubeSchedulerConfiguration, but never a Policy, whose emptiness
/// means the default predicates and priorities), a list index past the end is an error naming
/// the key. The result is checked exactly as the file would be had the value been written
/// there, so a value that does not fit the field is an error naming the key, the value and
/// what was expected. `Scenario::hash` stays the hash of the files: callers record the
/// overrides beside it.
pub fn load_with_overrides(
    path: &Path,
    overrides: &[Override],
    resolver: &dyn ConfigResolver,
) -> Result<Scenario, ScenarioError> {
    let parsed = overrides
        .iter()
        .map(|o| parse_override(path, o))
        .collect::<Result<Vec<_>, _>>()?;
    let mut inputs = Inputs {
        overrides: parsed.clone(),
        ..Inputs::default()
    };
    for file in manifest_files(path)? {
        read_file(&file, &mut inputs, true)?;
    }
    if inputs.scenario.is_none() && parsed.iter().any(|o| o.path.target == Target::Scenario) {
        let doc = Document {
            text: format!("apiVersion: {SCENARIO_API_VERSION}\nkind: {SCENARIO_KIND}\n"),
            first_line: 1,
        };
        read_scenario_doc(&doc, path, &mut inputs, true)?;
    }
    let scenario_file = inputs.scenario.as_ref().map(|(file, _, _)| file.clone());
    let base = path
        .parent()
        .filter(|_| path.is_file())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| path.to_path_buf());
    let default_name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".into());
    assemble(inputs, &base, default_name, resolver).map_err(|e| {
        let in_scenario_doc = scenario_file
            .as_deref()
            .is_some_and(|f| e.pos().is_some_and(|p| p.file == f));
        if !in_scenario_doc || !parsed.iter().any(|o| o.path.target == Target::Scenario) {
            return e;
        }
        let start = SourcePos {
            file: scenario_file.clone().unwrap_or_default(),
            line: 0,
            column: 0,
        };
        blame_or_relocate(e, &parsed, Target::Scenario, start)
    })
}

fn parse_override(file: &Path, given: &Override) -> Result<ParsedOverride, ScenarioError> {
    let invalid = |message: String| ScenarioError::Invalid {
        pos: SourcePos {
            file: file.to_path_buf(),
            line: 0,
            column: 0,
        },
        path: given.key.clone(),
        message,
    };
    let path = given.path().map_err(|e| invalid(e.message))?;
    let value = YamlNode::parse(&given.value).map_err(|m| {
        invalid(format!(
            "override value {:?} is not a YAML value: {m}",
            given.value
        ))
    })?;
    Ok(ParsedOverride {
        given: given.clone(),
        path,
        value,
    })
}

/// `doc` with the overrides aimed at `target` applied, or `None` when none is.
fn apply_overrides(
    doc: &Document,
    file: &Path,
    overrides: &[ParsedOverride],
    target: Target,
) -> Result<Option<Document>, ScenarioError> {
    let mut aimed = overrides
        .iter()
        .filter(|o| o.path.target == target)
        .peekable();
    if aimed.peek().is_none() {
        return Ok(None);
    }
    let mut tree = YamlNode::parse(&doc.text).map_err(|m| ScenarioError::Invalid {
        pos: doc.start(file),
        path: String::new(),
        message: format!("cannot apply overrides: {m}"),
    })?;
    for o in aimed {
        tree.set(&o.path.segments, o.value.clone())
            .map_err(|m| ScenarioError::Invalid {
                pos: SourcePos {
                    file: file.to_path_buf(),
                    line: 0,
                    column: 0,
                },
                path: o.given.key.clone(),
                message: format!("cannot apply override {}: {m}", o.given),
            })?;
    }
    Ok(Some(Document {
        text: tree.to_yaml(),
        first_line: doc.first_line,
    }))
}

/// Whether one of two field paths is the other or lies under it.
fn related(a: &str, b: &str) -> bool {
    let under = |long: &str, short: &str| {
        long.strip_prefix(short)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
    };
    under(a, b) || under(b, a)
}

/// An error in a document changed by overrides: pinned on the override whose field it is
/// about (naming its key and value), else moved to the document's start (positions inside the
/// changed document are not positions in the file).
fn blame_or_relocate(
    err: ScenarioError,
    overrides: &[ParsedOverride],
    target: Target,
    start: SourcePos,
) -> ScenarioError {
    let err_path = err.field_path().unwrap_or_default().to_owned();
    let culprit = overrides
        .iter()
        .filter(|o| o.path.target == target)
        .find(|o| !err_path.is_empty() && related(&o.path.display(), &err_path));
    let file_only = SourcePos {
        line: 0,
        column: 0,
        ..start.clone()
    };
    if let Some(o) = culprit {
        let path = if err_path.len() > o.path.display().len() {
            format!("{}{err_path}", target.prefix())
        } else {
            o.given.key.clone()
        };
        return ScenarioError::Invalid {
            pos: file_only,
            path,
            message: format!("override value {:?}: {}", o.given.value, err.message()),
        };
    }
    let note = " (in the document as changed by the overrides)";
    match err {
        ScenarioError::Syntax { path, message, .. } => ScenarioError::Syntax {
            pos: start,
            path,
            message: format!("{message}{note}"),
            snippet: String::new(),
        },
        ScenarioError::Invalid { path, message, .. } => ScenarioError::Invalid {
            pos: start,
            path,
            message: format!("{message}{note}"),
        },
        other => other,
    }
}

/// The YAML files under `path`: the file itself, or a folder's `*.yaml`/`*.yml` files in name
/// order (sub-folders too), so a folder loads the same way everywhere.
fn manifest_files(path: &Path) -> Result<Vec<PathBuf>, ScenarioError> {
    let io = |p: &Path, e: std::io::Error| ScenarioError::Io {
        path: p.to_path_buf(),
        message: e.to_string(),
    };
    let meta = fs::metadata(path).map_err(|e| io(path, e))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut entries: Vec<PathBuf> = fs::read_dir(path)
        .map_err(|e| io(path, e))?
        .map(|entry| entry.map(|e| e.path()).map_err(|e| io(path, e)))
        .collect::<Result<_, _>>()?;
    entries.sort();
    let mut files = Vec::new();
    for entry in entries {
        if entry.is_dir() {
            files.extend(manifest_files(&entry)?);
        } else if entry.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            files.push(entry);
        }
    }
    Ok(files)
}

/// Reads every document of `file` into `inputs`. A Scenario document is allowed only in the
/// files the user named (`top_level`), not in files the scenario references.
fn read_file(file: &Path, inputs: &mut Inputs, top_level: bool) -> Result<(), ScenarioError> {
    let text = fs::read_to_string(file).map_err(|e| ScenarioError::Io {
        path: file.to_path_buf(),
        message: e.to_string(),
    })?;
    // Contents only, length-prefixed: the hash must not depend on how the path was spelled.
    inputs.hasher.update((text.len() as u64).to_le_bytes());
    inputs.hasher.update(text.as_bytes());
    for doc in split_documents(&text) {
        read_document(doc, file, inputs, top_level)?;
    }
    Ok(())
}

/// Notes an object defined a second time: both are applied in order, as `kubectl apply` of
/// the files would, so the later one wins where they differ.
fn note_repeat(object: &Object, pos: SourcePos, inputs: &mut Inputs) {
    let kind = object.kind();
    let meta = object.meta();
    if meta.name.is_empty() {
        // generateName: every one is a new object.
        return;
    }
    let namespace = if kind.is_namespaced() && meta.namespace.is_empty() {
        "default".to_string()
    } else {
        meta.namespace.clone()
    };
    let key = (kind, namespace, meta.name.clone());
    inputs
        .defined_at
        .entry(key.clone())
        .or_insert_with(|| pos.clone());
    // Only a repeat within one apply is worth a warning: a timeline apply of a changed
    // manifest is how a scenario updates an object.
    match inputs.applied_together.get(&key) {
        Some(first) => inputs.warnings.push(Note {
            pos,
            message: format!(
                "{kind} {}/{} is defined again (first at {first}); both are applied in order, \
                 as kubectl apply would, so this one wins where they differ",
                key.1, key.2
            ),
        }),
        None => {
            inputs.applied_together.insert(key, pos);
        }
    }
}

/// Reads one document of `file` (a list's items one by one) into `inputs`.
fn read_document(
    doc: Document,
    file: &Path,
    inputs: &mut Inputs,
    top_level: bool,
) -> Result<(), ScenarioError> {
    let (meta, _) = parse_lenient::<TypeMeta>(&doc, file)?;
    if meta.kind() == SCENARIO_KIND && meta.api_version().starts_with("kubesim.io/") {
        return read_scenario_doc(&doc, file, inputs, top_level);
    }
    match read_manifest(&doc, file, &meta)? {
        Manifest::Object {
            object,
            ignored_fields,
        } => {
            if !ignored_fields.is_empty() {
                inputs.notes.push(Note {
                    pos: doc.start(file),
                    message: format!(
                        "{} {}: fields not modelled, ignored: {}",
                        object.kind(),
                        object.meta().name,
                        ignored_fields.join(", ")
                    ),
                });
            }
            note_repeat(&object, doc.start(file), inputs);
            inputs.objects.push(*object);
        }
        Manifest::SchedulerConfiguration(doc) => {
            inputs
                .scheduler_configurations
                .push((file.to_path_buf(), doc));
        }
        Manifest::SchedulerPolicy(doc) => {
            inputs.scheduler_policies.push((file.to_path_buf(), doc));
        }
        Manifest::FlowSchema(doc) => {
            inputs
                .flow_control
                .read_flow_schema(&doc, file, &mut inputs.notes)?;
        }
        Manifest::PriorityLevelConfiguration(doc) => {
            inputs
                .flow_control
                .read_priority_level(&doc, file, &mut inputs.notes)?;
        }
        Manifest::Skipped { api_version, kind } => inputs.notes.push(Note {
            pos: doc.start(file),
            message: format!("{api_version} {kind} is not modelled by kubesim; skipped"),
        }),
        Manifest::List(items) => {
            for item in items {
                // A list holds objects, never the scenario itself.
                read_document(item, file, inputs, false)?;
            }
        }
    }
    Ok(())
}

fn read_scenario_doc(
    doc: &Document,
    file: &Path,
    inputs: &mut Inputs,
    top_level: bool,
) -> Result<(), ScenarioError> {
    let invalid = |path: &str, message: String| ScenarioError::Invalid {
        pos: doc.start(file),
        path: path.into(),
        message,
    };
    if !top_level {
        return Err(invalid(
            "kind",
            "a Scenario document cannot be in a referenced manifest file".into(),
        ));
    }
    if let Some((first, _, _)) = &inputs.scenario {
        return Err(invalid(
            "kind",
            format!(
                "a second Scenario document; the first is in {}",
                first.display()
            ),
        ));
    }
    let changed = apply_overrides(doc, file, &inputs.overrides, Target::Scenario)?;
    let parsed: ScenarioDoc = parse_strict(changed.as_ref().unwrap_or(doc), file)
        .map_err(|e| match e {
            ScenarioError::Syntax {
                pos,
                path,
                message,
                snippet,
            } => ScenarioError::Syntax {
                pos,
                path: user_field_path(&path),
                message,
                snippet,
            },
            other => other,
        })
        .map_err(|e| match &changed {
            Some(_) => blame_or_relocate(e, &inputs.overrides, Target::Scenario, doc.start(file)),
            None => e,
        })?;
    if parsed.api_version != SCENARIO_API_VERSION {
        return Err(invalid(
            "apiVersion",
            format!(
                "expected {SCENARIO_API_VERSION}, found {}",
                parsed.api_version
            ),
        ));
    }
    inputs.scenario = Some((file.to_path_buf(), parsed, doc.first_line));
    Ok(())
}

/// Resolves references, checks times and builds the [`Scenario`].
fn assemble(
    mut inputs: Inputs,
    base: &Path,
    default_name: String,
    resolver: &dyn ConfigResolver,
) -> Result<Scenario, ScenarioError> {
    let scenario = inputs.scenario.take();
    let (scenario_file, doc, first_line) = match scenario {
        Some((file, doc, first_line)) => (Some(file), Some(doc), first_line),
        None => (None, None, 1),
    };
    let file = scenario_file.unwrap_or_else(|| base.to_path_buf());
    let locator = Locator {
        file: &file,
        line_offset: first_line.saturating_sub(1),
    };
    let at = |s: &serde_saphyr::Location| locator.at(s);
    let mut spec = doc.as_ref().map(|d| &d.spec);
    let duration = spec
        .and_then(|s| s.duration.as_ref())
        .map(|d| d.value)
        .unwrap_or(DEFAULT_DURATION);
    if duration.is_zero() {
        let pos = spec
            .and_then(|s| s.duration.as_ref())
            .map(|d| at(&d.referenced))
            .unwrap_or_else(|| locator.whole_file());
        return Err(ScenarioError::Invalid {
            pos,
            path: "spec.duration".into(),
            message: "expected a positive duration such as 30m".into(),
        });
    }
    let replay = match spec {
        Some(s) => match &s.replay {
            Some(r) => Some(replay_settings(r, s, base, &locator, &mut inputs)?),
            None => None,
        },
        None => None,
    };
    let mut initial = Vec::new();
    if let Some(s) = spec {
        for (i, pool) in s.node_pools.iter().enumerate() {
            initial.extend(pool_nodes(pool, i, &locator)?);
        }
        reject_duplicate_pools(&s.node_pools, &locator)?;
        for (i, reference) in s.manifests.iter().enumerate() {
            let field = format!("spec.manifests[{i}]");
            let objects = read_reference(reference, base, &locator, &field, &mut inputs)?;
            initial.extend(objects);
        }
    }
    initial.append(&mut inputs.objects);
    let mut timeline = Vec::new();
    let mut fault_check = None;
    if let Some(s) = spec.take() {
        for (i, entry) in s.timeline.iter().enumerate() {
            let when = entry.value.at.value;
            if when > duration {
                return Err(ScenarioError::Invalid {
                    pos: at(&entry.value.at.referenced),
                    path: format!("spec.timeline[{i}].at"),
                    message: format!(
                        "time {when} is beyond the scenario's duration {duration}; expected at most {duration}"
                    ),
                });
            }
            let action = timeline_action(entry, i, base, &locator, &mut inputs)?;
            timeline.push(TimedAction {
                at: SimTime::ZERO + when,
                action,
            });
        }
        fault_check = Some(s);
    }
    if let Some(s) = &fault_check {
        resolve_fault_nodes(&s.timeline, &mut timeline, &initial, &locator)?;
    }
    timeline.sort_by_key(|a| a.at);
    owners::resolve_owner_references(
        &mut initial,
        &mut timeline,
        &inputs.defined_at,
        &mut inputs.notes,
    );
    let (name, description, seed, stop_when_quiescent, apiserver, sample_every) = match &doc {
        Some(d) => {
            let defaults = ApiServerConfig::default();
            let api = &d.spec.apiserver;
            let sample_every = match &d.spec.report.sample_every {
                Some(s) if s.value.is_zero() => {
                    return Err(ScenarioError::Invalid {
                        pos: at(&s.referenced),
                        path: "spec.report.sampleEvery".into(),
                        message: "expected a positive duration such as 10s".into(),
                    });
                }
                Some(s) => s.value,
                None => DEFAULT_SAMPLE_EVERY,
            };
            (
                if d.metadata.name.is_empty() {
                    default_name
                } else {
                    d.metadata.name.clone()
                },
                d.metadata.description.clone(),
                d.spec.seed.unwrap_or(DEFAULT_SEED),
                d.spec.stop_when_quiescent,
                ApiServerConfig {
                    request_path: request_path(
                        api,
                        &inputs.flow_control,
                        &at,
                        locator.whole_file(),
                        &mut inputs.notes,
                    )?,
                    admission_latency: api.admission_latency.unwrap_or(defaults.admission_latency),
                    watch_delay: api.watch_delay.unwrap_or(defaults.watch_delay),
                    watch_history: api.watch_history.unwrap_or(defaults.watch_history),
                    event_ttl: api.event_ttl.unwrap_or(defaults.event_ttl),
                    default_not_ready_toleration_seconds: api
                        .default_not_ready_toleration_seconds
                        .as_ref()
                        .map_or(defaults.default_not_ready_toleration_seconds, |s| s.value),
                    default_unreachable_toleration_seconds: api
                        .default_unreachable_toleration_seconds
                        .as_ref()
                        .map_or(defaults.default_unreachable_toleration_seconds, |s| s.value),
                    replicas: apiserver_replicas(api, &at)?,
                    goaway_chance_ppb: goaway_chance(api, &at)?,
                    feature_gates: super::feature_gates::apiserver(
                        api.feature_gates.as_ref(),
                        |written| locator.at(&written.referenced),
                    )?,
                    ..defaults
                },
                sample_every,
            )
        }
        None => (
            default_name,
            String::new(),
            DEFAULT_SEED,
            false,
            ApiServerConfig {
                request_path: request_path(
                    &Default::default(),
                    &inputs.flow_control,
                    &at,
                    locator.whole_file(),
                    &mut inputs.notes,
                )?,
                ..ApiServerConfig::default()
            },
            DEFAULT_SAMPLE_EVERY,
        ),
    };
    if let Some(s) = &fault_check
        && apiserver.request_path.mode == crate::apiserver::FlowControlMode::Ideal
        && let Some((i, entry, key)) = s.timeline.iter().enumerate().find_map(|(i, e)| {
            let v = &e.value;
            let key = if v.apiserver_restart.is_some() {
                "apiserverRestart"
            } else if v.apiserver_rolling_restart.is_some() {
                "apiserverRollingRestart"
            } else if v.etcd_slowdown.is_some() {
                "etcdSlowdown"
            } else if v.etcd_leader_election.is_some() {
                "etcdLeaderElection"
            } else {
                return None;
            };
            Some((i, e, key))
        })
    {
        return Err(ScenarioError::Invalid {
            pos: at(&entry.referenced),
            path: format!("spec.timeline[{i}].{key}"),
            message: "the ideal apiserver has no process to restart and no etcd model; \
                      expected spec.apiserver.flowControl to be maxInflight, apf or dynamic"
                .into(),
        });
    }
    if let Some(s) = &fault_check {
        restarted_replicas_exist(&s.timeline, apiserver.replicas, &at)?;
    }
    let gates = feature_gates(doc.as_ref().map(|d| &d.spec.scheduler), &locator)?;
    let scheduler = scheduler_settings(
        doc.as_ref().map(|d| &d.spec.scheduler),
        SchedulerDocuments {
            configurations: &inputs.scheduler_configurations,
            policies: &inputs.scheduler_policies,
            gates,
        },
        &mut inputs.notes,
        &inputs.overrides,
        &file,
        resolver,
    )?;
    let controller_manager =
        controller_manager_settings(doc.as_ref().map(|d| &d.spec.controller_manager), &locator)?;
    let kubelet = match &doc {
        Some(d) => kubelet_settings(&d.spec.kubelet, &locator)?,
        None => KubeletSettings::default(),
    };
    let kube_proxy = match &doc {
        Some(d) => kube_proxy_settings(&d.spec.kube_proxy, kubelet.enabled, &locator)?,
        None => KubeProxySettings::default(),
    };
    let clients = match &doc {
        Some(d) => super::populations::client_populations(&d.spec.clients, &at)?,
        None => Vec::new(),
    };
    let client_feature_gates = super::feature_gates::client(
        doc.as_ref()
            .and_then(|d| d.spec.client_feature_gates.as_ref()),
        |written| locator.at(&written.referenced),
    )?;
    let traffic = match &doc {
        Some(d) => super::traffic::traffic(&d.spec.traffic, base, &at)?,
        None => Vec::new(),
    };
    // A rate file is input as much as the scenario is: run.json's hash covers its bytes
    // (read once more here; `traffic` has just read it without error).
    let rate_files = doc
        .iter()
        .flat_map(|d| &d.spec.traffic)
        .filter_map(|t| t.value.rate_file.as_ref());
    for file in rate_files {
        let bytes = fs::read(base.join(&file.value)).unwrap_or_default();
        inputs.hasher.update((bytes.len() as u64).to_le_bytes());
        inputs.hasher.update(&bytes);
    }
    let applied = || {
        initial
            .iter()
            .chain(timeline.iter().flat_map(|t| match &t.action {
                Action::Apply(objects) => objects.as_slice(),
                _ => &[],
            }))
    };
    let has_hpa = applied().any(|o| o.kind() == crate::api::Kind::HorizontalPodAutoscaler);
    if let Some(d) = &doc {
        // A manifest without a namespace is applied to `default`, as kubectl does.
        let services: Vec<crate::api::ObjectKey> = applied()
            .filter(|o| o.kind() == crate::api::Kind::Service)
            .map(|o| o.key().or_default_namespace())
            .collect();
        inputs
            .warnings
            .extend(super::traffic::traffic_without_service(
                &d.spec.traffic,
                &traffic,
                &services,
                &at,
            ));
    }
    let metrics_server = match &doc {
        Some(d) => super::traffic::metrics_server(
            &d.spec.metrics_server,
            !traffic.is_empty() || has_hpa,
            &at,
        )?,
        None => has_hpa.then(Default::default),
    };
    let metrics_adapter = match &doc {
        Some(d) => {
            super::traffic::metrics_adapter(&d.spec.metrics_adapter, !traffic.is_empty(), &at)?
        }
        None => None,
    };
    let node_prices = match &doc {
        Some(d) => super::traffic::node_prices(&d.spec.report.node_price_per_hour, &at)?,
        None => BTreeMap::new(),
    };
    let hash = inputs.hasher.finalize();
    Ok(Scenario {
        name,
        description,
        hash: hash.iter().map(|b| format!("{b:02x}")).collect(),
        seed,
        duration,
        stop_when_quiescent,
        initial,
        timeline,
        apiserver,
        sample_every,
        scheduler,
        controller_manager,
        kubelet,
        kube_proxy,
        clients,
        client_feature_gates,
        notes: inputs.notes,
        warnings: inputs.warnings,
        root: base.to_path_buf(),
        replay,
        traffic,
        metrics_server,
        metrics_adapter,
        node_prices,
    })
}

/// A component's client connection as written, checked as the component checks it
/// ([`ClientConnectionDefaults::checked_rate_limit`]): `qps` and `burst` are the values written
/// with where, and the field paths that name them; an error points at the value refused.
fn client_connection(
    component: &ClientConnectionDefaults,
    qps: Option<(f32, &serde_saphyr::Location)>,
    burst: Option<(i32, &serde_saphyr::Location)>,
    paths: (&str, &str),
    locator: &Locator<'_>,
) -> Result<ClientConnection, ScenarioError> {
    let written = ClientConnection {
        qps: qps.map(|(v, _)| v),
        burst: burst.map(|(v, _)| v),
    };
    match component.checked_rate_limit(written) {
        Ok(_) => Ok(written),
        Err(e) => {
            let (path, at) = if e.setting == component.qps_setting {
                (paths.0, qps.map(|(_, at)| at))
            } else {
                (paths.1, burst.map(|(_, at)| at))
            };
            Err(ScenarioError::Invalid {
                pos: at.map_or_else(|| locator.whole_file(), |at| locator.at(at)),
                path: path.to_string(),
                message: format!("{} ({}): {}", e.setting, component.component, e.message),
            })
        }
    }
}

/// `spec.controllerManager` with upstream's defaults for what it leaves out; every count must
/// be at least 1.
fn controller_manager_settings(
    spec: Option<&ControllerManagerSpec>,
    locator: &Locator<'_>,
) -> Result<KubeControllerManagerConfig, ScenarioError> {
    let defaults = KubeControllerManagerConfig::default();
    let Some(spec) = spec else {
        return Ok(defaults);
    };
    // kube-controller-manager's own bounds on some counts (its options' Validate).
    let at_most = |value: u32, field: &Option<Spanned<u32>>, name: &str, max: u32| match field {
        Some(v) if value > max => Err(ScenarioError::Invalid {
            pos: locator.at(&v.referenced),
            path: format!("spec.controllerManager.{name}"),
            message: format!("expected at most {max}, found {value}"),
        }),
        _ => Ok(value),
    };
    let count = |field: &Option<Spanned<u32>>, name: &str, default: u32| match field {
        Some(v) if v.value == 0 => Err(ScenarioError::Invalid {
            pos: locator.at(&v.referenced),
            path: format!("spec.controllerManager.{name}"),
            message: "expected a count of at least 1".into(),
        }),
        Some(v) => Ok(v.value),
        None => Ok(default),
    };
    let positive =
        |field: &Option<Spanned<SimDuration>>, name: &str, default: SimDuration| match field {
            Some(v) if v.value.is_zero() => Err(ScenarioError::Invalid {
                pos: locator.at(&v.referenced),
                path: format!("spec.controllerManager.{name}"),
                message: "expected a positive duration such as 5s".into(),
            }),
            Some(v) => Ok(v.value),
            None => Ok(default),
        };
    let rate = |field: &Option<Spanned<f64>>, name: &str, default: f64| match field {
        Some(v) if !(v.value.is_finite() && v.value >= 0.0) => Err(ScenarioError::Invalid {
            pos: locator.at(&v.referenced),
            path: format!("spec.controllerManager.{name}"),
            message: format!("expected nodes per second, at least 0, found {}", v.value),
        }),
        Some(v) => Ok(v.value),
        None => Ok(default),
    };
    Ok(KubeControllerManagerConfig {
        enabled: spec.enabled.unwrap_or(defaults.enabled),
        concurrent_replicaset_syncs: count(
            &spec.concurrent_replicaset_syncs,
            "concurrentReplicasetSyncs",
            defaults.concurrent_replicaset_syncs,
        )?,
        concurrent_deployment_syncs: count(
            &spec.concurrent_deployment_syncs,
            "concurrentDeploymentSyncs",
            defaults.concurrent_deployment_syncs,
        )?,
        concurrent_gc_syncs: count(
            &spec.concurrent_gc_syncs,
            "concurrentGcSyncs",
            defaults.concurrent_gc_syncs,
        )?,
        burst_replicas: count(
            &spec.burst_replicas,
            "burstReplicas",
            defaults.burst_replicas,
        )?,
        concurrent_service_endpoint_syncs: at_most(
            count(
                &spec.concurrent_service_endpoint_syncs,
                "concurrentServiceEndpointSyncs",
                defaults.concurrent_service_endpoint_syncs,
            )?,
            &spec.concurrent_service_endpoint_syncs,
            "concurrentServiceEndpointSyncs",
            MAX_CONCURRENT_SERVICE_ENDPOINT_SYNCS,
        )?,
        max_endpoints_per_slice: at_most(
            count(
                &spec.max_endpoints_per_slice,
                "maxEndpointsPerSlice",
                defaults.max_endpoints_per_slice,
            )?,
            &spec.max_endpoints_per_slice,
            "maxEndpointsPerSlice",
            MAX_MAX_ENDPOINTS_PER_SLICE,
        )?,
        endpoint_updates_batch_period: spec
            .endpoint_updates_batch_period
            .unwrap_or(defaults.endpoint_updates_batch_period),
        node_monitor_period: positive(
            &spec.node_monitor_period,
            "nodeMonitorPeriod",
            defaults.node_monitor_period,
        )?,
        node_monitor_grace_period: positive(
            &spec.node_monitor_grace_period,
            "nodeMonitorGracePeriod",
            defaults.node_monitor_grace_period,
        )?,
        node_startup_grace_period: positive(
            &spec.node_startup_grace_period,
            "nodeStartupGracePeriod",
            defaults.node_startup_grace_period,
        )?,
        node_eviction_rate: rate(
            &spec.node_eviction_rate,
            "nodeEvictionRate",
            defaults.node_eviction_rate,
        )?,
        secondary_node_eviction_rate: rate(
            &spec.secondary_node_eviction_rate,
            "secondaryNodeEvictionRate",
            defaults.secondary_node_eviction_rate,
        )?,
        unhealthy_zone_threshold: match &spec.unhealthy_zone_threshold {
            // Upstream's options refuse a threshold outside (0, 1].
            Some(v) if !(v.value > 0.0 && v.value <= 1.0) => {
                return Err(ScenarioError::Invalid {
                    pos: locator.at(&v.referenced),
                    path: "spec.controllerManager.unhealthyZoneThreshold".into(),
                    message: format!("expected a share above 0 and at most 1, found {}", v.value),
                });
            }
            Some(v) => v.value,
            None => defaults.unhealthy_zone_threshold,
        },
        large_cluster_size_threshold: spec
            .large_cluster_size_threshold
            .unwrap_or(defaults.large_cluster_size_threshold),
        hpa: hpa_controller_config(spec, locator)?,
        leader_election: super::leader_election::controller_manager(
            spec,
            |at| locator.at(at),
            locator.whole_file(),
        )?,
        kube_api: client_connection(
            &qps_defaults::KUBE_CONTROLLER_MANAGER,
            spec.kube_api_qps.as_ref().map(|v| (v.value, &v.referenced)),
            spec.kube_api_burst
                .as_ref()
                .map(|v| (v.value, &v.referenced)),
            (
                "spec.controllerManager.kubeApiQps",
                "spec.controllerManager.kubeApiBurst",
            ),
            locator,
        )?,
    })
}

/// The HorizontalPodAutoscaler controller's flags of `spec.controllerManager`, checked as
/// upstream's options are (a positive period and worker count, a tolerance of at least 0).
fn hpa_controller_config(
    spec: &ControllerManagerSpec,
    locator: &Locator<'_>,
) -> Result<HpaControllerConfig, ScenarioError> {
    let defaults = HpaControllerConfig::default();
    let invalid =
        |at: &serde_saphyr::Location, field: &str, message: &str| ScenarioError::Invalid {
            pos: locator.at(at),
            path: format!("spec.controllerManager.{field}"),
            message: message.into(),
        };
    let sync_period = match &spec.horizontal_pod_autoscaler_sync_period {
        Some(v) if v.value.is_zero() => Err(invalid(
            &v.referenced,
            "horizontalPodAutoscalerSyncPeriod",
            "expected a positive duration such as 15s",
        )),
        Some(v) => Ok(v.value),
        None => Ok(defaults.sync_period),
    }?;
    let concurrent_syncs = match &spec.concurrent_horizontal_pod_autoscaler_syncs {
        Some(v) if v.value == 0 => Err(invalid(
            &v.referenced,
            "concurrentHorizontalPodAutoscalerSyncs",
            "expected a count of at least 1",
        )),
        Some(v) => Ok(v.value),
        None => Ok(defaults.concurrent_syncs),
    }?;
    let tolerance = match &spec.horizontal_pod_autoscaler_tolerance {
        Some(v) if !(v.value.is_finite() && v.value >= 0.0) => Err(invalid(
            &v.referenced,
            "horizontalPodAutoscalerTolerance",
            "expected a share of at least 0 such as 0.1",
        )),
        Some(v) => Ok(v.value),
        None => Ok(defaults.tolerance),
    }?;
    Ok(HpaControllerConfig {
        sync_period,
        concurrent_syncs,
        tolerance,
        downscale_stabilization: spec
            .horizontal_pod_autoscaler_downscale_stabilization
            .unwrap_or(defaults.downscale_stabilization),
        cpu_initialization_period: spec
            .horizontal_pod_autoscaler_cpu_initialization_period
            .unwrap_or(defaults.cpu_initialization_period),
        initial_readiness_delay: spec
            .horizontal_pod_autoscaler_initial_readiness_delay
            .unwrap_or(defaults.initial_readiness_delay),
    })
}

/// `spec.kubelet` checked and resolved over the kubelet's defaults; an error names the field.
fn kubelet_settings(
    spec: &KubeletSpec,
    locator: &Locator<'_>,
) -> Result<KubeletSettings, ScenarioError> {
    let defaults = KubeletSettings::default();
    let invalid =
        |at: &serde_saphyr::Location, field: &str, message: String| ScenarioError::Invalid {
            pos: locator.at(at),
            path: format!("spec.kubelet.{field}"),
            message,
        };
    let positive = |value: &Option<Spanned<SimDuration>>, field: &str| match value {
        Some(d) if d.value.is_zero() => Err(invalid(
            &d.referenced,
            field,
            "expected a positive duration such as 10s".into(),
        )),
        Some(d) => Ok(Some(d.value)),
        None => Ok(None),
    };
    let distribution =
        |value: &Option<Spanned<Distribution>>, field: &str, default: Distribution| match value {
            Some(d) => d
                .value
                .check()
                .map(|()| d.value.clone())
                .map_err(|m| invalid(&d.referenced, &format!("timing.{field}"), m)),
            None => Ok(default),
        };
    let at_least = |value: &Option<Spanned<i64>>, field: &str, min: i64| match value {
        Some(v) if v.value < min => Err(invalid(
            &v.referenced,
            field,
            format!("expected at least {min}, found {}", v.value),
        )),
        Some(v) => Ok(Some(v.value)),
        None => Ok(None),
    };
    let widen = |v: &Option<Spanned<i32>>| {
        v.as_ref().map(|s| Spanned {
            value: i64::from(s.value),
            referenced: s.referenced,
            defined: s.defined,
        })
    };
    let update = positive(
        &spec.node_status_update_frequency,
        "nodeStatusUpdateFrequency",
    )?;
    let report = positive(
        &spec.node_status_report_frequency,
        "nodeStatusReportFrequency",
    )?;
    let lease = at_least(
        &widen(&spec.node_lease_duration_seconds),
        "nodeLeaseDurationSeconds",
        1,
    )?;
    let parallel = at_least(
        &widen(&spec.max_parallel_image_pulls),
        "maxParallelImagePulls",
        1,
    )?;
    let max_pods = at_least(&spec.max_pods, "maxPods", 0)?;
    let max_images = at_least(
        &widen(&spec.node_status_max_images),
        "nodeStatusMaxImages",
        -1,
    )?;
    let t = &spec.timing;
    let d = &defaults.timing;
    let timing = crate::config::kubelet::KubeletTiming {
        sandbox: distribution(&t.sandbox, "sandbox", d.sandbox.clone())?,
        image_pull: distribution(&t.image_pull, "imagePull", d.image_pull.clone())?,
        container_start: distribution(
            &t.container_start,
            "containerStart",
            d.container_start.clone(),
        )?,
        container_stop: distribution(&t.container_stop, "containerStop", d.container_stop.clone())?,
        pleg_relist_period: positive(&t.pleg_relist_period, "timing.plegRelistPeriod")?
            .unwrap_or(d.pleg_relist_period),
    };
    let c = &spec.containers;
    let update_frequency = update.unwrap_or(defaults.node_status_update_frequency);
    Ok(KubeletSettings {
        enabled: spec.enabled.unwrap_or(defaults.enabled),
        node_status_update_frequency: update_frequency,
        // Upstream: the report frequency follows an explicitly set update frequency.
        node_status_report_frequency: report.unwrap_or(match update {
            Some(u) => u,
            None => defaults.node_status_report_frequency,
        }),
        node_lease_duration_seconds: lease
            .map_or(defaults.node_lease_duration_seconds, |v| v as i32),
        serialize_image_pulls: spec
            .serialize_image_pulls
            .unwrap_or(defaults.serialize_image_pulls),
        max_parallel_image_pulls: parallel.map(|v| v as u32),
        max_pods: max_pods.unwrap_or(defaults.max_pods),
        node_status_max_images: max_images.map_or(defaults.node_status_max_images, |v| v as i32),
        timing,
        image_sizes: spec
            .image_sizes
            .iter()
            .map(|(name, q)| (name.clone(), q.value()))
            .collect(),
        default_image_size: spec
            .default_image_size
            .map_or(defaults.default_image_size, |q| q.value()),
        containers: crate::config::kubelet::ContainerBehavior {
            ready_after: c.ready_after.unwrap_or_default(),
            started_after: c.started_after.unwrap_or_default(),
            liveness_fails_after: c.liveness_fails_after,
            exit_after: c.exit_after,
            exit_code: c.exit_code.unwrap_or(0),
        },
        kube_api: client_connection(
            &qps_defaults::KUBELET,
            spec.kube_api_qps
                .as_ref()
                .map(|v| (v.value as f32, &v.referenced)),
            spec.kube_api_burst
                .as_ref()
                .map(|v| (v.value, &v.referenced)),
            ("spec.kubelet.kubeAPIQPS", "spec.kubelet.kubeAPIBurst"),
            locator,
        )?,
    })
}

/// `spec.kubeProxy` checked and resolved over kube-proxy's defaults: the mode's periods from
/// its section, the root fields over them; an error names the field.
fn kube_proxy_settings(
    spec: &KubeProxySpec,
    kubelets: bool,
    locator: &Locator<'_>,
) -> Result<KubeProxySettings, ScenarioError> {
    let mode = match &spec.mode {
        Some(m) => ProxyMode::from_name(&m.value).ok_or_else(|| ScenarioError::Invalid {
            pos: locator.at(&m.referenced),
            path: "spec.kubeProxy.mode".into(),
            message: format!(
                "unknown proxy mode {:?}; expected iptables, ipvs or nftables",
                m.value
            ),
        })?,
        None => ProxyMode::default(),
    };
    let section = match mode {
        ProxyMode::Iptables => &spec.iptables,
        ProxyMode::Ipvs => &spec.ipvs,
        ProxyMode::Nftables => &spec.nftables,
    };
    let root = SyncPeriodsSpec {
        sync_period: spec.sync_period.clone(),
        min_sync_period: spec.min_sync_period.clone(),
    };
    // Defaults, then the mode's section, then the root fields; an error points at the
    // last field given.
    let mut periods = mode.default_periods();
    let mut last: Option<(String, serde_saphyr::Location)> = None;
    for (prefix, given) in [
        (format!("{}.", mode.name()), section),
        (String::new(), &root),
    ] {
        if let Some(v) = &given.min_sync_period {
            periods.min_sync_period = v.value;
            last = Some((prefix.clone(), v.referenced));
        }
        if let Some(v) = &given.sync_period {
            periods.sync_period = v.value;
            last = Some((prefix.clone(), v.referenced));
        }
    }
    if let Some((prefix, at)) = &last {
        periods.check(prefix).map_err(|e| ScenarioError::Invalid {
            pos: locator.at(at),
            path: format!("spec.kubeProxy.{}", e.path),
            message: e.message,
        })?;
    }
    let connection = &spec.client_connection;
    Ok(KubeProxySettings {
        enabled: spec.enabled.unwrap_or(kubelets),
        mode,
        periods,
        client_connection: client_connection(
            &qps_defaults::KUBE_PROXY,
            connection.qps.as_ref().map(|v| (v.value, &v.referenced)),
            connection.burst.as_ref().map(|v| (v.value, &v.referenced)),
            (
                "spec.kubeProxy.clientConnection.qps",
                "spec.kubeProxy.clientConnection.burst",
            ),
            locator,
        )?,
    })
}

/// Checks `spec.replay` and resolves its files (whose bytes join the scenario's hash).
fn replay_settings(
    spec: &ReplaySpec,
    scenario: &ScenarioSpec,
    base: &Path,
    locator: &Locator<'_>,
    inputs: &mut Inputs,
) -> Result<ReplaySettings, ScenarioError> {
    let invalid =
        |at: &serde_saphyr::Location, path: &str, message: String| ScenarioError::Invalid {
            pos: locator.at(at),
            path: path.into(),
            message,
        };
    if spec.trace.value != "openb" {
        return Err(invalid(
            &spec.trace.referenced,
            "spec.replay.trace",
            format!(
                "unknown trace format {:?}; expected openb",
                spec.trace.value
            ),
        ));
    }
    if !scenario.node_pools.is_empty()
        || !scenario.manifests.is_empty()
        || !scenario.timeline.is_empty()
        || !inputs.objects.is_empty()
    {
        return Err(invalid(
            &spec.trace.referenced,
            "spec.replay",
            "a replay's cluster and workload are the trace; expected no nodePools, manifests, \
             timeline or manifest documents beside spec.replay"
                .into(),
        ));
    }
    let policy = spec
        .policy
        .value
        .parse::<Policy>()
        .map_err(|e| invalid(&spec.policy.referenced, "spec.replay.policy", e.to_string()))?;
    let mut file = |field: &Spanned<String>, name: &str| -> Result<PathBuf, ScenarioError> {
        let path = base.join(&field.value);
        let bytes = fs::read(&path).map_err(|e| {
            invalid(
                &field.referenced,
                &format!("spec.replay.{name}"),
                format!(
                    "cannot read {}: {e}; expected a file relative to the scenario's folder",
                    path.display()
                ),
            )
        })?;
        inputs.hasher.update((bytes.len() as u64).to_le_bytes());
        inputs.hasher.update(&bytes);
        Ok(path)
    };
    let nodes = file(&spec.nodes, "nodes")?;
    let pods = file(&spec.pods, "pods")?;
    Ok(ReplaySettings {
        nodes,
        pods,
        nodes_as_written: spec.nodes.value.clone(),
        pods_as_written: spec.pods.value.clone(),
        policy,
    })
}

/// `spec.scheduler.featureGates`, checked: the gates with what the Scenario sets (and where
/// it sets them), or `None` when it sets none.
fn feature_gates(
    spec: Option<&crate::scenario::model::SchedulerSpec>,
    locator: &Locator<'_>,
) -> Result<Option<(FeatureGates, SourcePos)>, ScenarioError> {
    let Some(written) = spec.and_then(|s| s.feature_gates.as_ref()) else {
        return Ok(None);
    };
    let pos = locator.at(&written.referenced);
    let mut gates = FeatureGates::default();
    for (name, &on) in &written.value {
        gates
            .set(name, on)
            .map_err(|message| ScenarioError::Invalid {
                pos: pos.clone(),
                path: format!("spec.scheduler.featureGates.{name}"),
                message,
            })?;
    }
    Ok(Some((gates, pos)))
}

/// The documents that configure the scheduler, as read.
struct SchedulerDocuments<'a> {
    /// KubeSchedulerConfiguration documents.
    configurations: &'a [(PathBuf, Document)],
    /// Legacy Policy documents.
    policies: &'a [(PathBuf, Document)],
    /// `spec.scheduler.featureGates`, if the Scenario sets any, and where.
    gates: Option<(FeatureGates, SourcePos)>,
}

/// Refuses an override aimed at a field the document's reading `ignored` (it would silently
/// change nothing), saying `why`.
fn reject_ignored_overrides<'o>(
    overrides: impl Iterator<Item = &'o ParsedOverride>,
    ignored: &[String],
    file: &Path,
    why: &str,
) -> Result<(), ScenarioError> {
    for o in overrides {
        let dotted = o.path.dotted();
        let skipped = ignored.iter().any(|p| {
            let p: Vec<&str> = p.split('.').filter(|s| *s != "?").collect();
            related(&p.join("."), &dotted)
        });
        if skipped {
            return Err(ScenarioError::Invalid {
                pos: SourcePos {
                    file: file.to_path_buf(),
                    line: 0,
                    column: 0,
                },
                path: o.given.key.clone(),
                message: format!("override value {:?}: {why}", o.given.value),
            });
        }
    }
    Ok(())
}

/// The scheduler settings: the Scenario's `spec.scheduler`, at most one
/// KubeSchedulerConfiguration document and at most one legacy Policy, resolved once here so
/// that a bad configuration is a load error naming the field. A Policy makes the profile; a
/// KubeSchedulerConfiguration beside it may set only what lies outside profiles, as
/// kube-scheduler 1.22 allowed.
fn scheduler_settings(
    spec: Option<&crate::scenario::model::SchedulerSpec>,
    scheduler_documents: SchedulerDocuments<'_>,
    notes: &mut Vec<Note>,
    overrides: &[ParsedOverride],
    scenario_file: &Path,
    resolver: &dyn ConfigResolver,
) -> Result<SchedulerSettings, ScenarioError> {
    let documents = scheduler_documents.configurations;
    let policies = scheduler_documents.policies;
    if let Some((file, doc)) = policies.get(1) {
        return Err(ScenarioError::Invalid {
            pos: doc.start(file),
            path: "kind".into(),
            message: "a second Policy; expected at most one per scenario".into(),
        });
    }
    if let Some((file, doc)) = documents.get(1) {
        return Err(ScenarioError::Invalid {
            pos: doc.start(file),
            path: "kind".into(),
            message: "a second KubeSchedulerConfiguration; expected at most one per scenario"
                .into(),
        });
    }
    let mut config = KubeSchedulerConfiguration::default();
    let aimed: Vec<&ParsedOverride> = overrides
        .iter()
        .filter(|o| o.path.target == Target::SchedulerConfiguration)
        .collect();
    // Overrides of a scenario without a KubeSchedulerConfiguration change an empty one.
    let empty = Document {
        text: "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
            .into(),
        first_line: 1,
    };
    let first = match documents.first() {
        Some((file, doc)) => Some((file.as_path(), doc)),
        None if !aimed.is_empty() => Some((scenario_file, &empty)),
        None => None,
    };
    if let Some((file, original)) = first {
        let changed = apply_overrides(original, file, overrides, Target::SchedulerConfiguration)?;
        let doc = changed.as_ref().unwrap_or(original);
        let fix = |e: ScenarioError| match &changed {
            Some(_) => blame_or_relocate(
                e,
                overrides,
                Target::SchedulerConfiguration,
                original.start(file),
            ),
            None => e,
        };
        let (parsed, ignored) =
            parse_lenient::<KubeSchedulerConfiguration>(doc, file).map_err(fix)?;
        let ignored: Vec<String> = ignored
            .into_iter()
            .filter(|p| p != "apiVersion" && p != "kind")
            .collect();
        // An override of a field kubesim does not read would silently change nothing.
        reject_ignored_overrides(
            aimed.iter().copied(),
            &ignored,
            file,
            "kubesim does not read this field of a KubeSchedulerConfiguration; expected a \
             field it models",
        )?;
        if !ignored.is_empty() {
            notes.push(Note {
                pos: doc.start(file),
                message: format!(
                    "KubeSchedulerConfiguration: fields not modelled, ignored: {}",
                    ignored.join(", ")
                ),
            });
        }
        resolver
            .resolve_scheduler_configuration(&parsed)
            .map_err(|e| {
                fix(ScenarioError::Invalid {
                    pos: locate(doc, file, &e.path).unwrap_or_else(|| doc.start(file)),
                    path: e.path.clone(),
                    message: e.message.clone(),
                })
            })?;
        // kube-scheduler's client: `clientConnection.qps` / `burst`, checked as it checks them.
        let scheduler = &qps_defaults::KUBE_SCHEDULER;
        if let Err(e) = scheduler.checked_rate_limit(parsed.client_connection) {
            let path = if e.setting == scheduler.qps_setting {
                "clientConnection.qps"
            } else {
                "clientConnection.burst"
            };
            return Err(fix(ScenarioError::Invalid {
                pos: locate(doc, file, path).unwrap_or_else(|| doc.start(file)),
                path: path.into(),
                message: format!("{} (kube-scheduler): {}", e.setting, e.message),
            }));
        }
        check_scheduler_leader_election(&parsed, doc, file).map_err(fix)?;
        if let Some((policy_file, _)) = policies.first()
            && legacy_policy::sets_profiles(&parsed)
        {
            return Err(fix(ScenarioError::Invalid {
                pos: locate(doc, file, "profiles").unwrap_or_else(|| doc.start(file)),
                path: "profiles".into(),
                message: format!(
                    "cannot set a Plugin config and Policy config (as kube-scheduler 1.22 \
                     refused them): the Policy in {} makes the default-scheduler profile; \
                     expected a KubeSchedulerConfiguration without profiles (or with one \
                     profile without plugins and pluginConfig) beside it",
                    policy_file.display()
                ),
            }));
        }
        config = parsed;
    }
    if policies.is_empty()
        && let Some(o) = overrides.iter().find(|o| o.path.target == Target::Policy)
    {
        return Err(ScenarioError::Invalid {
            pos: SourcePos {
                file: scenario_file.to_path_buf(),
                line: 0,
                column: 0,
            },
            path: o.given.key.clone(),
            message: "the scenario has no Policy for a policy. override to change; expected a \
                      `kind: Policy` document"
                .into(),
        });
    }
    match (policies.first(), &scheduler_documents.gates) {
        (Some((file, doc)), gates) => {
            let gates = gates
                .as_ref()
                .map_or_else(FeatureGates::default, |(g, _)| *g);
            policy_configuration(&mut config, file, doc, gates, overrides, notes, resolver)?;
        }
        (None, Some((_, pos))) => notes.push(Note {
            pos: pos.clone(),
            message: "spec.scheduler.featureGates: read only by a legacy Policy's translation, \
                      and the scenario has no Policy; ignored"
                .into(),
        }),
        (None, None) => {}
    }
    let defaults = CycleCost::default();
    let cost = spec.map(|s| &s.cycle_cost);
    Ok(SchedulerSettings {
        enabled: spec.and_then(|s| s.enabled).unwrap_or(true),
        cycle_cost: CycleCost {
            per_cycle: cost.and_then(|c| c.per_cycle).unwrap_or(defaults.per_cycle),
            per_node_filtered: cost
                .and_then(|c| c.per_node_filtered)
                .unwrap_or(defaults.per_node_filtered),
            per_node_scored: cost
                .and_then(|c| c.per_node_scored)
                .unwrap_or(defaults.per_node_scored),
        },
        config,
    })
}

/// kube-scheduler's `leaderElection`, checked as client-go checks it; an error points at the
/// field in the document.
fn check_scheduler_leader_election(
    config: &KubeSchedulerConfiguration,
    doc: &Document,
    file: &Path,
) -> Result<(), ScenarioError> {
    use super::leader_election::{TimingFields, Written, checked, lock_named};
    let path = |field: &str| format!("leaderElection.{field}");
    let written = |field: &str| Written {
        path: path(field),
        pos: locate(doc, file, &path(field)),
    };
    let settings = config.leader_election.settings("kube-scheduler");
    let section = locate(doc, file, "leaderElection").unwrap_or_else(|| doc.start(file));
    lock_named(&settings, &path, &section)?;
    checked(
        settings,
        &TimingFields {
            lease_duration: written("leaseDuration"),
            renew_deadline: written("renewDeadline"),
            retry_period: written("retryPeriod"),
            fallback: section,
        },
    )?;
    Ok(())
}

/// Translates the Policy `doc` of `file` into the profile of `config` (whose settings
/// outside profiles stay) with `resolver`; its errors and notes point at the Policy's fields.
fn policy_configuration(
    config: &mut KubeSchedulerConfiguration,
    file: &Path,
    original: &Document,
    gates: FeatureGates,
    overrides: &[ParsedOverride],
    notes: &mut Vec<Note>,
    resolver: &dyn ConfigResolver,
) -> Result<(), ScenarioError> {
    let changed = apply_overrides(original, file, overrides, Target::Policy)?;
    let doc = changed.as_ref().unwrap_or(original);
    // An error in a document overrides changed is blamed on the override it is about.
    let fix = |e: ScenarioError| match &changed {
        Some(_) => blame_or_relocate(e, overrides, Target::Policy, original.start(file)),
        None => e,
    };
    let (policy, ignored) = parse_lenient::<legacy_policy::Policy>(doc, file).map_err(fix)?;
    let at = |path: &str| locate(doc, file, path).unwrap_or_else(|| doc.start(file));
    // Notes point into the file as written.
    let at_original =
        |path: &str| locate(original, file, path).unwrap_or_else(|| original.start(file));
    let ignored: Vec<String> = ignored
        .into_iter()
        .filter(|p| p != "apiVersion" && p != "kind")
        .collect();
    // An override of a field a Policy does not have would silently change nothing.
    reject_ignored_overrides(
        overrides.iter().filter(|o| o.path.target == Target::Policy),
        &ignored,
        file,
        "a Policy has no such field; expected a field under predicates, priorities, \
         extenders, hardPodAffinitySymmetricWeight or alwaysCheckAllPredicates",
    )?;
    if !ignored.is_empty() {
        notes.push(Note {
            pos: doc.start(file),
            message: format!(
                "Policy: fields not modelled, ignored: {}",
                ignored.join(", ")
            ),
        });
    }
    let (translated, translation_notes) = resolver
        .translate_scheduler_policy(&policy, gates)
        .map_err(|e| {
            fix(ScenarioError::Invalid {
                pos: at(&e.path),
                path: e.path,
                message: e.message,
            })
        })?;
    for note in translation_notes {
        notes.push(Note {
            pos: at_original(&note.path),
            message: format!("Policy {}: {}", note.path, note.message),
        });
    }
    // One profile without plugins may stand beside a Policy: its percentageOfNodesToScore
    // carries over; its schedulerName does not (kube-scheduler 1.22 named the Policy's
    // profile default-scheduler).
    let written = config.profiles.first();
    let percentage = written.and_then(|p| p.percentage_of_nodes_to_score);
    if let Some(name) = written.and_then(|p| p.scheduler_name.as_deref())
        && name != crate::api::pod::DEFAULT_SCHEDULER_NAME
    {
        notes.push(Note {
            pos: doc.start(file),
            message: format!(
                "KubeSchedulerConfiguration profiles[0].schedulerName {name:?}: a Policy's \
                 profile is default-scheduler, as in kube-scheduler 1.22; ignored"
            ),
        });
    }
    config.profiles = translated.profiles;
    config.max_weight = translated.max_weight;
    if let Some(profile) = config.profiles.first_mut() {
        profile.percentage_of_nodes_to_score = percentage;
    }
    resolver
        .resolve_scheduler_configuration(config)
        .map_err(|e| ScenarioError::Invalid {
            pos: doc.start(file),
            path: String::new(),
            message: format!("the Policy's translation does not resolve: {e}"),
        })?;
    Ok(())
}

/// Reads a referenced manifest file or folder, relative to the scenario's folder.
fn read_reference(
    reference: &Spanned<String>,
    base: &Path,
    locator: &Locator<'_>,
    field: &str,
    inputs: &mut Inputs,
) -> Result<Vec<Object>, ScenarioError> {
    let path = base.join(&reference.value);
    if !path.exists() {
        return Err(ScenarioError::Invalid {
            pos: locator.at(&reference.referenced),
            path: field.into(),
            message: format!(
                "{} does not exist; expected a manifest file or folder relative to {}",
                path.display(),
                if base.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    base
                }
                .display()
            ),
        });
    }
    let before = inputs.objects.len();
    for file in manifest_files(&path)? {
        read_file(&file, inputs, false)?;
    }
    Ok(inputs.objects.split_off(before))
}

/// The nodes of a pool: `<pool>-<index>`, zones round-robin, kubelet labels added.
fn pool_nodes(
    spanned: &Spanned<NodePool>,
    index: usize,
    locator: &Locator<'_>,
) -> Result<Vec<Object>, ScenarioError> {
    let pool = &spanned.value;
    let invalid = |field: &str, message: String| ScenarioError::Invalid {
        pos: locator.at(&spanned.referenced),
        path: format!("spec.nodePools[{index}].{field}"),
        message,
    };
    if pool.name.is_empty() {
        return Err(invalid("name", "expected a non-empty pool name".into()));
    }
    for zone in &pool.zones {
        validate_label_value(zone).map_err(|e| invalid("zones", e.to_string()))?;
    }
    let t = &pool.template;
    validate_gpu_declaration(&t.allocatable).map_err(|m| invalid("template.allocatable", m))?;
    validate_gpu_declaration(&t.capacity).map_err(|m| invalid("template.capacity", m))?;
    let width = pool.count.saturating_sub(1).to_string().len();
    let mut nodes = Vec::with_capacity(pool.count as usize);
    for i in 0..pool.count as usize {
        let mut node = Node::default();
        node.metadata.name = format!("{}-{:0width$}", pool.name, i);
        node.metadata.labels = t.labels.clone();
        node.metadata.annotations = t.annotations.clone();
        node.metadata
            .labels
            .insert(LABEL_HOSTNAME.into(), node.metadata.name.clone());
        if !pool.zones.is_empty() {
            node.metadata
                .labels
                .insert(LABEL_ZONE.into(), pool.zones[i % pool.zones.len()].clone());
        }
        node.spec.taints = t.taints.clone();
        node.spec.unschedulable = t.unschedulable;
        node.status.allocatable = t.allocatable.clone();
        node.status.capacity = if t.capacity.is_empty() {
            t.allocatable.clone()
        } else {
            t.capacity.clone()
        };
        node.status.images = t.images.clone();
        nodes.push(Object::Node(Arc::new(node)));
    }
    Ok(nodes)
}

/// Two pools with one name would make nodes with one name: the second create would fail.
fn reject_duplicate_pools(
    pools: &[Spanned<NodePool>],
    locator: &Locator<'_>,
) -> Result<(), ScenarioError> {
    for (i, pool) in pools.iter().enumerate() {
        if pools[..i].iter().any(|p| p.value.name == pool.value.name) {
            return Err(ScenarioError::Invalid {
                pos: locator.at(&pool.referenced),
                path: format!("spec.nodePools[{i}].name"),
                message: format!(
                    "pool name {:?} is used twice; expected a unique name per pool",
                    pool.value.name
                ),
            });
        }
    }
    Ok(())
}

/// Turns one timeline entry into an action; exactly one action key must be present.
fn timeline_action(
    entry: &Spanned<TimelineEntry>,
    index: usize,
    base: &Path,
    locator: &Locator<'_>,
    inputs: &mut Inputs,
) -> Result<Action, ScenarioError> {
    let e = &entry.value;
    let field = format!("spec.timeline[{index}]");
    let invalid = |path: String, message: String| ScenarioError::Invalid {
        pos: locator.at(&entry.referenced),
        path,
        message,
    };
    let present = [
        e.apply.is_some(),
        e.delete.is_some(),
        e.scale.is_some(),
        e.set.is_some(),
        e.cordon.is_some(),
        e.uncordon.is_some(),
        e.create_pods.is_some(),
        e.rollout.is_some(),
        e.drain.is_some(),
        e.evict.is_some(),
        e.crash.is_some(),
        e.stop_kubelet.is_some(),
        e.start_kubelet.is_some(),
        e.partition.is_some(),
        e.zone_outage.is_some(),
        e.flap.is_some(),
        e.pod_crash.is_some(),
        e.oom_kill.is_some(),
        e.apiserver_restart.is_some(),
        e.apiserver_rolling_restart.is_some(),
        e.break_watches.is_some(),
        e.etcd_slowdown.is_some(),
        e.etcd_leader_election.is_some(),
    ]
    .iter()
    .filter(|&&p| p)
    .count();
    if present != 1 {
        return Err(invalid(
            field,
            format!(
                "expected exactly one action (apply, delete, scale, set, cordon, uncordon, createPods, rollout, drain, evict, crash, stopKubelet, startKubelet, partition, zoneOutage, flap, podCrash, oomKill, apiserverRestart, apiserverRollingRestart, breakWatches, etcdSlowdown, etcdLeaderElection), found {present}"
            ),
        ));
    }
    if let Some(fault) = fault_action(e) {
        return fault.map_err(|(path, m)| invalid(format!("{field}.{path}"), m));
    }
    if let Some(rollout) = &e.rollout {
        return rollout_action(rollout)
            .map_err(|(path, m)| invalid(format!("{field}.rollout{path}"), m));
    }
    if let Some(reference) = &e.apply {
        inputs.applied_together.clear();
        let objects = read_reference(reference, base, locator, &format!("{field}.apply"), inputs)?;
        return Ok(Action::Apply(objects));
    }
    if let Some(target) = &e.delete {
        let cascade = match target.get("cascade").map(String::as_str) {
            None | Some("background") => PropagationPolicy::Background,
            Some("foreground") => PropagationPolicy::Foreground,
            Some("orphan") => PropagationPolicy::Orphan,
            Some(other) => {
                return Err(invalid(
                    format!("{field}.delete.cascade"),
                    format!("unknown cascade {other:?}; expected background, foreground or orphan"),
                ));
            }
        };
        let targets = target
            .iter()
            .filter(|(k, _)| *k != "cascade")
            .map(|(k, v)| (k.as_str(), v.as_str()));
        let (kind, key) = one_target(targets).map_err(|m| invalid(format!("{field}.delete"), m))?;
        return Ok(Action::Delete(kind, key, cascade));
    }
    if let Some(scale) = &e.scale {
        let targets = [
            ("deployment", &scale.deployment),
            ("replicaset", &scale.replicaset),
        ];
        let (kind, key) = one_target(present_targets(&targets))
            .map_err(|m| invalid(format!("{field}.scale"), m))?;
        if scale.replicas < 0 {
            return Err(invalid(
                format!("{field}.scale.replicas"),
                "expected a non-negative integer".into(),
            ));
        }
        return Ok(Action::Scale(kind, key, scale.replicas));
    }
    if let Some(set) = &e.set {
        let targets = [
            ("deployment", &set.deployment),
            ("replicaset", &set.replicaset),
            ("pod", &set.pod),
        ];
        let (kind, key) = one_target(present_targets(&targets))
            .map_err(|m| invalid(format!("{field}.set"), m))?;
        return Ok(Action::SetImage {
            kind,
            key,
            container: set.container.clone(),
            image: set.image.clone(),
        });
    }
    if let Some(create) = &e.create_pods {
        let template = &create.template;
        if template.metadata.name.is_empty() && template.metadata.generate_name.is_empty() {
            return Err(invalid(
                format!("{field}.createPods.template.metadata"),
                "expected metadata.name (pods become <name>-<index>) or metadata.generateName"
                    .into(),
            ));
        }
        let width = create.count.saturating_sub(1).to_string().len();
        let pods = (0..create.count as usize)
            .map(|i| {
                let mut pod = (**template).clone();
                if !pod.metadata.name.is_empty() {
                    pod.metadata.name = format!("{}-{i:0width$}", template.metadata.name);
                }
                Object::Pod(Arc::new(pod))
            })
            .collect();
        return Ok(Action::Apply(pods));
    }
    if let Some(drain) = &e.drain {
        if drain.node.is_empty() {
            return Err(invalid(
                format!("{field}.drain.node"),
                "expected the name of a node".into(),
            ));
        }
        return Ok(Action::Drain(Drain {
            node: drain.node.clone(),
            timeout: drain.timeout.filter(|t| !t.is_zero()),
            grace_period: drain.grace_period.filter(|g| *g >= 0),
        }));
    }
    if let Some(evict) = &e.evict {
        let (_, key) = one_target(std::iter::once(("pod", evict.pod.as_str())))
            .map_err(|m| invalid(format!("{field}.evict.pod"), m))?;
        return Ok(Action::Evict(key, evict.grace_period.filter(|g| *g >= 0)));
    }
    if let Some(node) = &e.cordon {
        return Ok(Action::Cordon(node.clone(), true));
    }
    let node = e.uncordon.clone().unwrap_or_default();
    Ok(Action::Cordon(node, false))
}

/// `spec.apiserver.replicas`: at least one kube-apiserver (default 1).
fn apiserver_replicas(
    api: &super::model::ApiServerSpec,
    at: &dyn Fn(&serde_saphyr::Location) -> SourcePos,
) -> Result<u32, ScenarioError> {
    match &api.replicas {
        None => Ok(1),
        Some(r) if r.value == 0 => Err(ScenarioError::Invalid {
            pos: at(&r.referenced),
            path: "spec.apiserver.replicas".into(),
            message: "expected at least 1 kube-apiserver replica, found 0".into(),
        }),
        Some(r) => Ok(r.value),
    }
}

/// `spec.apiserver.goawayChance` in parts per billion: kube-apiserver's `--goaway-chance`,
/// from 0 (the default, off) to 0.02 as upstream validates it.
fn goaway_chance(
    api: &super::model::ApiServerSpec,
    at: &dyn Fn(&serde_saphyr::Location) -> SourcePos,
) -> Result<u32, ScenarioError> {
    use crate::apiserver::load_balancer::{MAX_GOAWAY_CHANCE, PARTS_PER_BILLION};
    let Some(chance) = &api.goaway_chance else {
        return Ok(0);
    };
    if !(0.0..=MAX_GOAWAY_CHANCE).contains(&chance.value) {
        return Err(ScenarioError::Invalid {
            pos: at(&chance.referenced),
            path: "spec.apiserver.goawayChance".into(),
            message: format!(
                "{} is out of range; expected a probability from 0 to 0.02 (--goaway-chance \
                 can not be less than 0 or greater than 0.02; 0.001 is upstream's suggested \
                 start)",
                chance.value
            ),
        });
    }
    // Within [0, 0.02]: at most 20 000 000, exact to a billionth.
    Ok((chance.value * f64::from(PARTS_PER_BILLION)).round() as u32)
}

/// Every `apiserverRestart.replica` names one of the `replicas` replicas.
fn restarted_replicas_exist(
    timeline: &[Spanned<TimelineEntry>],
    replicas: u32,
    at: &dyn Fn(&serde_saphyr::Location) -> SourcePos,
) -> Result<(), ScenarioError> {
    for (i, entry) in timeline.iter().enumerate() {
        let Some(replica) = entry
            .value
            .apiserver_restart
            .as_ref()
            .and_then(|r| r.replica)
        else {
            continue;
        };
        if replica >= replicas {
            return Err(ScenarioError::Invalid {
                pos: at(&entry.referenced),
                path: format!("spec.timeline[{i}].apiserverRestart.replica"),
                message: format!(
                    "replica {replica} does not exist; expected an index from 0 to {} \
                     (spec.apiserver.replicas is {replicas})",
                    replicas - 1
                ),
            });
        }
    }
    Ok(())
}

/// A fault entry, if `e` is one: `crash`, `stopKubelet`, `startKubelet`, `partition`,
/// `zoneOutage`, `flap`, `podCrash`, `oomKill`, `apiserverRestart`,
/// `apiserverRollingRestart`, `breakWatches`,
/// `etcdSlowdown` or `etcdLeaderElection`, its durations positive, its nodes named
/// (whether they exist is checked once every node of the scenario is known), its pods named
/// as `namespace/name` or chosen by a valid selector. An error names the field (from the action's key) and what was
/// expected.
fn fault_action(e: &TimelineEntry) -> Option<Result<Action, (String, String)>> {
    use crate::faults::Fault;
    let positive = |d: Option<SimDuration>, path: &str| match d {
        Some(d) if d.is_zero() => Err((
            path.to_string(),
            "expected a positive duration such as 10m".to_string(),
        )),
        _ => Ok(d),
    };
    let named = |node: &str, path: &str| {
        if node.is_empty() {
            Err((path.to_string(), "expected a node name".to_string()))
        } else {
            Ok(node.to_string())
        }
    };
    let fault = if let Some(crash) = &e.crash {
        named(&crash.node, "crash.node").and_then(|node| {
            Ok(Fault::CrashNode {
                node,
                recover_after: positive(crash.recover_after, "crash.recoverAfter")?,
            })
        })
    } else if let Some(node) = &e.stop_kubelet {
        named(node, "stopKubelet").map(Fault::StopKubelet)
    } else if let Some(node) = &e.start_kubelet {
        named(node, "startKubelet").map(Fault::StartKubelet)
    } else if let Some(partition) = &e.partition {
        if partition.nodes.is_empty() {
            Err((
                "partition.nodes".to_string(),
                "expected at least one node".to_string(),
            ))
        } else {
            partition
                .nodes
                .iter()
                .enumerate()
                .map(|(i, n)| named(n, &format!("partition.nodes[{i}]")))
                .collect::<Result<Vec<_>, _>>()
                .and_then(|nodes| {
                    Ok(Fault::Partition {
                        nodes,
                        heal_after: positive(partition.heal_after, "partition.healAfter")?,
                    })
                })
        }
    } else if let Some(outage) = &e.zone_outage {
        if outage.zone.is_empty() {
            Err((
                "zoneOutage.zone".to_string(),
                "expected a zone name".to_string(),
            ))
        } else {
            positive(outage.recover_after, "zoneOutage.recoverAfter").map(|recover_after| {
                Fault::ZoneOutage {
                    zone: outage.zone.clone(),
                    // Filled in once every node of the scenario is known.
                    nodes: Vec::new(),
                    recover_after,
                }
            })
        }
    } else if let Some(flap) = &e.flap {
        let at_least_once = if flap.times == 0 {
            Err(("flap.times".to_string(), "expected at least 1".to_string()))
        } else {
            Ok(())
        };
        named(&flap.node, "flap.node").and_then(|node| {
            at_least_once?;
            Ok(Fault::Flap {
                node,
                down: positive(Some(flap.down), "flap.down")?.unwrap_or_default(),
                up: positive(Some(flap.up), "flap.up")?.unwrap_or_default(),
                times: flap.times,
            })
        })
    } else if let Some(crash) = &e.pod_crash {
        let exit_code = match crash.exit_code {
            None => Ok(1),
            Some(code) if (0..=255).contains(&code) => Ok(code),
            Some(_) => Err((
                "podCrash.exitCode".to_string(),
                "expected an exit code from 0 to 255".to_string(),
            )),
        };
        let given = PodTargetFields {
            pod: &crash.pod,
            selector: &crash.selector,
            count: crash.count,
            namespace: &crash.namespace,
            container: &crash.container,
        };
        pod_fault_target("podCrash", &given).and_then(|(target, container)| {
            Ok(Fault::PodCrash {
                target,
                container,
                exit_code: exit_code?,
            })
        })
    } else if let Some(kill) = &e.oom_kill {
        let given = PodTargetFields {
            pod: &kill.pod,
            selector: &kill.selector,
            count: kill.count,
            namespace: &kill.namespace,
            container: &kill.container,
        };
        pod_fault_target("oomKill", &given)
            .map(|(target, container)| Fault::OomKill { target, container })
    } else if let Some(restart) = &e.apiserver_restart {
        Ok(Fault::ApiserverRestart {
            downtime: restart.downtime,
            replica: restart.replica,
        })
    } else if let Some(rolling) = &e.apiserver_rolling_restart {
        Ok(Fault::ApiserverRollingRestart {
            downtime: rolling.downtime,
            interval: rolling.interval,
        })
    } else if e.break_watches.is_some() {
        Ok(Fault::BreakWatches)
    } else if let Some(slowdown) = &e.etcd_slowdown {
        if slowdown.percent == 0 {
            Err((
                "etcdSlowdown.percent".to_string(),
                "expected a positive percentage of etcd's normal time (200: twice as slow)"
                    .to_string(),
            ))
        } else {
            positive(slowdown.lasting, "etcdSlowdown.for").map(|lasting| Fault::EtcdSlowdown {
                percent: slowdown.percent,
                lasting,
            })
        }
    } else if e.etcd_leader_election.is_some() {
        Ok(Fault::EtcdLeaderElection)
    } else {
        return None;
    };
    Some(fault.map(Action::Fault))
}

/// The fields of a pod fault (`podCrash`, `oomKill`) that say which containers it hits.
struct PodTargetFields<'a> {
    pod: &'a Option<String>,
    selector: &'a Option<String>,
    count: Option<u32>,
    namespace: &'a Option<String>,
    container: &'a Option<String>,
}

/// The pods and the container a pod fault hits: `pod: namespace/name`, or `selector` with
/// `count` (default 1) and `namespace` (default `default`); `container` not empty. An error
/// names the field (from the action's key `key`) and what was expected.
fn pod_fault_target(
    key: &str,
    given: &PodTargetFields<'_>,
) -> Result<(crate::faults::PodTarget, Option<String>), (String, String)> {
    use crate::faults::PodTarget;
    let err = |field: &str, message: &str| {
        let path = if field.is_empty() {
            key.to_string()
        } else {
            format!("{key}.{field}")
        };
        Err((path, message.to_string()))
    };
    if given.container.as_deref() == Some("") {
        return err("container", "expected a container name");
    }
    let target = match (given.pod, given.selector) {
        (Some(pod), None) => {
            if given.count.is_some() {
                return err("count", "count goes with selector only");
            }
            if given.namespace.is_some() {
                return err(
                    "namespace",
                    "namespace goes with selector only; write the pod as namespace/name",
                );
            }
            let parts: Vec<&str> = pod.split('/').collect();
            let key = match parts.as_slice() {
                [name] if valid_name(name) => ObjectKey::new("default", *name),
                [namespace, name] if valid_name(namespace) && valid_name(name) => {
                    ObjectKey::new(*namespace, *name)
                }
                _ => {
                    return Err((
                        format!("{key}.pod"),
                        format!("expected namespace/name, such as default/web-0, found {pod:?}"),
                    ));
                }
            };
            PodTarget::Named(key)
        }
        (None, Some(selector)) => {
            let parsed = crate::api::labels::parse_label_selector(selector)
                .map_err(|e| (format!("{key}.selector"), format!("{e}")))?;
            if parsed.is_empty() {
                return err(
                    "selector",
                    "expected a label selector such as app=web (an empty one matches every pod)",
                );
            }
            let count = given.count.unwrap_or(1);
            if count == 0 {
                return err("count", "expected at least 1");
            }
            let namespace = given.namespace.clone().unwrap_or_else(|| "default".into());
            if !valid_name(&namespace) {
                return err("namespace", "expected a namespace name");
            }
            PodTarget::Selected {
                namespace,
                selector: parsed,
                count,
            }
        }
        (pod, selector) => {
            let found = usize::from(pod.is_some()) + usize::from(selector.is_some());
            return Err((
                key.to_string(),
                format!(
                    "expected exactly one of pod (namespace/name) or selector (such as app=web), found {found}"
                ),
            ));
        }
    };
    Ok((target, given.container.clone()))
}

/// Whether `name` can be a namespace's or a pod's name (a DNS subdomain: lowercase letters,
/// digits, `-` and `.`, starting and ending with a letter or digit, at most 253 characters).
fn valid_name(name: &str) -> bool {
    let alphanumeric = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| alphanumeric(c) || c == '-' || c == '.')
        && name.starts_with(alphanumeric)
        && name.ends_with(alphanumeric)
}

/// Checks that every node a fault names is a node of the scenario (made initially or by a
/// timeline `apply`), and every pod a pod fault names a pod it declares; an error points at
/// the fault's entry.
fn resolve_fault_nodes(
    entries: &[Spanned<TimelineEntry>],
    actions: &mut [TimedAction],
    initial: &[Object],
    locator: &Locator<'_>,
) -> Result<(), ScenarioError> {
    // (name, zone) of every node, in the order declared.
    let declared: Vec<(String, Option<String>)> = initial
        .iter()
        .chain(actions.iter().flat_map(|a| match &a.action {
            Action::Apply(objects) => objects.as_slice(),
            _ => &[],
        }))
        .filter(|o| o.kind() == Kind::Node)
        .map(|o| {
            let meta = o.meta();
            (meta.name.clone(), meta.labels.get(LABEL_ZONE).cloned())
        })
        .collect();
    let nodes: std::collections::BTreeSet<&str> =
        declared.iter().map(|(name, _)| name.as_str()).collect();
    // Every pod the scenario declares by name (initially or in a timeline apply), with its
    // containers' names.
    let pods: BTreeMap<ObjectKey, Vec<String>> = initial
        .iter()
        .chain(actions.iter().flat_map(|a| match &a.action {
            Action::Apply(objects) => objects.as_slice(),
            _ => &[],
        }))
        .filter_map(|o| match o {
            Object::Pod(p) if !p.metadata.name.is_empty() => {
                let namespace = if p.metadata.namespace.is_empty() {
                    "default"
                } else {
                    p.metadata.namespace.as_str()
                };
                let containers = p
                    .spec
                    .init_containers
                    .iter()
                    .chain(&p.spec.containers)
                    .map(|c| c.name.clone())
                    .collect();
                Some((ObjectKey::new(namespace, &p.metadata.name), containers))
            }
            _ => None,
        })
        .collect();
    for (i, (entry, action)) in entries.iter().zip(actions.iter_mut()).enumerate() {
        let Action::Fault(fault) = &mut action.action else {
            continue;
        };
        check_pod_fault(fault, &pods).map_err(|(field, message)| ScenarioError::Invalid {
            pos: locator.at(&entry.referenced),
            path: format!("spec.timeline[{i}].{field}"),
            message,
        })?;
        if let crate::faults::Fault::ZoneOutage {
            zone,
            nodes: in_zone,
            ..
        } = fault
        {
            *in_zone = declared
                .iter()
                .filter(|(_, z)| z.as_deref() == Some(zone.as_str()))
                .map(|(name, _)| name.clone())
                .collect();
            if in_zone.is_empty() {
                let zones: std::collections::BTreeSet<&str> =
                    declared.iter().filter_map(|(_, z)| z.as_deref()).collect();
                let known: Vec<&str> = zones.into_iter().take(5).collect();
                return Err(ScenarioError::Invalid {
                    pos: locator.at(&entry.referenced),
                    path: format!("spec.timeline[{i}].zoneOutage.zone"),
                    message: format!(
                        "no node is in zone {zone:?}; expected a zone of the scenario's nodes \
                         (label {LABEL_ZONE}: {})",
                        if known.is_empty() {
                            "none has one".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                });
            }
        }
        if let Some(unknown) = fault.nodes().into_iter().find(|n| !nodes.contains(n)) {
            let known: Vec<&str> = nodes.iter().copied().take(5).collect();
            return Err(ScenarioError::Invalid {
                pos: locator.at(&entry.referenced),
                path: format!("spec.timeline[{i}]"),
                message: format!(
                    "unknown node {unknown:?}; expected a node of the scenario (such as {})",
                    known.join(", ")
                ),
            });
        }
    }
    Ok(())
}

/// Checks that the pod a pod fault names is one the scenario declares, and its container
/// one of that pod's; a fault with a selector is resolved when it fires. The error names the
/// field after the entry and what was expected.
fn check_pod_fault(
    fault: &crate::faults::Fault,
    pods: &BTreeMap<ObjectKey, Vec<String>>,
) -> Result<(), (String, String)> {
    use crate::faults::{Fault, PodTarget};
    let (key, container) = match fault {
        Fault::PodCrash { container, .. } => ("podCrash", container),
        Fault::OomKill { container, .. } => ("oomKill", container),
        _ => return Ok(()),
    };
    let Some(PodTarget::Named(pod)) = fault.pod_target() else {
        return Ok(());
    };
    let Some(containers) = pods.get(pod) else {
        let known: Vec<String> = pods.keys().take(5).map(ToString::to_string).collect();
        return Err((
            format!("{key}.pod"),
            format!(
                "unknown pod {pod}; expected a pod the scenario declares ({}), or a selector \
                 for pods a controller creates",
                if known.is_empty() {
                    "it declares none".to_string()
                } else {
                    format!("such as {}", known.join(", "))
                }
            ),
        ));
    };
    if let Some(name) = container
        && !containers.contains(name)
    {
        return Err((
            format!("{key}.container"),
            format!(
                "pod {pod} has no container {name:?}; expected one of {}",
                containers.join(", ")
            ),
        ));
    }
    Ok(())
}

/// `rollout:`: exactly one of undo, pause, resume, restart naming a Deployment; `toRevision`
/// only with undo, not negative. An error names the field (after `rollout`) and what was
/// expected.
fn rollout_action(rollout: &RolloutAction) -> Result<Action, (String, String)> {
    let verbs = [
        ("undo", &rollout.undo),
        ("pause", &rollout.pause),
        ("resume", &rollout.resume),
        ("restart", &rollout.restart),
    ];
    let given: Vec<(&str, &str)> = present_targets(&verbs).collect();
    let [(verb, target)] = given.as_slice() else {
        return Err((
            String::new(),
            format!(
                "expected exactly one of undo, pause, resume, restart (a Deployment such as `undo: default/web`), found {}",
                given.len()
            ),
        ));
    };
    let (_, key) = one_target(std::iter::once(("deployment", *target)))
        .map_err(|m| (format!(".{verb}"), m))?;
    if rollout.to_revision.is_some() && *verb != "undo" {
        return Err((
            ".toRevision".into(),
            "toRevision goes with undo only".into(),
        ));
    }
    Ok(match *verb {
        "undo" => {
            let revision = rollout.to_revision.unwrap_or(0);
            if revision < 0 {
                return Err((
                    ".toRevision".into(),
                    "expected a revision number, 0 or more (0: the previous revision)".into(),
                ));
            }
            Action::RolloutUndo(key, revision)
        }
        "pause" => Action::RolloutPause(key, true),
        "resume" => Action::RolloutPause(key, false),
        _ => Action::RolloutRestart(key),
    })
}

fn present_targets<'a>(
    targets: &'a [(&'a str, &'a Option<String>)],
) -> impl Iterator<Item = (&'a str, &'a str)> {
    targets
        .iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (*k, v)))
}

/// Exactly one `kind: namespace/name` pair; a namespaced kind without a namespace means
/// `default`.
fn one_target<'a>(
    mut pairs: impl Iterator<Item = (&'a str, &'a str)>,
) -> Result<(Kind, ObjectKey), String> {
    let Some((kind_text, name)) = pairs.next() else {
        return Err("expected a target such as `deployment: default/web`".into());
    };
    if pairs.next().is_some() {
        return Err("expected exactly one target".into());
    }
    let kind = Kind::from_user_text(kind_text).ok_or_else(|| {
        format!(
            "unknown kind {kind_text:?}; expected one of {}",
            Kind::ALL.map(|k| k.name().to_ascii_lowercase()).join(", ")
        )
    })?;
    let mut key = ObjectKey::parse(name);
    if key.name.is_empty() {
        return Err(format!(
            "expected `{kind_text}: namespace/name`, found {name:?}"
        ));
    }
    if kind.is_namespaced() {
        key = key.or_default_namespace();
    }
    Ok((kind, key))
}
