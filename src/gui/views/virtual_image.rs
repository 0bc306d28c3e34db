//! The virtual image view: bright field, annular dark field or total intensity per pattern, from
//! the per-pattern pass (images rendered by the pass's task).

use super::{image_view, Texture, View, ViewContext};
use crate::gui::data::AnalysisImages;
use crate::gui::request::Request;
use eframe::egui::{self, ColorImage};
use polarmap_core::analysis::PatternMaps;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

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

    pub fn image(self, images: &AnalysisImages) -> &Arc<ColorImage> {
        match self {
            VirtualKind::Bf => &images.bf,
            VirtualKind::Adf => &images.adf,
            VirtualKind::Sum => &images.sum,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(default)]
pub struct VirtualView {
    /// Which virtual detector is shown.
    pub kind: VirtualKind,
    #[serde(skip)]
    texture: Texture,
}

impl Default for VirtualView {
    fn default() -> Self {
        VirtualView {
            kind: VirtualKind::Adf,
            texture: Texture::default(),
        }
    }
}

impl View for VirtualView {
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ViewContext<'_>) {
        ui.horizontal_wrapped(|ui| {
            for k in VirtualKind::ALL {
                ui.selectable_value(&mut self.kind, k, k.name());
            }
        });
        let analysis = ctx.data.and_then(|d| d.analysis.as_deref());
        let image = analysis.map(|a| self.kind.image(&a.images));
        let texture = self.texture.of(ui.ctx(), "virtual", image);
        let out = image_view::show(
            ui,
            "virtual image",
            texture,
            ctx.linked,
            crate::gui::layout::image_height(ui, 40.0),
            super::draw_regions(ctx.regions),
        );
        if let Some(region) = out.region {
            ctx.requests.push(Request::AddRegion(region));
        }
        if let Some(a) = analysis {
            let maps = &a.maps;
            let values = self.kind.values(maps);
            let (lo, hi) = values
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                });
            ui.label(format!(
                "{}: {:.4} to {:.4}; BF r ≤ {:.1} px, ADF {:.1}–{:.1} px",
                self.kind.name(),
                lo,
                hi,
                maps.geometry.bf_radius,
                maps.geometry.adf_inner,
                maps.geometry.adf_outer
            ));
        }
    }
}
