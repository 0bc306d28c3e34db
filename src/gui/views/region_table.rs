//! The Region table pane: one row per region drawn, with its number (the number drawn on the
//! maps), pixels, majority class, the majority's fraction of the determined pixels and the
//! determined count; click a column's heading to sort by it (again: the other way round).

use super::regions::RegionEntry;
use super::{View, ViewContext};
use eframe::egui;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

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
                Column::Majority => s.and_then(|s| s.majority).map(|m| m.index() as f64),
                Column::Fraction => majority_fraction(e),
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

/// The majority class's fraction of the region's determined pixels.
pub fn majority_fraction(entry: &RegionEntry) -> Option<f64> {
    let s = entry.stats.as_ref()?;
    s.majority.map(|m| s.fractions()[m.index()])
}

#[derive(Serialize, Deserialize)]
#[serde(default)]
pub struct RegionTable {
    pub sort: Column,
    pub descending: bool,
}

impl Default for RegionTable {
    fn default() -> Self {
        RegionTable {
            sort: Column::Number,
            descending: false,
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
                            ui.label(s.majority.map_or("—", |m| m.name()));
                            ui.label(
                                majority_fraction(entry)
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
    }
}
