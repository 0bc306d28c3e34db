//! The Region table pane: one row per region drawn, with its number (the number drawn on the
//! maps), pixels, majority class, the majority's fraction of the determined pixels and the
//! determined count; click a column's heading to sort by it (again: the other way round).

use super::regions::RegionEntry;
use super::{View, ViewContext};
use crate::gui::request::Request;
use eframe::egui;
use polarmap_core::maps::RegionStats;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::path::PathBuf;

/// A column of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Column {
    Number,
    Pixels,
    Majority,
    Fraction,
    Determined,
}

impl Column {
    pub const ALL: [Column; 5] = [
        Column::Number,
        Column::Pixels,
        Column::Majority,
        Column::Fraction,
        Column::Determined,
    ];

    pub fn heading(self) -> &'static str {
        match self {
            Column::Number => "region #",
            Column::Pixels => "pixels",
            Column::Majority => "majority",
            Column::Fraction => "fraction",
            Column::Determined => "determined",
        }
    }

    /// Orders two regions by this column (regions without statistics last).
    fn compare(self, a: &RegionEntry, b: &RegionEntry) -> Ordering {
        let key = |e: &RegionEntry| -> Option<f64> {
            let s = e.stats.as_ref();
            match self {
                Column::Number => Some(e.id as f64),
                Column::Pixels => s.map(|s| s.pixels as f64),
                Column::Majority => s.and_then(|s| s.direction()).map(|m| m.index() as f64),
                Column::Fraction => s.and_then(RegionStats::direction_fraction),
                Column::Determined => s.map(|s| (s.pixels - s.undetermined) as f64),
            }
        };
        match (key(a), key(b)) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
        .then(a.id.cmp(&b.id))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(default)]
pub struct RegionTable {
    pub sort: Column,
    pub descending: bool,
    /// Where "Export CSV" writes (beside the scan until edited).
    #[serde(skip)]
    pub csv_path: String,
    /// The path waiting for "Replace" because a file is there.
    #[serde(skip)]
    confirm_overwrite: Option<PathBuf>,
}

impl Default for RegionTable {
    fn default() -> Self {
        RegionTable {
            sort: Column::Number,
            descending: false,
            csv_path: String::new(),
            confirm_overwrite: None,
        }
    }
}

impl RegionTable {
    /// The regions in the table's order.
    pub fn sorted<'a>(&self, regions: &'a [RegionEntry]) -> Vec<&'a RegionEntry> {
        let mut rows: Vec<&RegionEntry> = regions.iter().collect();
        rows.sort_by(|a, b| {
            let o = self.sort.compare(a, b);
            if self.descending {
                o.reverse()
            } else {
                o
            }
        });
        rows
    }
}

impl View for RegionTable {
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ViewContext<'_>) {
        if ctx.regions.is_empty() {
            ui.label("No regions yet: draw one with Rectangle, Lasso or Polygon (tools above the views).");
            return;
        }
        let partial = ctx
            .regions
            .iter()
            .find_map(|e| e.partial.filter(|_| e.stats.is_some()));
        if let Some((done, total)) = partial {
            let running = ctx.inference.is_some() || ctx.adapting;
            let state = if running {
                "running"
            } else {
                ctx.data
                    .and_then(|d| d.prediction_stopped)
                    .unwrap_or("cancelled")
            };
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!("statistics of a partial map ({done} of {total} pixels; {state}): its pixels filled in only"),
            );
        }
        egui::Grid::new("region table")
            .striped(true)
            .num_columns(Column::ALL.len())
            .spacing([16.0, 4.0])
            .show(ui, |ui| {
                for column in Column::ALL {
                    let arrow = match (self.sort == column, self.descending) {
                        (false, _) => "",
                        (true, false) => " ^",
                        (true, true) => " v",
                    };
                    let heading = format!("{}{arrow}", column.heading());
                    if ui
                        .button(heading)
                        .on_hover_text(format!("sort by {}", column.heading()))
                        .clicked()
                    {
                        self.descending = self.sort == column && !self.descending;
                        self.sort = column;
                    }
                }
                ui.end_row();
                for entry in self.sorted(ctx.regions) {
                    ui.label(format!("{}", entry.id));
                    match &entry.stats {
                        Some(s) => {
                            ui.label(format!("{}", s.pixels));
                            ui.label(s.direction().map_or("—", |m| m.name()));
                            ui.label(
                                s.direction_fraction()
                                    .map_or("—".into(), |f| format!("{:.1} %", 100.0 * f)),
                            );
                            ui.label(format!("{}", s.pixels - s.undetermined));
                        }
                        None => {
                            ui.label("no class map");
                            for _ in 0..3 {
                                ui.label("—");
                            }
                        }
                    }
                    ui.end_row();
                }
            });
        ui.separator();
        self.export(ui, ctx);
    }
}

impl RegionTable {
    /// "Export CSV…" with the path, asking before replacing a file.
    fn export(&mut self, ui: &mut egui::Ui, ctx: &mut ViewContext<'_>) {
        if self.csv_path.is_empty() {
            if let Some(d) = ctx.data {
                let stem = d.path.file_stem().unwrap_or_default().to_string_lossy();
                let dir = d.path.parent().unwrap_or(std::path::Path::new("."));
                self.csv_path = dir
                    .join(format!("{stem}-regions.csv"))
                    .display()
                    .to_string();
            }
        }
        ui.horizontal_wrapped(|ui| {
            let label = ui.label("CSV path");
            ui.add(egui::TextEdit::singleline(&mut self.csv_path).desired_width(260.0))
                .labelled_by(label.id);
            if ui
                .button("Export CSV")
                .on_hover_text("write the table (with per-class counts) as CSV")
                .clicked()
            {
                let path = PathBuf::from(self.csv_path.trim());
                if path.exists() {
                    self.confirm_overwrite = Some(path);
                } else {
                    ctx.requests.push(Request::ExportRegions(path, false));
                }
            }
        });
        if let Some(path) = self.confirm_overwrite.clone() {
            ui.horizontal(|ui| {
                ui.label(format!("{} exists.", crate::gui::file_name(&path)));
                if ui.button("Replace").clicked() {
                    ctx.requests.push(Request::ExportRegions(path, true));
                    self.confirm_overwrite = None;
                }
                if ui.button("Keep it").clicked() {
                    self.confirm_overwrite = None;
                }
            });
        }
    }
}
