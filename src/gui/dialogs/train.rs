//! Train a model: labelled scans chosen here (or simulated from a preset first), PCA+kNN or a
//! Conv encoder with one of the paper's heads; per-epoch loss and accuracy as they come in. The
//! work is the training task (`tasks::train`); the model file is never replaced without asking.

use crate::gui::file_name;
use crate::gui::request::Request;
use crate::gui::tasks::RunningJob;
use eframe::egui;
use egui_plot::{Legend, Line, Plot, PlotPoints};
use polarmap_core::models::card::ModelCard;
use polarmap_core::models::nets::{Architecture, Head};
use polarmap_core::models::train::{EpochMetrics, ModelKind, TrainConfig};
use polarmap_core::models::DeviceChoice;
use std::path::{Path, PathBuf};

/// Where the training data comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataSource {
    Scans,
    Preset,
}

pub struct TrainDialog {
    pub open: bool,
    pub source: DataSource,
    /// Labelled scans to train on.
    pub scans: Vec<PathBuf>,
    /// A scan path typed by hand.
    pub typed: String,
    pub preset: String,
    /// Folder the preset's scans are written to.
    pub preset_dir: String,
    /// None: PCA+kNN; Some(head): the Conv encoder with that head.
    pub conv_head: Option<Head>,
    pub epochs: usize,
    /// Patterns per class at most (0: all).
    pub max_per_class: usize,
    pub seed: u64,
    /// Detector pixels averaged per input pixel, per side (`--input-binning`: 1, 2 or 4).
    pub input_binning: usize,
    /// The model file to write.
    pub out: String,
    confirm_overwrite: Option<PathBuf>,
    /// Metrics of the run on screen, epoch by epoch.
    pub history: Vec<EpochMetrics>,
    /// The last finished run: its model file and test-split accuracy.
    pub finished: Option<(PathBuf, f64)>,
}

impl Default for TrainDialog {
    fn default() -> Self {
        TrainDialog {
            open: false,
            source: DataSource::Scans,
            scans: Vec::new(),
            typed: String::new(),
            preset: "quick".into(),
            preset_dir: "sim".into(),
            conv_head: None,
            epochs: 20,
            max_per_class: 0,
            seed: 888,
            input_binning: 1,
            // The user's models folder, not the working directory.
            out: crate::assets::user_models_dir()
                .join("trained.pmm")
                .display()
                .to_string(),
            confirm_overwrite: None,
            history: Vec::new(),
            finished: None,
        }
    }
}

/// A training run to start.
#[derive(Debug, Clone)]
pub struct TrainRequest {
    pub scans: Vec<PathBuf>,
    /// Simulate this preset into this folder first, and train on what it wrote.
    pub preset: Option<(String, PathBuf)>,
    pub config: TrainConfig,
    pub device: DeviceChoice,
    pub out: PathBuf,
    pub overwrite: bool,
}

impl TrainDialog {
    pub fn add_scan(&mut self, path: PathBuf) {
        if !self.scans.contains(&path) {
            self.scans.push(path);
        }
    }

    fn model(&self) -> ModelKind {
        match self.conv_head {
            None => ModelKind::PcaKnn,
            Some(head) => ModelKind::Net {
                architecture: Architecture::Conv,
                head,
            },
        }
    }

    fn request(&self, device: DeviceChoice, overwrite: bool) -> TrainRequest {
        TrainRequest {
            scans: self.scans.clone(),
            preset: (self.source == DataSource::Preset)
                .then(|| (self.preset.clone(), PathBuf::from(self.preset_dir.trim()))),
            config: TrainConfig {
                epochs: self.epochs.max(1),
                seed: self.seed,
                max_per_class: (self.max_per_class > 0).then_some(self.max_per_class),
                ..TrainConfig::paper(self.model())
            }
            .with_window(polarmap_core::preprocess::PAPER_CROP, self.input_binning),
            device,
            out: PathBuf::from(self.out.trim()),
            overwrite,
        }
    }

    /// Shows the dialog; `open_scan` is the scan on screen (offered as training data).
    pub fn show(
        &mut self,
        ctx: &egui::Context,
        device: DeviceChoice,
        open_scan: Option<&Path>,
        running: Option<&RunningJob>,
    ) -> Option<Request> {
        if !self.open {
            return None;
        }
        let mut action = None;
        let mut open = self.open;
        egui::Window::new("Train a model")
            .open(&mut open)
            .default_width(460.0)
            .show(ctx, |ui| {
                action = self.contents(ui, device, open_scan, running);
            });
        self.open = open;
        if let Some(path) = self.confirm_overwrite.clone() {
            let mut answer = None;
            egui::Modal::new(egui::Id::unique("confirm model overwrite")).show(ctx, |ui| {
                ui.label(format!("{} already exists. Replace it?", path.display()));
                ui.horizontal(|ui| {
                    if ui.button("Replace").clicked() {
                        answer = Some(true);
                    }
                    if ui.button("Keep it").clicked() {
                        answer = Some(false);
                    }
                });
            });
            if let Some(replace) = answer {
                self.confirm_overwrite = None;
                if replace {
                    self.history.clear();
                    self.finished = None;
                    action = Some(Request::Train(Box::new(self.request(device, true))));
                }
            }
        }
        action
    }

    fn contents(
        &mut self,
        ui: &mut egui::Ui,
        device: DeviceChoice,
        open_scan: Option<&Path>,
        running: Option<&RunningJob>,
    ) -> Option<Request> {
        let mut action = None;
        ui.horizontal(|ui| {
            ui.label("Training data:");
            ui.radio_value(&mut self.source, DataSource::Scans, "labelled scans");
            ui.radio_value(&mut self.source, DataSource::Preset, "simulate a preset");
        });
        match self.source {
            DataSource::Scans => {
                let mut remove = None;
                for (i, p) in self.scans.iter().enumerate() {
                    ui.horizontal(|ui| {
                        ui.label(file_name(p))
                            .on_hover_text(p.display().to_string());
                        if ui.small_button("remove").clicked() {
                            remove = Some(i);
                        }
                    });
                }
                if let Some(i) = remove {
                    self.scans.remove(i);
                }
                if self.scans.is_empty() {
                    ui.label("(no scans yet: they need labels in their NAME.meta.json)");
                }
                ui.horizontal(|ui| {
                    if ui.button("Add scans…").clicked() {
                        for p in rfd::FileDialog::new().pick_files().unwrap_or_default() {
                            self.add_scan(p);
                        }
                    }
                    if let Some(p) = open_scan {
                        if ui.button("Add the open scan").clicked() {
                            self.add_scan(p.to_path_buf());
                        }
                    }
                });
                ui.horizontal(|ui| {
                    let label = ui.label("Scan path");
                    ui.add(egui::TextEdit::singleline(&mut self.typed).desired_width(240.0))
                        .labelled_by(label.id);
                    if ui.button("Add").clicked() && !self.typed.trim().is_empty() {
                        self.add_scan(PathBuf::from(self.typed.trim()));
                        self.typed.clear();
                    }
                });
            }
            DataSource::Preset => {
                ui.horizontal(|ui| {
                    egui::ComboBox::from_label("preset")
                        .selected_text(self.preset.as_str())
                        .show_ui(ui, |ui| {
                            for p in polarmap_sim::job::PRESETS {
                                ui.selectable_value(&mut self.preset, p.to_string(), p);
                            }
                        });
                    let label = ui.label("into folder");
                    ui.text_edit_singleline(&mut self.preset_dir)
                        .labelled_by(label.id);
                });
            }
        }
        ui.separator();
        ui.horizontal(|ui| {
            ui.label("Model:");
            ui.radio_value(&mut self.conv_head, None, "PCA+kNN");
            for head in Head::ALL {
                ui.radio_value(
                    &mut self.conv_head,
                    Some(head),
                    format!("Conv ({})", head.name()),
                );
            }
        });
        ui.horizontal(|ui| {
            let l = ui.label("epochs");
            ui.add(egui::DragValue::new(&mut self.epochs).range(1..=500))
                .labelled_by(l.id);
            let l = ui.label("max per class (0: all)");
            ui.add(egui::DragValue::new(&mut self.max_per_class).range(0..=1_000_000))
                .labelled_by(l.id);
            let l = ui.label("seed");
            ui.add(egui::DragValue::new(&mut self.seed))
                .labelled_by(l.id);
        });
        ui.horizontal(|ui| {
            ui.label("input binning").on_hover_text(
                "N×N detector pixels per input pixel: the 64-px window at 1/N² the cost",
            );
            for n in [1, 2, 4] {
                ui.radio_value(&mut self.input_binning, n, format!("{n}×"));
            }
        });
        ui.horizontal(|ui| {
            let label = ui.label("Model file");
            ui.add(egui::TextEdit::singleline(&mut self.out).desired_width(280.0))
                .labelled_by(label.id);
            if ui
                .button("…")
                .on_hover_text("choose where to save")
                .clicked()
            {
                if let Some(p) = rfd::FileDialog::new()
                    .add_filter("polarmap models", &[polarmap_core::models::file::EXTENSION])
                    .save_file()
                {
                    self.out = p.display().to_string();
                }
            }
        });
        let has_data = self.source == DataSource::Preset || !self.scans.is_empty();
        let ready = has_data && !self.out.trim().is_empty() && running.is_none();
        if ui.add_enabled(ready, egui::Button::new("Train")).clicked() {
            let out = PathBuf::from(self.out.trim());
            if out.exists() || ModelCard::path_for(&out).exists() {
                self.confirm_overwrite = Some(out);
            } else {
                self.history.clear();
                self.finished = None;
                action = Some(Request::Train(Box::new(self.request(device, false))));
            }
        }
        if let Some(job) = running {
            if crate::gui::views::job_progress(ui, job) {
                action = Some(Request::Cancel(job.id));
            }
        }
        if !self.history.is_empty() {
            history_plot(ui, &self.history);
            if let Some(m) = self.history.last() {
                ui.label(format!(
                    "epoch {}: train loss {:.4}, accuracy {:.3} | validation loss {:.4}, accuracy {:.3}",
                    m.epoch, m.train_loss, m.train_accuracy, m.val_loss, m.val_accuracy
                ));
            }
        }
        if let Some((path, accuracy)) = &self.finished {
            ui.label(format!(
                "Trained {}: test-split accuracy {:.1} %",
                file_name(path),
                100.0 * accuracy
            ));
            if ui.button("Use this model").clicked() {
                action = Some(Request::RunModel(path.clone()));
            }
        }
        action
    }
}

/// Loss and accuracy per epoch, training and validation.
fn history_plot(ui: &mut egui::Ui, history: &[EpochMetrics]) {
    let series = |f: fn(&EpochMetrics) -> f64| -> PlotPoints {
        history.iter().map(|m| [m.epoch as f64, f(m)]).collect()
    };
    Plot::new("training history")
        .height(160.0)
        .legend(Legend::default())
        .x_axis_label("epoch")
        .include_y(0.0)
        .show(ui, |plot| {
            plot.line(Line::new("train loss", series(|m| m.train_loss)));
            plot.line(Line::new("validation loss", series(|m| m.val_loss)));
            plot.line(Line::new("train accuracy", series(|m| m.train_accuracy)));
            plot.line(Line::new("validation accuracy", series(|m| m.val_accuracy)));
        });
}
