//! The virtual image view: bright field, annular dark field, total intensity, iCoM, iDPC (from
//! the per-pattern pass) or a custom virtual detector defined here — an annulus in mrad or
//! detector pixels with an optional sector, or the mask drawn on the inspector's pattern — whose
//! pass runs as its own task (`tasks::virtual_detector`). Images are rendered by the tasks.

use super::{image_view, Texture, View, ViewContext};
use crate::gui::data::{AnalysisResult, CustomImage};
use crate::gui::request::Request;
use eframe::egui::{self, ColorImage};
use ndarray::Array2;
use polarmap_core::analysis::VirtualDetector;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VirtualKind {
    Bf,
    Adf,
    Sum,
    ICom,
    IDpc,
    /// The detector defined in the view (or drawn on the pattern).
    Custom,
}

impl VirtualKind {
    pub const ALL: [VirtualKind; 6] = [
        VirtualKind::Bf,
        VirtualKind::Adf,
        VirtualKind::Sum,
        VirtualKind::ICom,
        VirtualKind::IDpc,
        VirtualKind::Custom,
    ];

    pub fn name(self) -> &'static str {
        match self {
            VirtualKind::Bf => "BF",
            VirtualKind::Adf => "ADF",
            VirtualKind::Sum => "Sum",
            VirtualKind::ICom => "iCoM",
            VirtualKind::IDpc => "iDPC",
            VirtualKind::Custom => "Custom",
        }
    }

    /// The image's values (None: not computed yet).
    pub fn values<'a>(
        self,
        analysis: Option<&'a AnalysisResult>,
        custom: Option<&'a CustomImage>,
    ) -> Option<&'a Array2<f32>> {
        match self {
            VirtualKind::Custom => custom.map(|c| &c.values),
            _ => {
                let a = analysis?;
                Some(match self {
                    VirtualKind::Bf => &a.maps.bf,
                    VirtualKind::Adf => &a.maps.adf,
                    VirtualKind::Sum => &a.maps.sum,
                    VirtualKind::ICom => &a.icom,
                    _ => &a.idpc,
                })
            }
        }
    }

    pub fn image<'a>(
        self,
        analysis: Option<&'a AnalysisResult>,
        custom: Option<&'a CustomImage>,
    ) -> Option<&'a Arc<ColorImage>> {
        match self {
            VirtualKind::Custom => custom.map(|c| &c.image),
            _ => {
                let i = &analysis?.images;
                Some(match self {
                    VirtualKind::Bf => &i.bf,
                    VirtualKind::Adf => &i.adf,
                    VirtualKind::Sum => &i.sum,
                    VirtualKind::ICom => &i.icom,
                    _ => &i.idpc,
                })
            }
        }
    }
}

/// The custom annulus as typed in the view.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnnulusForm {
    pub inner: f64,
    pub outer: f64,
    /// Radii in mrad (with the calibration's mrad per pixel) rather than detector pixels.
    pub mrad: bool,
    pub sector: bool,
    /// Degrees counter-clockwise from +x (y up), from → to.
    pub from: f64,
    pub to: f64,
}

impl Default for AnnulusForm {
    fn default() -> Self {
        AnnulusForm {
            inner: 0.0,
            outer: 8.0,
            mrad: false,
            sector: false,
            from: 0.0,
            to: 90.0,
        }
    }
}

impl AnnulusForm {
    /// The detector in pixels and its description; an error when mrad are asked for without
    /// a calibration that converts them.
    pub fn detector(&self, mrad_per_px: Option<f64>) -> Result<(VirtualDetector, String), String> {
        let (scale, unit) = match (self.mrad, mrad_per_px) {
            (false, _) => (1.0, "px"),
            (true, Some(m)) if m > 0.0 && m.is_finite() => (1.0 / m, "mrad"),
            (true, _) => {
                return Err(
                    "mrad need the calibration's mrad per pixel (edit the calibration)".into(),
                )
            }
        };
        let detector = VirtualDetector::Annulus {
            inner: self.inner * scale,
            outer: self.outer * scale,
            sector: self.sector.then_some([self.from, self.to]),
        };
        let mut label = format!("annulus {}–{} {unit}", self.inner, self.outer);
        if self.sector {
            label.push_str(&format!(", sector {}–{}°", self.from, self.to));
        }
        Ok((detector, label))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(default)]
pub struct VirtualView {
    /// Which virtual detector is shown.
    pub kind: VirtualKind,
    /// The custom annulus.
    pub annulus: AnnulusForm,
    #[serde(skip)]
    texture: Texture,
    /// Why the last custom detector could not be computed.
    #[serde(skip)]
    problem: Option<String>,
}

impl Default for VirtualView {
    fn default() -> Self {
        VirtualView {
            kind: VirtualKind::Adf,
            annulus: AnnulusForm::default(),
            texture: Texture::default(),
            problem: None,
        }
    }
}

impl VirtualView {
    fn custom_form(&mut self, ui: &mut egui::Ui, ctx: &mut ViewContext<'_>) {
        let mrad_per_px = ctx.data.and_then(|d| d.calibration().mrad_per_px);
        let a = &mut self.annulus;
        ui.horizontal_wrapped(|ui| {
            ui.label("Annulus");
            ui.add(
                egui::DragValue::new(&mut a.inner)
                    .speed(0.1)
                    .range(0.0..=1e4),
            )
            .on_hover_text("inner radius");
            ui.label("to");
            ui.add(
                egui::DragValue::new(&mut a.outer)
                    .speed(0.1)
                    .range(0.0..=1e4),
            )
            .on_hover_text("outer radius");
            ui.selectable_value(&mut a.mrad, false, "px");
            ui.add_enabled_ui(mrad_per_px.is_some(), |ui| {
                ui.selectable_value(&mut a.mrad, true, "mrad")
                    .on_disabled_hover_text("the calibration has no mrad per pixel");
            });
            ui.checkbox(&mut a.sector, "sector");
            if a.sector {
                ui.add(egui::DragValue::new(&mut a.from).speed(1.0).suffix("°"));
                ui.label("to");
                ui.add(egui::DragValue::new(&mut a.to).speed(1.0).suffix("°"));
            }
            if ui
                .button("Compute")
                .on_hover_text("sum this detector over every pattern (one pass)")
                .clicked()
            {
                match a.detector(mrad_per_px) {
                    Ok((detector, label)) => {
                        self.problem = None;
                        ctx.requests.push(Request::ComputeDetector(detector, label));
                    }
                    Err(e) => self.problem = Some(e),
                }
            }
        });
        if let Some(p) = &self.problem {
            ui.colored_label(ui.visuals().warn_fg_color, p);
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
        let mut reserve = 40.0;
        if self.kind == VirtualKind::Custom {
            self.custom_form(ui, ctx);
            reserve += 20.0;
        }
        let analysis = ctx.data.and_then(|d| d.analysis.as_deref());
        let custom = ctx.data.and_then(|d| d.custom.as_deref());
        let image = self.kind.image(analysis, custom);
        let texture = self.texture.of(ui.ctx(), "virtual", image);
        let out = image_view::show(
            ui,
            "virtual image",
            texture,
            ctx.linked,
            crate::gui::layout::image_height(ui, reserve),
            super::draw_overlays(ctx.regions, ctx.walls),
        );
        if let Some(region) = out.region {
            ctx.requests.push(Request::AddRegion(region));
        }
        let Some(values) = self.kind.values(analysis, custom) else {
            if self.kind == VirtualKind::Custom {
                ui.label(if ctx.computing_detector {
                    "computing the custom detector…"
                } else {
                    "no custom detector computed yet"
                });
            }
            return;
        };
        let (lo, hi) = values
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let what = match (self.kind, analysis, custom) {
            (VirtualKind::Custom, _, Some(c)) => c.label.clone(),
            (VirtualKind::ICom, _, _) => "CoM integrated, descan removed".into(),
            (VirtualKind::IDpc, Some(a), _) => format!(
                "BF disk r ≤ {:.1} px in 4 quadrants, integrated",
                a.maps.geometry.bf_radius
            ),
            (_, Some(a), _) => format!(
                "BF r ≤ {:.1} px, ADF {:.1}–{:.1} px",
                a.maps.geometry.bf_radius, a.maps.geometry.adf_inner, a.maps.geometry.adf_outer
            ),
            _ => String::new(),
        };
        ui.label(format!(
            "{}: {:.4} to {:.4}; {what}",
            self.kind.name(),
            lo,
            hi
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_annulus_in_mrad_becomes_pixels_with_the_calibration() {
        let form = AnnulusForm {
            inner: 10.0,
            outer: 25.0,
            mrad: true,
            sector: true,
            from: 0.0,
            to: 90.0,
        };
        let (d, label) = form.detector(Some(0.5)).unwrap();
        assert_eq!(
            d,
            VirtualDetector::Annulus {
                inner: 20.0,
                outer: 50.0,
                sector: Some([0.0, 90.0])
            }
        );
        assert_eq!(label, "annulus 10–25 mrad, sector 0–90°");
        assert!(form.detector(None).is_err());
        let px = AnnulusForm {
            mrad: false,
            ..form
        };
        assert!(matches!(
            px.detector(None).unwrap().0,
            VirtualDetector::Annulus { inner: 10.0, .. }
        ));
    }
}
