//! Time-series line charts rendered to standalone SVG strings.
//!
//! This file owns everything about how a chart looks: the fixed canvas size,
//! the palette, axis ranges and tick placement, tick-label text (durations on
//! x, compact numbers on y), the legend, and the guarantee that the same input
//! yields the same bytes. The frame around the data (canvas, title, plotting
//! area, grid and tick labels) is shared with the sweep's spread charts in
//! `sweep_chart.rs`, so both kinds look alike.
//!
//! Text is emitted as SVG `<text>` elements. plotters is built without its
//! `ttf` feature, so its layout uses a fixed per-character width estimate
//! instead of font metrics from the machine: the output never depends on which
//! fonts are installed, and the viewer picks the actual typeface.

use std::ops::Range;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Canvas width in pixels; fixed so reports line up and output is stable.
pub const WIDTH: u32 = 800;
/// Canvas height in pixels.
pub const HEIGHT: u32 = 400;

/// Okabe–Ito colours, ordered so the first few are the most distinct and
/// yellow (near-invisible on white) is left out. Series past the end of the
/// palette reuse the colours with a dashed stroke.
const PALETTE: [RGBColor; 7] = [
    RGBColor(0x00, 0x72, 0xB2), // blue
    RGBColor(0xE6, 0x9F, 0x00), // orange
    RGBColor(0x00, 0x9E, 0x73), // bluish green
    RGBColor(0xD5, 0x5E, 0x00), // vermillion
    RGBColor(0xCC, 0x79, 0xA7), // reddish purple
    RGBColor(0x56, 0xB4, 0xE9), // sky blue
    RGBColor(0x00, 0x00, 0x00), // black
];

const TEXT_COLOR: RGBColor = RGBColor(0x22, 0x22, 0x22);
const AXIS_COLOR: RGBColor = RGBColor(0x66, 0x66, 0x66);
const GRID_COLOR: RGBColor = RGBColor(0xE3, 0xE3, 0xE3);
const FONT: &str = "sans-serif";
/// plotters writes `font-size = size / 1.24` into the SVG, so these are a
/// little larger than the rendered pixel sizes.
const TITLE_SIZE: f64 = 20.0;
const LABEL_SIZE: f64 = 15.0;
/// Rough width of one character of label text in pixels at `LABEL_SIZE`;
/// only used to reserve room and to shorten labels, so erring wide is harmless.
pub(super) const CHAR_WIDTH: f64 = 7.5;
/// Height of the band the title sits in; legends go below it.
pub(super) const TITLE_BAND: u32 = 34;
const LEGEND_ROW: u32 = 20;
const MAX_X_TICKS: f64 = 8.0;
const MAX_Y_TICKS: f64 = 6.0;

/// Failure to render a chart.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// plotters reported a drawing error; its message is kept as text so this
    /// type does not leak plotters' generic error types.
    #[error("chart drawing failed: {0}")]
    Draw(String),
}

pub(super) fn draw_err<E: std::fmt::Display>(e: E) -> ChartError {
    ChartError::Draw(e.to_string())
}

/// A chart's drawing surface.
pub(super) type Canvas<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// A chart's plotting area, with both axes [`Ticked`].
pub(super) type Plot<'a> = ChartContext<'static, SVGBackend<'a>, Cartesian2d<Ticked, Ticked>>;

/// Renders a chart: a white [`WIDTH`]×[`HEIGHT`] canvas with `title` centred
/// at the top, then whatever `draw` adds. Returns the `<svg>` document
/// without an XML prolog.
pub(super) fn render(
    title: &str,
    draw: impl FnOnce(&Canvas<'_>) -> Result<(), ChartError>,
) -> Result<String, ChartError> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;

        let title_style = TextStyle::from((FONT, TITLE_SIZE).into_font())
            .color(&TEXT_COLOR)
            .pos(Pos::new(HPos::Center, VPos::Top));
        root.draw(&Text::new(
            title.to_owned(),
            ((WIDTH / 2) as i32, 8),
            title_style,
        ))
        .map_err(draw_err)?;

        draw(&root)?;
        root.present().map_err(draw_err)?;
    }
    Ok(strip_xml_prolog(&buf).to_owned())
}

/// The style of legend entries, tick labels and axis captions.
pub(super) fn label_style() -> TextStyle<'static> {
    TextStyle::from((FONT, LABEL_SIZE).into_font()).color(&TEXT_COLOR)
}

/// The plotting area: `root` below its top `band`, with `x` and `y` as axes
/// and room on the left for the rotated axis caption plus the widest of the
/// `y_labels`.
pub(super) fn plot<'a>(
    root: &Canvas<'a>,
    band: u32,
    y_labels: &[String],
    x: Ticked,
    y: Ticked,
) -> Result<Plot<'a>, ChartError> {
    let widest = y_labels
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(1);
    let y_label_area = 30 + (widest as f64 * CHAR_WIDTH).ceil() as u32;
    let (_, plot_area) = root.split_vertically(band);
    ChartBuilder::on(&plot_area)
        .margin_top(10)
        .margin_right(28)
        .margin_bottom(6)
        .x_label_area_size(46)
        .y_label_area_size(y_label_area)
        .build_cartesian_2d(x, y)
        .map_err(draw_err)
}

/// The grid on the ticks, the axes, the tick labels (`x_fmt`, `y_fmt`) and the
/// axis captions.
pub(super) fn draw_mesh(
    chart: &mut Plot<'_>,
    (x_desc, y_desc): (&str, &str),
    x_fmt: &dyn Fn(&f64) -> String,
    y_fmt: &dyn Fn(&f64) -> String,
) -> Result<(), ChartError> {
    let label_style = label_style();
    chart
        .configure_mesh()
        .bold_line_style(GRID_COLOR)
        .light_line_style(TRANSPARENT)
        .axis_style(AXIS_COLOR)
        .label_style(label_style.clone())
        .axis_desc_style(label_style)
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(x_fmt)
        .y_label_formatter(y_fmt)
        .draw()
        .map_err(draw_err)
}

/// "No data", centred in the plotting area.
pub(super) fn draw_no_data(chart: &Plot<'_>) -> Result<(), ChartError> {
    let area = chart.plotting_area();
    let (w, h) = area.dim_in_pixel();
    let centre = (w as i32 / 2, h as i32 / 2);
    let style = label_style().pos(Pos::new(HPos::Center, VPos::Center));
    area.strip_coord_spec()
        .draw(&Text::new("No data", centre, style))
        .map_err(draw_err)
}

/// One named line on a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// `(x, y)` points drawn in the given order; x is seconds of virtual time.
    /// Points with a non-finite coordinate are skipped and break the line.
    pub points: Vec<(f64, f64)>,
}

/// A line chart of one or more time series against virtual time.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    /// Heading drawn above the plot.
    pub title: String,
    /// Caption of the horizontal (time) axis.
    pub x_label: String,
    /// Caption of the vertical axis.
    pub y_label: String,
    /// Lines to draw; colours follow this order.
    pub series: Vec<Series>,
    /// Force zero into the y range, so magnitudes are not exaggerated.
    pub y_min_zero: bool,
    /// Spans of time shaded behind the lines (when the apiserver was down), each with its
    /// legend entry.
    pub spans: Vec<Span>,
    /// Instants marked by a dashed vertical line with a label at its top (a restart).
    pub marks: Vec<Mark>,
}

/// Stretches of time shaded behind a chart's lines, under one legend entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// Legend text.
    pub name: String,
    /// `(from, to)` in seconds of virtual time; drawn clipped to the x axis.
    pub ranges: Vec<(f64, f64)>,
}

/// An instant marked on a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    /// Text at the top of the line.
    pub label: String,
    /// Seconds of virtual time.
    pub x: f64,
}

/// Fill colours of shaded spans, light enough for lines to stay readable over them.
const SPAN_FILLS: [RGBColor; 3] = [
    RGBColor(0xD9, 0xD9, 0xD9), // grey
    RGBColor(0xFB, 0xE3, 0xC4), // light orange
    RGBColor(0xD4, 0xEA, 0xF7), // light blue
];

impl LineChart {
    /// Renders the chart as a complete `<svg>` document of `WIDTH`×`HEIGHT`
    /// pixels, without an XML prolog. The same chart always gives the same
    /// bytes.
    pub fn to_svg(&self) -> Result<String, ChartError> {
        let runs: Vec<Vec<Vec<(f64, f64)>>> =
            self.series.iter().map(|s| finite_runs(&s.points)).collect();
        let bounds = Bounds::of(runs.iter().flatten().flatten());
        let x_axis = x_axis(bounds.as_ref().map(|b| (b.x_min, b.x_max)));
        let y_axis = y_axis(bounds.as_ref().map(|b| (b.y_min, b.y_max)), self.y_min_zero);

        let mut legend_names: Vec<&str> = self.series.iter().map(|s| s.name.as_str()).collect();
        legend_names.extend(self.spans.iter().map(|s| s.name.as_str()));
        let legend_rows = if self.series.len() > 1 || !self.spans.is_empty() {
            legend_layout(&legend_names)
        } else {
            Vec::new()
        };
        let top_band = TITLE_BAND + LEGEND_ROW * legend_rows.len() as u32;

        let y_labels: Vec<String> = y_axis.ticks.iter().map(|v| y_axis.label(*v)).collect();

        render(&self.title, |root| {
            let label_style = label_style();
            for (row_index, row) in legend_rows.iter().enumerate() {
                let y = (TITLE_BAND + LEGEND_ROW * row_index as u32 + LEGEND_ROW / 2) as i32;
                for item in row {
                    let swatch = [(item.x, y), (item.x + 22, y)];
                    let style = series_style(item.index);
                    if let Some(span) = item.index.checked_sub(self.series.len()) {
                        root.draw(&Rectangle::new(
                            [(item.x, y - 6), (item.x + 22, y + 6)],
                            SPAN_FILLS[span % SPAN_FILLS.len()].filled(),
                        ))
                    } else if item.index < PALETTE.len() {
                        root.draw(&PathElement::new(swatch, style))
                    } else {
                        root.draw(&DashedPathElement::new(swatch, 6, 4, style))
                    }
                    .map_err(draw_err)?;
                    root.draw(&Text::new(
                        item.name.clone(),
                        (item.x + 28, y),
                        label_style.pos(Pos::new(HPos::Left, VPos::Center)),
                    ))
                    .map_err(draw_err)?;
                }
            }

            let mut chart = plot(
                root,
                top_band,
                &y_labels,
                Ticked::new(x_axis.min, x_axis.max, &x_axis.ticks),
                Ticked::new(y_axis.min, y_axis.max, &y_axis.ticks),
            )?;
            let x_fmt = |v: &f64| format_duration(*v);
            let y_fmt = |v: &f64| y_axis.label(*v);
            draw_mesh(&mut chart, (&self.x_label, &self.y_label), &x_fmt, &y_fmt)?;
            self.draw_spans_and_marks(&chart, (x_axis.min, x_axis.max), (y_axis.min, y_axis.max))?;

            let (plot_w, _) = chart.plotting_area().dim_in_pixel();
            let columns = plot_w.max(1) as f64;
            for (index, series_runs) in runs.iter().enumerate() {
                let style = series_style(index);
                for run in series_runs {
                    let run = decimate(run, x_axis.min, x_axis.max, columns);
                    if let [only] = run.as_slice() {
                        // A lone point has no segment to draw; mark it instead.
                        chart
                            .draw_series(std::iter::once(Circle::new(*only, 3, style.filled())))
                            .map_err(draw_err)?;
                    } else if index < PALETTE.len() {
                        chart
                            .draw_series(LineSeries::new(run, style))
                            .map_err(draw_err)?;
                    } else {
                        chart
                            .draw_series(DashedLineSeries::new(run, 6, 4, style))
                            .map_err(draw_err)?;
                    }
                }
            }

            if bounds.is_none() {
                draw_no_data(&chart)?;
            }
            Ok(())
        })
    }
}

impl LineChart {
    /// The shaded spans (clipped to the x axis), then each mark's dashed line and label.
    fn draw_spans_and_marks(
        &self,
        chart: &Plot<'_>,
        (x_min, x_max): (f64, f64),
        (y_min, y_max): (f64, f64),
    ) -> Result<(), ChartError> {
        for (index, span) in self.spans.iter().enumerate() {
            let fill = SPAN_FILLS[index % SPAN_FILLS.len()].filled();
            for &(from, to) in &span.ranges {
                let (from, to) = (from.max(x_min), to.min(x_max));
                if from.is_finite() && to.is_finite() && from < to {
                    chart
                        .plotting_area()
                        .draw(&Rectangle::new([(from, y_min), (to, y_max)], fill))
                        .map_err(draw_err)?;
                }
            }
        }
        let area = chart.plotting_area();
        for mark in &self.marks {
            if !(mark.x.is_finite() && mark.x >= x_min && mark.x <= x_max) {
                continue;
            }
            area.draw(&DashedPathElement::new(
                [(mark.x, y_min), (mark.x, y_max)],
                5,
                4,
                AXIS_COLOR.stroke_width(1),
            ))
            .map_err(draw_err)?;
            let (px, py) = area.map_coordinate(&(mark.x, y_max));
            area.strip_coord_spec()
                .draw(&Text::new(
                    mark.label.clone(),
                    (
                        px - area.get_base_pixel().0 + 4,
                        py - area.get_base_pixel().1 + 2,
                    ),
                    label_style().pos(Pos::new(HPos::Left, VPos::Top)),
                ))
                .map_err(draw_err)?;
        }
        Ok(())
    }
}

/// A linear f64 axis whose grid lines and labels sit exactly on ticks we
/// chose. plotters' own `WithKeyPoints` would do, but it drops the value
/// formatter that `configure_mesh` requires for f64 axes.
pub(super) struct Ticked {
    inner: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ticked {
    /// The axis from `min` to `max` with grid lines on `ticks`.
    pub(super) fn new(min: f64, max: f64, ticks: &[f64]) -> Self {
        Ticked {
            inner: (min..max).into(),
            ticks: ticks.to_vec(),
        }
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        // Bold points only: light sub-grid lines add clutter, not information.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.inner.range()
    }
}

fn series_style(index: usize) -> ShapeStyle {
    PALETTE[index % PALETTE.len()].stroke_width(2)
}

/// Drops a leading `<?xml ...?>` declaration, which is invalid inside HTML.
/// plotters 0.3 does not emit one, but inlining must stay safe if it starts to.
pub fn strip_xml_prolog(svg: &str) -> &str {
    let trimmed = svg.trim_start();
    if trimmed.starts_with("<?xml")
        && let Some(end) = trimmed.find("?>")
    {
        return trimmed[end + 2..].trim_start();
    }
    svg
}

/// Splits points into maximal runs of finite points, so a NaN or infinite
/// sample shows as a gap rather than a line to nowhere.
fn finite_runs(points: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
    let mut runs = Vec::new();
    let mut current = Vec::new();
    for &(x, y) in points {
        if x.is_finite() && y.is_finite() {
            current.push((x, y));
        } else if !current.is_empty() {
            runs.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

/// Keeps, for each consecutive stretch of points falling in the same pixel
/// column, only the first, lowest, highest and last point. The drawn shape is
/// the same at this resolution, but long simulations no longer produce
/// megabyte-sized SVGs.
fn decimate(run: &[(f64, f64)], x_min: f64, x_max: f64, columns: f64) -> Vec<(f64, f64)> {
    if run.len() as f64 <= 4.0 * columns {
        return run.to_vec();
    }
    let span = x_max - x_min;
    let column = |x: f64| {
        if span > 0.0 && span.is_finite() {
            ((x - x_min) / span * columns).floor()
        } else {
            0.0
        }
    };
    let mut out = Vec::new();
    let mut start = 0;
    while start < run.len() {
        let col = column(run[start].0);
        let mut end = start + 1;
        while end < run.len() && column(run[end].0) == col {
            end += 1;
        }
        let bucket = &run[start..end];
        let mut lo = 0;
        let mut hi = 0;
        for (i, p) in bucket.iter().enumerate() {
            if p.1 < bucket[lo].1 {
                lo = i;
            }
            if p.1 > bucket[hi].1 {
                hi = i;
            }
        }
        let mut keep = [0, lo, hi, bucket.len() - 1];
        keep.sort_unstable();
        let mut last = None;
        for i in keep {
            if last != Some(i) {
                out.push(bucket[i]);
                last = Some(i);
            }
        }
        start = end;
    }
    out
}

struct Bounds {
    x_min: f64,
    x_max: f64,
    y_min: f64,
    y_max: f64,
}

impl Bounds {
    fn of<'a>(points: impl Iterator<Item = &'a (f64, f64)>) -> Option<Self> {
        let mut bounds: Option<Self> = None;
        for &(x, y) in points {
            bounds = Some(match bounds {
                None => Bounds {
                    x_min: x,
                    x_max: x,
                    y_min: y,
                    y_max: y,
                },
                Some(b) => Bounds {
                    x_min: b.x_min.min(x),
                    x_max: b.x_max.max(x),
                    y_min: b.y_min.min(y),
                    y_max: b.y_max.max(y),
                },
            });
        }
        bounds
    }
}

struct XAxis {
    min: f64,
    max: f64,
    ticks: Vec<f64>,
}

/// The x range is the data's own extent (time series usually start at 0 and
/// end at the last sample, and padding would suggest data that is not there);
/// ticks land on round durations inside it.
fn x_axis(extent: Option<(f64, f64)>) -> XAxis {
    let (mut min, mut max) = extent.unwrap_or((0.0, 60.0));
    if !(max - min).is_finite() {
        // Extents this wide are nonsense for time; halve to keep maths finite.
        min /= 2.0;
        max /= 2.0;
    }
    if max <= min {
        let pad = (min.abs() * 0.1).max(1.0);
        let was_non_negative = min >= 0.0;
        min -= pad;
        max += pad;
        if was_non_negative && min < 0.0 {
            min = 0.0;
        }
    }
    let step = duration_step((max - min) / MAX_X_TICKS);
    XAxis {
        min,
        max,
        ticks: ticks_within(min, max, step),
    }
}

/// Smallest round duration (1s, 5s, 15s, 1m, 30m, 1h, 6h, 1d…) at least `raw`
/// seconds, so tick labels read as whole units.
fn duration_step(raw: f64) -> f64 {
    const STEPS: [f64; 20] = [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
        10800.0, 21600.0, 43200.0, 86400.0, 172800.0, 604800.0,
    ];
    if raw < 1.0 {
        return nice_step(raw);
    }
    for step in STEPS {
        if step >= raw {
            return step;
        }
    }
    // Beyond a week, whole multiples of days on a 1-2-5 ladder.
    nice_step(raw / 86400.0).max(1.0) * 86400.0
}

/// Smallest of 1, 2, 2.5, 5 × 10^k that is at least `raw` (`raw` > 0).
fn nice_step(raw: f64) -> f64 {
    if !(raw > 0.0 && raw.is_finite()) {
        return 1.0;
    }
    let magnitude = libm::pow(10.0, libm::log10(raw).floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * magnitude >= raw * (1.0 - 1e-9) {
            return m * magnitude;
        }
    }
    10.0 * magnitude
}

fn ticks_within(min: f64, max: f64, step: f64) -> Vec<f64> {
    let mut ticks = Vec::new();
    if !(step > 0.0 && step.is_finite()) {
        return ticks;
    }
    let mut k = (min / step).ceil();
    // Bounded so pathological ranges cannot loop for long.
    while ticks.len() < 64 {
        let v = k * step;
        if v > max + step * 1e-9 {
            break;
        }
        ticks.push(v);
        k += 1.0;
    }
    ticks
}

struct YAxis {
    min: f64,
    max: f64,
    step: f64,
    ticks: Vec<f64>,
    /// Divisor and suffix shared by every label on the axis.
    scale: (f64, &'static str),
}

impl YAxis {
    fn label(&self, v: f64) -> String {
        format_scaled(v, self.step, self.scale)
    }
}

/// The y range is widened outward to whole tick steps so the top and bottom
/// grid lines carry labels.
fn y_axis(extent: Option<(f64, f64)>, include_zero: bool) -> YAxis {
    let (mut min, mut max) = extent.unwrap_or((0.0, 1.0));
    if include_zero {
        min = min.min(0.0);
        max = max.max(0.0);
    }
    if !(max - min).is_finite() {
        min /= 2.0;
        max /= 2.0;
    }
    if max <= min {
        // A constant series: sit it on a 0..1 axis if it is 0, else centre it.
        if min == 0.0 {
            max = 1.0;
        } else {
            let pad = min.abs() * 0.1;
            min -= pad;
            max += pad;
        }
    }
    let step = nice_step((max - min) / MAX_Y_TICKS);
    let lo = (min / step).floor() * step;
    let hi = (max / step).ceil() * step;
    let ticks = ticks_within(lo, hi, step);
    let biggest = ticks.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    YAxis {
        min: lo,
        max: hi,
        step,
        ticks,
        scale: scale_for(biggest),
    }
}

/// Only switches to a suffix once plain numbers get long, so `1200` stays
/// readable and `25000` becomes `25k`.
fn scale_for(magnitude: f64) -> (f64, &'static str) {
    if magnitude >= 1e13 {
        (1e12, "T")
    } else if magnitude >= 1e10 {
        (1e9, "G")
    } else if magnitude >= 1e7 {
        (1e6, "M")
    } else if magnitude >= 1e4 {
        (1e3, "k")
    } else {
        (1.0, "")
    }
}

/// Formats `v` with just enough decimals to tell ticks `step` apart, which
/// rounds away float noise such as `0.30000000000000004`.
fn format_scaled(v: f64, step: f64, (divisor, suffix): (f64, &str)) -> String {
    let scaled_step = step / divisor;
    let decimals = decimals_for(scaled_step);
    let text = format!("{:.*}", decimals, v / divisor);
    let text = trim_decimal_zeros(&text);
    if text == "0" || text == "-0" {
        return "0".to_owned();
    }
    format!("{text}{suffix}")
}

fn decimals_for(step: f64) -> usize {
    if !(step > 0.0 && step.is_finite()) {
        return 0;
    }
    for d in 0..=12usize {
        let scaled = step * libm::pow(10.0, f64::from(d as i32));
        if (scaled - scaled.round()).abs() <= scaled * 1e-9 {
            return d;
        }
    }
    12
}

fn trim_decimal_zeros(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

/// Formats seconds as compact duration text: `0s`, `30s`, `1m30s`, `5m`,
/// `1h30m`, `2d6h`. Sub-second parts are kept to the millisecond (`250ms`,
/// `1.5s`). Non-finite input gives `?` rather than panicking.
pub fn format_duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "?".to_owned();
    }
    let total_ms = (seconds.abs() * 1000.0).round();
    if total_ms == 0.0 {
        return "0s".to_owned();
    }
    let sign = if seconds < 0.0 { "-" } else { "" };
    // u64 covers ~584 million years of milliseconds; beyond that, saturate.
    let total_ms = if total_ms >= u64::MAX as f64 {
        u64::MAX
    } else {
        total_ms as u64
    };
    if total_ms < 1000 {
        return format!("{sign}{total_ms}ms");
    }
    let ms = total_ms % 1000;
    let total_s = total_ms / 1000;
    let (days, hours, minutes, secs) = (
        total_s / 86400,
        total_s / 3600 % 24,
        total_s / 60 % 60,
        total_s % 60,
    );
    let mut out = String::from(sign);
    for (value, unit) in [(days, "d"), (hours, "h"), (minutes, "m")] {
        if value > 0 {
            out.push_str(&format!("{value}{unit}"));
        }
    }
    if ms > 0 {
        let frac = format!("{ms:03}");
        out.push_str(&format!("{secs}.{}s", frac.trim_end_matches('0')));
    } else if secs > 0 {
        out.push_str(&format!("{secs}s"));
    }
    out
}

struct LegendItem {
    index: usize,
    name: String,
    x: i32,
}

/// Flows legend entries left to right into rows that fit the canvas width.
fn legend_layout(names: &[&str]) -> Vec<Vec<LegendItem>> {
    const LEFT: i32 = 60;
    let right = WIDTH as i32 - 20;
    let mut rows: Vec<Vec<LegendItem>> = Vec::new();
    let mut row: Vec<LegendItem> = Vec::new();
    let mut x = LEFT;
    for (index, name) in names.iter().enumerate() {
        let width = 28 + (name.chars().count() as f64 * CHAR_WIDTH).ceil() as i32 + 18;
        if !row.is_empty() && x + width > right {
            rows.push(std::mem::take(&mut row));
            x = LEFT;
        }
        row.push(LegendItem {
            index,
            name: (*name).to_owned(),
            x,
        });
        x += width;
    }
    if !row.is_empty() {
        rows.push(row);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(series: Vec<Series>) -> LineChart {
        LineChart {
            title: "Pending pods".to_owned(),
            x_label: "virtual time".to_owned(),
            y_label: "pods".to_owned(),
            series,
            y_min_zero: true,
            spans: Vec::new(),
            marks: Vec::new(),
        }
    }

    fn series(name: &str, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.to_owned(),
            points,
        }
    }

    fn ramp() -> Vec<(f64, f64)> {
        (0..=120)
            .map(|i| (i as f64 * 30.0, (i % 17) as f64 * 1.5))
            .collect()
    }

    #[test]
    fn duration_formatter() {
        assert_eq!(format_duration(0.0), "0s");
        assert_eq!(format_duration(30.0), "30s");
        assert_eq!(format_duration(90.0), "1m30s");
        assert_eq!(format_duration(300.0), "5m");
        assert_eq!(format_duration(3600.0), "1h");
        assert_eq!(format_duration(5400.0), "1h30m");
        assert_eq!(format_duration(3661.0), "1h1m1s");
        assert_eq!(format_duration(86400.0 + 6.0 * 3600.0), "1d6h");
        assert_eq!(format_duration(0.25), "250ms");
        assert_eq!(format_duration(1.5), "1.5s");
        assert_eq!(format_duration(-90.0), "-1m30s");
        assert_eq!(format_duration(f64::NAN), "?");
    }

    #[test]
    fn y_labels_have_no_float_noise() {
        let axis = y_axis(Some((0.0, 3.0)), true);
        let labels: Vec<String> = axis.ticks.iter().map(|v| axis.label(*v)).collect();
        assert_eq!(labels, ["0", "0.5", "1", "1.5", "2", "2.5", "3"]);

        let axis = y_axis(Some((0.0, 0.3)), true);
        let labels: Vec<String> = axis.ticks.iter().map(|v| axis.label(*v)).collect();
        assert_eq!(labels, ["0", "0.05", "0.1", "0.15", "0.2", "0.25", "0.3"]);

        let axis = y_axis(Some((0.0, 6000.0)), true);
        assert_eq!(axis.label(1200.0), "1200");

        let axis = y_axis(Some((0.0, 30000.0)), true);
        let labels: Vec<String> = axis.ticks.iter().map(|v| axis.label(*v)).collect();
        assert_eq!(labels, ["0", "5k", "10k", "15k", "20k", "25k", "30k"]);
        assert_eq!(format_scaled(1200.0, 200.0, (1e3, "k")), "1.2k");
    }

    #[test]
    fn x_ticks_are_round_durations() {
        let axis = x_axis(Some((0.0, 3600.0)));
        let labels: Vec<String> = axis.ticks.iter().map(|v| format_duration(*v)).collect();
        assert_eq!(labels, ["0s", "10m", "20m", "30m", "40m", "50m", "1h"]);
        let axis = x_axis(Some((0.0, 6.0 * 3600.0)));
        let labels: Vec<String> = axis.ticks.iter().map(|v| format_duration(*v)).collect();
        assert_eq!(labels, ["0s", "1h", "2h", "3h", "4h", "5h", "6h"]);
    }

    #[test]
    fn same_input_same_bytes() {
        let c = chart(vec![
            series("a", ramp()),
            series("b", vec![(0.0, 1.0), (60.0, 2.0)]),
        ]);
        let first = c.to_svg().expect("render");
        let second = c.clone().to_svg().expect("render");
        assert_eq!(first, second);
    }

    #[test]
    fn svg_has_title_and_series_names_and_no_nan() {
        let names = ["scheduled", "pending", "evicted & <gone>"];
        let c = chart(names.iter().map(|n| series(n, ramp())).collect());
        let svg = c.to_svg().expect("render");
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        assert!(svg.contains("Pending pods"));
        assert!(svg.contains("scheduled"));
        assert!(svg.contains("pending"));
        assert!(svg.contains("evicted &amp; &lt;gone&gt;"));
        assert!(!svg.contains("NaN"));
        assert!(!svg.contains("inf"));
        assert!(svg.contains(">\n1h\n</text>"));
    }

    #[test]
    fn single_series_has_no_legend() {
        let svg = chart(vec![series("only-one-series", ramp())])
            .to_svg()
            .expect("render");
        assert!(!svg.contains("only-one-series"));
    }

    #[test]
    fn empty_and_degenerate_inputs_render() {
        let cases = vec![
            vec![],
            vec![series("empty", vec![])],
            vec![series("constant", vec![(0.0, 5.0), (600.0, 5.0)])],
            vec![series("zero", vec![(0.0, 0.0), (600.0, 0.0)])],
            vec![series("single", vec![(42.0, 7.0)])],
            vec![series("negative", vec![(0.0, -3.0), (10.0, -3.0)])],
            vec![series(
                "junk",
                vec![
                    (f64::NAN, 1.0),
                    (0.0, f64::INFINITY),
                    (10.0, 2.0),
                    (20.0, f64::NAN),
                    (30.0, 3.0),
                    (40.0, 4.0),
                ],
            )],
            vec![series("all-nan", vec![(f64::NAN, f64::NAN)])],
        ];
        for case in cases {
            let mut c = chart(case);
            for zero in [true, false] {
                c.y_min_zero = zero;
                let svg = c.to_svg().expect("render");
                assert!(!svg.contains("NaN"), "NaN in {:?}", c.series);
                assert!(svg.trim_end().ends_with("</svg>"));
            }
        }
        let svg = chart(vec![]).to_svg().expect("render");
        assert!(svg.contains("No data"));
    }

    #[test]
    fn constant_series_gets_padded_range() {
        let axis = y_axis(Some((5.0, 5.0)), false);
        assert!(axis.min < 5.0 && axis.max > 5.0);
        let axis = y_axis(Some((0.0, 0.0)), false);
        assert_eq!((axis.min, axis.max), (0.0, 1.0));
        let axis = x_axis(Some((0.0, 0.0)));
        assert_eq!(axis.min, 0.0);
        assert!(axis.max > 0.0);
    }

    #[test]
    fn nan_splits_runs() {
        let runs = finite_runs(&[(0.0, 1.0), (1.0, f64::NAN), (2.0, 2.0), (3.0, 3.0)]);
        assert_eq!(runs, vec![vec![(0.0, 1.0)], vec![(2.0, 2.0), (3.0, 3.0)]]);
    }

    #[test]
    fn decimation_keeps_extremes() {
        let run: Vec<(f64, f64)> = (0..100_000)
            .map(|i| (i as f64, if i == 50_123 { 1000.0 } else { (i % 7) as f64 }))
            .collect();
        let out = decimate(&run, 0.0, 99_999.0, 700.0);
        assert!(out.len() <= 4 * 701);
        assert!(out.contains(&(50_123.0, 1000.0)));
        assert_eq!(out.first(), run.first());
        assert_eq!(out.last(), run.last());
    }

    #[test]
    fn prolog_is_stripped() {
        assert_eq!(
            strip_xml_prolog("<?xml version=\"1.0\"?>\n<svg></svg>"),
            "<svg></svg>"
        );
        assert_eq!(strip_xml_prolog("<svg></svg>"), "<svg></svg>");
    }
}
