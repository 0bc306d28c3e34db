//! The class map in the colours of DESIGN.md, with a legend of per-class counts and percentages,
//! confidence as transparency (optional) and candidate defects outlined. The map's images come
//! rendered from the task that made the map.

use super::{image_view, Texture, View, ViewContext};
use crate::gui::data::{ClassSource, SourceKind};
use crate::gui::request::Request;
use eframe::egui::{self, Color32, Stroke};
use polarmap_core::classes::Class;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
#[serde(default)]
pub struct ClassView {
    /// The model's score of its class as opacity.
    pub show_confidence: bool,
    /// Outline the candidate defects.
    pub show_defects: bool,
    /// The map shown first on every scan opened (the model's, or the ground truth).
    pub preferred: SourceKind,
    #[serde(skip)]
    texture: Texture,
}

impl Default for ClassView {
    fn default() -> Self {
        ClassView {
            show_confidence: false,
            show_defects: true,
            preferred: SourceKind::Model,
            texture: Texture::default(),
        }
    }
}

impl View for ClassView {
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ViewContext<'_>) {
        let data = ctx.data;
        let classes = data.and_then(|d| d.classes()).map(|c| &**c);
        let available = data.map_or([false; 2], |d| [d.prediction.is_some(), d.truth.is_some()]);
        let has_confidence = classes.is_some_and(|c| c.map.confidence.is_some());
        ui.horizontal_wrapped(|ui| {
            for (kind, has) in [SourceKind::Model, SourceKind::Truth]
                .into_iter()
                .zip(available)
            {
                let on = classes.is_some_and(|c| c.kind == kind);
                if ui
                    .add_enabled(has, egui::Button::selectable(on, kind.name()))
                    .on_hover_text(format!("show the {} class map", kind.name()))
                    .on_disabled_hover_text(match kind {
                        SourceKind::Model => "no model has run on this scan",
                        SourceKind::Truth => "this scan has no labels",
                    })
                    .clicked()
                {
                    self.preferred = kind;
                    ctx.requests.push(Request::ShowSource(kind));
                }
            }
            ui.add_enabled(
                has_confidence,
                egui::Checkbox::new(&mut self.show_confidence, "confidence"),
            )
            .on_disabled_hover_text("this class map has no confidence (ground truth)")
            .on_hover_text("transparency = the model's score of its class");
            ui.checkbox(&mut self.show_defects, "defects");
        });
        // The numbers first, so that a short pane never hides them under the image.
        if let Some(source) = classes {
            let running = ctx.inference.is_some() || ctx.adapting;
            let partial = data.and_then(|d| d.partial_note(running));
            summary(ui, source, partial.as_deref());
        }
        if let Some(what) = data.and_then(|d| d.classes_stale_because()) {
            let text = format!("stale — {what} changed since this map was made");
            let running = ctx.inference.is_some();
            ctx.requests
                .extend(super::stale_notice(ui, &text, running, Request::RerunModel));
        }
        let image = classes.map(|c| match (&c.images.confidence, self.show_confidence) {
            (Some(confidence), true) => confidence,
            _ => &c.images.plain,
        });
        let texture = self.texture.of(ui.ctx(), "class map", image);
        let outline = self.show_defects;
        let (defects, regions) = (ctx.defects, super::draw_overlays(ctx.regions, ctx.walls));
        let out = image_view::show(
            ui,
            "class map",
            texture,
            ctx.linked,
            crate::gui::layout::image_height(ui, 90.0),
            |painter, mapping| {
                if outline {
                    for (i, d) in defects.iter().enumerate() {
                        let at = mapping.pixel_center(d.center_row, d.center_col);
                        let radius = ((d.pixels as f32).sqrt() * 0.6 + 1.0) * mapping.scale;
                        painter.circle_stroke(at, radius, Stroke::new(2.0, Color32::BLACK));
                        painter.circle_stroke(at, radius + 1.5, Stroke::new(1.5, Color32::WHITE));
                        painter.text(
                            at + egui::vec2(radius, -radius),
                            egui::Align2::LEFT_BOTTOM,
                            format!("{}", i + 1),
                            egui::FontId::proportional(11.0),
                            Color32::WHITE,
                        );
                    }
                }
                regions(painter, mapping);
            },
        );
        if let Some(region) = out.region {
            ctx.requests.push(Request::AddRegion(region));
        }
        match classes {
            Some(source) => {
                egui::ScrollArea::vertical()
                    .id_salt("class legend")
                    .auto_shrink(false)
                    .show(ui, |ui| legend(ui, source));
            }
            None => {
                ui.add(egui::Label::new("No class map yet: run a model (Models menu), or open a scan whose sidecar has labels.").wrap());
            }
        }
    }
}

/// Where the map came from, how much of it there is, its agreement with the ground truth, its
/// majority and where the model's crop was moved to: the lines above the image.
fn summary(ui: &mut egui::Ui, source: &ClassSource, partial: Option<&str>) {
    let totals = &source.totals;
    wrapped(ui, format!("source: {}", source.source));
    if let Some(note) = partial {
        ui.add(
            egui::Label::new(egui::RichText::new(note).color(ui.visuals().warn_fg_color)).wrap(),
        );
    }
    // The majority of a partial map is of its pixels filled in, and says so.
    let of = match partial {
        Some(note) => format!("majority of the {note} map"),
        None => "majority of the scan".into(),
    };
    if let Some(a) = source.accuracy {
        wrapped(
            ui,
            format!(
                "agrees with the ground truth on {:.1} % of pixels",
                100.0 * a
            ),
        );
    }
    match totals.direction() {
        None if totals.majority.is_some() => wrapped(
            ui,
            format!("{of}: undetermined (the determined pixels do not agree on a direction)"),
        ),
        Some(m) if totals.undetermined > 0 => wrapped(
            ui,
            format!(
                "{of}: {m} (among {} determined pixels)",
                totals.pixels - totals.undetermined
            ),
        ),
        Some(m) => wrapped(ui, format!("{of}: {m}")),
        None if totals.pixels > 0 && totals.undetermined == totals.pixels => {
            wrapped(ui, format!("{of}: undetermined"))
        }
        None => wrapped(ui, ""),
    };
    let moved = match (source.tilt_mrad, source.tilt_search) {
        (Some([x, y]), _) => Some(format!("crop moved by the stated tilt {x}, {y} mrad")),
        (None, Some(found)) if found.searched && found.tilt_mrad != [0.0, 0.0] => {
            let [x, y] = found.tilt_mrad;
            Some(format!(
                "crop moved by the tilt found: {x}, {y} mrad (x right, y up)"
            ))
        }
        _ => None,
    };
    if let Some(text) = moved.filter(|_| source.kind == crate::gui::data::SourceKind::Model) {
        wrapped(ui, text);
    }
}

fn wrapped(ui: &mut egui::Ui, text: impl Into<egui::WidgetText>) -> egui::Response {
    ui.add(egui::Label::new(text).wrap())
}

/// One row per class present (swatch, name, count, percent), the others named on one line;
/// then notes on the percentages.
fn legend(ui: &mut egui::Ui, source: &ClassSource) {
    let totals = &source.totals;
    let fractions = totals.fractions();
    egui::Grid::new("class legend")
        .num_columns(4)
        .spacing([8.0, 2.0])
        .show(ui, |ui| {
            for (i, class) in Class::ALL.into_iter().enumerate() {
                if totals.counts[i] == 0 {
                    continue;
                }
                super::swatch(
                    ui,
                    super::colour32(polarmap_core::colour::class_colour(class)),
                );
                ui.label(class.name());
                ui.label(format!("{}", totals.counts[i]));
                ui.label(format!("{:.1} %", 100.0 * fractions[i]));
                ui.end_row();
            }
            if totals.undetermined > 0 || source.map.determined.is_some() {
                super::swatch(ui, super::colour32(polarmap_core::colour::UNDETERMINED));
                ui.label("undetermined");
                ui.label(format!("{}", totals.undetermined));
                ui.label("left out");
                ui.end_row();
            }
        });
    let absent: Vec<&str> = Class::ALL
        .into_iter()
        .zip(totals.counts)
        .filter(|&(_, n)| n == 0)
        .map(|(class, _)| class.name())
        .collect();
    if !absent.is_empty() {
        wrapped(ui, format!("absent: {}", absent.join(", ")));
    }
    if source.signal.is_some_and(|s| !s.polarised()) {
        wrapped(
            ui,
            "no polarization signal: the mean pattern is centrosymmetric within noise",
        );
    }
    if source.is_complete() && source.kind == crate::gui::data::SourceKind::Model {
        wrapped(
            ui,
            if source.calibrated {
                "percentages: determined pixels; confidence calibrated"
            } else {
                "percentages: determined pixels; confidence not calibrated"
            },
        );
    }
}
