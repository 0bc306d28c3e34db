//! The CoM vector field as a colour-wheel map (hue = direction, brightness = magnitude), with
//! decimated arrows and a colour-wheel legend; the descan can be removed or left in. The maps and
//! the wheel are rendered by the pattern pass's task.

use super::image_view::{self, Mapping};
use super::{Texture, View, ViewContext};
use crate::gui::request::Request;
use eframe::egui::{self, Color32, Pos2, Stroke, TextureHandle, Vec2};
use polarmap_core::analysis::ComField;
use polarmap_core::classes::Class;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
#[serde(default)]
pub struct ComView {
    /// Show the CoM with the descan removed (else as measured from the detector centre).
    pub descan_removed: bool,
    /// Draw decimated arrows over the map.
    pub arrows: bool,
    #[serde(skip)]
    texture: Texture,
    #[serde(skip)]
    wheel: Texture,
}

impl Default for ComView {
    fn default() -> Self {
        ComView {
            descan_removed: true,
            arrows: true,
            texture: Texture::default(),
            wheel: Texture::default(),
        }
    }
}

impl View for ComView {
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ViewContext<'_>) {
        ui.horizontal_wrapped(|ui| {
            ui.checkbox(&mut self.descan_removed, "descan removed");
            ui.checkbox(&mut self.arrows, "arrows");
        });
        let analysis = ctx.data.and_then(|d| d.analysis.as_deref());
        if ctx.data.is_some_and(|d| d.com_is_stale()) {
            // The calibration's rotation changed since this field was computed.
            let text = "stale — re-run: the calibration's rotation changed";
            ctx.requests.extend(super::stale_notice(
                ui,
                text,
                ctx.analysing,
                Request::RerunAnalysis,
            ));
        }
        let (field, image) = match analysis {
            Some(a) if self.descan_removed => (Some(&a.com_descan), Some(&a.images.com_descan)),
            Some(a) => (Some(&a.com_raw), Some(&a.images.com_raw)),
            None => (None, None),
        };
        let texture = self.texture.of(ui.ctx(), "com", image);
        let arrows = self.arrows;
        let regions = super::draw_overlays(ctx.regions, ctx.walls);
        let out = image_view::show(
            ui,
            "CoM field",
            texture,
            ctx.linked,
            crate::gui::layout::image_height(ui, 104.0),
            |painter, mapping| {
                if let (true, Some(field)) = (arrows, field) {
                    draw_arrows(painter, mapping, field);
                }
                regions(painter, mapping);
            },
        );
        if let Some(region) = out.region {
            ctx.requests.push(Request::AddRegion(region));
        }
        let wheel = self
            .wheel
            .of(ui.ctx(), "colour wheel", analysis.map(|a| &a.images.wheel));
        ui.horizontal(|ui| {
            if let Some(wheel) = wheel {
                wheel_legend(ui, wheel);
            }
            if let Some(field) = field {
                let [mx, my] = field.mean();
                let max = field.magnitude().iter().fold(0f32, |a, &b| a.max(b));
                ui.label(format!(
                    "hue: direction (x right, y up)\nbrightness: magnitude\nmean ({mx:+.3}, {my:+.3}) px\nmax {max:.3} px"
                ));
            }
        });
    }
}

/// One arrow per block of pixels, so that arrows are at least ~18 screen points apart; length
/// proportional to the block's mean vector, the largest as long as the spacing.
fn draw_arrows(painter: &egui::Painter, mapping: &Mapping, field: &ComField) {
    let (rows, cols) = field.dim();
    let step = ((18.0 / mapping.scale).ceil() as usize).max(1);
    let mut vectors = Vec::new();
    for r0 in (0..rows).step_by(step) {
        for c0 in (0..cols).step_by(step) {
            let (r1, c1) = ((r0 + step).min(rows), (c0 + step).min(cols));
            let n = ((r1 - r0) * (c1 - c0)) as f32;
            let (mut sx, mut sy) = (0.0, 0.0);
            for r in r0..r1 {
                for c in c0..c1 {
                    sx += field.x[(r, c)];
                    sy += field.y[(r, c)];
                }
            }
            let centre = Pos2::new((c0 + c1) as f32 / 2.0, (r0 + r1) as f32 / 2.0);
            vectors.push((centre, Vec2::new(sx / n, sy / n)));
        }
    }
    let longest = vectors.iter().map(|(_, v)| v.length()).fold(0f32, f32::max);
    if longest.is_nan() || longest <= 0.0 {
        return;
    }
    let spacing = step as f32 * mapping.scale;
    let stroke = Stroke::new(1.2, Color32::from_white_alpha(220));
    for (centre, v) in vectors {
        let at = mapping.to_screen(centre);
        if !mapping.viewport.contains(at) {
            continue;
        }
        // Image y is up; screen y is down.
        let d = Vec2::new(v.x, -v.y) / longest * spacing * 0.9;
        painter.arrow(at - d / 2.0, d, stroke);
    }
}

/// The colour wheel with the class names at their directions.
fn wheel_legend(ui: &mut egui::Ui, wheel: &TextureHandle) {
    let size = 96.0;
    let (rect, response) = ui.allocate_exact_size(Vec2::splat(size), egui::Sense::hover());
    response
        .widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, "colour wheel legend"));
    let painter = ui.painter();
    let wheel_rect = rect.shrink(14.0);
    painter.image(
        wheel.id(),
        wheel_rect,
        egui::Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
        Color32::WHITE,
    );
    let radius = wheel_rect.width() / 2.0 + 8.0;
    for class in Class::ALL {
        let a = class.angle_deg().to_radians() as f32;
        let at = rect.center() + Vec2::new(a.cos(), -a.sin()) * radius;
        painter.text(
            at,
            egui::Align2::CENTER_CENTER,
            class.name(),
            egui::FontId::proportional(9.0),
            ui.visuals().text_color(),
        );
    }
}
