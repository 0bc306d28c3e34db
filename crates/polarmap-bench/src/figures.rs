//! The bench's figures, drawn on a [`Canvas`]: per test set, a grid of prediction maps (rows =
//! preprocessing configurations, columns = models, each the majority vote across seeds, in the
//! class colours, with the labels in the first column and a class legend), and the prediction
//! distribution (per class, the mean fraction over seeds as a bar with a ±1 std whisker).

use super::evaluate::vote;
use super::protocol::{BenchResults, RunResult};
use super::tables::mean_std;
use ndarray::Array2;
use polarmap_core::canvas::{text_width, Canvas, LEGEND_ENTRY};
use polarmap_core::classes::Class;
use polarmap_core::colour::class_colour;
use polarmap_core::models::train::{ModelKind, Preprocessing};

const BACKGROUND: [u8; 3] = [0, 0, 0];
const GRID: [u8; 3] = [70, 70, 70];
const MARGIN: usize = 6;
/// Space for the row labels (configuration names) left of the panels.
const ROW_LABEL: usize = 64;
/// Height of a heading line.
const LINE: usize = 10;

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
    panel: [usize; 2],
    top: usize,
}

impl Layout {
    fn origin(&self, row: usize, col: usize) -> (usize, usize) {
        (
            ROW_LABEL + col * (self.panel[0] + MARGIN),
            self.top + row * (self.panel[1] + MARGIN),
        )
    }
}

/// A canvas with a title, column headings, row labels and (optionally) the class legend below a
/// grid of `panel`-sized panels.
fn frame(
    title: &str,
    headings: &[String],
    row_labels: &[String],
    panel: [usize; 2],
    legend: bool,
) -> (Canvas, Layout) {
    let cols = headings.len().max(1);
    let width = (ROW_LABEL + cols * (panel[0] + MARGIN))
        .max(text_width(title, 1) + 2 * MARGIN)
        .max(LEGEND_ENTRY * 4 + 2 * MARGIN);
    let per_line = ((width - 2 * MARGIN) / LEGEND_ENTRY).clamp(1, Class::COUNT);
    let legend_h = if legend {
        Class::COUNT.div_ceil(per_line) * 10 + MARGIN
    } else {
        0
    };
    let top = MARGIN + 2 * LINE;
    let height = top + row_labels.len() * (panel[1] + MARGIN) + legend_h + MARGIN;
    let mut canvas = Canvas::new(width, height, BACKGROUND);
    canvas.text(MARGIN, MARGIN, title, 1);
    let layout = Layout { panel, top };
    for (c, heading) in headings.iter().enumerate() {
        let (x, _) = layout.origin(0, c);
        canvas.text(x, top - LINE, heading, 1);
    }
    for (r, label) in row_labels.iter().enumerate() {
        let (_, y) = layout.origin(r, 0);
        canvas.text(MARGIN, y + panel[1] / 2, label, 1);
    }
    if legend {
        canvas.class_legend(MARGIN, height - legend_h, per_line, 1);
    }
    (canvas, layout)
}

/// The prediction maps of `test_set`: the labels, then one column per model; one row per
/// configuration; each map the per-pixel majority vote across seeds.
pub fn map_grid(results: &BenchResults, test_set: &str) -> Canvas {
    let test = test_index(results, test_set);
    let models = &results.plan.models;
    let configs = &results.plan.configs;
    let any = results.runs.iter().find_map(|r| r.tests.get(test));
    let shape = any.map_or([1, 1], |t| t.shape);
    let scale = 128usize.div_ceil(shape[0].max(shape[1])).max(1);
    let panel = [shape[1] * scale, shape[0] * scale];
    let mut headings = vec!["labels".to_string()];
    headings.extend(models.iter().map(|&m| display_name(results, m)));
    let labels: Vec<String> = configs.iter().map(|c| c.name().to_string()).collect();
    let (mut canvas, layout) = frame(test_set, &headings, &labels, panel, true);
    let draw = |canvas: &mut Canvas, map: &Array2<Class>, (x, y): (usize, usize)| {
        let (rows, cols) = map.dim();
        let pixels: Vec<[u8; 3]> = map.iter().map(|&c| class_colour(c)).collect();
        canvas.blit(x, y, &pixels, cols, rows, scale);
    };
    if let Some(truth) = any.and_then(|t| t.truth) {
        for r in 0..configs.len() {
            let labels = Array2::from_elem((shape[0], shape[1]), truth);
            draw(&mut canvas, &labels, layout.origin(r, 0));
        }
    }
    for (r, &config) in configs.iter().enumerate() {
        for (c, &model) in models.iter().enumerate() {
            let maps: Vec<Array2<Class>> = results_for(results, model, config, test)
                .iter()
                .map(|t| t.class_map())
                .collect();
            if let Some(voted) = vote(&maps) {
                draw(&mut canvas, &voted, layout.origin(r, c + 1));
            }
        }
    }
    canvas
}

/// Bar width and pitch of the distribution plots.
const BAR: usize = 10;
const PITCH: usize = 14;
/// Height of the 0–100 % axis.
const AXIS: usize = 80;

/// The prediction distribution on `test_set`: per configuration (rows) and model (columns), the
/// fraction of patterns per class (mean over seeds, whisker ±1 std), the labels' class underlined.
pub fn distribution_plot(results: &BenchResults, test_set: &str) -> Canvas {
    let test = test_index(results, test_set);
    let models = &results.plan.models;
    let configs = &results.plan.configs;
    let axis_label = 16;
    let panel = [axis_label + Class::COUNT * PITCH, AXIS + 2 * LINE];
    let headings: Vec<String> = models.iter().map(|&m| display_name(results, m)).collect();
    let labels: Vec<String> = configs.iter().map(|c| c.name().to_string()).collect();
    let title = format!("{test_set}: predicted class fractions, mean +- std over seeds");
    let (mut canvas, layout) = frame(&title, &headings, &labels, panel, false);
    for (r, &config) in configs.iter().enumerate() {
        for (c, &model) in models.iter().enumerate() {
            let found = results_for(results, model, config, test);
            let (x0, y0) = layout.origin(r, c);
            let base = y0 + AXIS;
            for (tick, text) in [(0, "0"), (AXIS / 2, "50"), (AXIS, "100")] {
                canvas.fill(
                    x0 + axis_label - 2,
                    base - tick,
                    Class::COUNT * PITCH,
                    1,
                    GRID,
                );
                canvas.text(x0, base - tick - 2, text, 1);
            }
            if found.is_empty() {
                continue;
            }
            for class in Class::ALL {
                let fractions: Vec<f64> =
                    found.iter().map(|t| t.fractions()[class.index()]).collect();
                let (mean, std) = mean_std(&fractions);
                let x = x0 + axis_label + class.index() * PITCH;
                let h = (mean * AXIS as f64).round() as usize;
                canvas.fill(x, base - h, BAR, h, class_colour(class));
                let lo = ((mean - std).max(0.0) * AXIS as f64).round() as usize;
                let hi = ((mean + std).min(1.0) * AXIS as f64).round() as usize;
                if hi > lo {
                    canvas.fill(x + BAR / 2, base - hi, 1, hi - lo + 1, [255, 255, 255]);
                    canvas.fill(x + 2, base - hi, BAR - 4, 1, [255, 255, 255]);
                    canvas.fill(x + 2, base - lo, BAR - 4, 1, [255, 255, 255]);
                }
                canvas.text(x + 1, base + 3, class.name(), 1);
                if found[0].truth == Some(class) {
                    canvas.fill(x, base + 10, BAR, 1, [255, 255, 255]);
                }
            }
        }
    }
    canvas
}
