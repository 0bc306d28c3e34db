//! The export dialog: a figure (one view or the composite virtual image | CoM field | class map,
//! PNG at a chosen DPI or SVG, with legends, scale bar, region outlines and defect markers, laid
//! out by `polarmap_core::figure`), CSV/NPY of the class map, JSON of the regions. Its settings
//! and the folder of the last export are kept between runs. The file is written by the export
//! task (`tasks::export`); an existing file is replaced only after the user says so.

use eframe::egui;
use polarmap_core::figure::{FigureOptions, Format, View};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExportKind {
    Figure,
    PredictionsCsv,
    PredictionsNpy,
    RegionsJson,
}

impl ExportKind {
    pub const ALL: [ExportKind; 4] = [
        ExportKind::Figure,
        ExportKind::PredictionsCsv,
        ExportKind::PredictionsNpy,
        ExportKind::RegionsJson,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ExportKind::Figure => "Figure (PNG / SVG)",
            ExportKind::PredictionsCsv => "Class map (CSV)",
            ExportKind::PredictionsNpy => "Class map (NPY)",
            ExportKind::RegionsJson => "Regions (JSON)",
        }
    }
}

/// What a figure view is called in the dialog.
pub fn view_name(view: View) -> &'static str {
    match view {
        View::Composite => "virtual image | CoM field | class map",
        View::Virtual => "virtual image",
        View::Com => "CoM field",
        View::Classes => "class map",
    }
}

/// The dialog's settings, kept between runs (eframe storage).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExportSettings {
    pub kind: ExportKind,
    pub figure: FigureOptions,
    pub format: Format,
    /// Folder of the last export; None: beside the scan (the working directory for the demo).
    pub folder: Option<PathBuf>,
}

impl Default for ExportSettings {
    fn default() -> Self {
        ExportSettings {
            kind: ExportKind::Figure,
            figure: FigureOptions::default(),
            format: Format::Png,
            folder: None,
        }
    }
}

impl ExportSettings {
    pub fn extension(&self) -> &'static str {
        match self.kind {
            ExportKind::Figure => self.format.extension(),
            ExportKind::PredictionsCsv => "csv",
            ExportKind::PredictionsNpy => "npy",
            ExportKind::RegionsJson => "json",
        }
    }
}

/// The dialog: its settings, the path being edited, and a pending overwrite question.
#[derive(Default)]
pub struct ExportDialog {
    pub open: bool,
    pub settings: ExportSettings,
    pub path: String,
    /// A path that exists, waiting for the user's word on replacing it.
    pub confirm_overwrite: Option<PathBuf>,
}

/// A request the app carries out (on a job thread).
#[derive(Debug, Clone)]
pub struct ExportRequest {
    pub kind: ExportKind,
    pub path: PathBuf,
    pub figure: FigureOptions,
    pub format: Format,
    pub overwrite: bool,
}

impl ExportDialog {
    /// Opens the dialog with a file name derived from the dataset, in the last export's folder.
    pub fn open_for(&mut self, dataset: Option<&Path>) {
        self.open = true;
        self.suggest_path(dataset);
    }

    fn suggest_path(&mut self, dataset: Option<&Path>) {
        let stem = dataset
            .and_then(|p| p.file_stem())
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "polarmap".into());
        // The last export's folder; else beside the data, except for the built-in demo (its
        // folder belongs to the program).
        let dir = self
            .settings
            .folder
            .clone()
            .filter(|d| d.is_dir())
            .or_else(|| {
                dataset
                    .filter(|p| *p != crate::gui::demo_path().as_path())
                    .and_then(|p| p.parent())
                    .map(|p| p.to_path_buf())
            })
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_default();
        let suffix = match self.settings.kind {
            ExportKind::Figure => self.settings.figure.view.name(),
            ExportKind::PredictionsCsv | ExportKind::PredictionsNpy => "classes",
            ExportKind::RegionsJson => "regions",
        };
        self.path = dir
            .join(format!("{stem}_{suffix}.{}", self.settings.extension()))
            .display()
            .to_string();
    }

    fn request(&self, path: PathBuf, overwrite: bool, scale_bar_possible: bool) -> ExportRequest {
        let mut figure = self.settings.figure.clone();
        figure.scale_bar &= scale_bar_possible;
        ExportRequest {
            kind: self.settings.kind,
            path,
            figure,
            format: self.settings.format,
            overwrite,
        }
    }

    /// The figure settings.
    fn figure_ui(&mut self, ui: &mut egui::Ui, scale_bar_possible: bool) {
        let figure = &mut self.settings.figure;
        egui::ComboBox::from_label("view")
            .selected_text(view_name(figure.view))
            .show_ui(ui, |ui| {
                for v in View::ALL {
                    ui.selectable_value(&mut figure.view, v, view_name(v));
                }
            });
        ui.horizontal(|ui| {
            ui.label("format");
            for f in Format::ALL {
                ui.radio_value(&mut self.settings.format, f, f.name().to_ascii_uppercase());
            }
        });
        ui.horizontal(|ui| {
            let label = ui.label("DPI");
            ui.add(egui::DragValue::new(&mut figure.dpi).range(50.0..=1200.0))
                .labelled_by(label.id);
            let label = ui.label("width (mm)");
            let mut width = figure.width_mm();
            if ui
                .add(egui::DragValue::new(&mut width).range(20.0..=500.0))
                .labelled_by(label.id)
                .changed()
            {
                figure.width_mm = Some(width);
            }
            if figure.width_mm.is_some() && ui.button("default").clicked() {
                figure.width_mm = None;
            }
        });
        ui.label(format!(
            "{} px wide at {} DPI",
            figure.width_px(),
            figure.dpi
        ));
        ui.horizontal(|ui| {
            let label = ui.label("title");
            let mut title = figure.title.clone().unwrap_or_default();
            ui.add(egui::TextEdit::singleline(&mut title).desired_width(240.0))
                .labelled_by(label.id);
            figure.title = Some(title).filter(|t| !t.trim().is_empty());
        });
        ui.checkbox(&mut figure.legend, "legends");
        ui.add_enabled(
            scale_bar_possible,
            egui::Checkbox::new(&mut figure.scale_bar, "scale bar"),
        )
        .on_disabled_hover_text("needs the scan step (calibration)");
        ui.checkbox(&mut figure.regions, "region outlines");
        ui.checkbox(&mut figure.defects, "defect markers");
    }

    /// Shows the dialog; returns a request when the user saves.
    pub fn show(
        &mut self,
        ctx: &egui::Context,
        dataset: Option<&Path>,
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
                let before = (
                    self.settings.kind,
                    self.settings.format,
                    self.settings.figure.view,
                );
                egui::ComboBox::from_label("what")
                    .selected_text(self.settings.kind.name())
                    .show_ui(ui, |ui| {
                        for k in ExportKind::ALL {
                            ui.selectable_value(&mut self.settings.kind, k, k.name());
                        }
                    });
                if self.settings.kind == ExportKind::Figure {
                    self.figure_ui(ui, scale_bar_possible);
                }
                let after = (
                    self.settings.kind,
                    self.settings.format,
                    self.settings.figure.view,
                );
                if before != after {
                    // The name follows what is exported, in the folder being edited.
                    let folder = PathBuf::from(self.path.trim())
                        .parent()
                        .filter(|d| d.is_dir())
                        .map(Path::to_path_buf);
                    let remembered = std::mem::replace(&mut self.settings.folder, folder);
                    self.suggest_path(dataset);
                    self.settings.folder = remembered;
                }
                ui.horizontal(|ui| {
                    let label = ui.label("Export path");
                    ui.add(egui::TextEdit::singleline(&mut self.path).desired_width(320.0))
                        .labelled_by(label.id);
                    if ui.button("Browse…").clicked() {
                        let mut dialog = rfd::FileDialog::new()
                            .add_filter(self.settings.kind.name(), &[self.settings.extension()]);
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
                ui.separator();
                if ui.button("Save").clicked() {
                    let path = PathBuf::from(self.path.trim());
                    if path.as_os_str().is_empty() {
                        // Nothing to do: the field is empty.
                    } else if path.exists() {
                        self.confirm_overwrite = Some(path);
                    } else {
                        request = Some(self.request(path, false, scale_bar_possible));
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
                    request = Some(self.request(path, true, scale_bar_possible));
                }
            }
        }
        if let Some(r) = &request {
            self.open = false;
            self.settings.folder = r
                .path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map(Path::to_path_buf);
        }
        request
    }
}
