//! The apiserver's request path as a scenario sets it: `spec.apiserver`'s flow-control fields
//! (kube-apiserver's flags, kubesim's `flowControl` switch and the dynamic mode's bucket) and
//! the FlowSchema and PriorityLevelConfiguration manifests among the scenario's documents.
//!
//! The configuration is checked here, by building flow control once, so a bad FlowSchema is a
//! load error at its document rather than a surprise in the run.

use std::path::Path;

use serde_saphyr::{Location, Spanned};

use super::error::{ScenarioError, SourcePos};
use super::load::Note;
use super::model::ApiServerSpec;
use super::yaml::{Document, parse_lenient};
use crate::apiserver::flowcontrol::{
    DynamicConfig, FlowControlError, FlowSchema, PriorityLevelConfiguration,
};
use crate::apiserver::{FlowControlMode, RequestPathConfig};
use crate::sim::SimTime;

/// The FlowSchema and PriorityLevelConfiguration documents read so far, each with where it
/// starts.
#[derive(Debug, Default)]
pub struct FlowControlDocuments {
    /// FlowSchemas.
    pub flow_schemas: Vec<(SourcePos, FlowSchema)>,
    /// PriorityLevelConfigurations.
    pub priority_levels: Vec<(SourcePos, PriorityLevelConfiguration)>,
}

impl FlowControlDocuments {
    /// Reads a FlowSchema document; fields kubesim does not read (`status`) are noted.
    pub fn read_flow_schema(
        &mut self,
        doc: &Document,
        file: &Path,
        notes: &mut Vec<Note>,
    ) -> Result<(), ScenarioError> {
        let (schema, ignored) = parse_lenient::<FlowSchema>(doc, file)?;
        note_ignored(
            "FlowSchema",
            &schema.metadata.name,
            &ignored,
            doc,
            file,
            notes,
        );
        self.flow_schemas.push((doc.start(file), schema));
        Ok(())
    }

    /// Reads a PriorityLevelConfiguration document.
    pub fn read_priority_level(
        &mut self,
        doc: &Document,
        file: &Path,
        notes: &mut Vec<Note>,
    ) -> Result<(), ScenarioError> {
        let (level, ignored) = parse_lenient::<PriorityLevelConfiguration>(doc, file)?;
        let name = &level.metadata.name;
        note_ignored(
            "PriorityLevelConfiguration",
            name,
            &ignored,
            doc,
            file,
            notes,
        );
        self.priority_levels.push((doc.start(file), level));
        Ok(())
    }

    /// Where the document an error names starts: the first whose name the message quotes,
    /// else the first document.
    fn position_of(&self, message: &str) -> Option<SourcePos> {
        let named = |name: &str| !name.is_empty() && message.contains(&format!("{name:?}"));
        self.flow_schemas
            .iter()
            .find(|(_, s)| named(&s.metadata.name))
            .map(|(pos, _)| pos)
            .or_else(|| {
                self.priority_levels
                    .iter()
                    .find(|(_, l)| named(&l.metadata.name))
                    .map(|(pos, _)| pos)
            })
            .or_else(|| self.flow_schemas.first().map(|(pos, _)| pos))
            .or_else(|| self.priority_levels.first().map(|(pos, _)| pos))
            .cloned()
    }
}

fn note_ignored(
    kind: &str,
    name: &str,
    ignored: &[String],
    doc: &Document,
    file: &Path,
    notes: &mut Vec<Note>,
) {
    if ignored.is_empty() {
        return;
    }
    notes.push(Note {
        pos: doc.start(file),
        message: format!(
            "{kind} {name}: fields not modelled, ignored: {}",
            ignored.join(", ")
        ),
    });
}

/// `spec.apiserver`'s request path with the scenario's flow-control documents, checked.
/// `at` turns a position in the Scenario document into one in its file; `whole` is the
/// Scenario document's own position.
pub fn request_path(
    spec: &ApiServerSpec,
    documents: &FlowControlDocuments,
    at: &dyn Fn(&Location) -> SourcePos,
    whole: SourcePos,
    notes: &mut Vec<Note>,
) -> Result<RequestPathConfig, ScenarioError> {
    let invalid = |pos: SourcePos, field: &str, message: String| ScenarioError::Invalid {
        pos,
        path: format!("spec.apiserver.{field}"),
        message,
    };
    let flag = spec.enable_priority_and_fairness.as_ref();
    let mode = match (&spec.flow_control, flag) {
        (Some(m), _) => FlowControlMode::from_name(&m.value).ok_or_else(|| {
            invalid(
                at(&m.referenced),
                "flowControl",
                format!(
                    "unknown flow control {:?}; expected ideal, maxInflight, apf or dynamic",
                    m.value
                ),
            )
        })?,
        (None, Some(f)) if f.value => FlowControlMode::Apf,
        (None, Some(_)) => FlowControlMode::MaxInflight,
        (None, None) => FlowControlMode::Ideal,
    };
    if let (Some(m), Some(f)) = (&spec.flow_control, flag) {
        let agrees = matches!(
            (mode, f.value),
            (FlowControlMode::Apf, true) | (FlowControlMode::MaxInflight, false)
        );
        if !agrees {
            return Err(invalid(
                at(&f.referenced),
                "enablePriorityAndFairness",
                format!(
                    "{} contradicts flowControl: {} (line {}); expected true with apf, false \
                     with maxInflight, or one of the two fields alone",
                    f.value,
                    m.value,
                    at(&m.referenced).line
                ),
            ));
        }
    }
    let mut config = RequestPathConfig {
        mode,
        ..RequestPathConfig::default()
    };
    let fc = &mut config.flow_control;
    if let Some(v) = &spec.max_requests_inflight {
        fc.max_requests_inflight = v.value;
    }
    if let Some(v) = &spec.max_mutating_requests_inflight {
        fc.max_mutating_requests_inflight = v.value;
    }
    if let Some(v) = &spec.request_timeout {
        if v.value.is_zero() {
            return Err(invalid(
                at(&v.referenced),
                "requestTimeout",
                "expected a positive duration such as 60s".into(),
            ));
        }
        fc.request_timeout = v.value;
    }
    if let Some(d) = &spec.dynamic_flow_control {
        let mut dynamic = DynamicConfig::default();
        let positive = |v: &Spanned<u64>, field: &str| {
            if v.value == 0 {
                Err(invalid(
                    at(&v.referenced),
                    field,
                    "expected a positive number of tokens".into(),
                ))
            } else {
                Ok(v.value)
            }
        };
        if let Some(v) = &d.bucket_size {
            dynamic.bucket_size = positive(v, "dynamicFlowControl.bucketSize")?;
        }
        if let Some(v) = &d.refill_per_second {
            dynamic.refill_per_second = positive(v, "dynamicFlowControl.refillPerSecond")?;
        }
        config.dynamic = Some(dynamic);
    }
    config.flow_schemas = documents
        .flow_schemas
        .iter()
        .map(|(_, s)| s.clone())
        .collect();
    config.priority_levels = documents
        .priority_levels
        .iter()
        .map(|(_, l)| l.clone())
        .collect();
    if mode != FlowControlMode::Apf
        && let Some(pos) = documents.position_of("")
    {
        notes.push(Note {
            pos,
            message: format!(
                "FlowSchema and PriorityLevelConfiguration documents configure API Priority \
                 and Fairness only; spec.apiserver.flowControl is {}, so they are not used",
                mode.name()
            ),
        });
    }
    match config.build(SimTime::ZERO) {
        Ok(_) => Ok(config),
        Err(FlowControlError::Config(e)) => {
            let message = e.to_string();
            Err(ScenarioError::Invalid {
                pos: documents.position_of(&message).unwrap_or(whole),
                path: String::new(),
                message,
            })
        }
        Err(e) => Err(invalid(whole, "dynamicFlowControl", e.to_string())),
    }
}
