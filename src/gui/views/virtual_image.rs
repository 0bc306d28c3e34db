//! The virtual image view: bright field, annular dark field or total intensity per pattern, from
//! the per-pattern pass.

use super::image_view::{self, Linked, ViewResponse};
use polarmap_core::analysis::PatternMaps;
use eframe::egui::{self, TextureHandle};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VirtualKind {
    Bf,
    Adf,
    Sum,
}

impl VirtualKind {
    pub const ALL: [VirtualKind; 3] = [VirtualKind::Bf, VirtualKind::Adf, VirtualKind::Sum];

    pub fn name(self) -> &'static str {
        match self {
            VirtualKind::Bf => "BF",
            VirtualKind::Adf => "ADF",
            VirtualKind::Sum => "Sum",
        }
    }

    pub fn values(self, maps: &PatternMaps) -> &ndarray::Array2<f32> {
        match self {
            VirtualKind::Bf => &maps.bf,
            VirtualKind::Adf => &maps.adf,
            VirtualKind::Sum => &maps.sum,
        }
    }
}

#[derive(Default)]
pub struct VirtualView {
    texture: Option<(VirtualKind, TextureHandle)>,
}

impl VirtualView {
    /// Forgets the texture (a new pass or dataset).
    pub fn invalidate(&mut self) {
        self.texture = None;
    }

    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        kind: &mut VirtualKind,
        maps: Option<&PatternMaps>,
        linked: &mut Linked,
        height: f32,
        overlay: impl FnOnce(&egui::Painter, &image_view::Mapping),
    ) -> ViewResponse {
        ui.horizontal(|ui| {
            ui.strong("Virtual image");
            for k in VirtualKind::ALL {
                ui.selectable_value(kind, k, k.name());
            }
        });
        if let Some(maps) = maps {
            if self.texture.as_ref().is_none_or(|(k, _)| k != kind) {
                let values = kind.values(maps);
                let (rows, cols) = values.dim();
                let pixels = polarmap_core::export::grey_pixels(values.as_slice().unwrap_or(&[]));
                if pixels.len() == rows * cols {
                    let tex = super::rgb_texture(ui.ctx(), "virtual", cols, rows, &pixels);
                    self.texture = Some((*kind, tex));
                }
            }
        }
        let tex = self.texture.as_ref().map(|(_, t)| t);
        let out = image_view::show(ui, "virtual image", tex, linked, height, overlay);
        if let Some(maps) = maps {
            let values = kind.values(maps);
            let (lo, hi) = values
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                });
            ui.label(format!(
                "{}: {:.4} to {:.4}; BF r <= {:.1} px, ADF {:.1}–{:.1} px",
                kind.name(),
                lo,
                hi,
                maps.geometry.bf_radius,
                maps.geometry.adf_inner,
                maps.geometry.adf_outer
            ));
        }
        out
    }
}
