//! Optional axes in physical units along an image view's bottom and left edges: the scan views
//! in Å or nm from the scan step (distance from the scan's top-left corner, x right and y down
//! as the image reads), the diffraction pattern in mrad or Å⁻¹ from the detector sampling and
//! beam energy (from the BF disk centre, x right and y up: the frame of the CoM vectors).

use eframe::egui::{self, Color32, Pos2, Rect, Stroke, Vec2};
use polarmap_core::Calibration;
use serde::{Deserialize, Serialize};

/// The units of a view's axes (or none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Units {
    #[default]
    Off,
    Angstrom,
    Nanometre,
    Mrad,
    InverseAngstrom,
}

impl Units {
    /// The choices of the scan views and of the pattern.
    pub const SCAN: [Units; 3] = [Units::Off, Units::Angstrom, Units::Nanometre];
    pub const PATTERN: [Units; 3] = [Units::Off, Units::Mrad, Units::InverseAngstrom];

    pub fn name(self) -> &'static str {
        match self {
            Units::Off => "no axes",
            Units::Angstrom => "Å",
            Units::Nanometre => "nm",
            Units::Mrad => "mrad",
            Units::InverseAngstrom => "1/Å",
        }
    }

    /// The scan views' axis; None when off or the calibration has no scan step.
    pub fn scan_axis(self, c: &Calibration) -> Option<Axis> {
        let step = c.scan_step_a?;
        let (per_px, unit) = match self {
            Units::Angstrom => (step, "Å"),
            Units::Nanometre => (step / 10.0, "nm"),
            _ => return None,
        };
        Some(Axis {
            per_px,
            zero: [0.0, 0.0],
            y_up: false,
            unit,
        })
    }

    /// The pattern's axis, zero at the centre of detector pixel `center` (row, col); None when
    /// off or the calibration lacks the sampling (and, for Å⁻¹, the beam energy).
    pub fn pattern_axis(self, c: &Calibration, center: [f64; 2]) -> Option<Axis> {
        let (per_px, unit) = match self {
            Units::Mrad => (c.mrad_per_px?, "mrad"),
            Units::InverseAngstrom => (c.inverse_angstrom_per_px()?, "1/Å"),
            _ => return None,
        };
        Some(Axis {
            per_px,
            zero: [center[0] + 0.5, center[1] + 0.5],
            y_up: true,
            unit,
        })
    }

    /// What the calibration lacks for these units ("" when nothing).
    pub fn missing(self, c: &Calibration) -> &'static str {
        match self {
            Units::Off => "",
            Units::Angstrom | Units::Nanometre if c.scan_step_a.is_none() => {
                "axes need the scan step (Dataset > Calibration)"
            }
            Units::Mrad if c.mrad_per_px.is_none() => {
                "axes need the detector sampling (Dataset > Calibration)"
            }
            Units::InverseAngstrom if c.inverse_angstrom_per_px().is_none() => {
                "axes need the detector sampling and beam energy (Dataset > Calibration)"
            }
            _ => "",
        }
    }

    /// In the warning colour, what the calibration lacks for these units (nothing when
    /// nothing is missing).
    pub fn warn_missing(self, ui: &mut egui::Ui, c: &Calibration) {
        let missing = self.missing(c);
        if !missing.is_empty() {
            ui.colored_label(ui.visuals().warn_fg_color, missing);
        }
    }

    /// A combo box labelled `label` choosing among `choices`.
    pub fn choose(ui: &mut egui::Ui, label: &str, value: &mut Units, choices: &[Units]) {
        egui::ComboBox::from_label(label)
            .selected_text(value.name())
            .show_ui(ui, |ui| {
                for &u in choices {
                    ui.selectable_value(value, u, u.name());
                }
            });
    }
}

/// A linear axis over image coordinates (x = col, y = row, pixel (r, c) covering
/// `[c, c+1) × [r, r+1)`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Axis {
    /// Units per pixel.
    pub per_px: f64,
    /// Image point (row, col) where both coordinates are zero.
    pub zero: [f64; 2],
    /// y grows upwards (else downwards, with the rows).
    pub y_up: bool,
    pub unit: &'static str,
}

impl Axis {
    fn x(&self, col: f64) -> f64 {
        (col - self.zero[1]) * self.per_px
    }

    fn y(&self, row: f64) -> f64 {
        let d = (row - self.zero[0]) * self.per_px;
        if self.y_up {
            -d
        } else {
            d
        }
    }

    fn col(&self, x: f64) -> f64 {
        self.zero[1] + x / self.per_px
    }

    fn row(&self, y: f64) -> f64 {
        let d = y / self.per_px;
        self.zero[0] + if self.y_up { -d } else { d }
    }
}

/// Multiples of a 1–2–5 step within `[lo, hi]`, the step chosen so that there are about `count`
/// of them; `(step, ticks)`. Empty for an empty or non-finite range.
pub fn ticks(lo: f64, hi: f64, count: usize) -> (f64, Vec<f64>) {
    let (lo, hi) = (lo.min(hi), lo.max(hi));
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) || count == 0 {
        return (0.0, Vec::new());
    }
    let rough = span / count as f64;
    let decade = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * decade)
        .find(|&s| s >= rough)
        .unwrap_or(10.0 * decade);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    let ticks = (first..=last).map(|k| k as f64 * step).collect();
    (step, ticks)
}

/// A tick label with as many decimals as the step needs.
fn label(value: f64, step: f64) -> String {
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    let value = if value.abs() < step * 1e-6 {
        0.0
    } else {
        value
    };
    format!("{value:.decimals$}")
}

/// Draws `axis` along the bottom and left edges of `visible` (the part of the image on
/// screen), for an image whose point (0, 0) is at screen position `origin`, `scale` screen
/// points per pixel. Ticks about every 70 points; the unit is written at the bottom right.
pub fn draw(painter: &egui::Painter, visible: Rect, origin: Pos2, scale: f32, axis: &Axis) {
    if scale.is_nan() || scale <= 0.0 || visible.width() < 40.0 || visible.height() < 40.0 {
        return;
    }
    let to_col = |x: f32| ((x - origin.x) / scale) as f64;
    let to_row = |y: f32| ((y - origin.y) / scale) as f64;
    let font = egui::FontId::proportional(11.0);
    let stroke = Stroke::new(1.0, Color32::WHITE);
    let text = |at: Pos2, anchor: egui::Align2, s: &str| {
        super::halo_text(painter, at, anchor, s, font.clone());
    };
    let count = |length: f32| ((length / 70.0).round() as usize).max(2);

    let (x0, x1) = (
        axis.x(to_col(visible.left())),
        axis.x(to_col(visible.right())),
    );
    let (step, xs) = ticks(x0, x1, count(visible.width()));
    // Labels keep clear of the corners: the y labels' column on the left, the unit on the
    // right, the x labels' row at the bottom, and the edge at the top.
    for x in xs {
        let sx = origin.x + axis.col(x) as f32 * scale;
        if sx < visible.left() + 28.0 || sx > visible.right() - 20.0 {
            continue;
        }
        let bottom = visible.bottom();
        painter.line_segment([Pos2::new(sx, bottom), Pos2::new(sx, bottom - 6.0)], stroke);
        text(
            Pos2::new(sx, bottom - 7.0),
            egui::Align2::CENTER_BOTTOM,
            &label(x, step),
        );
    }
    let (y0, y1) = (
        axis.y(to_row(visible.top())),
        axis.y(to_row(visible.bottom())),
    );
    let (step, ys) = ticks(y0, y1, count(visible.height()));
    for y in ys {
        let sy = origin.y + axis.row(y) as f32 * scale;
        if sy < visible.top() + 8.0 || sy > visible.bottom() - 22.0 {
            continue;
        }
        let left = visible.left();
        painter.line_segment([Pos2::new(left, sy), Pos2::new(left + 6.0, sy)], stroke);
        text(
            Pos2::new(left + 8.0, sy),
            egui::Align2::LEFT_CENTER,
            &label(y, step),
        );
    }
    text(
        visible.right_bottom() + Vec2::new(-4.0, -20.0),
        egui::Align2::RIGHT_BOTTOM,
        axis.unit,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_multiples_inside_the_range() {
        let (step, t) = ticks(0.0, 15.8, 5);
        assert_eq!(step, 5.0);
        assert_eq!(t, vec![0.0, 5.0, 10.0, 15.0]);
        let (step, t) = ticks(-3.3, 3.3, 6);
        assert_eq!(step, 2.0);
        assert_eq!(t, vec![-2.0, 0.0, 2.0]);
        let (step, t) = ticks(0.12, 0.57, 4);
        assert!((step - 0.2).abs() < 1e-12, "{step}");
        assert_eq!(t.len(), 2);
        assert!(ticks(1.0, 1.0, 4).1.is_empty());
        assert!(ticks(0.0, f64::NAN, 4).1.is_empty());
    }

    #[test]
    fn axes_map_pixels_to_physical_coordinates() {
        let c = Calibration {
            scan_step_a: Some(0.5),
            mrad_per_px: Some(1.25),
            energy_kv: Some(200.0),
            ..Default::default()
        };
        // Scan: 0.05 nm per pixel from the top-left corner, y down.
        let a = Units::Nanometre.scan_axis(&c).unwrap();
        assert!((a.x(20.0) - 1.0).abs() < 1e-12 && (a.y(20.0) - 1.0).abs() < 1e-12);
        assert!((a.col(a.x(7.0)) - 7.0).abs() < 1e-12 && (a.row(a.y(7.0)) - 7.0).abs() < 1e-12);
        // Pattern: zero at the centre of the disk's pixel, y up.
        let p = Units::Mrad.pattern_axis(&c, [31.0, 31.0]).unwrap();
        assert_eq!(p.x(31.5), 0.0);
        assert!((p.y(21.5) - 12.5).abs() < 1e-12, "{}", p.y(21.5));
        assert!((p.row(p.y(3.0)) - 3.0).abs() < 1e-12);
        // Without what they need, there are no axes, and the reason is given.
        let bare = Calibration::default();
        assert!(Units::Angstrom.scan_axis(&bare).is_none());
        assert!(Units::InverseAngstrom
            .pattern_axis(&bare, [0.0, 0.0])
            .is_none());
        assert!(Units::InverseAngstrom
            .missing(&bare)
            .contains("beam energy"));
        assert_eq!(Units::Off.missing(&bare), "");
        assert_eq!(label(0.30000000000000004, 0.1), "0.3");
        assert_eq!(label(-1e-17, 0.5), "0.0");
    }
}
