//! Shows and edits the calibration of the open scan (values start as the file's and sidecar's);
//! Apply uses it in the app, "Save to sidecar" also writes it beside the scan (asking before it
//! replaces a sidecar; the library backs up one polarmap did not write).

use crate::gui::request::Request;
use eframe::egui;
use polarmap_core::scan::Sidecar;
use polarmap_core::Calibration;
use std::path::{Path, PathBuf};

#[derive(Default)]
pub struct CalibrationDialog {
    pub open: bool,
    /// The values being edited, as text (empty = unknown).
    fields: [String; 7],
    flip: bool,
    error: Option<String>,
    /// The sidecar waiting for "Replace", with the calibration to save into it.
    confirm: Option<(PathBuf, Calibration)>,
}

const NAMES: [&str; 7] = [
    "beam energy (keV)",
    "convergence semi-angle (mrad)",
    "detector sampling (mrad/px)",
    "scan step (Å)",
    "scan rotation (°, counter-clockwise)",
    "specimen tilt x (mrad, right), when known",
    "specimen tilt y (mrad, up), when known",
];

fn text(v: Option<f64>) -> String {
    v.map(|v| format!("{v}")).unwrap_or_default()
}

impl CalibrationDialog {
    pub fn open_with(&mut self, c: &Calibration) {
        self.open = true;
        self.fields = [
            text(c.energy_kv),
            text(c.convergence_mrad),
            text(c.mrad_per_px),
            text(c.scan_step_a),
            text(c.scan_rotation_deg),
            text(c.tilt_mrad.map(|t| t[0])),
            text(c.tilt_mrad.map(|t| t[1])),
        ];
        self.flip = c.scan_flip.unwrap_or(false);
        self.error = None;
        self.confirm = None;
    }

    /// Shows the dialog for the scan at `scan` (None: none open); returns what the user asked
    /// for: the edited calibration applied, or applied and saved to the sidecar.
    pub fn show(&mut self, ctx: &egui::Context, scan: Option<&Path>) -> Option<Request> {
        if !self.open {
            return None;
        }
        let mut result = None;
        let mut open = self.open;
        egui::Window::new("Calibration")
            .open(&mut open)
            .collapsible(false)
            .show(ctx, |ui| {
                egui::Grid::new("calibration grid")
                    .num_columns(2)
                    .show(ui, |ui| {
                        for (name, field) in NAMES.iter().zip(self.fields.iter_mut()) {
                            let label = ui.label(*name);
                            ui.add(egui::TextEdit::singleline(field).desired_width(100.0))
                                .labelled_by(label.id);
                            ui.end_row();
                        }
                        ui.label("detector mirrored");
                        ui.checkbox(&mut self.flip, "flip");
                        ui.end_row();
                    });
                ui.label("Empty means unknown. Rotation and flip change the CoM directions; a tilt moves the model's crop.");
                if let Some(e) = &self.error {
                    ui.colored_label(ui.visuals().error_fg_color, e);
                }
                ui.horizontal(|ui| {
                    if ui.button("Apply").clicked() {
                        match self.parse() {
                            Ok(c) => {
                                result = Some(Request::SetCalibration(c));
                                self.error = None;
                            }
                            Err(e) => self.error = Some(e),
                        }
                    }
                    let save = ui
                        .add_enabled(scan.is_some(), egui::Button::new("Save to sidecar"))
                        .on_hover_text(
                            "apply, and write the calibration into the scan's NAME.meta.json",
                        );
                    if let (true, Some(scan)) = (save.clicked(), scan) {
                        match self.parse() {
                            Ok(c) => {
                                self.error = None;
                                let existing =
                                    Sidecar::candidates(scan).into_iter().find(|p| p.is_file());
                                match existing {
                                    Some(p) => self.confirm = Some((p, c)),
                                    None => result = Some(Request::SaveCalibration(c, false)),
                                }
                            }
                            Err(e) => self.error = Some(e),
                        }
                    }
                });
                if let Some((path, c)) = self.confirm.clone() {
                    ui.label(format!(
                        "{} exists. Replace it? (one polarmap did not write is kept as .bak)",
                        crate::gui::file_name(&path)
                    ));
                    ui.horizontal(|ui| {
                        if ui.button("Replace").clicked() {
                            result = Some(Request::SaveCalibration(c, true));
                            self.confirm = None;
                        }
                        if ui.button("Keep it").clicked() {
                            self.confirm = None;
                        }
                    });
                }
            });
        self.open = open && result.is_none();
        result
    }

    fn parse(&self) -> Result<Calibration, String> {
        let mut values = [None; 7];
        for (i, field) in self.fields.iter().enumerate() {
            let t = field.trim();
            if !t.is_empty() {
                values[i] = Some(
                    t.parse::<f64>()
                        .map_err(|_| format!("{}: '{t}' is not a number", NAMES[i]))?,
                );
            }
        }
        let c = Calibration {
            energy_kv: values[0],
            convergence_mrad: values[1],
            mrad_per_px: values[2],
            scan_step_a: values[3],
            scan_rotation_deg: values[4],
            scan_flip: Some(self.flip),
            tilt_mrad: match (values[5], values[6]) {
                (Some(x), Some(y)) => Some([x, y]),
                (None, None) => None,
                _ => return Err("give both tilt components, or neither".into()),
            },
        };
        c.validate()?;
        Ok(c)
    }
}

/// One line for the status bar.
pub fn summary(c: &Calibration) -> String {
    let part = |v: Option<f64>, unit: &str| v.map(|v| format!("{v} {unit}"));
    let parts: Vec<String> = [
        part(c.energy_kv, "keV"),
        part(c.convergence_mrad, "mrad"),
        part(c.mrad_per_px, "mrad/px"),
        part(c.scan_step_a, "Å/step"),
        c.scan_rotation_deg.map(|r| format!("rot {r}°")),
        c.tilt_mrad.map(|[x, y]| format!("tilt {x}, {y} mrad")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        "uncalibrated".into()
    } else {
        parts.join(", ")
    }
}
