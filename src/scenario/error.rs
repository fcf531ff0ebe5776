//! Scenario errors: every one names the file and, where it has one, the line, the column, the
//! field path and what was expected — the things a user needs to fix the input without reading
//! kubesim's source.

use std::fmt;
use std::path::PathBuf;

/// Where in the input an error is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourcePos {
    /// The file.
    pub file: PathBuf,
    /// 1-based line, 0 when unknown.
    pub line: u64,
    /// 1-based column, 0 when unknown.
    pub column: u64,
}

impl SourcePos {
    /// The same position with the file shown relative to `root` (when it is under it).
    pub fn relative_to(&self, root: &std::path::Path) -> SourcePos {
        SourcePos {
            file: self
                .file
                .strip_prefix(root)
                .map(std::path::Path::to_path_buf)
                .unwrap_or_else(|_| self.file.clone()),
            ..self.clone()
        }
    }
}

impl fmt::Display for SourcePos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        Ok(())
    }
}

/// A scenario that cannot be run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// A file or folder could not be read.
    #[error("{}: cannot read: {message}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The operating system's reason.
        message: String,
    },
    /// The YAML is malformed, or a field has the wrong type or an invalid value.
    #[error("{pos}: {}{message}{}", field_prefix(path), snippet_suffix(snippet))]
    Syntax {
        /// Where.
        pos: SourcePos,
        /// The field path (`spec.nodePools[0].count`), empty at the document root.
        path: String,
        /// What is wrong and what was expected.
        message: String,
        /// The offending lines with a caret, when available.
        snippet: String,
    },
    /// The input parses but means something impossible (a time past the end, a duplicate name).
    #[error("{pos}: {}{message}", field_prefix(path))]
    Invalid {
        /// Where.
        pos: SourcePos,
        /// The field path.
        path: String,
        /// What is wrong and what was expected.
        message: String,
    },
}

fn field_prefix(path: &str) -> String {
    if path.is_empty() || path == "." {
        String::new()
    } else {
        format!("field `{path}`: ")
    }
}

fn snippet_suffix(snippet: &str) -> String {
    if snippet.is_empty() {
        String::new()
    } else {
        format!("\n{snippet}")
    }
}

impl ScenarioError {
    /// Where the error is, if it points into a file.
    pub fn pos(&self) -> Option<&SourcePos> {
        match self {
            ScenarioError::Syntax { pos, .. } | ScenarioError::Invalid { pos, .. } => Some(pos),
            ScenarioError::Io { .. } => None,
        }
    }

    /// The field path, if the error has one.
    pub fn field_path(&self) -> Option<&str> {
        match self {
            ScenarioError::Syntax { path, .. } | ScenarioError::Invalid { path, .. } => Some(path),
            ScenarioError::Io { .. } => None,
        }
    }

    /// The message without the location.
    pub fn message(&self) -> &str {
        match self {
            ScenarioError::Syntax { message, .. }
            | ScenarioError::Invalid { message, .. }
            | ScenarioError::Io { message, .. } => message,
        }
    }
}
