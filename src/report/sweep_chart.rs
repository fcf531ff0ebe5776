//! A chart of one metric per category (a sweep's value combinations) with its spread over
//! seeds: every seed's value as a dot, the min–max range as a whisker, the mean as a bar
//! across it. Rendered to standalone SVG by plotters without system fonts (text is SVG
//! `<text>`, laid out with a fixed per-character width), so the same input gives the same
//! bytes on every machine. The frame (canvas, title, axes, grid, tick labels) is the line
//! charts' of `chart.rs`.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::chart::{
    CHAR_WIDTH, ChartError, TITLE_BAND, Ticked, draw_err, draw_mesh, draw_no_data, label_style,
    plot, render,
};

/// Seeds: Okabe–Ito blue.
const SEED_COLOR: RGBColor = RGBColor(0x00, 0x72, 0xB2);
/// The mean: Okabe–Ito vermillion.
const MEAN_COLOR: RGBColor = RGBColor(0xD5, 0x5E, 0x00);
const RANGE_COLOR: RGBColor = RGBColor(0x55, 0x55, 0x55);
const LEGEND_BAND: u32 = 22;

/// One category: its label and one value per seed (non-finite values are left out).
#[derive(Clone, Debug, PartialEq)]
pub struct Category {
    /// Shown under the axis (shortened to fit).
    pub label: String,
    /// The values.
    pub values: Vec<f64>,
}

/// A spread chart: categories along x, values along y.
#[derive(Clone, Debug, PartialEq)]
pub struct SpreadChart {
    /// Heading.
    pub title: String,
    /// Caption of the category axis.
    pub x_label: String,
    /// Caption of the value axis.
    pub y_label: String,
    /// The categories, left to right.
    pub categories: Vec<Category>,
}

/// Round ticks covering `[lo, hi]`: the axis range, the ticks and the decimals of labels.
fn nice_ticks(lo: f64, hi: f64) -> (f64, f64, Vec<f64>, usize) {
    let (mut lo, mut hi) = (lo, hi);
    if !(lo.is_finite() && hi.is_finite()) {
        (lo, hi) = (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        let pad = (lo.abs() * 0.1).max(1.0);
        lo -= pad;
        hi += pad;
    } else {
        // A little room, so no dot sits on the frame.
        let pad = (hi - lo) * 0.05;
        lo -= pad;
        hi += pad;
    }
    let raw = (hi - lo) / 5.0;
    let magnitude = libm::pow(10.0, libm::log10(raw).floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let start = (lo / step).floor();
    let end = (hi / step).ceil();
    let count = (end - start).max(1.0) as usize;
    let ticks: Vec<f64> = (0..=count).map(|i| (start + i as f64) * step).collect();
    let decimals = if step >= 1.0 {
        0
    } else {
        let d = (-libm::log10(step).floor()) as usize;
        if ((step / libm::pow(10.0, -(d as f64))) - 2.5).abs() < 1e-9 {
            d + 1
        } else {
            d
        }
    };
    (start * step, end * step, ticks, decimals)
}

fn label(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    if text.starts_with('-') && text[1..].chars().all(|c| c == '0' || c == '.') {
        text[1..].to_owned()
    } else {
        text
    }
}

/// `text` cut to `max` characters with an ellipsis.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{kept}…")
}

impl SpreadChart {
    /// Renders the chart as a complete `<svg>` document of [`WIDTH`]×[`HEIGHT`] pixels.
    ///
    /// [`WIDTH`]: super::chart::WIDTH
    /// [`HEIGHT`]: super::chart::HEIGHT
    pub fn to_svg(&self) -> Result<String, ChartError> {
        let finite: Vec<Vec<f64>> = self
            .categories
            .iter()
            .map(|c| c.values.iter().copied().filter(|v| v.is_finite()).collect())
            .collect();
        let all = finite.iter().flatten().copied();
        let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        let (y_min, y_max, y_ticks, decimals) = nice_ticks(lo, hi);
        let n = self.categories.len().max(1);
        let y_labels: Vec<String> = y_ticks.iter().map(|v| label(*v, decimals)).collect();

        render(&self.title, |root| {
            // Legend: dot = each seed, bar = mean, whisker = min–max.
            let y = (TITLE_BAND + LEGEND_BAND / 2) as i32;
            let left = label_style().pos(Pos::new(HPos::Left, VPos::Center));
            let mut x = 80;
            root.draw(&Circle::new((x, y), 3, SEED_COLOR.filled()))
                .map_err(draw_err)?;
            root.draw(&Text::new("each seed", (x + 10, y), left.clone()))
                .map_err(draw_err)?;
            x += 120;
            root.draw(&PathElement::new(
                [(x - 8, y), (x + 8, y)],
                MEAN_COLOR.stroke_width(3),
            ))
            .map_err(draw_err)?;
            root.draw(&Text::new("mean", (x + 14, y), left.clone()))
                .map_err(draw_err)?;
            x += 90;
            root.draw(&PathElement::new(
                [(x, y - 7), (x, y + 7)],
                RANGE_COLOR.stroke_width(1),
            ))
            .map_err(draw_err)?;
            root.draw(&Text::new("min–max over seeds", (x + 8, y), left))
                .map_err(draw_err)?;

            let category_ticks: Vec<f64> = (0..n).map(|i| i as f64).collect();
            let mut chart = plot(
                root,
                TITLE_BAND + LEGEND_BAND,
                &y_labels,
                Ticked::new(-0.5, n as f64 - 0.5, &category_ticks),
                Ticked::new(y_min, y_max, &y_ticks),
            )?;
            let (plot_w, _) = chart.plotting_area().dim_in_pixel();
            let per_category = (plot_w as f64 / n as f64 / CHAR_WIDTH).floor().max(3.0) as usize;
            let names: Vec<String> = self
                .categories
                .iter()
                .map(|c| shorten(&c.label, per_category))
                .collect();
            let x_fmt = |v: &f64| {
                let i = v.round();
                if i >= 0.0 {
                    names.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            };
            let y_fmt = |v: &f64| label(*v, decimals);
            draw_mesh(&mut chart, (&self.x_label, &self.y_label), &x_fmt, &y_fmt)?;

            let half = 0.18;
            for (i, values) in finite.iter().enumerate() {
                let Some((min, max, mean)) = spread(values) else {
                    continue;
                };
                let x = i as f64;
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        [(x, min), (x, max)],
                        RANGE_COLOR.stroke_width(1),
                    )))
                    .map_err(draw_err)?;
                for end in [min, max] {
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            [(x - half / 2.0, end), (x + half / 2.0, end)],
                            RANGE_COLOR.stroke_width(1),
                        )))
                        .map_err(draw_err)?;
                }
                chart
                    .draw_series(
                        values
                            .iter()
                            .map(|v| Circle::new((x, *v), 3, SEED_COLOR.mix(0.7).filled())),
                    )
                    .map_err(draw_err)?;
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        [(x - half, mean), (x + half, mean)],
                        MEAN_COLOR.stroke_width(3),
                    )))
                    .map_err(draw_err)?;
            }
            if finite.iter().all(Vec::is_empty) {
                draw_no_data(&chart)?;
            }
            Ok(())
        })
    }
}

/// Min, max and mean of `values` (in order), if any.
fn spread(values: &[f64]) -> Option<(f64, f64, f64)> {
    if values.is_empty() {
        return None;
    }
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    Some((min, max, mean))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_data() {
        let (lo, hi, ticks, decimals) = nice_ticks(87.3, 93.9);
        assert!(lo <= 87.3 && hi >= 93.9, "{lo} {hi}");
        assert_eq!(decimals, 0);
        assert_eq!(ticks.first().copied(), Some(lo));
        let (lo, hi, _, _) = nice_ticks(5.0, 5.0);
        assert!(lo < 5.0 && hi > 5.0);
    }

    #[test]
    fn the_same_chart_gives_the_same_bytes() {
        let chart = SpreadChart {
            title: "GPU allocation".into(),
            x_label: "policy".into(),
            y_label: "%".into(),
            categories: vec![
                Category {
                    label: "fgd".into(),
                    values: vec![90.1, 91.2, 90.7],
                },
                Category {
                    label: "a very long label that will not fit under its category at all, no"
                        .repeat(3),
                    values: vec![85.0, f64::NAN],
                },
            ],
        };
        let a = chart.to_svg().map_err(|e| e.to_string());
        let b = chart.to_svg().map_err(|e| e.to_string());
        assert!(a.as_ref().is_ok_and(|s| s.starts_with("<svg")), "{a:?}");
        assert_eq!(a, b);
        let empty = SpreadChart {
            categories: Vec::new(),
            ..chart
        };
        assert!(empty.to_svg().is_ok_and(|s| s.contains("No data")));
    }
}
