//! The bench's figures, laid out as [`Drawing`]s (polarmap-core's figure drawing, rendered by
//! plotters in the embedded font): per test set, a grid of prediction maps (rows = preprocessing
//! configurations, columns = models, each the majority vote across seeds, in the class colours,
//! with the labels in the first column and a legend of the classes that occur), and the
//! prediction distribution (per class, the mean fraction over seeds as a bar with a ±1 std
//! whisker).

use super::evaluate::vote;
use super::protocol::{BenchResults, RunResult};
use super::tables::mean_std;
use ndarray::Array2;
use polarmap_core::classes::Class;
use polarmap_core::colour::class_colour;
use polarmap_core::figure::drawing::{text_width, Align, Drawing, Rgb, Shape};
use polarmap_core::models::train::{ModelKind, Preprocessing};
use polarmap_core::Result;

/// Resolution the bench figures are laid out for (screen and report size).
pub const DPI: f64 = 150.0;
const BACKGROUND: Rgb = [255, 255, 255];
const INK: Rgb = [0, 0, 0];
const GRID: Rgb = [200, 200, 200];

/// Text size and spacing at [`DPI`], in pixels.
struct Metrics {
    text: f64,
    line: i32,
    margin: i32,
}

const M: Metrics = Metrics {
    text: 8.0 / 72.0 * DPI,
    line: (8.0 * 1.4 / 72.0 * DPI) as i32,
    margin: (2.0 / 25.4 * DPI) as i32,
};

/// Runs of one (model, configuration) with their result on `test_set` (index into test sets).
fn results_for(
    results: &BenchResults,
    model: ModelKind,
    config: Preprocessing,
    test: usize,
) -> Vec<&super::evaluate::TestResult> {
    results
        .runs
        .iter()
        .filter(|r: &&RunResult| r.key.model == model && r.key.config == config)
        .filter_map(|r| r.tests.get(test))
        .collect()
}

fn display_name(results: &BenchResults, model: ModelKind) -> String {
    results
        .runs
        .iter()
        .find(|r| r.key.model == model)
        .map_or(model.name(), |r| r.record.display_name.clone())
}

fn test_index(results: &BenchResults, test_set: &str) -> usize {
    results
        .test_sets
        .iter()
        .position(|t| t.name == test_set)
        .unwrap_or(usize::MAX)
}

/// Where the panels of a figure grid sit.
struct Layout {
    panel: [i32; 2],
    left: i32,
    top: i32,
}

impl Layout {
    fn origin(&self, row: usize, col: usize) -> (i32, i32) {
        (
            self.left + col as i32 * (self.panel[0] + M.margin),
            self.top + row as i32 * (self.panel[1] + M.margin),
        )
    }
}

/// A drawing with a title, column headings and row labels around a grid of `panel`-sized
/// panels, and `below` pixels of room under the grid.
fn frame(
    title: &str,
    headings: &[String],
    row_labels: &[String],
    panel: [i32; 2],
    below: i32,
) -> Result<(Drawing, Layout)> {
    let mut label_w = 0;
    for label in row_labels {
        label_w = label_w.max(text_width(label, M.text)?);
    }
    let left = 2 * M.margin + label_w;
    let cols = headings.len().max(1) as i32;
    let width = (left + cols * (panel[0] + M.margin) + M.margin)
        .max(text_width(title, M.text)? + 2 * M.margin);
    let top = M.margin + 2 * M.line;
    let height = top + row_labels.len() as i32 * (panel[1] + M.margin) + below + M.margin;
    let mut d = Drawing::new(width as u32, height as u32, DPI, BACKGROUND);
    d.text(M.margin, M.margin, title, M.text, Align::Left, INK);
    let layout = Layout { panel, left, top };
    for (c, heading) in headings.iter().enumerate() {
        let (x, _) = layout.origin(0, c);
        d.text(
            x + panel[0] / 2,
            top - M.line,
            heading,
            M.text,
            Align::Centre,
            INK,
        );
    }
    for (r, label) in row_labels.iter().enumerate() {
        let (_, y) = layout.origin(r, 0);
        d.text(
            left - M.margin,
            y + (panel[1] - M.line) / 2,
            label,
            M.text,
            Align::Right,
            INK,
        );
    }
    Ok((d, layout))
}

/// The prediction maps of `test_set`: the labels, then one column per model; one row per
/// configuration; each map the per-pixel majority vote across seeds. The legend lists the
/// classes that occur in the grid.
pub fn map_grid(results: &BenchResults, test_set: &str) -> Result<Drawing> {
    let test = test_index(results, test_set);
    let models = &results.plan.models;
    let configs = &results.plan.configs;
    let any = results.runs.iter().find_map(|r| r.tests.get(test));
    let shape = any.map_or([1, 1], |t| t.shape);
    let scale = 128usize.div_ceil(shape[0].max(shape[1])).max(1) as i32;
    let panel = [shape[1] as i32 * scale, shape[0] as i32 * scale];
    let mut headings = vec!["labels".to_string()];
    headings.extend(models.iter().map(|&m| display_name(results, m)));
    let labels: Vec<String> = configs.iter().map(|c| c.name().to_string()).collect();
    // The maps first: the legend lists only the classes they show.
    let mut maps: Vec<((usize, usize), Array2<Class>)> = Vec::new();
    if let Some(truth) = any.and_then(|t| t.truth) {
        for r in 0..configs.len() {
            maps.push(((r, 0), Array2::from_elem((shape[0], shape[1]), truth)));
        }
    }
    for (r, &config) in configs.iter().enumerate() {
        for (c, &model) in models.iter().enumerate() {
            let runs: Vec<Array2<Class>> = results_for(results, model, config, test)
                .iter()
                .map(|t| t.class_map())
                .collect();
            if let Some(voted) = vote(&runs) {
                maps.push(((r, c + 1), voted));
            }
        }
    }
    let present: Vec<Class> = Class::ALL
        .into_iter()
        .filter(|&k| maps.iter().any(|(_, m)| m.iter().any(|&c| c == k)))
        .collect();
    let entry_w = M.line + text_width("MM", M.text)? + 2 * M.margin;
    let legend_h = if present.is_empty() {
        0
    } else {
        M.line + M.margin
    };
    let (mut d, layout) = frame(test_set, &headings, &labels, panel, legend_h)?;
    for ((r, c), map) in &maps {
        let (x, y) = layout.origin(*r, *c);
        let (rows, cols) = map.dim();
        d.shapes.push(Shape::Image {
            x,
            y,
            scale,
            width: cols,
            height: rows,
            pixels: map.iter().map(|&k| class_colour(k)).collect(),
        });
    }
    let legend_y = d.height as i32 - M.margin - M.line;
    let swatch = (M.text * 0.8) as i32;
    for (i, class) in present.iter().enumerate() {
        let x = layout.left + i as i32 * entry_w;
        d.rect(
            x,
            legend_y + (M.line - swatch) / 2,
            swatch,
            swatch,
            class_colour(*class),
        );
        d.text(
            x + swatch + M.margin / 2,
            legend_y,
            class.name(),
            M.text,
            Align::Left,
            INK,
        );
    }
    Ok(d)
}

/// Bar width and pitch of the distribution plots.
const BAR: i32 = 14;
const PITCH: i32 = 24;
/// Height of the 0–100 % axis.
const AXIS: i32 = 120;

/// The prediction distribution on `test_set`: per configuration (rows) and model (columns), the
/// fraction of patterns per class (mean over seeds, whisker ±1 std), the labels' class underlined.
pub fn distribution_plot(results: &BenchResults, test_set: &str) -> Result<Drawing> {
    let test = test_index(results, test_set);
    let models = &results.plan.models;
    let configs = &results.plan.configs;
    let axis_label = text_width("100 %", M.text)? + M.margin;
    let panel = [axis_label + Class::COUNT as i32 * PITCH, AXIS + 2 * M.line];
    let headings: Vec<String> = models.iter().map(|&m| display_name(results, m)).collect();
    let labels: Vec<String> = configs.iter().map(|c| c.name().to_string()).collect();
    let title = format!("{test_set}: predicted class fractions, mean ± std over seeds");
    let (mut d, layout) = frame(&title, &headings, &labels, panel, 0)?;
    let small = M.text * 0.8;
    for (r, &config) in configs.iter().enumerate() {
        for (c, &model) in models.iter().enumerate() {
            let found = results_for(results, model, config, test);
            let (x0, y0) = layout.origin(r, c);
            let base = y0 + M.line / 2 + AXIS;
            for (tick, text) in [(0, "0"), (AXIS / 2, "50 %"), (AXIS, "100 %")] {
                d.rect(
                    x0 + axis_label,
                    base - tick,
                    Class::COUNT as i32 * PITCH,
                    1,
                    GRID,
                );
                d.text(
                    x0 + axis_label - M.margin / 2,
                    base - tick - (small * 0.6) as i32,
                    text,
                    small,
                    Align::Right,
                    INK,
                );
            }
            if found.is_empty() {
                continue;
            }
            for class in Class::ALL {
                let fractions: Vec<f64> =
                    found.iter().map(|t| t.fractions()[class.index()]).collect();
                let (mean, std) = mean_std(&fractions);
                let x = x0 + axis_label + class.index() as i32 * PITCH + (PITCH - BAR) / 2;
                let h = (mean * AXIS as f64).round() as i32;
                d.rect(x, base - h, BAR, h, class_colour(class));
                let lo = ((mean - std).max(0.0) * AXIS as f64).round() as i32;
                let hi = ((mean + std).min(1.0) * AXIS as f64).round() as i32;
                if hi > lo {
                    d.rect(x + BAR / 2, base - hi, 1, hi - lo + 1, INK);
                    d.rect(x + 3, base - hi, BAR - 6, 1, INK);
                    d.rect(x + 3, base - lo, BAR - 6, 1, INK);
                }
                d.text(
                    x + BAR / 2,
                    base + 2,
                    class.name(),
                    small,
                    Align::Centre,
                    INK,
                );
                if found[0].truth == Some(class) {
                    d.rect(x, base + 2 + M.line, BAR, 2, INK);
                }
            }
        }
    }
    Ok(d)
}
