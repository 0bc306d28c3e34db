//! The export dialog: PNG of the class map, CoM map or virtual image (native or integer-upscaled,
//! optional legend strip and scale bar), CSV/NPY of the class map, JSON summary of the regions.
//! Files are written by `polarmap_core::export` on a job thread; an existing file is replaced only after
//! the user says so.

use polarmap_core::canvas::Canvas;
use polarmap_core::classes::Class;
use eframe::egui;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    ClassPng,
    ComPng,
    VirtualPng,
    PredictionsCsv,
    PredictionsNpy,
    RegionsJson,
}

impl ExportKind {
    pub const ALL: [ExportKind; 6] = [
        ExportKind::ClassPng,
        ExportKind::ComPng,
        ExportKind::VirtualPng,
        ExportKind::PredictionsCsv,
        ExportKind::PredictionsNpy,
        ExportKind::RegionsJson,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ExportKind::ClassPng => "Class map (PNG)",
            ExportKind::ComPng => "CoM map (PNG)",
            ExportKind::VirtualPng => "Virtual image (PNG)",
            ExportKind::PredictionsCsv => "Class map (CSV)",
            ExportKind::PredictionsNpy => "Class map (NPY)",
            ExportKind::RegionsJson => "Regions (JSON)",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportKind::ClassPng | ExportKind::ComPng | ExportKind::VirtualPng => "png",
            ExportKind::PredictionsCsv => "csv",
            ExportKind::PredictionsNpy => "npy",
            ExportKind::RegionsJson => "json",
        }
    }

    pub fn is_png(self) -> bool {
        self.extension() == "png"
    }
}

/// The dialog's settings.
pub struct ExportDialog {
    pub open: bool,
    pub kind: ExportKind,
    pub path: String,
    pub scale: usize,
    pub legend: bool,
    pub scale_bar: bool,
    /// A path that exists, waiting for the user's word on replacing it.
    pub confirm_overwrite: Option<PathBuf>,
}

impl Default for ExportDialog {
    fn default() -> Self {
        ExportDialog {
            open: false,
            kind: ExportKind::ClassPng,
            path: String::new(),
            scale: 1,
            legend: false,
            scale_bar: false,
            confirm_overwrite: None,
        }
    }
}

/// A request the app carries out (on a job thread).
#[derive(Debug, Clone)]
pub struct ExportRequest {
    pub kind: ExportKind,
    pub path: PathBuf,
    pub scale: usize,
    pub legend: bool,
    pub scale_bar: bool,
    pub overwrite: bool,
}

impl ExportDialog {
    /// Opens the dialog with a file name derived from the dataset.
    pub fn open_for(&mut self, kind: ExportKind, dataset: Option<&std::path::Path>) {
        self.open = true;
        self.kind = kind;
        self.suggest_path(dataset);
    }

    fn suggest_path(&mut self, dataset: Option<&std::path::Path>) {
        let stem = dataset
            .and_then(|p| p.file_stem())
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "polarmap".into());
        // Beside the data, except for the built-in demo (its folder belongs to the program).
        let dir = dataset
            .filter(|p| *p != super::demo_path().as_path())
            .and_then(|p| p.parent())
            .map(|p| p.to_path_buf())
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_default();
        let suffix = match self.kind {
            ExportKind::ClassPng => "classes",
            ExportKind::ComPng => "com",
            ExportKind::VirtualPng => "virtual",
            ExportKind::PredictionsCsv | ExportKind::PredictionsNpy => "classes",
            ExportKind::RegionsJson => "regions",
        };
        self.path = dir
            .join(format!("{stem}_{suffix}.{}", self.kind.extension()))
            .display()
            .to_string();
    }

    /// Shows the dialog; returns a request when the user saves.
    pub fn show(
        &mut self,
        ctx: &egui::Context,
        dataset: Option<&std::path::Path>,
        scale_bar_possible: bool,
    ) -> Option<ExportRequest> {
        if !self.open {
            return None;
        }
        let mut request = None;
        let mut open = self.open;
        egui::Window::new("Export")
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .show(ctx, |ui| {
                let before = self.kind;
                egui::ComboBox::from_label("what")
                    .selected_text(self.kind.name())
                    .show_ui(ui, |ui| {
                        for k in ExportKind::ALL {
                            ui.selectable_value(&mut self.kind, k, k.name());
                        }
                    });
                if before != self.kind {
                    self.suggest_path(dataset);
                }
                ui.horizontal(|ui| {
                    let label = ui.label("Export path");
                    ui.add(egui::TextEdit::singleline(&mut self.path).desired_width(320.0))
                        .labelled_by(label.id);
                    if ui.button("Browse…").clicked() {
                        let mut dialog = rfd::FileDialog::new()
                            .add_filter(self.kind.name(), &[self.kind.extension()]);
                        let current = PathBuf::from(&self.path);
                        if let Some(dir) = current.parent().filter(|d| d.is_dir()) {
                            dialog = dialog.set_directory(dir);
                        }
                        if let Some(name) = current.file_name() {
                            dialog = dialog.set_file_name(name.to_string_lossy());
                        }
                        if let Some(p) = dialog.save_file() {
                            self.path = p.display().to_string();
                        }
                    }
                });
                if self.kind.is_png() {
                    ui.horizontal(|ui| {
                        ui.add(egui::Slider::new(&mut self.scale, 1..=32).text("× upscale"));
                    });
                    ui.checkbox(&mut self.legend, "legend strip");
                    ui.add_enabled(
                        scale_bar_possible,
                        egui::Checkbox::new(&mut self.scale_bar, "scale bar"),
                    )
                    .on_disabled_hover_text("needs the scan step (calibration)");
                }
                ui.separator();
                if ui.button("Save").clicked() {
                    let path = PathBuf::from(self.path.trim());
                    let req = ExportRequest {
                        kind: self.kind,
                        path: path.clone(),
                        scale: self.scale.max(1),
                        legend: self.legend && self.kind.is_png(),
                        scale_bar: self.scale_bar && scale_bar_possible && self.kind.is_png(),
                        overwrite: false,
                    };
                    if path.as_os_str().is_empty() {
                        // Nothing to do: the field is empty.
                    } else if path.exists() {
                        self.confirm_overwrite = Some(path);
                    } else {
                        request = Some(req);
                    }
                }
            });
        self.open = open;
        if let Some(path) = self.confirm_overwrite.clone() {
            let mut answer = None;
            egui::Modal::new(egui::Id::unique("confirm overwrite")).show(ctx, |ui| {
                ui.label(format!("{} already exists. Replace it?", path.display()));
                ui.horizontal(|ui| {
                    if ui.button("Replace").clicked() {
                        answer = Some(true);
                    }
                    if ui.button("Cancel").clicked() {
                        answer = Some(false);
                    }
                });
            });
            if let Some(replace) = answer {
                self.confirm_overwrite = None;
                if replace {
                    request = Some(ExportRequest {
                        kind: self.kind,
                        path,
                        scale: self.scale.max(1),
                        legend: self.legend && self.kind.is_png(),
                        scale_bar: self.scale_bar && scale_bar_possible && self.kind.is_png(),
                        overwrite: true,
                    });
                }
            }
        }
        if request.is_some() {
            self.open = false;
        }
        request
    }
}

/// What the legend strip of an exported PNG shows.
pub enum Legend {
    Classes,
    Wheel,
    Grey,
}

/// An upscaled image with an optional strip below it: legend (class swatches and names, the
/// colour wheel, or a grey ramp) and a scale bar. Returns (width, height, pixels).
pub fn annotate(
    pixels: &[[u8; 3]],
    width: usize,
    height: usize,
    scale: usize,
    legend: Option<Legend>,
    scale_bar: Option<f64>,
) -> (usize, usize, Vec<[u8; 3]>) {
    let scale = scale.max(1);
    let (w, h) = (width * scale, height * scale);
    let mut canvas = Canvas {
        width: w,
        pixels: Vec::with_capacity(w * h),
    };
    for y in 0..h {
        for x in 0..w {
            canvas.pixels.push(pixels[(y / scale) * width + x / scale]);
        }
    }
    if legend.is_none() && scale_bar.is_none() {
        return (w, h, canvas.pixels);
    }
    let g = if w >= 320 { 2 } else { 1 }; // glyph pixel size
                                          // Class legend entries (swatch + name) wrap onto as many lines as the width needs.
    let entry = polarmap_core::canvas::LEGEND_ENTRY * g;
    let per_line = ((w.saturating_sub(4)) / entry).clamp(1, Class::COUNT);
    let legend_rows = match legend {
        Some(Legend::Classes) => Class::COUNT.div_ceil(per_line) * 10 * g + 4,
        Some(_) => 10 * g + 4,
        None => 0,
    };
    let bar_rows = if scale_bar.is_some() { 10 * g + 4 } else { 0 };
    canvas
        .pixels
        .extend(std::iter::repeat_n([0, 0, 0], w * (legend_rows + bar_rows)));
    let mut y = h + 2;
    if let Some(legend) = legend {
        match legend {
            Legend::Classes => {
                canvas.class_legend(2, y, per_line, g);
            }
            Legend::Wheel => {
                let d = 8 * g;
                for dy in 0..d {
                    for dx in 0..d {
                        let (fx, fy) = (
                            (dx as f64 + 0.5) / d as f64 * 2.0 - 1.0,
                            1.0 - (dy as f64 + 0.5) / d as f64 * 2.0,
                        );
                        if fx.hypot(fy) <= 1.0 {
                            canvas.set(2 + dx, y + dy, polarmap_core::colour::vector_colour(fx, fy, 1.0));
                        }
                    }
                }
            }
            Legend::Grey => {
                let ramp = (w / 3).max(8);
                for dx in 0..ramp {
                    let v = (dx * 255 / ramp.max(1)) as u8;
                    canvas.fill(2 + dx, y, 1, 8 * g, [v, v, v]);
                }
            }
        }
        y += legend_rows;
    }
    if let Some(angstrom_per_px) = scale_bar {
        // The longest "nice" length (1, 2, 5 × 10^k Å) up to a third of the width.
        let full = width as f64 * angstrom_per_px;
        let mut length = 10f64.powf((full / 3.0).log10().floor());
        for m in [5.0, 2.0] {
            if length * m <= full / 3.0 {
                length *= m;
                break;
            }
        }
        let bar = ((length / angstrom_per_px) * scale as f64).round() as usize;
        canvas.fill(
            2,
            y + 2 * g,
            bar.min(w.saturating_sub(4)),
            3 * g,
            [255, 255, 255],
        );
        let text = if length >= 10.0 {
            format!("{} nm", trim(length / 10.0))
        } else {
            format!("{} A", trim(length))
        };
        canvas.text(bar + 6, y + g, &text, g);
    }
    let total = canvas.pixels.len() / w;
    (w, total, canvas.pixels)
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotate_without_extras_is_a_plain_upscale() {
        let px = vec![[1, 2, 3], [4, 5, 6]];
        let (w, h, out) = annotate(&px, 2, 1, 3, None, None);
        assert_eq!((w, h), (6, 3));
        assert_eq!(out[0], [1, 2, 3]);
        assert_eq!(out[5], [4, 5, 6]);
        assert_eq!(out[17], [4, 5, 6]);
    }

    #[test]
    fn legend_and_scale_bar_add_a_strip_below() {
        let px = vec![[9, 9, 9]; 32 * 32];
        let (w, h, out) = annotate(&px, 32, 32, 4, Some(Legend::Classes), Some(0.5));
        assert_eq!(w, 128);
        assert!(h > 128);
        assert_eq!(out.len(), w * h);
        // The first class swatch sits in the strip.
        assert!(out[(128 + 4) * w + 4] == polarmap_core::colour::class_colour(Class::RM));
        // At native size the 8 entries wrap onto 8 lines instead of running off the edge.
        let (w, h, out) = annotate(&px, 32, 32, 1, Some(Legend::Classes), None);
        assert_eq!((w, h), (32, 32 + 8 * 10 + 4));
        let rd_swatch = (32 + 2 + 7 * 10 + 2) * w + 4;
        assert_eq!(out[rd_swatch], polarmap_core::colour::class_colour(Class::RD));
    }
}
