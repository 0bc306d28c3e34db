//! The export dialog: PNG of the class map, CoM map or virtual image (native or integer-upscaled,
//! optional legend strip and scale bar), CSV/NPY of the class map, JSON summary of the regions.
//! The file is written by the export task (`tasks::export`, through `polarmap_core::export`); an
//! existing file is replaced only after the user says so.

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
            .filter(|p| *p != crate::gui::demo_path().as_path())
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
