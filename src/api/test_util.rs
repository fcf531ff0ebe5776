//! Test fixtures for the object model, shared by its own tests and the scheduler's: label sets
//! and node selector terms written inline.

use super::affinity::{NodeSelectorOperator, NodeSelectorRequirement, NodeSelectorTerm};
use super::labels::Labels;

/// A label set from `(key, value)` pairs.
pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The node selector requirement `key operator values`.
pub fn req(key: &str, operator: NodeSelectorOperator, values: &[&str]) -> NodeSelectorRequirement {
    NodeSelectorRequirement {
        key: key.to_owned(),
        operator,
        values: values.iter().map(|v| (*v).to_owned()).collect(),
    }
}

/// A node selector term of label requirements only.
pub fn term(exprs: Vec<NodeSelectorRequirement>) -> NodeSelectorTerm {
    NodeSelectorTerm {
        match_expressions: exprs,
        match_fields: Vec::new(),
    }
}

/// A node selector term of field requirements only.
pub fn fields(fs: Vec<NodeSelectorRequirement>) -> NodeSelectorTerm {
    NodeSelectorTerm {
        match_expressions: Vec::new(),
        match_fields: fs,
    }
}
