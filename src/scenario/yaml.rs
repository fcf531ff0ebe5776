//! The one place kubesim touches a YAML library.
//!
//! A file is split into its documents here (keeping each document's first line, so errors point
//! at the line in the file, not in the document), and each document is deserialized with the
//! field path tracked. Strict parsing relies on `deny_unknown_fields` in the target types;
//! lenient parsing collects the paths of fields the target does not model.

use std::path::Path;

use serde::de::DeserializeOwned;

use super::error::{ScenarioError, SourcePos};

/// One document of a multi-document YAML file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    /// The document's text. A `---` marker line is blanked to spaces rather than removed, so
    /// that columns on that line stay right.
    pub text: String,
    /// The 1-based line of the file the text starts on.
    pub first_line: u64,
}

impl Document {
    /// Whether the document holds nothing but blank lines and comments.
    pub fn is_blank(&self) -> bool {
        self.text.lines().all(|l| {
            let t = l.trim();
            t.is_empty() || t.starts_with('#')
        })
    }

    /// The position in the file of `location`, a position inside this document.
    pub fn pos(&self, file: &Path, location: &serde_saphyr::Location) -> SourcePos {
        SourcePos {
            file: file.to_path_buf(),
            line: location.line() + self.first_line.saturating_sub(1),
            column: location.column(),
        }
    }

    /// The position of the document's first line.
    pub fn start(&self, file: &Path) -> SourcePos {
        SourcePos {
            file: file.to_path_buf(),
            line: self.first_line,
            column: 1,
        }
    }
}

/// Splits a YAML stream at its `---` document markers (and `...` end markers).
pub fn split_documents(text: &str) -> Vec<Document> {
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut first_line = 1;
    for (idx, line) in text.split_inclusive('\n').enumerate() {
        let line_no = idx as u64 + 1;
        let bare = line.trim_end_matches(['\n', '\r']);
        let is_start = bare == "---" || bare.starts_with("--- ") || bare.starts_with("---\t");
        let is_end = bare == "...";
        if is_start || is_end {
            push_document(&mut docs, &mut current, first_line);
            first_line = line_no;
            if is_start {
                // Keep whatever follows the marker on its line, at its original column.
                current.push_str("   ");
                current.push_str(&line[3..]);
            } else {
                current.push('\n');
            }
            continue;
        }
        current.push_str(line);
    }
    push_document(&mut docs, &mut current, first_line);
    docs
}

fn push_document(docs: &mut Vec<Document>, current: &mut String, first_line: u64) {
    let text = std::mem::take(current);
    let doc = Document { text, first_line };
    if !doc.is_blank() {
        docs.push(doc);
    }
}

/// Deserializes `doc` into `T`; unknown fields are errors if `T` denies them.
pub fn parse_strict<T: DeserializeOwned>(doc: &Document, file: &Path) -> Result<T, ScenarioError> {
    parse(doc, file, |_| {})
}

/// Deserializes `doc` into `T`, returning also the paths of fields `T` does not model.
pub fn parse_lenient<T: DeserializeOwned>(
    doc: &Document,
    file: &Path,
) -> Result<(T, Vec<String>), ScenarioError> {
    let mut ignored = Vec::new();
    let value = parse(doc, file, |path| ignored.push(path))?;
    Ok((value, ignored))
}

fn parse<T: DeserializeOwned>(
    doc: &Document,
    file: &Path,
    mut on_ignored: impl FnMut(String),
) -> Result<T, ScenarioError> {
    let mut failed_path = String::new();
    let result = serde_saphyr::with_deserializer_from_str(&doc.text, |de| {
        let mut track = serde_path_to_error::Track::new();
        let tracked = serde_path_to_error::Deserializer::new(de, &mut track);
        let value = serde_ignored::deserialize(tracked, |path| on_ignored(path.to_string()));
        if value.is_err() {
            failed_path = track.path().to_string();
        }
        value
    });
    result.map_err(|err| syntax_error(&err, doc, file, failed_path))
}

/// Turns a YAML library error into a [`ScenarioError`] pointing into the file.
fn syntax_error(
    err: &serde_saphyr::Error,
    doc: &Document,
    file: &Path,
    path: String,
) -> ScenarioError {
    let offset = doc.first_line.saturating_sub(1);
    let (line, column) = err
        .location()
        .map(|l| (l.line() + offset, l.column()))
        .unwrap_or((doc.first_line, 1));
    let plain = err.without_snippet().to_string();
    let message = explain(strip_location_prefix(&plain));
    let name = file.display().to_string();
    let rendered = err.render_with_options(serde_saphyr::render_options! {
        line_offset: offset,
        source_name: Some(name.as_str()),
    });
    // The first rendered line repeats the message; the rest is the snippet with a caret.
    let snippet = rendered
        .split_once('\n')
        .map(|(_, rest)| rest.trim_end().to_string())
        .unwrap_or_default();
    ScenarioError::Syntax {
        pos: SourcePos {
            file: file.to_path_buf(),
            line,
            column,
        },
        path: if path == "." { String::new() } else { path },
        message,
        snippet,
    }
}

/// Drops the position the YAML library writes into its messages (`line N column M: …` in front,
/// `… at line N, column M` behind): it counts lines from the start of the document, not the
/// file, and the position is reported separately anyway.
fn strip_location_prefix(message: &str) -> &str {
    let mut text = message;
    if let Some(rest) = text.strip_prefix("line ")
        && let Some((position, after)) = rest.split_once(": ")
        && position.contains(" column ")
    {
        text = after;
    }
    if let Some(idx) = text.rfind(" at line ")
        && text[idx..].contains(", column ")
    {
        text = &text[..idx];
    }
    text
}

/// Adds what was expected to the YAML library's terse type errors.
fn explain(message: &str) -> String {
    let expected = match message {
        "invalid u8" | "invalid u16" | "invalid u32" | "invalid u64" | "invalid usize" => {
            "expected a non-negative integer"
        }
        "invalid i8" | "invalid i16" | "invalid i32" | "invalid i64" | "invalid isize" => {
            "expected an integer"
        }
        "invalid f32" | "invalid f64" => "expected a number",
        "invalid bool" => "expected true or false",
        "expected string scalar" => {
            "expected a string (quote it if it looks like a number, list or map)"
        }
        _ => return message.to_string(),
    };
    format!("{message}: {expected}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Strict {
        a: u32,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Loose {
        a: u32,
    }

    fn file() -> &'static Path {
        Path::new("s.yaml")
    }

    #[test]
    fn splits_documents_and_remembers_their_lines() {
        let docs = split_documents("# header\na: 1\n---\na: 2\n--- \n\n---\nb: 3\n...\n");
        let lines: Vec<u64> = docs.iter().map(|d| d.first_line).collect();
        // Doc 1 starts at line 1, doc 2 at the marker on line 3; the blank doc between the
        // markers on lines 5 and 7 is dropped; doc 3 starts at line 7.
        assert_eq!(lines, vec![1, 3, 7]);
        assert_eq!(docs[1].text, "   \na: 2\n");
    }

    #[test]
    fn errors_point_at_the_line_in_the_file() {
        let docs = split_documents("a: 1\n---\na: 2\nb: 3\n");
        let err = parse_strict::<Strict>(&docs[1], file()).err();
        let Some(ScenarioError::Syntax {
            pos, path, message, ..
        }) = err
        else {
            panic!("expected a syntax error, got {err:?}");
        };
        // `b` is on line 4 of the file (line 3 of the second document), column 1.
        assert_eq!((pos.line, pos.column), (4, 1));
        assert_eq!(path, "b");
        assert!(message.contains("unknown field `b`"), "{message}");
    }

    #[test]
    fn wrong_types_name_the_field_and_the_expectation() {
        let docs = split_documents("a: text\n");
        let err = parse_strict::<Strict>(&docs[0], file()).err();
        let Some(ScenarioError::Syntax {
            pos,
            path,
            message,
            snippet,
        }) = err
        else {
            panic!("expected a syntax error, got {err:?}");
        };
        assert_eq!((pos.line, pos.column, path.as_str()), (1, 4, "a"));
        assert_eq!(message, "invalid u32: expected a non-negative integer");
        assert!(snippet.contains("s.yaml:1:4"), "{snippet}");
    }

    #[test]
    fn positions_inside_messages_are_dropped() {
        assert_eq!(
            strip_location_prefix("line 3 column 4: bad thing"),
            "bad thing"
        );
        assert_eq!(
            strip_location_prefix("invalid quantity \"x\" at line 11, column 25"),
            "invalid quantity \"x\""
        );
        assert_eq!(strip_location_prefix("plain"), "plain");
    }

    #[test]
    fn lenient_parsing_lists_ignored_fields() {
        let docs = split_documents("a: 1\nextra: {x: 1}\nmore: 2\n");
        let parsed = parse_lenient::<Loose>(&docs[0], file());
        assert_eq!(
            parsed,
            Ok((
                Loose { a: 1 },
                vec!["extra".to_string(), "more".to_string()]
            ))
        );
    }

    #[test]
    fn malformed_yaml_is_a_syntax_error_with_a_position() {
        let docs = split_documents("a: [1, 2\n");
        let err = parse_strict::<Strict>(&docs[0], file()).err();
        let pos = err.as_ref().and_then(|e| e.pos().cloned());
        assert!(pos.is_some_and(|p| p.line >= 1), "{err:?}");
    }
}
