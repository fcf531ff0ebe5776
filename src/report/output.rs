//! Writing a folder of outputs atomically: everything goes into a staging folder beside the
//! target, which replaces the target only once every file is written. A run that fails halfway
//! leaves the previous report (or nothing) behind, never a mixture.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Why outputs could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// A file system operation failed.
    #[error("{}: {message}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The operating system's reason.
        message: String,
    },
    /// The output folder exists and is not a kubesim report; kubesim will not replace it.
    #[error(
        "{}: exists and is not a kubesim report (no run.json); choose another --out or remove it",
        path.display()
    )]
    NotAReport {
        /// The folder.
        path: PathBuf,
    },
    /// A chart could not be drawn.
    #[error("chart {name}: {message}")]
    Chart {
        /// Chart file name.
        name: String,
        /// Why.
        message: String,
    },
}

fn io_error(path: &Path, e: std::io::Error) -> ReportError {
    ReportError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// A staging folder that becomes the target folder on [`StagedDir::commit`].
#[derive(Debug)]
pub struct StagedDir {
    staging: PathBuf,
    target: PathBuf,
    committed: bool,
}

/// The file whose presence marks a folder as a kubesim report.
pub const MARKER_FILE: &str = "run.json";

impl StagedDir {
    /// Prepares to write `target`. Fails if `target` exists and is not a previous report.
    pub fn new(target: &Path) -> Result<StagedDir, ReportError> {
        if target.exists() {
            let is_report = target.join(MARKER_FILE).is_file();
            let is_empty = fs::read_dir(target)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
            if !is_report && !is_empty {
                return Err(ReportError::NotAReport {
                    path: target.to_path_buf(),
                });
            }
        }
        let staging = hidden_sibling(target, &format!(".tmp-{}", std::process::id()));
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(|e| io_error(&staging, e))?;
        }
        fs::create_dir_all(&staging).map_err(|e| io_error(&staging, e))?;
        Ok(StagedDir {
            staging,
            target: target.to_path_buf(),
            committed: false,
        })
    }

    /// Where files are staged.
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// Writes `bytes` to `relative` inside the staging folder (creating sub-folders).
    pub fn write(&self, relative: &str, bytes: &[u8]) -> Result<(), ReportError> {
        let path = self.staging.join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
        }
        fs::write(&path, bytes).map_err(|e| io_error(&path, e))
    }

    /// Streams into `relative` through `fill`.
    pub fn write_with(
        &self,
        relative: &str,
        fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<(), ReportError> {
        let path = self.staging.join(relative);
        let file = fs::File::create(&path).map_err(|e| io_error(&path, e))?;
        let mut writer = BufWriter::new(file);
        fill(&mut writer).map_err(|e| io_error(&path, e))?;
        writer.flush().map_err(|e| io_error(&path, e))
    }

    /// Replaces the target with the staged folder.
    pub fn commit(mut self) -> Result<PathBuf, ReportError> {
        if self.target.exists() {
            let old = with_suffix(&self.staging, ".old");
            fs::rename(&self.target, &old).map_err(|e| io_error(&self.target, e))?;
            fs::rename(&self.staging, &self.target).map_err(|e| io_error(&self.target, e))?;
            fs::remove_dir_all(&old).map_err(|e| io_error(&old, e))?;
        } else {
            fs::rename(&self.staging, &self.target).map_err(|e| io_error(&self.target, e))?;
        }
        self.committed = true;
        Ok(self.target.clone())
    }
}

/// `dir/.name<suffix>` for `dir/name`: a hidden sibling, on the same file system so that the
/// final rename is atomic.
fn hidden_sibling(path: &Path, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".into());
    path.with_file_name(format!(".{name}{suffix}"))
}

/// `dir/name<suffix>` for `dir/name`.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: a failed run must not leave a half-written folder behind.
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siblings_stay_beside_relative_and_absolute_paths() {
        // A relative target must give relative siblings in the same folder (a bug once joined
        // the whole staging path into the file name).
        assert_eq!(
            hidden_sibling(Path::new("reports/quickstart"), ".tmp-7"),
            PathBuf::from("reports/.quickstart.tmp-7")
        );
        assert_eq!(
            with_suffix(Path::new("reports/.quickstart.tmp-7"), ".old"),
            PathBuf::from("reports/.quickstart.tmp-7.old")
        );
        assert_eq!(
            with_suffix(Path::new("/tmp/x/.out.tmp-1"), ".old"),
            PathBuf::from("/tmp/x/.out.tmp-1.old")
        );
    }

    #[test]
    fn nothing_is_visible_until_commit_and_nothing_remains_on_drop() {
        let tmp = tempfile::tempdir().ok();
        let Some(tmp) = tmp else { return };
        let target = tmp.path().join("out");
        {
            let staged = StagedDir::new(&target).ok();
            let staged = staged.as_ref();
            assert!(staged.is_some_and(|s| s.write("a.txt", b"x").is_ok()));
            assert!(!target.exists());
        }
        // Dropped without commit: no target, no staging folder.
        let leftovers = fs::read_dir(tmp.path()).map(|d| d.count()).unwrap_or(99);
        assert_eq!(leftovers, 0);
    }

    #[test]
    fn commit_replaces_a_previous_report_but_not_other_folders() {
        let Some(tmp) = tempfile::tempdir().ok() else {
            return;
        };
        let target = tmp.path().join("out");
        for content in [&b"first"[..], b"second"] {
            let staged = StagedDir::new(&target);
            assert!(staged.is_ok());
            if let Ok(staged) = staged {
                assert!(staged.write(MARKER_FILE, content).is_ok());
                assert!(staged.commit().is_ok());
            }
        }
        assert_eq!(
            fs::read(target.join(MARKER_FILE)).ok(),
            Some(b"second".to_vec())
        );
        let precious = tmp.path().join("precious");
        assert!(fs::create_dir_all(&precious).is_ok());
        assert!(fs::write(precious.join("thesis.tex"), b"x").is_ok());
        assert!(matches!(
            StagedDir::new(&precious),
            Err(ReportError::NotAReport { .. })
        ));
    }
}
