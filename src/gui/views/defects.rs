//! Candidate defects (`maps::find_defects`): ranked list, adjustable search, click to zoom. The
//! panel keeps the search settings; the search runs as a task whenever they or the class map
//! change, and its results are app state (`state::DefectResults`).

use super::{View, ViewContext};
use eframe::egui;
use polarmap_core::maps::DefectSearch;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DefectsPanel {
    pub search: DefectSearch,
    /// Search with the lattice period (scan pixels per unit cell) when known.
    pub use_period: bool,
    pub period: [usize; 2],
}

impl Default for DefectsPanel {
    fn default() -> Self {
        DefectsPanel {
            search: DefectSearch::default(),
            use_period: false,
            period: [8, 8],
        }
    }
}

impl DefectsPanel {
    /// The settings to search with.
    pub fn effective_search(&self) -> DefectSearch {
        DefectSearch {
            lattice_period: self.use_period.then_some(self.period),
            ..self.search
        }
    }
}

impl View for DefectsPanel {
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ViewContext<'_>) {
        ui.add(
            egui::Slider::new(&mut self.search.threshold, 0.05..=1.0)
                .text("threshold")
                .step_by(0.05),
        );
        ui.horizontal(|ui| {
            ui.add(egui::DragValue::new(&mut self.search.neighbourhood).range(1..=10))
                .on_hover_text("neighbourhood half-width, scan pixels");
            ui.label("window");
            ui.add(egui::DragValue::new(&mut self.search.min_pixels).range(1..=1000))
                .on_hover_text("smallest cluster, pixels");
            ui.label("min px");
        });
        ui.horizontal(|ui| {
            ui.checkbox(&mut self.use_period, "lattice period");
            ui.add_enabled(
                self.use_period,
                egui::DragValue::new(&mut self.period[0]).range(1..=512),
            )
            .on_hover_text("unit cell, scan rows");
            ui.add_enabled(
                self.use_period,
                egui::DragValue::new(&mut self.period[1]).range(1..=512),
            )
            .on_hover_text("unit cell, scan columns");
        });
        if ctx.data.is_none_or(|d| d.classes().is_none()) {
            ui.label("Candidate defects need a class map.");
            return;
        }
        let defects = ctx.defects;
        if defects.is_empty() {
            ui.label("No candidate defects at this threshold.");
            return;
        }
        let mut clicked = None;
        egui::ScrollArea::vertical()
            .id_salt("defect list")
            .max_height(180.0)
            .show(ui, |ui| {
                for (i, d) in defects.iter().enumerate() {
                    let text = format!(
                        "#{} at ({:.1}, {:.1}): {} px, {}, score {:.2}",
                        i + 1,
                        d.center_row,
                        d.center_col,
                        d.pixels,
                        d.class,
                        d.score
                    );
                    if ui.selectable_label(false, text).clicked() {
                        clicked = Some(d);
                    }
                }
            });
        if let Some(d) = clicked {
            let (r, c) = (d.center_row, d.center_col);
            ctx.linked.zoom_to(r, c, 4.0);
            ctx.linked.selected = Some([r.round() as usize, c.round() as usize]);
        }
    }
}
