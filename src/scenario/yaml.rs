//! The one place kubesim touches a YAML library.
//!
//! A file is split into its documents here (keeping each document's first line, so errors point
//! at the line in the file, not in the document), and each document is deserialized with the
//! field path tracked. Strict parsing relies on `deny_unknown_fields` in the target types;
//! lenient parsing collects the paths of fields the target does not model.

use std::path::Path;

use serde::de::DeserializeOwned;

use super::error::{ScenarioError, SourcePos};
use super::overrides::{Segment, display_segments};

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

/// The `items` of a list document, each with where it starts.
#[derive(serde::Deserialize)]
struct ListItems {
    #[serde(default)]
    items: Vec<serde_saphyr::Spanned<serde::de::IgnoredAny>>,
}

/// The items of a list document (`kind: List`, or `PodList` and the like, as `kubectl get -o
/// yaml` or `-o json` writes them), each as a document of its own that sits where the item
/// sits in the file: its first line is padded to the item's column and the lines below are
/// kept as they are, so positions inside an item are the file's lines and columns.
pub fn list_items(doc: &Document, file: &Path) -> Result<Vec<Document>, ScenarioError> {
    let (list, _) = parse_lenient::<ListItems>(doc, file)?;
    let starts: Vec<(usize, u64, u64)> = list
        .items
        .iter()
        .map(|item| {
            let (line, column) = (item.referenced.line(), item.referenced.column());
            (byte_at(&doc.text, line, column), line, column)
        })
        .collect();
    let mut items = Vec::with_capacity(starts.len());
    for (i, &(start, line, column)) in starts.iter().enumerate() {
        let end = match starts.get(i + 1) {
            Some(&(next, _, _)) => next,
            None => block_end(&doc.text, start, column),
        };
        let body = trim_item_tail(&doc.text[start..end.max(start)]);
        let padding = " ".repeat(column.saturating_sub(1) as usize);
        items.push(Document {
            text: format!("{padding}{body}\n"),
            first_line: doc.first_line + line.saturating_sub(1),
        });
    }
    Ok(items)
}

/// The byte offset of 1-based `line` and `column` (in characters) in `text`.
fn byte_at(text: &str, line: u64, column: u64) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1) as usize)
        .map(str::len)
        .sum();
    let rest = &text[line_start.min(text.len())..];
    let in_line = rest
        .char_indices()
        .nth(column.saturating_sub(1) as usize)
        .map_or(rest.len(), |(i, _)| i);
    line_start + in_line
}

/// Where the last item of a list, starting at byte `start` in column `column`, ends: at the
/// first later line (not blank, not a comment) indented less than the item, or at the end.
fn block_end(text: &str, start: usize, column: u64) -> usize {
    let indent = column.saturating_sub(1) as usize;
    let first_line_end = text[start..]
        .find('\n')
        .map_or(text.len(), |i| start + i + 1);
    let mut offset = first_line_end;
    for line in text[first_line_end..].split_inclusive('\n') {
        let content = line.trim_start_matches(' ');
        let blank = content.trim().is_empty() || content.starts_with('#');
        if !blank && line.len() - content.len() < indent {
            return offset;
        }
        offset += line.len();
    }
    text.len()
}

/// An item's text without what belongs between it and the next item: trailing space, the
/// next block item's `-`, a flow sequence's `,`.
fn trim_item_tail(body: &str) -> &str {
    let mut body = body.trim_end();
    if let Some(rest) = body.strip_suffix('-')
        && (rest.ends_with(['\n', ' ']) || rest.is_empty())
    {
        body = rest.trim_end();
    }
    body.strip_suffix(',').unwrap_or(body).trim_end()
}

/// Where the value at `path` (dotted, with `[i]` list indices and `[key]` map keys, as the
/// apiserver prints field paths: `spec.containers[0].resources.requests[cpu]`) starts in
/// `doc`; the deepest part of the path that exists when the rest does not (a missing field is
/// reported where it belongs). `None` only when the document does not parse.
pub fn locate(doc: &Document, file: &Path, path: &str) -> Option<SourcePos> {
    use serde_saphyr::granit_parser::{Event, Parser};
    let target = path_segments(path);
    // Per open collection: its path, and for a map the key awaiting its value (None while
    // the next scalar is a key) or for a list the next index.
    enum Open {
        Map(Vec<String>, Option<String>),
        Seq(Vec<String>, usize),
    }
    let mut stack: Vec<Open> = Vec::new();
    let mut best: Option<(usize, usize, usize)> = None;
    for event in Parser::new_from_str(&doc.text) {
        let (event, span) = event.ok()?;
        let (line, col) = (span.start.line(), span.start.col());
        // The path of a value starting here, if this event starts a value (not a map key).
        let value_path: Option<Vec<String>> = match stack.last_mut() {
            None => Some(Vec::new()),
            Some(Open::Seq(at, next)) => {
                let mut p = at.clone();
                p.push(next.to_string());
                Some(p)
            }
            Some(Open::Map(at, Some(key))) => {
                let mut p = at.clone();
                p.push(key.clone());
                Some(p)
            }
            Some(Open::Map(_, None)) => None,
        };
        let starts_value = matches!(
            event,
            Event::Scalar(..) | Event::SequenceStart(..) | Event::MappingStart(..)
        );
        if starts_value
            && let Some(p) = &value_path
            && target.starts_with(p)
            && best.is_none_or(|(depth, _, _)| p.len() >= depth)
        {
            best = Some((p.len(), line, col));
        }
        match event {
            Event::Scalar(value, ..) => match stack.last_mut() {
                Some(Open::Map(_, pending @ None)) => *pending = Some(value.into_owned()),
                Some(Open::Map(_, pending)) => *pending = None,
                Some(Open::Seq(_, next)) => *next += 1,
                None => {}
            },
            Event::SequenceStart(..) => stack.push(Open::Seq(value_path.unwrap_or_default(), 0)),
            Event::MappingStart(..) => stack.push(Open::Map(value_path.unwrap_or_default(), None)),
            Event::SequenceEnd | Event::MappingEnd => {
                stack.pop();
                match stack.last_mut() {
                    Some(Open::Map(_, pending)) => *pending = None,
                    Some(Open::Seq(_, next)) => *next += 1,
                    None => {}
                }
            }
            _ => {}
        }
    }
    let (_, line, col) = best?;
    Some(SourcePos {
        file: file.to_path_buf(),
        line: line as u64 + doc.first_line.saturating_sub(1),
        column: col as u64 + 1,
    })
}

/// `a.b[0].c[key]` as `["a", "b", "0", "c", "key"]`.
fn path_segments(path: &str) -> Vec<String> {
    let mut segments = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(open) = rest.find('[') {
            if open > 0 {
                segments.push(rest[..open].to_string());
            }
            rest = &rest[open..];
            while let Some(inner) = rest.strip_prefix('[') {
                let Some(close) = inner.find(']') else {
                    break;
                };
                segments.push(inner[..close].to_string());
                rest = &inner[close + 1..];
            }
        } else {
            segments.push(rest.to_string());
        }
    }
    segments
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

/// A YAML document as a tree that keeps every scalar as it was written — its text, whether it
/// was plain (unquoted), its tag — so that writing the tree back out resolves each untouched
/// scalar exactly as the file did (`1e3` stays a number, `"1e3"` stays a string). Overrides
/// change a scenario through this tree before the typed parse. Aliases are expanded; comments
/// are dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum YamlNode {
    /// A scalar.
    Scalar {
        /// The text after escape processing.
        text: String,
        /// Written without quotes (so its type is resolved from its text).
        plain: bool,
        /// The resolved tag, if one was written.
        tag: Option<String>,
    },
    /// A sequence.
    Seq {
        /// Items in order.
        items: Vec<YamlNode>,
        /// The resolved tag, if one was written.
        tag: Option<String>,
    },
    /// A mapping, entries in file order.
    Map {
        /// Key and value pairs.
        entries: Vec<(YamlNode, YamlNode)>,
        /// The resolved tag, if one was written.
        tag: Option<String>,
    },
}

/// A collection being read.
enum Frame {
    Seq(Vec<YamlNode>, usize, Option<String>),
    Map(
        Vec<(YamlNode, YamlNode)>,
        Option<YamlNode>,
        usize,
        Option<String>,
    ),
}

impl YamlNode {
    /// A null scalar.
    pub fn null() -> YamlNode {
        YamlNode::Scalar {
            text: String::new(),
            plain: true,
            tag: None,
        }
    }

    /// Parses one YAML document (an empty text is a null). The error is the YAML library's
    /// message.
    pub fn parse(text: &str) -> Result<YamlNode, String> {
        use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle};
        let tag_text =
            |t: &serde_saphyr::granit_parser::Tag| format!("{}{}", t.handle(), t.suffix());
        let mut anchors: std::collections::BTreeMap<usize, YamlNode> = Default::default();
        let mut stack: Vec<Frame> = Vec::new();
        let mut root: Option<YamlNode> = None;
        let mut documents = 0;
        for event in Parser::new_from_str(text) {
            let (event, _) = event.map_err(|e| e.to_string())?;
            let (node, anchor) = match event {
                Event::DocumentStart(..) => {
                    documents += 1;
                    if documents > 1 {
                        return Err("expected one YAML document, found several".into());
                    }
                    continue;
                }
                Event::Scalar(value, style, anchor, tag) => (
                    YamlNode::Scalar {
                        text: value.into_owned(),
                        plain: style == ScalarStyle::Plain,
                        tag: tag.as_deref().map(tag_text),
                    },
                    anchor,
                ),
                Event::Alias(id) => (
                    anchors
                        .get(&id)
                        .cloned()
                        .ok_or_else(|| "an alias names an unknown anchor".to_owned())?,
                    0,
                ),
                Event::SequenceStart(_, anchor, tag) => {
                    stack.push(Frame::Seq(Vec::new(), anchor, tag.as_deref().map(tag_text)));
                    continue;
                }
                Event::MappingStart(_, anchor, tag) => {
                    stack.push(Frame::Map(
                        Vec::new(),
                        None,
                        anchor,
                        tag.as_deref().map(tag_text),
                    ));
                    continue;
                }
                Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                    Some(Frame::Seq(items, anchor, tag)) => (YamlNode::Seq { items, tag }, anchor),
                    Some(Frame::Map(entries, _, anchor, tag)) => {
                        (YamlNode::Map { entries, tag }, anchor)
                    }
                    None => return Err("unbalanced collection events".into()),
                },
                _ => continue,
            };
            if anchor != 0 {
                anchors.insert(anchor, node.clone());
            }
            match stack.last_mut() {
                None => root = Some(node),
                Some(Frame::Seq(items, ..)) => items.push(node),
                Some(Frame::Map(entries, pending, ..)) => match pending.take() {
                    None => *pending = Some(node),
                    Some(key) => entries.push((key, node)),
                },
            }
        }
        Ok(root.unwrap_or_else(YamlNode::null))
    }

    /// Whether this is a null scalar (empty, `~` or `null`, untagged and plain).
    pub fn is_null(&self) -> bool {
        matches!(self, YamlNode::Scalar { text, plain: true, tag: None }
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    fn tag(&self) -> Option<&str> {
        match self {
            YamlNode::Scalar { tag, .. }
            | YamlNode::Seq { tag, .. }
            | YamlNode::Map { tag, .. } => tag.as_deref(),
        }
    }

    /// Sets the value at `path` (segments below this node), creating missing map keys. A
    /// list index past the end, or a step into a scalar, is an error naming the part of the
    /// path that exists.
    pub fn set(&mut self, path: &[Segment], value: YamlNode) -> Result<(), String> {
        self.set_at(path, 0, value)
    }

    fn set_at(&mut self, path: &[Segment], depth: usize, value: YamlNode) -> Result<(), String> {
        let Some(step) = path.get(depth) else {
            *self = value;
            return Ok(());
        };
        let here = || {
            let walked = display_segments(&path[..depth]);
            if walked.is_empty() {
                "the document".to_owned()
            } else {
                format!("`{walked}`")
            }
        };
        match step {
            Segment::Key(key) => {
                if self.is_null() {
                    *self = YamlNode::Map {
                        entries: Vec::new(),
                        tag: None,
                    };
                }
                let YamlNode::Map { entries, .. } = self else {
                    return Err(format!(
                        "{} is not a map, so it has no field `{key}`",
                        here()
                    ));
                };
                let found = entries
                    .iter()
                    .position(|(k, _)| matches!(k, YamlNode::Scalar { text, .. } if text == key));
                let index = match found {
                    Some(i) => i,
                    None => {
                        let plain = plain_ok(key) && YamlNode::parse(key).is_ok_and(|k| {
                            matches!(k, YamlNode::Scalar { ref text, plain: true, .. } if text == key)
                        });
                        entries.push((
                            YamlNode::Scalar {
                                text: key.clone(),
                                plain,
                                tag: None,
                            },
                            YamlNode::null(),
                        ));
                        entries.len() - 1
                    }
                };
                entries[index].1.set_at(path, depth + 1, value)
            }
            Segment::Index(i) => {
                let len = match self {
                    YamlNode::Seq { items, .. } => items.len(),
                    _ if self.is_null() => 0,
                    _ => {
                        return Err(format!(
                            "{} is not a list, so it has no index [{i}]",
                            here()
                        ));
                    }
                };
                match self {
                    YamlNode::Seq { items, .. } if *i < len => {
                        items[*i].set_at(path, depth + 1, value)
                    }
                    _ => Err(format!(
                        "index [{i}] is out of range: {} has {len} item(s)",
                        here()
                    )),
                }
            }
        }
    }

    /// The tree as YAML text (block style), which parses back to the same tree.
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        if is_block(self) {
            if let Some(tag) = self.tag() {
                out.push_str(&format!("!<{tag}>\n"));
            }
            emit_block(self, 0, &mut out);
        } else {
            out.push_str(&inline(self, false));
            out.push('\n');
        }
        out
    }
}

fn is_block(node: &YamlNode) -> bool {
    match node {
        YamlNode::Seq { items, .. } => !items.is_empty(),
        YamlNode::Map { entries, .. } => !entries.is_empty(),
        YamlNode::Scalar { .. } => false,
    }
}

fn emit_block(node: &YamlNode, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match node {
        YamlNode::Map { entries, .. } => emit_entries(entries, indent, false, out),
        YamlNode::Seq { items, .. } => {
            for item in items {
                out.push_str(&pad);
                out.push('-');
                match item {
                    // `- key: value` with the other keys under the first.
                    YamlNode::Map { entries, tag: None } if !entries.is_empty() => {
                        out.push(' ');
                        emit_entries(entries, indent + 2, true, out);
                    }
                    _ => emit_value(item, indent, out),
                }
            }
        }
        YamlNode::Scalar { .. } => {
            out.push_str(&pad);
            out.push_str(&inline(node, false));
            out.push('\n');
        }
    }
}

/// A mapping's entries at `indent`; the first without its indentation when the line is
/// already started (`- `).
fn emit_entries(entries: &[(YamlNode, YamlNode)], indent: usize, started: bool, out: &mut String) {
    let pad = " ".repeat(indent);
    for (i, (key, value)) in entries.iter().enumerate() {
        if i > 0 || !started {
            out.push_str(&pad);
        }
        out.push_str(&inline(key, true));
        out.push(':');
        emit_value(value, indent, out);
    }
}

fn emit_value(value: &YamlNode, indent: usize, out: &mut String) {
    if is_block(value) {
        if let Some(tag) = value.tag() {
            out.push_str(&format!(" !<{tag}>"));
        }
        out.push('\n');
        emit_block(value, indent + 2, out);
    } else {
        out.push(' ');
        out.push_str(&inline(value, false));
        out.push('\n');
    }
}

/// A node on one line: scalars as written where possible, collections in flow style.
fn inline(node: &YamlNode, flow: bool) -> String {
    let tag = node.tag().map(|t| format!("!<{t}> ")).unwrap_or_default();
    let body = match node {
        YamlNode::Scalar { text, plain, tag } => {
            if *plain && plain_ok(text) && (!flow || !text.contains([',', '[', ']', '{', '}'])) {
                text.clone()
            } else if *plain && text.is_empty() && tag.is_none() {
                "~".to_owned()
            } else {
                double_quoted(text)
            }
        }
        YamlNode::Seq { items, .. } => format!(
            "[{}]",
            items
                .iter()
                .map(|i| inline(i, true))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        YamlNode::Map { entries, .. } => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|(k, v)| format!("{}: {}", inline(k, true), inline(v, true)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    format!("{tag}{body}")
}

/// Whether `text`, read plain, stays one scalar on one line.
fn plain_ok(text: &str) -> bool {
    !text.is_empty()
        && text.trim() == text
        && !text.contains(['\n', '\r', '\t'])
        && !text.contains(": ")
        && !text.contains(" #")
        && !text.ends_with(':')
        && !text.starts_with([
            ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`',
        ])
        && !(text.starts_with(['-', '?', ':'])
            && text.chars().nth(1).is_none_or(char::is_whitespace))
}

fn double_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_finds_a_field_by_its_api_path() {
        let text = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: a\n    - name: b\n      resources:\n        requests: {cpu: \"-1\", memory: 1Gi}\n";
        let doc = Document {
            text: text.into(),
            first_line: 10,
        };
        let at = |path: &str| locate(&doc, Path::new("f.yaml"), path).map(|p| (p.line, p.column));
        // Line 8 of the document is line 17 of the file; `"-1"` starts at column 25.
        assert_eq!(
            at("spec.containers[1].resources.requests[cpu]"),
            Some((17, 25))
        );
        assert_eq!(at("spec.containers[0].name"), Some((14, 13)));
        // A field that is not there: where its parent's value starts (the `resources` map
        // begins at its first key, `requests`, line 17 column 9).
        assert_eq!(at("spec.containers[1].resources.limits"), Some((17, 9)));
        assert_eq!(at("kind"), Some((11, 7)));
    }
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
    fn trees_write_back_every_scalar_as_it_resolves() {
        let text = "a: 1e3\nb: \"1e3\"\nc: -5\nd: ''\ne:\nf: [x, 'y', {g: ~}]\n\
                    h: &anchor {i: true}\nj: *anchor\nk: |\n  two\n  lines\n\
                    \"l: m\": !!str 7\nn: []\no: {}\np: \"tab\\there\"\n";
        let tree = YamlNode::parse(text);
        let written = tree.as_ref().map(YamlNode::to_yaml);
        let again = written.as_deref().map(YamlNode::parse);
        assert_eq!(again, Ok(tree.clone()), "{written:?}");
        let w = written.unwrap_or_default();
        for line in [
            "a: 1e3\n",
            "b: \"1e3\"\n",
            "c: -5\n",
            "d: \"\"\n",
            "e: ~\n",
            "  - \"y\"\n",
            "  - g: ~\n",
            "j:\n  i: true\n",
            "k: \"two\\nlines\\n\"\n",
            "\"l: m\": !<tag:yaml.org,2002:str> 7\n",
            "n: []\n",
            "o: {}\n",
        ] {
            assert!(w.contains(line), "{line:?} in\n{w}");
        }
    }

    #[test]
    fn setting_a_path_creates_keys_and_refuses_indices_past_the_end() {
        use crate::scenario::overrides::parse_path;
        let mut tree = YamlNode::parse("spec:\n  pools:\n    - {name: a, count: 1}\n")
            .unwrap_or_else(|_| YamlNode::null());
        let value = |t: &str| YamlNode::parse(t).unwrap_or_else(|_| YamlNode::null());
        let path = |k: &str| parse_path(k).map(|p| p.segments).unwrap_or_default();
        assert_eq!(tree.set(&path("spec.pools[0].count"), value("7")), Ok(()));
        assert_eq!(tree.set(&path("spec.new.deep"), value("'x'")), Ok(()));
        assert_eq!(
            tree.to_yaml(),
            "spec:\n  pools:\n    - name: a\n      count: 7\n  new:\n    deep: \"x\"\n"
        );
        assert_eq!(
            tree.set(&path("spec.pools[1].count"), value("1")),
            Err("index [1] is out of range: `spec.pools` has 1 item(s)".into())
        );
        assert!(
            tree.set(&path("spec.pools[0].count.x"), value("1"))
                .is_err()
        );
        assert!(YamlNode::parse("a: 1\n---\nb: 2\n").is_err());
    }

    #[test]
    fn malformed_yaml_is_a_syntax_error_with_a_position() {
        let docs = split_documents("a: [1, 2\n");
        let err = parse_strict::<Strict>(&docs[0], file()).err();
        let pos = err.as_ref().and_then(|e| e.pos().cloned());
        assert!(pos.is_some_and(|p| p.line >= 1), "{err:?}");
    }
}
