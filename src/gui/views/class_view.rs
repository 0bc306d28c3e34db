//! The class map in the colours of DESIGN.md, with a legend of per-class counts and percentages,
//! confidence as transparency (optional) and candidate defects outlined.

use super::image_view::{self, Linked, Mapping, ViewResponse};
use polarmap_core::classes::Class;
use crate::gui::data::{ClassSource, SourceKind};
use polarmap_core::maps::DefectCluster;
use eframe::egui::{self, Color32, ColorImage, Stroke, TextureHandle, TextureOptions};

#[derive(Default)]
pub struct ClassView {
    texture: Option<(bool, TextureHandle)>,
}

impl ClassView {
    pub fn invalidate(&mut self) {
        self.texture = None;
    }

    #[allow(clippy::too_many_arguments)]
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        show_confidence: &mut bool,
        show_defects: &mut bool,
        (shown, available): (&mut SourceKind, [bool; 2]),
        classes: Option<&ClassSource>,
        defects: &[DefectCluster],
        linked: &mut Linked,
        height: f32,
        overlay: impl FnOnce(&egui::Painter, &Mapping),
    ) -> ViewResponse {
        let has_confidence = classes.is_some_and(|c| c.map.confidence.is_some());
        ui.horizontal_wrapped(|ui| {
            ui.strong("Class map");
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
                    *shown = kind;
                }
            }
            ui.add_enabled(
                has_confidence,
                egui::Checkbox::new(show_confidence, "confidence"),
            )
            .on_disabled_hover_text("this class map has no confidence (ground truth)")
            .on_hover_text("transparency = the model's score of its class");
            ui.checkbox(show_defects, "defects");
        });
        let use_confidence = *show_confidence && has_confidence;
        if let Some(source) = classes {
            if self
                .texture
                .as_ref()
                .is_none_or(|(c, _)| *c != use_confidence)
            {
                self.texture = Some((use_confidence, texture(ui.ctx(), source, use_confidence)));
            }
        }
        let tex = self.texture.as_ref().map(|(_, t)| t);
        let outline = *show_defects;
        let out = image_view::show(ui, "class map", tex, linked, height, |painter, mapping| {
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
            overlay(painter, mapping);
        });
        match classes {
            Some(source) => legend(ui, source),
            None => {
                ui.label("No class map yet: run a model (Models menu), or open a scan whose sidecar has labels.");
            }
        }
        out
    }
}

fn texture(ctx: &egui::Context, source: &ClassSource, confidence: bool) -> TextureHandle {
    let (rows, cols) = source.map.dim();
    let colours = polarmap_core::export::class_pixels(&source.map.classes);
    let mut alpha: Vec<u8> = match (&source.map.confidence, confidence) {
        (Some(conf), true) => conf
            .iter()
            .map(|&c| (c.clamp(0.0, 1.0) * 255.0).round() as u8)
            .collect(),
        _ => vec![255; rows * cols],
    };
    // Pixels a running model has not reached yet stay empty.
    for a in alpha.iter_mut().skip(source.done) {
        *a = 0;
    }
    let pixels = colours
        .iter()
        .zip(alpha)
        .map(|(&[r, g, b], a)| Color32::from_rgba_unmultiplied(r, g, b, a))
        .collect();
    ctx.load_texture(
        "class map",
        ColorImage::new([cols, rows], pixels),
        TextureOptions::NEAREST,
    )
}

/// One row per class: swatch, name, count, percent.
fn legend(ui: &mut egui::Ui, source: &ClassSource) {
    let totals = &source.totals;
    let fractions = totals.fractions();
    ui.label(format!("source: {}", source.source));
    if !source.is_complete() {
        ui.label(format!(
            "predicted {} of {} pixels so far",
            source.done,
            source.map.classes.len()
        ));
    }
    if let Some(a) = source.accuracy {
        ui.label(format!(
            "agrees with the ground truth on {:.1} % of pixels",
            100.0 * a
        ));
    }
    egui::Grid::new("class legend")
        .num_columns(4)
        .spacing([8.0, 2.0])
        .show(ui, |ui| {
            for (i, class) in Class::ALL.into_iter().enumerate() {
                super::swatch(ui, super::colour32(polarmap_core::colour::class_colour(class)));
                ui.label(class.name());
                ui.label(format!("{}", totals.counts[i]));
                ui.label(format!("{:.1} %", 100.0 * fractions[i]));
                ui.end_row();
            }
        });
    if let Some(m) = totals.majority {
        ui.label(format!("majority of the scan: {m}"));
    }
}
