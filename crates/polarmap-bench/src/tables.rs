//! The paper's tables: one per preprocessing configuration, a row per model, a column per test
//! set (after the training set's own test split), each cell the accuracy mean ± std over seeds
//! and the majority class with ✓/✗ against the labels; the best mean per column in bold.

use super::defects::{DefectResult, Located};
use super::protocol::BenchResults;
use polarmap_core::classes::Class;
use polarmap_core::maps::majority_of;
use polarmap_core::models::train::Preprocessing;
use serde::Serialize;

/// The first column: accuracy on the held-out split of the training data.
pub const TEST_SPLIT: &str = "test split";

/// Mean and population standard deviation (0 for one value).
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    /// Accuracy, fraction.
    pub mean: f64,
    pub std: f64,
    pub seeds: usize,
    /// The most frequent class over the predictions of all seeds together.
    pub majority: Option<Class>,
    pub truth: Option<Class>,
}

impl Cell {
    /// "73.5 ± 1.2" in percent.
    pub fn accuracy_text(&self) -> String {
        format!("{:.1} ± {:.1}", 100.0 * self.mean, 100.0 * self.std)
    }

    /// "RD ✓", "RM ✗", or "" where the column has no majority class.
    pub fn majority_text(&self) -> String {
        match (self.majority, self.truth) {
            (Some(m), Some(t)) => format!("{m} {}", if m == t { "✓" } else { "✗" }),
            (Some(m), None) => m.to_string(),
            _ => String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Display name, e.g. "Conv (Cls)".
    pub model: String,
    pub cells: Vec<Option<Cell>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    pub config: Preprocessing,
    /// [`TEST_SPLIT`], then the test sets.
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
}

/// One table per configuration of the plan, rows in the plan's model order.
pub fn tables(results: &BenchResults) -> Vec<Table> {
    let mut columns = vec![TEST_SPLIT.to_string()];
    columns.extend(results.test_sets.iter().map(|t| t.name.clone()));
    results
        .plan
        .configs
        .iter()
        .map(|&config| Table {
            config,
            columns: columns.clone(),
            rows: results
                .plan
                .models
                .iter()
                .filter_map(|&model| {
                    let runs: Vec<_> = results
                        .runs
                        .iter()
                        .filter(|r| r.key.model == model && r.key.config == config)
                        .collect();
                    let first = runs.first()?;
                    let split: Vec<f64> =
                        runs.iter().map(|r| r.record.test_split_accuracy).collect();
                    let (mean, std) = mean_std(&split);
                    let mut cells = vec![Some(Cell {
                        mean,
                        std,
                        seeds: runs.len(),
                        majority: None,
                        truth: None,
                    })];
                    cells.extend((0..results.test_sets.len()).map(|t| test_cell(&runs, t)));
                    Some(Row {
                        model: first.record.display_name.clone(),
                        cells,
                    })
                })
                .collect(),
        })
        .collect()
}

fn test_cell(runs: &[&super::RunResult], test: usize) -> Option<Cell> {
    let results: Vec<_> = runs.iter().filter_map(|r| r.tests.get(test)).collect();
    let first = results.first()?;
    let accuracies: Vec<f64> = results.iter().map(|t| t.accuracy).collect();
    let (mean, std) = mean_std(&accuracies);
    let mut counts = [0usize; Class::COUNT];
    for t in &results {
        counts.iter_mut().zip(t.counts).for_each(|(a, b)| *a += b);
    }
    Some(Cell {
        mean,
        std,
        seeds: results.len(),
        majority: majority_of(&counts),
        truth: first.truth,
    })
}

impl Table {
    /// Rows whose mean in `column` is the column's best, as displayed (one decimal of a percent).
    pub fn best_rows(&self, column: usize) -> Vec<usize> {
        let shown = |c: &Cell| (1000.0 * c.mean).round() as i64;
        let best = self
            .rows
            .iter()
            .filter_map(|r| r.cells[column].as_ref().map(shown))
            .max();
        self.rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.cells[column].as_ref().map(shown) == best && best.is_some())
            .map(|(i, _)| i)
            .collect()
    }

    /// The table as Markdown: a heading naming the configuration, accuracy in percent.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "### Preprocessing: {}\n\nPixel accuracy in % (mean ± std over seeds) and the \
             majority class (✓ right, ✗ wrong); best per column in bold.\n\n",
            self.config.name()
        );
        out.push_str(&format!("| model | {} |\n", self.columns.join(" | ")));
        out.push_str(&format!("|---|{}\n", "---|".repeat(self.columns.len())));
        let best: Vec<Vec<usize>> = (0..self.columns.len()).map(|c| self.best_rows(c)).collect();
        for (i, row) in self.rows.iter().enumerate() {
            let cells: Vec<String> = row
                .cells
                .iter()
                .enumerate()
                .map(|(c, cell)| match cell {
                    None => "–".into(),
                    Some(cell) => {
                        let acc = if best[c].contains(&i) {
                            format!("**{}**", cell.accuracy_text())
                        } else {
                            cell.accuracy_text()
                        };
                        let majority = cell.majority_text();
                        if majority.is_empty() {
                            acc
                        } else {
                            format!("{acc} {majority}")
                        }
                    }
                })
                .collect();
            out.push_str(&format!("| {} | {} |\n", row.model, cells.join(" | ")));
        }
        out
    }

    /// The table as CSV, one line per cell: accuracy as fractions, `best` 1 for the column's best.
    pub fn csv(&self) -> String {
        let mut out =
            String::from("config,model,column,mean,std,seeds,majority,truth,majority_right,best\n");
        for (i, row) in self.rows.iter().enumerate() {
            for (c, cell) in row.cells.iter().enumerate() {
                let Some(cell) = cell else { continue };
                let name = |k: Option<Class>| k.map_or(String::new(), |k| k.to_string());
                let right = match (cell.majority, cell.truth) {
                    (Some(m), Some(t)) => u8::from(m == t).to_string(),
                    _ => String::new(),
                };
                out.push_str(&format!(
                    "{},{},{},{:.6},{:.6},{},{},{},{},{}\n",
                    self.config.name(),
                    quote(&row.model),
                    quote(&self.columns[c]),
                    cell.mean,
                    cell.std,
                    cell.seeds,
                    name(cell.majority),
                    name(cell.truth),
                    right,
                    u8::from(self.best_rows(c).contains(&i)),
                ));
            }
        }
        out
    }
}

fn quote(text: &str) -> String {
    if text.contains([',', '"', ' ', '(']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The defect study as Markdown: per configuration, model and kind of evidence (the class map;
/// the class map and the CoM field together), the distance from the top-ranked cluster to the
/// vacancy (mean ± std over seeds, unit cells and nm) per defect scan; then the CoM field alone,
/// which needs no model, and chance.
pub fn defect_table(results: &BenchResults) -> String {
    let names: Vec<String> = results
        .defect_scans
        .iter()
        .map(|p| {
            p.file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("scan")
                .to_string()
        })
        .collect();
    let mut out = String::from(
        "### Defect study\n\nDistance from the top-ranked candidate cluster to the true vacancy \
         site: unit cells (nm), mean ± std over seeds; `none` where a seed found no cluster. \
         Evidence: the model's class map (pixels unlike their neighbourhood and their lattice \
         site), the class map × the CoM field (geometric mean of the two scores), and the CoM \
         field alone (its part that is not periodic with the lattice; no model).\n\n",
    );
    out.push_str(&format!(
        "| config | model | evidence | {} |\n",
        names.join(" | ")
    ));
    out.push_str(&format!("|---|---|---|{}\n", "---|".repeat(names.len())));
    type Pick = fn(&DefectResult) -> Option<&Located>;
    let evidence: [(&str, Pick); 2] = [
        ("class map", |r| Some(&r.class_map)),
        ("class map × CoM", |r| r.joint.as_ref()),
    ];
    for &config in &results.plan.configs {
        for &model in &results.plan.models {
            let runs: Vec<_> = results
                .runs
                .iter()
                .filter(|r| r.key.model == model && r.key.config == config)
                .collect();
            let Some(first) = runs.first() else { continue };
            for (label, pick) in evidence {
                let cells: Vec<String> = (0..names.len())
                    .map(|d| {
                        distance_cell(runs.iter().filter_map(|r| r.defects.get(d).and_then(pick)))
                    })
                    .collect();
                out.push_str(&format!(
                    "| {} | {} | {label} | {} |\n",
                    config.name(),
                    first.record.display_name,
                    cells.join(" | ")
                ));
            }
        }
    }
    let per_scan = |f: &dyn Fn(&DefectResult) -> String| -> Vec<String> {
        (0..names.len())
            .map(|d| {
                results
                    .runs
                    .iter()
                    .find_map(|r| r.defects.get(d))
                    .map_or("–".into(), f)
            })
            .collect()
    };
    // The CoM field is the same for every run: one row.
    let com = per_scan(&|r| distance_cell(r.com.iter()));
    out.push_str(&format!(
        "| – | – | CoM field alone | {} |\n",
        com.join(" | ")
    ));
    let chance = per_scan(&|r| format!("{:.2}", r.chance_cells));
    out.push_str(&format!(
        "| – | chance (mean over all pixels) | – | {} |\n",
        chance.join(" | ")
    ));
    out
}

/// Mean ± std of the distances (cells and nm) of the runs that found a cluster.
fn distance_cell<'a>(found: impl Iterator<Item = &'a Located>) -> String {
    let found: Vec<&Located> = found.collect();
    let cells: Vec<f64> = found.iter().filter_map(|f| f.distance_cells).collect();
    let nm: Vec<f64> = found.iter().filter_map(|f| f.distance_nm).collect();
    let missing = found.len() - cells.len();
    let mut text = if cells.is_empty() {
        "none".to_string()
    } else {
        let (m, s) = mean_std(&cells);
        let (mn, sn) = mean_std(&nm);
        format!("{m:.2} ± {s:.2} ({mn:.2} ± {sn:.2} nm)")
    };
    if missing > 0 && !cells.is_empty() {
        text.push_str(&format!(", {missing} none"));
    }
    text
}
