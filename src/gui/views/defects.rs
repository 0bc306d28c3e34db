//! Candidate defects (`maps::find_defects`): ranked list, adjustable threshold, click to zoom.

use polarmap_core::maps::{DefectCluster, DefectSearch};
use eframe::egui;

pub struct Defects {
    pub search: DefectSearch,
    /// Search with the lattice period (scan pixels per unit cell) when known.
    pub use_period: bool,
    pub period: [usize; 2],
    pub found: Vec<DefectCluster>,
    /// The settings `found` was computed with (None: not computed for this class map).
    pub computed: Option<(DefectSearch, bool, [usize; 2])>,
}

impl Default for Defects {
    fn default() -> Self {
        Defects {
            search: DefectSearch::default(),
            use_period: false,
            period: [8, 8],
            found: Vec::new(),
            computed: None,
        }
    }
}

impl Defects {
    /// The settings to search with.
    pub fn effective_search(&self) -> DefectSearch {
        DefectSearch {
            lattice_period: self.use_period.then_some(self.period),
            ..self.search
        }
    }

    pub fn is_stale(&self) -> bool {
        self.computed != Some((self.search, self.use_period, self.period))
    }

    pub fn mark_computed(&mut self, found: Vec<DefectCluster>) {
        self.found = found;
        self.computed = Some((self.search, self.use_period, self.period));
    }

    /// Returns the index of a clicked candidate.
    pub fn ui(&mut self, ui: &mut egui::Ui, has_map: bool) -> Option<usize> {
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
        if !has_map {
            ui.label("Candidate defects need a class map.");
            return None;
        }
        if self.found.is_empty() {
            ui.label("No candidate defects at this threshold.");
            return None;
        }
        let mut clicked = None;
        egui::ScrollArea::vertical()
            .id_salt("defect list")
            .max_height(180.0)
            .show(ui, |ui| {
                for (i, d) in self.found.iter().enumerate() {
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
                        clicked = Some(i);
                    }
                }
            });
        clicked
    }
}
