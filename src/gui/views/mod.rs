//! The panels of the main window, one file each. Every view is a [`View`]: it owns its toggles
//! (kept between runs through serde; what it caches is `#[serde(skip)]`) and draws from one
//! [`ViewContext`], asking for work through `ctx.requests`. `image_view` holds what the three
//! linked views share (zoom, pan, selection, region tools).

pub mod axes;
pub mod class_view;
pub mod com_view;
pub mod defects;
pub mod domains;
pub mod image_view;
pub mod inspector;
pub mod log;
pub mod model_panel;
pub mod region_table;
pub mod regions;
pub mod virtual_image;

use crate::gui::data::Dataset;
use crate::gui::request::Request;
use crate::gui::state::{AppState, LogEntry};
use crate::gui::tasks::{RunningJob, Tasks};
use eframe::egui::{self, Color32, ColorImage, TextureHandle, TextureOptions};
use image_view::{Linked, Mapping, Tool, ViewTransform};
use polarmap_core::domains::{wall_colour, Domains};
use polarmap_core::maps::DefectCluster;
use regions::RegionEntry;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

/// A panel of the window.
pub trait View {
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ViewContext<'_>);
}

/// What every view may read and change this frame, and where it leaves its requests.
pub struct ViewContext<'a> {
    /// The dataset on screen.
    pub data: Option<&'a Dataset>,
    /// The scan being opened, if any.
    pub opening: Option<&'a Path>,
    /// Zoom, pan, selected and hovered pixel, drawing tool: shared by the image views.
    pub linked: &'a mut Linked,
    pub regions: &'a [RegionEntry],
    pub defects: &'a [DefectCluster],
    /// The inference job, while one runs.
    pub inference: Option<&'a RunningJob>,
    /// The model adapted to the labelled regions, and whether an adaptation runs.
    pub adapted: Option<&'a regions::AdaptedModel>,
    pub adapting: bool,
    /// Whether the pattern pass (virtual images, CoM) runs.
    pub analysing: bool,
    /// Whether the custom virtual detector's pass runs.
    pub computing_detector: bool,
    /// Errors, warnings and notices, oldest first.
    pub log: &'a [LogEntry],
    /// The walls to draw over every scan view (None: the overlay is off or there are none).
    pub walls: Option<&'a Domains>,
    /// What the views ask the app to do (carried out after the frame is drawn).
    pub requests: Vec<Request>,
}

impl<'a> ViewContext<'a> {
    pub fn new(state: &'a mut AppState, tasks: &'a Tasks) -> ViewContext<'a> {
        ViewContext {
            data: state.data.as_ref(),
            opening: state.opening.as_ref().map(|o| o.path.as_path()),
            linked: &mut state.linked,
            regions: &state.regions.entries,
            defects: &state.defects.found,
            inference: tasks.predict.running().first(),
            adapted: state.regions.adapted.as_ref(),
            adapting: tasks.adapt.is_running(),
            analysing: tasks.analyse.is_running(),
            computing_detector: tasks.detector.is_running(),
            log: &state.log,
            walls: None,
            requests: Vec::new(),
        }
    }
}

/// Every view of the window; what they keep between runs is serialised as one value.
#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Views {
    pub virtual_image: virtual_image::VirtualView,
    pub com: com_view::ComView,
    pub classes: class_view::ClassView,
    pub inspector: inspector::Inspector,
    pub model: model_panel::ModelPanel,
    pub regions: regions::RegionsPanel,
    pub defects: defects::DefectsPanel,
    pub domains: domains::DomainsPanel,
    pub region_table: region_table::RegionTable,
    pub log: log::LogView,
    /// The scan views' axes (Å, nm or none).
    pub scan_axes: axes::Units,
}

/// The drawing tools over the panes, with how the chosen one is used, and the scan views'
/// axes; sets `linked.axis` for this frame from `units` and the scan's calibration.
pub fn tool_bar(
    ui: &mut egui::Ui,
    linked: &mut Linked,
    units: &mut axes::Units,
    calibration: &polarmap_core::Calibration,
) {
    ui.horizontal_wrapped(|ui| {
        ui.label("Tool:");
        for t in Tool::ALL {
            if ui.selectable_label(linked.tool == t, t.name()).clicked() {
                linked.tool = t;
                linked.drawing.clear();
            }
        }
        ui.separator();
        if ui
            .button("Fit")
            .on_hover_text("show the whole scan")
            .clicked()
        {
            let (r, c) = linked.dims;
            linked.transform = ViewTransform::fit(r, c);
        }
        axes::Units::choose(ui, "scan axes", units, &axes::Units::SCAN);
        units.warn_missing(ui, calibration);
        ui.label(linked.tool.hint());
    });
    linked.axis = units.scan_axis(calibration);
}

/// Draws the domain walls (when given) and the regions' outlines on an image view, each region
/// with its number at its centroid (the number of the region list and table).
pub fn draw_overlays<'a>(
    regions: &'a [RegionEntry],
    walls: Option<&'a Domains>,
) -> impl Fn(&egui::Painter, &Mapping) + 'a {
    move |painter: &egui::Painter, mapping: &Mapping| {
        if let Some(domains) = walls {
            draw_walls(painter, mapping, domains);
        }
        for e in regions {
            image_view::draw_region(painter, mapping, &e.region, Color32::WHITE);
            if let Some([row, col]) = e.centroid {
                let at = mapping.pixel_center(row, col);
                let font = egui::FontId::proportional(14.0);
                let centre = egui::Align2::CENTER_CENTER;
                halo_text(painter, at, centre, &e.id.to_string(), font);
            }
        }
    }
}

/// White text with a dark halo, so that it reads on any image (region numbers, axis labels).
pub fn halo_text(
    painter: &egui::Painter,
    at: egui::Pos2,
    anchor: egui::Align2,
    text: &str,
    font: egui::FontId,
) {
    for d in [[-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]] {
        let halo = at + egui::vec2(d[0], d[1]);
        painter.text(halo, anchor, text, font.clone(), Color32::BLACK);
    }
    painter.text(at, anchor, text, font, Color32::WHITE);
}

/// A result computed under settings that have changed since: says so in the warning colour,
/// with a spinner while it is being redone, else a "Re-run" button that asks for `rerun`.
pub fn stale_notice(
    ui: &mut egui::Ui,
    text: &str,
    running: bool,
    rerun: Request,
) -> Option<Request> {
    let mut request = None;
    ui.horizontal_wrapped(|ui| {
        ui.colored_label(ui.visuals().warn_fg_color, text);
        if running {
            ui.spinner();
        } else if ui.button("Re-run").clicked() {
            request = Some(rerun);
        }
    });
    request
}

/// The walls' pixel edges as lines in [`wall_colour`] (the library's overlay colours): a point
/// between two columns is a vertical edge, between two rows a horizontal one, and a point on a
/// pixel centre (a wall bridged across a one-pixel gap) a cross, as `Domains::overlay` draws.
fn draw_walls(painter: &egui::Painter, mapping: &Mapping, domains: &Domains) {
    for wall in &domains.walls {
        let stroke = egui::Stroke::new(2.0, colour32(wall_colour(wall.kind)));
        for &[row, col] in &wall.points {
            let (row_half, col_half) = (row.fract() != 0.0, col.fract() != 0.0);
            if col_half || !row_half {
                let (a, b) = (
                    mapping.pixel_center(row - 0.5, col),
                    mapping.pixel_center(row + 0.5, col),
                );
                painter.line_segment([a, b], stroke);
            }
            if row_half || !col_half {
                let (a, b) = (
                    mapping.pixel_center(row, col - 0.5),
                    mapping.pixel_center(row, col + 0.5),
                );
                painter.line_segment([a, b], stroke);
            }
        }
    }
}

/// A texture of an image rendered off the UI thread: uploaded when the image changes, never
/// computed here.
#[derive(Default)]
pub struct Texture {
    image: Option<Arc<ColorImage>>,
    handle: Option<TextureHandle>,
}

impl Texture {
    /// The texture of `image` (uploaded if it is not the one uploaded last); None forgets it.
    pub fn of(
        &mut self,
        ctx: &egui::Context,
        name: &str,
        image: Option<&Arc<ColorImage>>,
    ) -> Option<&TextureHandle> {
        match image {
            Some(image) => {
                if !self.image.as_ref().is_some_and(|i| Arc::ptr_eq(i, image)) {
                    self.handle =
                        Some(ctx.load_texture(name, image.clone(), TextureOptions::NEAREST));
                    self.image = Some(image.clone());
                }
            }
            None => {
                self.image = None;
                self.handle = None;
            }
        }
        self.handle.as_ref()
    }
}

/// `[r, g, b]` as an egui colour.
pub fn colour32([r, g, b]: [u8; 3]) -> Color32 {
    Color32::from_rgb(r, g, b)
}

/// A small filled square in a colour, for legends.
pub fn swatch(ui: &mut egui::Ui, colour: Color32) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
    ui.painter().rect_filled(rect, 2.0, colour);
}

/// A running job's progress bar with a Cancel button; true when Cancel was clicked.
pub fn job_progress(ui: &mut egui::Ui, job: &RunningJob) -> bool {
    let p = &job.progress;
    let text = match p.total() {
        0 => job.label.clone(),
        _ => format!("{}: {}", job.label, p.stage()),
    };
    ui.horizontal(|ui| {
        ui.add(
            egui::ProgressBar::new(p.fraction() as f32)
                .desired_width(160.0)
                .text(text),
        );
        ui.small_button("Cancel")
            .on_hover_text(format!("cancel {}", job.label))
            .clicked()
    })
    .inner
}

#[cfg(test)]
mod tests {
    use super::*;
    use eframe::Storage;
    use polarmap_core::maps::DefectSearch;
    use polarmap_core::models::DeviceChoice;
    use std::collections::HashMap;

    /// eframe's storage, in memory.
    #[derive(Default)]
    struct Memory(HashMap<String, String>);

    impl eframe::Storage for Memory {
        fn get_string(&self, key: &str) -> Option<String> {
            self.0.get(key).cloned()
        }
        fn set_string(&mut self, key: &str, value: String) {
            self.0.insert(key.to_string(), value);
        }
        fn remove_string(&mut self, key: &str) {
            self.0.remove(key);
        }
        fn flush(&mut self) {}
    }

    /// The views' toggles survive a save and a restart (through eframe's storage, as RON);
    /// what they cache does not travel.
    #[test]
    fn view_toggles_persist_and_caches_do_not() {
        let mut views = Views::default();
        views.virtual_image.kind = virtual_image::VirtualKind::Bf;
        views.com.descan_removed = false;
        views.com.arrows = false;
        views.classes.show_confidence = true;
        views.classes.show_defects = false;
        views.classes.preferred = crate::gui::data::SourceKind::Truth;
        views.inspector.log_scale = false;
        views.inspector.follow_hover = false;
        views.model.device = DeviceChoice::Cpu;
        views.model.selected = Some("transient.pmm".into());
        views.defects.search = DefectSearch {
            threshold: 0.35,
            ..DefectSearch::default()
        };
        views.defects.use_period = true;
        views.defects.period = [4, 6];

        let mut storage = Memory::default();
        eframe::set_value(&mut storage, "views", &views);
        let back: Views = eframe::get_value(&storage, "views").unwrap();
        assert_eq!(back.virtual_image.kind, virtual_image::VirtualKind::Bf);
        assert!(!back.com.descan_removed && !back.com.arrows);
        assert!(back.classes.show_confidence && !back.classes.show_defects);
        assert_eq!(back.classes.preferred, crate::gui::data::SourceKind::Truth);
        assert!(!back.inspector.log_scale && !back.inspector.follow_hover);
        assert_eq!(back.model.device, DeviceChoice::Cpu);
        assert_eq!(back.model.selected, None, "the selection is not a toggle");
        assert_eq!(back.defects.search.threshold, 0.35);
        assert_eq!(
            (back.defects.use_period, back.defects.period),
            (true, [4, 6])
        );

        // Settings written by an older version (fields missing) fall back to the defaults.
        storage.set_string("views", "(com: (arrows: false))".into());
        let old: Views = eframe::get_value(&storage, "views").unwrap();
        assert!(!old.com.arrows && old.com.descan_removed);
        assert_eq!(old.virtual_image.kind, virtual_image::VirtualKind::Adf);
    }
}
