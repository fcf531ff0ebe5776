//! The openb trace (Alibaba `cluster-trace-gpu-v2023`, used by the FGD paper, USENIX ATC'23):
//! reading its node and pod lists into [`NodeSpec`]s and [`PodRow`]s.
//!
//! This file owns the file formats and their errors, nothing else:
//!
//! * node lists: CSV `sn,cpu_milli,memory_mib,gpu,model`, or Kubernetes Node manifests in the
//!   `node_yaml/openb_node_list_gpu_node.yaml` format (label `alibabacloud.com/gpu-card-model`,
//!   allocatable `alibabacloud.com/gpu-count`, `alibabacloud.com/gpu-milli`, `cpu`, `memory`,
//!   `pods`), read through [`crate::scenario::load()`] so there is one YAML code path (which
//!   resolves any configuration document beside the Nodes with the resolver the caller gives);
//! * pod lists: CSV `name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,
//!   creation_time,deletion_time,scheduled_time`, or the shorter multigpu variants
//!   (`name,cpu_milli,memory_mib,num_gpu,gpu_milli`). Columns are found by header name, so their
//!   order does not matter and extra columns are ignored.
//!
//! Rows keep the file's values as they are (a negative `gpu_milli` stays negative); turning a row
//! into a scheduling request (clamping, which annotations exist) is
//! [`crate::scheduler::gpu::pod_gpu`]'s job. A malformed row is a [`TraceError`] naming the file,
//! the line (1-based, the header is line 1), the column and what was expected — never a panic.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::api::Object;
use crate::api::gpu::{LABEL_GPU_MODEL, MAX_GPUS_PER_NODE, RESOURCE_GPU_COUNT};
use crate::api::node::Node;
use crate::scenario::{self, ConfigResolver, ScenarioError};

/// Pod slots of a node when the input does not say (the openb Node manifests say 1001).
pub const DEFAULT_MAX_PODS: i64 = 1001;

const MIB: i64 = 1024 * 1024;

/// One node of a node list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSpec {
    /// Node name (`sn`, or the manifest's `metadata.name`).
    pub name: String,
    /// Allocatable CPU in millicores.
    pub cpu_milli: i64,
    /// Allocatable memory in MiB.
    pub memory_mib: i64,
    /// Number of GPUs, each of [`GPU_MILLI`](crate::api::gpu::GPU_MILLI) capacity.
    pub gpus: u32,
    /// GPU model (`P100`, `T4`, `V100M16`, `V100M32`, `A10`, `G2`, `G3`); empty without GPUs.
    pub model: String,
    /// Pod slots ([`DEFAULT_MAX_PODS`] unless a manifest says otherwise).
    pub max_pods: i64,
}

/// One pod of a pod list, as written in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodRow {
    /// Pod name.
    pub name: String,
    /// CPU request in millicores.
    pub cpu_milli: i64,
    /// Memory request in MiB.
    pub memory_mib: i64,
    /// Number of GPUs requested (0 for CPU-only pods).
    pub num_gpu: u32,
    /// Share of each GPU in milli, as written (not clamped).
    pub gpu_milli: i64,
    /// Allowed GPU models separated by `|`; empty means any (and when the column is absent).
    pub gpu_spec: String,
    /// Quality-of-service class (`LS`, `BE`, `Burstable`, `Guaranteed`); empty when absent.
    pub qos: String,
    /// Phase in the original cluster (`Running`, `Pending`, …); empty when absent.
    pub pod_phase: String,
    /// Creation time in seconds, when given.
    pub creation_time: Option<i64>,
    /// Deletion time in seconds, when given.
    pub deletion_time: Option<i64>,
    /// Time the pod was scheduled in the original cluster, in seconds, when given.
    pub scheduled_time: Option<i64>,
}

/// A trace that cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    /// The file could not be read.
    #[error("{}: cannot read: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        message: String,
    },
    /// The header lacks a column this list needs.
    #[error("{}:1: missing column {column}; the header has: {header}", path.display())]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column needed.
        column: &'static str,
        /// The header as read, comma-separated.
        header: String,
    },
    /// A value does not parse.
    #[error("{}:{line}: column {column}: expected {expected}, found {found:?}", path.display())]
    BadValue {
        /// The file.
        path: PathBuf,
        /// 1-based line; the header is line 1.
        line: u64,
        /// Column name.
        column: &'static str,
        /// What the column holds.
        expected: &'static str,
        /// The text found.
        found: String,
    },
    /// A row is not a CSV record of the header's shape (wrong number of fields, bad UTF-8).
    #[error("{}:{line}: {message}", path.display())]
    BadRow {
        /// The file.
        path: PathBuf,
        /// 1-based line; the header is line 1.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// Two nodes share a name (node ranks and tie-breaks need distinct names).
    #[error("{}:{line}: duplicate node name {name:?} (first on line {first_line})", path.display())]
    DuplicateNode {
        /// The file.
        path: PathBuf,
        /// Line of the second occurrence (0 in a manifest file).
        line: u64,
        /// The name.
        name: String,
        /// Line of the first occurrence (0 in a manifest file).
        first_line: u64,
    },
    /// A Node manifest lacks something a node list needs, or holds another kind.
    #[error("{}: {what}: {message}", path.display())]
    BadManifest {
        /// The file.
        path: PathBuf,
        /// The object (`Node openb-node-0001`).
        what: String,
        /// What is wrong and what was expected.
        message: String,
    },
    /// The manifest file itself is invalid (YAML, field types); the scenario loader's error.
    #[error(transparent)]
    Manifest(#[from] ScenarioError),
}

/// Reads a node list: Node manifests when the file ends in `.yaml`/`.yml` (read as
/// [`read_node_manifests`] reads them, with `resolver`), CSV otherwise.
pub fn read_nodes(path: &Path, resolver: &dyn ConfigResolver) -> Result<Vec<NodeSpec>, TraceError> {
    let is_yaml = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    if is_yaml {
        read_node_manifests(path, resolver)
    } else {
        read_nodes_csv(path)
    }
}

/// Reads a CSV node list `sn,cpu_milli,memory_mib,gpu,model`.
pub fn read_nodes_csv(path: &Path) -> Result<Vec<NodeSpec>, TraceError> {
    let mut table = Table::open(path)?;
    let sn = table.column("sn")?;
    let cpu = table.column("cpu_milli")?;
    let mem = table.column("memory_mib")?;
    let gpu = table.column("gpu")?;
    let model = table.optional_column("model");
    let mut nodes = Vec::new();
    let mut first_lines: BTreeMap<String, u64> = BTreeMap::new();
    while let Some(row) = table.next_row()? {
        let name = row.text(sn).to_owned();
        if let Some(&first_line) = first_lines.get(&name) {
            return Err(TraceError::DuplicateNode {
                path: path.to_path_buf(),
                line: row.line,
                name,
                first_line,
            });
        }
        first_lines.insert(name.clone(), row.line);
        nodes.push(NodeSpec {
            name,
            cpu_milli: row.non_negative(cpu, "cpu_milli")?,
            memory_mib: row.non_negative(mem, "memory_mib")?,
            gpus: row.gpu_count(gpu)?,
            model: model.map(|c| row.text(c).to_owned()).unwrap_or_default(),
            max_pods: DEFAULT_MAX_PODS,
        });
    }
    Ok(nodes)
}

/// Reads a CSV pod list (the full openb schema or the multigpu variants' five columns).
pub fn read_pods(path: &Path) -> Result<Vec<PodRow>, TraceError> {
    let mut table = Table::open(path)?;
    let name = table.column("name")?;
    let cpu = table.column("cpu_milli")?;
    let mem = table.column("memory_mib")?;
    let num_gpu = table.column("num_gpu")?;
    let gpu_milli = table.column("gpu_milli")?;
    let gpu_spec = table.optional_column("gpu_spec");
    let qos = table.optional_column("qos");
    let phase = table.optional_column("pod_phase");
    let created = table.optional_column("creation_time");
    let deleted = table.optional_column("deletion_time");
    let scheduled = table.optional_column("scheduled_time");
    let mut pods = Vec::new();
    while let Some(row) = table.next_row()? {
        let text = |c: Option<usize>| c.map(|c| row.text(c).to_owned()).unwrap_or_default();
        pods.push(PodRow {
            name: row.text(name).to_owned(),
            cpu_milli: row.non_negative(cpu, "cpu_milli")?,
            memory_mib: row.non_negative(mem, "memory_mib")?,
            num_gpu: row.count(num_gpu, "num_gpu")?,
            gpu_milli: row.integer(gpu_milli, "gpu_milli")?,
            gpu_spec: text(gpu_spec),
            qos: text(qos),
            pod_phase: text(phase),
            creation_time: row.optional_integer(created, "creation_time")?,
            deletion_time: row.optional_integer(deleted, "deletion_time")?,
            scheduled_time: row.optional_integer(scheduled, "scheduled_time")?,
        });
    }
    Ok(pods)
}

/// Reads Node manifests (through the scenario loader, which resolves any configuration
/// document in the file with `resolver`) and maps each Node to a [`NodeSpec`].
pub fn read_node_manifests(
    path: &Path,
    resolver: &dyn ConfigResolver,
) -> Result<Vec<NodeSpec>, TraceError> {
    let loaded = scenario::load(path, resolver)?;
    let mut nodes = Vec::with_capacity(loaded.initial.len());
    let mut seen: BTreeMap<String, ()> = BTreeMap::new();
    for object in &loaded.initial {
        let Object::Node(node) = object else {
            return Err(TraceError::BadManifest {
                path: path.to_path_buf(),
                what: format!("{} {}", object.kind(), object.meta().name),
                message: "a node list holds only Node manifests".into(),
            });
        };
        let spec = node_spec(path, node)?;
        if seen.insert(spec.name.clone(), ()).is_some() {
            return Err(TraceError::DuplicateNode {
                path: path.to_path_buf(),
                line: 0,
                name: spec.name,
                first_line: 0,
            });
        }
        nodes.push(spec);
    }
    Ok(nodes)
}

/// One Node manifest as a node of the trace.
pub fn node_spec(path: &Path, node: &Node) -> Result<NodeSpec, TraceError> {
    let name = node.metadata.name.clone();
    let bad = |message: String| TraceError::BadManifest {
        path: path.to_path_buf(),
        what: format!("Node {name}"),
        message,
    };
    let allocatable = node.status.effective_allocatable();
    let cpu = allocatable
        .get("cpu")
        .ok_or_else(|| bad("no allocatable or capacity cpu".into()))?
        .milli_value();
    // Memory is compared in MiB, as the CSV lists give it; a remainder below 1 MiB is dropped.
    let memory = allocatable
        .get("memory")
        .ok_or_else(|| bad("no allocatable or capacity memory".into()))?
        .value()
        / MIB;
    let gpus = match allocatable.get(RESOURCE_GPU_COUNT) {
        None => 0,
        Some(q) => u32::try_from(q.value())
            .ok()
            .filter(|n| *n <= MAX_GPUS_PER_NODE)
            .ok_or_else(|| {
                bad(format!(
                    "{RESOURCE_GPU_COUNT}: expected a GPU count from 0 to {MAX_GPUS_PER_NODE}, found {}",
                    q.value()
                ))
            })?,
    };
    // `gpu-milli` (1000 per GPU) was checked as the manifest loaded
    // (`api::gpu::validate_gpu_declaration`).
    if cpu < 0 || memory < 0 {
        return Err(bad("negative cpu or memory".into()));
    }
    let max_pods = allocatable
        .get("pods")
        .map(|q| q.value())
        .unwrap_or(DEFAULT_MAX_PODS);
    Ok(NodeSpec {
        name,
        cpu_milli: cpu,
        memory_mib: memory,
        gpus,
        model: node
            .metadata
            .labels
            .get(LABEL_GPU_MODEL)
            .cloned()
            .unwrap_or_default(),
        max_pods,
    })
}

/// A CSV file being read: its path (for errors), the reader and the header.
struct Table {
    path: PathBuf,
    reader: csv::Reader<std::fs::File>,
    header: csv::StringRecord,
    record: csv::StringRecord,
}

/// The current row of a [`Table`].
struct Row<'a> {
    path: &'a Path,
    line: u64,
    record: &'a csv::StringRecord,
    header: &'a csv::StringRecord,
}

impl Table {
    fn open(path: &Path) -> Result<Table, TraceError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .trim(csv::Trim::All)
            .from_path(path)
            .map_err(|e| csv_error(path, e))?;
        let header = reader.headers().map_err(|e| csv_error(path, e))?.clone();
        Ok(Table {
            path: path.to_path_buf(),
            reader,
            header,
            record: csv::StringRecord::new(),
        })
    }

    fn optional_column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    fn column(&self, name: &'static str) -> Result<usize, TraceError> {
        self.optional_column(name)
            .ok_or_else(|| TraceError::MissingColumn {
                path: self.path.clone(),
                column: name,
                header: self.header.iter().collect::<Vec<_>>().join(","),
            })
    }

    fn next_row(&mut self) -> Result<Option<Row<'_>>, TraceError> {
        let more = self
            .reader
            .read_record(&mut self.record)
            .map_err(|e| csv_error(&self.path, e))?;
        if !more {
            return Ok(None);
        }
        let line = self.record.position().map_or(0, csv::Position::line);
        Ok(Some(Row {
            path: &self.path,
            line,
            record: &self.record,
            header: &self.header,
        }))
    }
}

impl Row<'_> {
    /// The field at `index`; the reader checked every row has the header's length.
    fn text(&self, index: usize) -> &str {
        self.record.get(index).unwrap_or_default()
    }

    fn bad(&self, column: &'static str, expected: &'static str, found: &str) -> TraceError {
        debug_assert!(self.header.iter().any(|h| h == column));
        TraceError::BadValue {
            path: self.path.to_path_buf(),
            line: self.line,
            column,
            expected,
            found: found.to_owned(),
        }
    }

    fn integer(&self, index: usize, column: &'static str) -> Result<i64, TraceError> {
        let text = self.text(index);
        text.parse::<i64>()
            .map_err(|_| self.bad(column, "an integer", text))
    }

    fn non_negative(&self, index: usize, column: &'static str) -> Result<i64, TraceError> {
        let text = self.text(index);
        text.parse::<i64>()
            .ok()
            .filter(|v| *v >= 0)
            .ok_or_else(|| self.bad(column, "a non-negative integer", text))
    }

    fn count(&self, index: usize, column: &'static str) -> Result<u32, TraceError> {
        let text = self.text(index);
        text.parse::<u32>()
            .map_err(|_| self.bad(column, "a non-negative integer", text))
    }

    fn gpu_count(&self, index: usize) -> Result<u32, TraceError> {
        let text = self.text(index);
        text.parse::<u32>()
            .ok()
            .filter(|n| *n <= MAX_GPUS_PER_NODE)
            .ok_or_else(|| self.bad("gpu", "a GPU count from 0 to 1024", text))
    }

    fn optional_integer(
        &self,
        index: Option<usize>,
        column: &'static str,
    ) -> Result<Option<i64>, TraceError> {
        let Some(index) = index else { return Ok(None) };
        let text = self.text(index);
        if text.is_empty() {
            return Ok(None);
        }
        text.parse::<i64>()
            .map(Some)
            .map_err(|_| self.bad(column, "an integer or nothing", text))
    }
}

fn csv_error(path: &Path, error: csv::Error) -> TraceError {
    let line = error.position().map_or(0, csv::Position::line);
    let bad_row = |message: String| TraceError::BadRow {
        path: path.to_path_buf(),
        line,
        message,
    };
    match error.kind() {
        csv::ErrorKind::Io(e) => TraceError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        },
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => bad_row(format!(
            "expected {expected_len} fields, as the header has, found {len}"
        )),
        csv::ErrorKind::Utf8 { err, .. } => {
            bad_row(format!("field {} is not valid UTF-8", err.field() + 1))
        }
        _ => bad_row(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::Components;
    use std::fs;

    const POD_HEADER: &str = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time";

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, text).expect("write fixture");
        path
    }

    #[test]
    fn reads_full_and_multigpu_pod_lists_by_header_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let full = write(
            dir.path(),
            "full.csv",
            &format!(
                "{POD_HEADER}\np0,12000,16384,1,1000,,LS,Running,0,12537496,0\n\
                 p1,6000,12288,1,460,V100M16|V100M32,BE,Pending,10,20,\n"
            ),
        );
        let pods = read_pods(&full).expect("full list");
        assert_eq!(pods.len(), 2);
        assert_eq!(pods[1].gpu_spec, "V100M16|V100M32");
        assert_eq!(pods[1].scheduled_time, None);
        assert_eq!(pods[0].deletion_time, Some(12_537_496));
        // Columns in another order and fewer of them: the multigpu files' shape, shuffled.
        let short = write(
            dir.path(),
            "multigpu.csv",
            "gpu_milli,name,num_gpu,memory_mib,cpu_milli\n1000,p9,8,1024,64000\n",
        );
        let pods = read_pods(&short).expect("short list");
        assert_eq!(pods[0].name, "p9");
        assert_eq!((pods[0].num_gpu, pods[0].gpu_milli), (8, 1000));
        assert_eq!(pods[0].cpu_milli, 64000);
        assert_eq!(pods[0].gpu_spec, "");
        assert_eq!(pods[0].creation_time, None);
    }

    #[test]
    fn malformed_rows_name_file_line_column_and_expectation() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Header = line 1, p0 = line 2, p1 = line 3.
        let path = write(
            dir.path(),
            "openb_pod_list_default.csv",
            &format!(
                "{POD_HEADER}\np0,1000,10,1,500,,LS,Running,0,1,0\np1,1000,10,x,500,,LS,Running,0,1,0\n"
            ),
        );
        let err = read_pods(&path).expect_err("bad num_gpu").to_string();
        assert!(
            err.ends_with("openb_pod_list_default.csv:3: column num_gpu: expected a non-negative integer, found \"x\""),
            "{err}"
        );
        let path = write(
            dir.path(),
            "neg.csv",
            "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,-5,10,0,0\n",
        );
        let err = read_pods(&path).expect_err("negative cpu").to_string();
        assert!(
            err.ends_with(
                "neg.csv:2: column cpu_milli: expected a non-negative integer, found \"-5\""
            ),
            "{err}"
        );
        let path = write(
            dir.path(),
            "short.csv",
            "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,1,1,0,0\np1,1,1,0\n",
        );
        let err = read_pods(&path).expect_err("short row").to_string();
        assert!(
            err.ends_with("short.csv:3: expected 5 fields, as the header has, found 4"),
            "{err}"
        );
        let path = write(
            dir.path(),
            "nocol.csv",
            "name,cpu_milli,memory_mib,gpu_milli\np0,1,1,0\n",
        );
        let err = read_pods(&path).expect_err("missing column").to_string();
        assert!(
            err.ends_with("nocol.csv:1: missing column num_gpu; the header has: name,cpu_milli,memory_mib,gpu_milli"),
            "{err}"
        );
        let path = write(
            dir.path(),
            "time.csv",
            &format!("{POD_HEADER}\np0,1,1,0,0,,LS,Running,soon,1,0\n"),
        );
        let err = read_pods(&path).expect_err("bad time").to_string();
        assert!(
            err.ends_with(
                "time.csv:2: column creation_time: expected an integer or nothing, found \"soon\""
            ),
            "{err}"
        );
        let err = read_pods(&dir.path().join("absent.csv"))
            .expect_err("absent")
            .to_string();
        assert!(err.contains("absent.csv: cannot read"), "{err}");
    }

    #[test]
    fn node_csv_and_duplicates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            dir.path(),
            "nodes.csv",
            "sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,2,P100\nn1,32000,262144,0,\n",
        );
        let nodes = read_nodes(&path, &Components).expect("nodes");
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[0].model, "P100");
        assert_eq!(nodes[0].gpus, 2);
        assert_eq!(nodes[1].model, "");
        assert_eq!(nodes[1].max_pods, DEFAULT_MAX_PODS);
        let path = write(
            dir.path(),
            "dup.csv",
            "sn,cpu_milli,memory_mib,gpu,model\nn0,1,1,1,T4\nn1,1,1,1,T4\nn0,1,1,1,T4\n",
        );
        let err = read_nodes(&path, &Components)
            .expect_err("duplicate")
            .to_string();
        assert!(
            err.ends_with("dup.csv:4: duplicate node name \"n0\" (first on line 2)"),
            "{err}"
        );
        let path = write(
            dir.path(),
            "badgpu.csv",
            "sn,cpu_milli,memory_mib,gpu,model\nn0,1,1,two,T4\n",
        );
        let err = read_nodes(&path, &Components)
            .expect_err("bad gpu")
            .to_string();
        assert!(
            err.ends_with(
                "badgpu.csv:2: column gpu: expected a GPU count from 0 to 1024, found \"two\""
            ),
            "{err}"
        );
        let path = write(
            dir.path(),
            "hugegpu.csv",
            "sn,cpu_milli,memory_mib,gpu,model\nn0,1,1,4000000000,T4\n",
        );
        let err = read_nodes(&path, &Components)
            .expect_err("too many GPUs")
            .to_string();
        assert!(
            err.ends_with("hugegpu.csv:2: column gpu: expected a GPU count from 0 to 1024, found \"4000000000\""),
            "{err}"
        );
    }

    #[test]
    fn node_manifests_map_to_nodes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            dir.path(),
            "nodes.yaml",
            "apiVersion: v1\nkind: Node\nmetadata:\n  labels:\n    alibabacloud.com/gpu-card-model: V100M32\n  name: n0\n\
             status:\n  allocatable:\n    alibabacloud.com/gpu-count: '4'\n    alibabacloud.com/gpu-milli: '4000'\n\
             \x20   cpu: 48000m\n    memory: 368Gi\n    pods: '1001'\n---\n\
             apiVersion: v1\nkind: Node\nmetadata:\n  name: cpu-only\nstatus:\n  capacity:\n    cpu: '32'\n    memory: 1Gi\n",
        );
        let nodes = read_nodes(&path, &Components).expect("manifests");
        assert_eq!(
            nodes,
            vec![
                NodeSpec {
                    name: "n0".into(),
                    cpu_milli: 48000,
                    memory_mib: 368 * 1024,
                    gpus: 4,
                    model: "V100M32".into(),
                    max_pods: 1001,
                },
                NodeSpec {
                    name: "cpu-only".into(),
                    cpu_milli: 32000,
                    memory_mib: 1024,
                    gpus: 0,
                    model: String::new(),
                    max_pods: DEFAULT_MAX_PODS,
                },
            ]
        );
        let path = write(
            dir.path(),
            "badmilli.yaml",
            "apiVersion: v1\nkind: Node\nmetadata:\n  name: n0\nstatus:\n  allocatable:\n    alibabacloud.com/gpu-count: '2'\n\
             \x20   alibabacloud.com/gpu-milli: '1500'\n    cpu: '8'\n    memory: 1Gi\n",
        );
        let err = read_nodes(&path, &Components)
            .expect_err("bad milli")
            .to_string();
        assert!(
            err.ends_with("field `status.allocatable`: alibabacloud.com/gpu-milli: expected 1000 per GPU, 2000 for 2 GPU(s), found 1500"),
            "{err}"
        );
    }
}
