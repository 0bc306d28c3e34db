//! Regions drawn on the views (rectangles, lassos, polygons): each with its majority class,
//! class histogram, mean CoM and mean confidence, as `maps::ClassMap::stats` computes them.
//! The user may say what class a region is ("this is RD"); the selected model is then adapted to
//! the labelled regions (`models::adapt`, the adaptation task) and the adapted model saved.

use super::{View, ViewContext};
use crate::gui::request::Request;
use eframe::egui::{self, Color32};
use polarmap_core::classes::Class;
use polarmap_core::maps::{Region, RegionStats};
use polarmap_core::models::adapt::{LabelledRegion, RegionLabels};
use polarmap_core::models::Classifier;
use polarmap_core::region_table::RegionRow;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone, Serialize)]
pub struct RegionEntry {
    pub id: u64,
    pub region: Region,
    /// None until the statistics job answers (or while there is no class map).
    pub stats: Option<RegionStats>,
    pub mean_com: Option<[f64; 2]>,
    /// The class the user says the region is.
    pub label: Option<Class>,
    /// The mean (row, col) of its pixels, where its number is drawn (None: no pixel).
    pub centroid: Option<[f64; 2]>,
    /// The statistics are of a partial class map: its pixels filled in, and in all.
    pub partial: Option<(usize, usize)>,
}

impl RegionEntry {
    pub fn name(&self) -> String {
        format!("Region {}", self.id)
    }

    /// The one-line summary shown in the list (tests read it back).
    pub fn summary(&self) -> String {
        let summary = self.stats_summary();
        match self.partial {
            Some((done, total)) if self.stats.is_some() => {
                format!("{summary} — of a partial map ({done} of {total} pixels)")
            }
            _ => summary,
        }
    }

    fn stats_summary(&self) -> String {
        match &self.stats {
            Some(s) => match (s.direction(), s.majority) {
                (Some(m), _) => format!(
                    "{}: majority {m}, {} px ({:.0} %)",
                    self.name(),
                    s.pixels,
                    100.0 * s.fractions()[m.index()]
                ),
                (None, Some(_)) => format!(
                    "{}: undetermined, {} px (the pixels do not agree on a direction)",
                    self.name(),
                    s.pixels
                ),
                (None, None) => format!("{}: empty", self.name()),
            },
            None => format!("{}: no class map", self.name()),
        }
    }
}

#[derive(Default)]
pub struct Regions {
    pub entries: Vec<RegionEntry>,
    next_id: u64,
    /// The model last adapted to the labelled regions.
    pub adapted: Option<AdaptedModel>,
}

/// A model adapted to the labelled regions of the scan on screen.
#[derive(Clone)]
pub struct AdaptedModel {
    pub model: Arc<dyn Classifier>,
    /// The model file it was adapted from.
    pub base: PathBuf,
}

impl AdaptedModel {
    /// Where "Save adapted model" writes by default: the user's models folder, named after the
    /// base model.
    pub fn default_path(&self) -> PathBuf {
        let stem = self.base.file_stem().unwrap_or_default().to_string_lossy();
        crate::assets::user_models_dir().join(format!("{stem}-adapted.pmm"))
    }
}

/// The mean (row, col) of a region's pixels in a scan of `dims` (None: no pixel inside).
pub fn centroid(region: &Region, dims: (usize, usize)) -> Option<[f64; 2]> {
    let px = region.pixels(dims);
    if px.is_empty() {
        return None;
    }
    let n = px.len() as f64;
    let (sr, sc) = px
        .iter()
        .fold((0.0, 0.0), |(a, b), &(r, c)| (a + r as f64, b + c as f64));
    Some([sr / n, sc / n])
}

impl Regions {
    /// Adds a region drawn on a scan of `dims`; returns its number.
    pub fn add(&mut self, region: Region, dims: (usize, usize)) -> u64 {
        self.next_id += 1;
        self.entries.push(RegionEntry {
            id: self.next_id,
            centroid: centroid(&region, dims),
            region,
            stats: None,
            mean_com: None,
            label: None,
            partial: None,
        });
        self.next_id
    }

    /// The rows of the region table, in the order given.
    pub fn rows<'a>(entries: impl IntoIterator<Item = &'a RegionEntry>) -> Vec<RegionRow> {
        entries
            .into_iter()
            .filter_map(|e| {
                Some(RegionRow {
                    number: e.id,
                    stats: e.stats.clone()?,
                    partial: e.partial,
                })
            })
            .collect()
    }

    /// The labelled regions as a region-labels file would hold them.
    pub fn labels(&self) -> RegionLabels {
        RegionLabels {
            scan: None,
            regions: self
                .entries
                .iter()
                .filter_map(|e| {
                    e.label.map(|class| LabelledRegion {
                        class,
                        region: e.region.clone(),
                    })
                })
                .collect(),
        }
    }

    pub fn get_mut(&mut self, id: u64) -> Option<&mut RegionEntry> {
        self.entries.iter_mut().find(|e| e.id == id)
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.adapted = None;
    }

    pub fn remove(&mut self, id: u64) {
        self.entries.retain(|e| e.id != id);
    }
}

/// The list of regions (the regions themselves are app state: `state::AppState::regions`).
#[derive(Default, Serialize, Deserialize)]
pub struct RegionsPanel {
    /// Where the adapted model is saved (the default path until edited).
    #[serde(skip)]
    pub save_path: String,
    /// The path waiting for "Replace" because a file is there.
    #[serde(skip)]
    confirm_overwrite: Option<PathBuf>,
}

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
                    zoom_to = entry.centroid;
                }
                if ui
                    .small_button("remove")
                    .on_hover_text(format!("remove {}", entry.name()))
                    .clicked()
                {
                    action = Some(Request::RemoveRegion(entry.id));
                }
            });
            ui.horizontal(|ui| {
                let shown = entry.label.map_or("—", Class::name);
                egui::ComboBox::new(
                    ("region label", entry.id),
                    format!("class of {}", entry.name()),
                )
                .selected_text(shown)
                .show_ui(ui, |ui| {
                    if ui.selectable_label(entry.label.is_none(), "—").clicked() {
                        action = Some(Request::LabelRegion(entry.id, None));
                    }
                    for class in Class::ALL {
                        let on = entry.label == Some(class);
                        if ui.selectable_label(on, class.name()).clicked() {
                            action = Some(Request::LabelRegion(entry.id, Some(class)));
                        }
                    }
                })
                .response
                .on_hover_text("the class you know this region is (e.g. from HAADF)");
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
        self.adaptation(ui, ctx, &mut action);
        ctx.requests.extend(action);
        if let Some([row, col]) = zoom_to {
            ctx.linked.zoom_to(row, col, 2.0);
        }
    }
}

impl RegionsPanel {
    /// "Adapt model" (once a region is labelled) and "Save adapted model" (once adapted).
    fn adaptation(
        &mut self,
        ui: &mut egui::Ui,
        ctx: &ViewContext<'_>,
        action: &mut Option<Request>,
    ) {
        let labelled = ctx.regions.iter().filter(|e| e.label.is_some()).count();
        if labelled == 0 {
            ui.label("Say what class a region is to adapt the model to this scan.");
            return;
        }
        ui.separator();
        let running = ctx.adapting;
        let adapt = ui
            .add_enabled(!running, egui::Button::new("Adapt model"))
            .on_hover_text(format!(
                "adapt the selected model to the {labelled} labelled region(s) and recompute                  the class map"
            ));
        if adapt.clicked() {
            *action = Some(Request::AdaptModel);
        }
        let Some(adapted) = ctx.adapted else { return };
        ui.label(format!("adapted: {}", adapted.model.display_name()));
        if self.save_path.is_empty() {
            self.save_path = adapted.default_path().display().to_string();
        }
        ui.horizontal(|ui| {
            let label = ui.label("save to");
            ui.add(egui::TextEdit::singleline(&mut self.save_path).desired_width(200.0))
                .labelled_by(label.id);
            if ui.button("Save adapted model…").clicked() {
                let path = PathBuf::from(self.save_path.trim());
                let card = polarmap_core::models::card::ModelCard::path_for(&path);
                if path.exists() || card.exists() {
                    self.confirm_overwrite = Some(path);
                } else {
                    *action = Some(Request::SaveAdapted(path, false));
                }
            }
        });
        if let Some(path) = self.confirm_overwrite.clone() {
            ui.horizontal(|ui| {
                ui.label(format!("{} exists.", crate::gui::file_name(&path)));
                if ui.button("Replace").clicked() {
                    *action = Some(Request::SaveAdapted(path, true));
                    self.confirm_overwrite = None;
                }
                if ui.button("Keep it").clicked() {
                    self.confirm_overwrite = None;
                }
            });
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
