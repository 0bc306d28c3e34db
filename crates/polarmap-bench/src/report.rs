//! What a finished bench writes: the tables (Markdown and CSV), the figures, and `results.json`.

use super::cache::write_json;
use super::protocol::BenchResults;
use super::{figures, tables};
use polarmap_core::error::Result;
use polarmap_core::figure::Format;
use std::path::{Path, PathBuf};

/// Writes the tables (Markdown and CSV per configuration), the figures and `results.json` into
/// `out`; returns the files written.
pub fn write_outputs(results: &BenchResults, out: &Path) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let tables = tables::tables(results);
    let mut markdown = String::new();
    for table in &tables {
        let md = out.join(format!("table-{}.md", table.config.name()));
        let csv = out.join(format!("table-{}.csv", table.config.name()));
        super::cache::write_atomic(&md, table.markdown().as_bytes())?;
        super::cache::write_atomic(&csv, table.csv().as_bytes())?;
        markdown.push_str(&table.markdown());
        markdown.push('\n');
        written.extend([md, csv]);
    }
    if !results.defect_scans.is_empty() {
        let defect_table = tables::defect_table(results);
        markdown.push_str(&defect_table);
        let md = out.join("defects.md");
        super::cache::write_atomic(&md, defect_table.as_bytes())?;
        written.push(md);
    }
    let all = out.join("tables.md");
    super::cache::write_atomic(&all, markdown.as_bytes())?;
    written.push(all);
    for set in &results.test_sets {
        let maps = out.join(format!("maps-{}.png", set.name));
        figures::map_grid(results, &set.name)?.write(&maps, Format::Png, true)?;
        let dist = out.join(format!("distribution-{}.png", set.name));
        figures::distribution_plot(results, &set.name)?.write(&dist, Format::Png, true)?;
        written.extend([maps, dist]);
    }
    let json = out.join("results.json");
    write_json(&json, &summary(results, &tables))?;
    written.push(json);
    Ok(written)
}

/// Everything but the per-pixel maps (those stay in the run folders).
fn summary(results: &BenchResults, tables: &[tables::Table]) -> serde_json::Value {
    let runs: Vec<serde_json::Value> = results
        .runs
        .iter()
        .map(|r| {
            let tests: Vec<serde_json::Value> = r
                .tests
                .iter()
                .map(|t| {
                    serde_json::json!({
                        "test_set": t.test_set,
                        "path": t.path,
                        "accuracy": t.accuracy,
                        "majority": t.majority,
                        "truth": t.truth,
                        "majority_right": t.majority_right(),
                        "distribution": t.fractions(),
                        "seconds": t.seconds,
                    })
                })
                .collect();
            serde_json::json!({
                "model": r.key.model.name(),
                "display_name": r.record.display_name,
                "config": r.key.config,
                "seed": r.key.seed,
                "training": r.record,
                "tests": tests,
                "defects": r.defects,
            })
        })
        .collect();
    serde_json::json!({
        "plan": results.plan,
        "class_order": polarmap_core::classes::Class::ALL,
        "test_sets": results.test_sets.iter().map(|t| serde_json::json!({"name": t.name, "path": t.path})).collect::<Vec<_>>(),
        "defect_scans": results.defect_scans,
        "work": results.work,
        "seconds": results.seconds,
        "tables": tables,
        "runs": runs,
    })
}
