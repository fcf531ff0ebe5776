//! The single, self-contained, offline HTML report.
//!
//! This file owns the report's document structure and styling: the answer
//! first (a headline of key numbers), then sections of charts, prose and
//! detail tables. The output needs no network, no JavaScript and no web
//! fonts; CSS is inline and charts are inlined SVG. All caller text is
//! HTML-escaped here; SVG is trusted markup (plotters escapes its own text).

use std::fmt::Write as _;

/// A whole report, rendered by [`Report::to_html`].
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Page heading and document title.
    pub title: String,
    /// One line under the heading, e.g. the scenario and seed.
    pub subtitle: String,
    /// Key numbers shown first, before any chart or table.
    pub headline: Vec<Metric>,
    /// Body sections, in order.
    pub sections: Vec<Section>,
}

/// One key number in the headline block.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// What is measured, e.g. "p99 scheduling latency".
    pub label: String,
    /// The already-formatted value, e.g. "1.2s".
    pub value: String,
    /// Optional small print under the value, e.g. the comparison baseline.
    pub note: Option<String>,
}

/// A piece of section content.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// Plain text, escaped.
    Paragraph(String),
    /// A chart: `svg` is a complete `<svg>` document, inlined as-is apart
    /// from dropping an XML prolog and the namespace attribute HTML implies.
    Chart {
        /// Caption shown above the chart.
        title: String,
        /// Trusted SVG markup, e.g. from [`super::chart::LineChart::to_svg`].
        svg: String,
    },
    /// A detail table; rows shorter than `columns` are padded with blanks.
    Table {
        /// Header cells.
        columns: Vec<String>,
        /// Body rows of already-formatted cells.
        rows: Vec<Vec<String>>,
    },
}

/// A titled group of blocks.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// Section heading.
    pub title: String,
    /// Content, in order.
    pub blocks: Vec<Block>,
}

/// Escapes text for use in HTML element content and quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// Prepares trusted SVG for inlining: drops any XML prolog (invalid inside
/// HTML) and the SVG namespace declarations, which the HTML parser implies
/// and which would otherwise be the page's only `http://` strings.
pub fn inline_svg(svg: &str) -> String {
    let svg = super::chart::strip_xml_prolog(svg);
    let Some(start) = svg.find("<svg") else {
        return svg.to_owned();
    };
    let Some(tag_len) = svg[start..].find('>') else {
        return svg.to_owned();
    };
    let end = start + tag_len;
    let mut open_tag = svg[start..end].to_owned();
    for decl in [
        " xmlns=\"http://www.w3.org/2000/svg\"",
        " xmlns:xlink=\"http://www.w3.org/1999/xlink\"",
    ] {
        open_tag = open_tag.replace(decl, "");
    }
    format!("{}{}{}", &svg[..start], open_tag, &svg[end..])
}

const STYLE: &str = r#"
:root { color-scheme: light; --fg: #1d1d1f; --muted: #5f6368; --line: #d9dce1; --panel: #f5f6f8; --accent: #0072b2; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 960px; margin: 0 auto; padding: 2rem 1.25rem 4rem; }
header h1 { font-size: 1.75rem; line-height: 1.2; margin: 0 0 .25rem; }
header .subtitle { color: var(--muted); margin: 0 0 1.5rem; }
.headline { display: grid; grid-template-columns: repeat(auto-fit, minmax(11rem, 1fr)); gap: .75rem; margin: 0 0 2rem; padding: 0; }
.metric { background: var(--panel); border-left: 4px solid var(--accent); border-radius: 4px; padding: .75rem 1rem; margin: 0; }
.metric dt { color: var(--muted); font-size: .85rem; }
.metric dd { margin: 0; }
.metric .value { font-size: 1.6rem; font-weight: 600; font-variant-numeric: tabular-nums; line-height: 1.3; overflow-wrap: anywhere; }
.metric .note { color: var(--muted); font-size: .8rem; }
section.report-section { margin: 0 0 2.5rem; }
section.report-section h2 { font-size: 1.3rem; border-bottom: 1px solid var(--line); padding-bottom: .3rem; margin: 0 0 1rem; }
figure.chart { margin: 0 0 1.5rem; }
figure.chart figcaption { font-weight: 600; margin: 0 0 .4rem; }
figure.chart svg { display: block; width: 100%; max-width: 800px; height: auto; border: 1px solid var(--line); border-radius: 4px; }
.table-wrap { overflow-x: auto; margin: 0 0 1.5rem; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--panel); font-weight: 600; white-space: nowrap; }
th.num, td.num { text-align: right; }
tbody tr:nth-child(even) td { background: #fafbfc; }
@media print {
  body { font-size: 11pt; }
  main { max-width: none; padding: 0; }
  .metric { border: 1px solid var(--line); border-left: 4px solid var(--accent); }
  .headline, figure.chart, tr { break-inside: avoid; }
  h2, figcaption { break-after: avoid; }
  thead { display: table-header-group; }
  .table-wrap { overflow: visible; }
}
"#;

impl Report {
    /// Renders the report as one HTML document. The same report always gives
    /// the same bytes.
    pub fn to_html(&self) -> String {
        let mut out = String::new();
        out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        // Writing to a String cannot fail, so the fmt::Result is discarded.
        let _ = writeln!(out, "<title>{}</title>", escape_html(&self.title));
        let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>\n<main>");

        out.push_str("<header>\n");
        let _ = writeln!(out, "<h1>{}</h1>", escape_html(&self.title));
        if !self.subtitle.is_empty() {
            let _ = writeln!(
                out,
                "<p class=\"subtitle\">{}</p>",
                escape_html(&self.subtitle)
            );
        }
        out.push_str("</header>\n");

        if !self.headline.is_empty() {
            out.push_str("<dl class=\"headline\" aria-label=\"Key numbers\">\n");
            for metric in &self.headline {
                write_metric(&mut out, metric);
            }
            out.push_str("</dl>\n");
        }

        for section in &self.sections {
            out.push_str("<section class=\"report-section\">\n");
            let _ = writeln!(out, "<h2>{}</h2>", escape_html(&section.title));
            for block in &section.blocks {
                write_block(&mut out, block);
            }
            out.push_str("</section>\n");
        }

        out.push_str("</main>\n</body>\n</html>\n");
        out
    }
}

fn write_metric(out: &mut String, metric: &Metric) {
    out.push_str("<div class=\"metric\">\n");
    let _ = writeln!(out, "<dt>{}</dt>", escape_html(&metric.label));
    let _ = writeln!(
        out,
        "<dd class=\"value\">{}</dd>",
        escape_html(&metric.value)
    );
    if let Some(note) = &metric.note {
        let _ = writeln!(out, "<dd class=\"note\">{}</dd>", escape_html(note));
    }
    out.push_str("</div>\n");
}

fn write_block(out: &mut String, block: &Block) {
    match block {
        Block::Paragraph(text) => {
            let _ = writeln!(out, "<p>{}</p>", escape_html(text));
        }
        Block::Chart { title, svg } => {
            out.push_str("<figure class=\"chart\">\n");
            let _ = writeln!(out, "<figcaption>{}</figcaption>", escape_html(title));
            out.push_str(inline_svg(svg).trim());
            out.push_str("\n</figure>\n");
        }
        Block::Table { columns, rows } => write_table(out, columns, rows),
    }
}

fn write_table(out: &mut String, columns: &[String], rows: &[Vec<String>]) {
    let width = rows
        .iter()
        .map(Vec::len)
        .chain(std::iter::once(columns.len()))
        .max()
        .unwrap_or(0);
    // A column whose every non-blank cell reads as a number is right-aligned
    // so magnitudes line up.
    let numeric: Vec<bool> = (0..width)
        .map(|c| {
            let mut cells = rows
                .iter()
                .filter_map(|r| r.get(c))
                .filter(|v| !v.trim().is_empty())
                .peekable();
            cells.peek().is_some() && cells.all(|v| looks_numeric(v))
        })
        .collect();
    let class = |c: usize| {
        if numeric.get(c).copied().unwrap_or(false) {
            " class=\"num\""
        } else {
            ""
        }
    };

    out.push_str("<div class=\"table-wrap\">\n<table>\n");
    if !columns.is_empty() {
        out.push_str("<thead>\n<tr>");
        for c in 0..width {
            let head = columns.get(c).map(String::as_str).unwrap_or("");
            let _ = write!(out, "<th{}>{}</th>", class(c), escape_html(head));
        }
        out.push_str("</tr>\n</thead>\n");
    }
    out.push_str("<tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for c in 0..width {
            let cell = row.get(c).map(String::as_str).unwrap_or("");
            let _ = write!(out, "<td{}>{}</td>", class(c), escape_html(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
}

/// True for cells such as `42`, `-1.5`, `1.2k`, `35%`, `1h30m`, `12 ms`.
fn looks_numeric(cell: &str) -> bool {
    let t = cell.trim();
    let t = t.strip_prefix(['-', '+', '−']).unwrap_or(t);
    t.chars().next().is_some_and(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::chart::{LineChart, Series};

    fn sample() -> Report {
        let chart = LineChart {
            title: "Pending pods".to_owned(),
            x_label: "virtual time".to_owned(),
            y_label: "pods".to_owned(),
            series: vec![Series {
                name: "pending".to_owned(),
                points: (0..60).map(|i| (i as f64 * 60.0, (i % 9) as f64)).collect(),
            }],
            y_min_zero: true,
            spans: Vec::new(),
            marks: Vec::new(),
        };
        Report {
            title: "Scale-up <script>alert(1)</script>".to_owned(),
            subtitle: "scenario burst.yaml, seed 7".to_owned(),
            headline: vec![
                Metric {
                    label: "p99 <script>x</script> latency".to_owned(),
                    value: "1.2s".to_owned(),
                    note: Some("vs 0.9s & baseline".to_owned()),
                },
                Metric {
                    label: "Pods scheduled".to_owned(),
                    value: "12,000".to_owned(),
                    note: None,
                },
            ],
            sections: vec![
                Section {
                    title: "Scheduling".to_owned(),
                    blocks: vec![
                        Block::Paragraph("Queue drained after \"burst\".".to_owned()),
                        Block::Chart {
                            title: "Pending pods over time".to_owned(),
                            svg: chart.to_svg().expect("render"),
                        },
                    ],
                },
                Section {
                    title: "Details".to_owned(),
                    blocks: vec![Block::Table {
                        columns: vec!["node".to_owned(), "pods".to_owned()],
                        rows: vec![
                            vec!["node-1".to_owned(), "110".to_owned()],
                            vec!["node-<2>".to_owned()],
                        ],
                    }],
                },
            ],
        }
    }

    #[test]
    fn escape_handles_markup() {
        assert_eq!(
            escape_html("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn labels_are_escaped() {
        let html = sample().to_html();
        assert!(!html.contains("<script"));
        assert!(html.contains("p99 &lt;script&gt;x&lt;/script&gt; latency"));
        assert!(html.contains("<title>Scale-up &lt;script&gt;alert(1)&lt;/script&gt;</title>"));
        assert!(html.contains("vs 0.9s &amp; baseline"));
        assert!(html.contains("<td>node-&lt;2&gt;</td><td class=\"num\"></td>"));
    }

    #[test]
    fn chart_is_inlined_and_offline() {
        let html = sample().to_html();
        assert!(html.contains("<svg width=\"800\" height=\"400\" viewBox=\"0 0 800 400\">"));
        assert!(!html.contains("<?xml"));
        assert!(!html.contains("http://"));
        assert!(!html.contains("https://"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("<link"));
    }

    #[test]
    fn headline_comes_before_first_chart() {
        let html = sample().to_html();
        let headline = html.find("class=\"headline\"").expect("headline");
        let value = html.find("1.2s").expect("metric value");
        let chart = html.find("<svg").expect("chart");
        let table = html.find("<table").expect("table");
        assert!(headline < value && value < chart && chart < table);
    }

    #[test]
    fn output_is_deterministic() {
        assert_eq!(sample().to_html(), sample().to_html());
    }

    #[test]
    fn inline_svg_strips_prolog_and_namespace() {
        let svg = "<?xml version=\"1.0\"?>\n<svg width=\"1\" xmlns=\"http://www.w3.org/2000/svg\"><text>http://x</text></svg>";
        assert_eq!(
            inline_svg(svg),
            "<svg width=\"1\"><text>http://x</text></svg>"
        );
    }
}
