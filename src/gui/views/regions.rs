//! Regions drawn on the views (rectangles, lassos, polygons): each with its majority class,
//! class histogram, mean CoM and mean confidence, as `maps::ClassMap::stats` computes them.

use super::{View, ViewContext};
use crate::gui::request::Request;
use eframe::egui::{self, Color32};
use polarmap_core::classes::Class;
use polarmap_core::maps::{Region, RegionStats};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize)]
pub struct RegionEntry {
    pub id: u64,
    pub region: Region,
    /// None until the statistics job answers (or while there is no class map).
    pub stats: Option<RegionStats>,
    pub mean_com: Option<[f64; 2]>,
}

impl RegionEntry {
    pub fn name(&self) -> String {
        format!("Region {}", self.id)
    }

    /// The one-line summary shown in the list (tests read it back).
    pub fn summary(&self) -> String {
        match &self.stats {
            Some(s) => match s.majority {
                Some(m) => format!(
                    "{}: majority {m}, {} px ({:.0} %)",
                    self.name(),
                    s.pixels,
                    100.0 * s.fractions()[m.index()]
                ),
                None => format!("{}: empty", self.name()),
            },
            None => format!("{}: no class map", self.name()),
        }
    }
}

#[derive(Default)]
pub struct Regions {
    pub entries: Vec<RegionEntry>,
    next_id: u64,
}

impl Regions {
    pub fn add(&mut self, region: Region) -> u64 {
        self.next_id += 1;
        self.entries.push(RegionEntry {
            id: self.next_id,
            region,
            stats: None,
            mean_com: None,
        });
        self.next_id
    }

    pub fn get_mut(&mut self, id: u64) -> Option<&mut RegionEntry> {
        self.entries.iter_mut().find(|e| e.id == id)
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn remove(&mut self, id: u64) {
        self.entries.retain(|e| e.id != id);
    }
}

/// The list of regions (the regions themselves are app state: `state::AppState::regions`).
#[derive(Default, Serialize, Deserialize)]
pub struct RegionsPanel {}

impl View for RegionsPanel {
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ViewContext<'_>) {
        if ctx.regions.is_empty() {
            ui.label("Draw a rectangle, lasso or polygon on any view (tools above the views).");
            return;
        }
        let mut action = None;
        let mut zoom_to = None;
        for entry in ctx.regions {
            ui.horizontal(|ui| {
                ui.label(entry.summary());
                if ui
                    .small_button("zoom")
                    .on_hover_text("zoom the views to this region")
                    .clicked()
                {
                    zoom_to = Some(&entry.region);
                }
                if ui
                    .small_button("remove")
                    .on_hover_text(format!("remove {}", entry.name()))
                    .clicked()
                {
                    action = Some(Request::RemoveRegion(entry.id));
                }
            });
            if let Some(s) = &entry.stats {
                histogram(ui, s);
                let mut line = String::new();
                if let Some([x, y]) = entry.mean_com {
                    line += &format!("mean CoM ({x:+.3}, {y:+.3}) px");
                }
                if let Some(c) = s.mean_confidence {
                    line += &format!("  mean confidence {c:.2}");
                }
                if !line.is_empty() {
                    ui.label(line);
                }
            }
            ui.add_space(4.0);
        }
        if ui.button("Remove all regions").clicked() {
            action = Some(Request::ClearRegions);
        }
        ctx.requests.extend(action);
        if let Some(region) = zoom_to {
            let px = region.pixels(ctx.linked.dims);
            if !px.is_empty() {
                let n = px.len() as f64;
                let (sr, sc) = px
                    .iter()
                    .fold((0.0, 0.0), |(a, b), &(r, c)| (a + r as f64, b + c as f64));
                ctx.linked.zoom_to(sr / n, sc / n, 2.0);
            }
        }
    }
}

/// Per-class bars in the class colours.
fn histogram(ui: &mut egui::Ui, stats: &RegionStats) {
    let height = 28.0;
    let width = ui.available_width().min(260.0);
    let (rect, response) =
        ui.allocate_exact_size(egui::vec2(width, height + 12.0), egui::Sense::hover());
    let painter = ui.painter();
    let fractions = stats.fractions();
    let bar_w = width / Class::COUNT as f32;
    for (i, class) in Class::ALL.into_iter().enumerate() {
        let h = fractions[i] as f32 * height;
        let x0 = rect.left() + i as f32 * bar_w;
        let bar = egui::Rect::from_min_max(
            egui::pos2(x0 + 1.0, rect.top() + height - h),
            egui::pos2(x0 + bar_w - 1.0, rect.top() + height),
        );
        painter.rect_filled(
            bar,
            0.0,
            super::colour32(polarmap_core::colour::class_colour(class)),
        );
        painter.text(
            egui::pos2(x0 + bar_w / 2.0, rect.top() + height + 1.0),
            egui::Align2::CENTER_TOP,
            class.name(),
            egui::FontId::proportional(9.0),
            Color32::GRAY,
        );
    }
    let counts = stats
        .counts
        .iter()
        .zip(Class::ALL)
        .filter(|(n, _)| **n > 0)
        .map(|(n, c)| format!("{c} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    response.on_hover_text(counts);
}
