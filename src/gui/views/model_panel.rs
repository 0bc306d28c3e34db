//! The model panel: the shipped models and any other model file (file dialog or typed path),
//! the selected model's card, where networks run (auto / GPU / CPU), and the running inference
//! with its progress and cancel button.

use super::{View, ViewContext};
use crate::gui::file_name;
use crate::gui::request::Request;
use eframe::egui;
use polarmap_core::models::card::ModelCard;
use polarmap_core::models::DeviceChoice;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelPanel {
    /// Where networks run (inference here, training in the train dialog).
    pub device: DeviceChoice,
    /// Model files listed: the shipped ones, then those picked, typed or trained.
    #[serde(skip)]
    pub models: Vec<PathBuf>,
    /// The model the class map comes from (or will); the one remembered between runs is the
    /// app's `Settings::model`, set once a model has worked.
    #[serde(skip)]
    pub selected: Option<PathBuf>,
    /// The selected model's card, read when the selection changes.
    #[serde(skip)]
    card: Option<(PathBuf, Result<ModelCard, String>)>,
    /// A model path typed by hand.
    #[serde(skip)]
    pub typed: String,
}

impl ModelPanel {
    /// Lists `shipped` (kept first) plus the models already added.
    pub fn set_shipped(&mut self, shipped: Vec<PathBuf>) {
        let added: Vec<PathBuf> = self
            .models
            .drain(..)
            .filter(|p| !shipped.contains(p))
            .collect();
        self.models = shipped;
        self.models.extend(added);
    }

    /// Adds a model file to the list (once).
    pub fn add(&mut self, path: PathBuf) {
        if !self.models.contains(&path) {
            self.models.push(path);
        }
    }

    fn card(&mut self) -> Option<&Result<ModelCard, String>> {
        let selected = self.selected.as_ref()?;
        if self.card.as_ref().is_none_or(|(p, _)| p != selected) {
            let card_path = ModelCard::path_for(selected);
            let card = if card_path.exists() {
                ModelCard::read(&card_path).map_err(|e| e.to_string())
            } else {
                Err(format!(
                    "no model card beside it ({})",
                    file_name(&card_path)
                ))
            };
            self.card = Some((selected.clone(), card));
        }
        self.card.as_ref().map(|(_, c)| c)
    }

    /// Selects `path` (listing it if new).
    pub fn select(&mut self, path: PathBuf) {
        self.add(path.clone());
        self.selected = Some(path);
    }
}

impl View for ModelPanel {
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ViewContext<'_>) {
        let has_scan = ctx.data.is_some();
        let mut action = None;
        ui.label("Models (click one to run it on the scan):");
        for path in &self.models {
            let selected = self.selected.as_ref() == Some(path);
            if ui
                .selectable_label(selected, file_name(path))
                .on_hover_text(path.display().to_string())
                .clicked()
            {
                action = Some(Request::RunModel(path.clone()));
            }
        }
        if self.models.is_empty() {
            ui.label("(no model files in the models folder)");
        }
        ui.horizontal(|ui| {
            if ui.button("Other model file…").clicked() {
                if let Some(p) = rfd::FileDialog::new()
                    .add_filter("polarmap models", &[polarmap_core::models::file::EXTENSION])
                    .pick_file()
                {
                    action = Some(Request::RunModel(p));
                }
            }
        });
        ui.horizontal(|ui| {
            let label = ui.label("Model path");
            let edit = ui
                .add(egui::TextEdit::singleline(&mut self.typed).desired_width(200.0))
                .labelled_by(label.id);
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if (ui.button("Use").clicked() || enter) && !self.typed.trim().is_empty() {
                action = Some(Request::RunModel(PathBuf::from(self.typed.trim())));
            }
        });
        ui.horizontal(|ui| {
            ui.label("Device:");
            for (choice, name) in [
                (DeviceChoice::Auto, "auto"),
                (DeviceChoice::Gpu, "gpu"),
                (DeviceChoice::Cpu, "cpu"),
            ] {
                ui.radio_value(&mut self.device, choice, name)
                    .on_hover_text("where networks run (PCA+kNN always runs on the CPU)");
            }
            let can_run = has_scan && self.selected.is_some();
            if ui
                .add_enabled(can_run, egui::Button::new("Run model"))
                .clicked()
            {
                action = self.selected.clone().map(Request::RunModel);
            }
        });
        if let Some(job) = ctx.inference {
            if super::job_progress(ui, job) {
                action = Some(Request::Cancel(job.id));
            }
        }
        if let Some(card) = self.card() {
            egui::CollapsingHeader::new("Model card")
                .default_open(true)
                .show(ui, |ui| match card {
                    Ok(card) => card_ui(ui, card),
                    Err(e) => {
                        ui.label(e.as_str());
                    }
                });
        }
        ctx.requests.extend(action);
    }
}

fn card_ui(ui: &mut egui::Ui, card: &ModelCard) {
    egui::Grid::new("model card")
        .num_columns(2)
        .spacing([8.0, 2.0])
        .show(ui, |ui| {
            ui.label("name");
            ui.label(&card.name);
            ui.end_row();
            ui.label("architecture");
            ui.label(format!("{}, head {}", card.architecture, card.head));
            ui.end_row();
            ui.label("input");
            ui.label(input_text(&card.input));
            ui.end_row();
            ui.label("test split");
            ui.label(match card.test_accuracy() {
                Some(a) => format!("{:.1} % accuracy", 100.0 * a),
                None => "not recorded".into(),
            });
            ui.end_row();
            if let Some(t) = card.transfer() {
                ui.label("transfer suite");
                ui.label(format!("right on {}", t.right.join(", ")));
                ui.end_row();
                for (what, conditions) in [("partly right on", &t.partly), ("wrong on", &t.wrong)] {
                    if !conditions.is_empty() {
                        ui.label("");
                        ui.label(
                            egui::RichText::new(format!("{what} {}", conditions.join(", ")))
                                .color(ui.visuals().warn_fg_color),
                        );
                        ui.end_row();
                    }
                }
            }
        });
    ui.label("made by:");
    ui.add(egui::Label::new(egui::RichText::new(&card.command).monospace().small()).wrap());
}

/// "64×64 px, global-com, 0.469 mrad/px, disk r 20.4 px" from the card's input spec.
fn input_text(input: &serde_json::Value) -> String {
    match serde_json::from_value::<polarmap_core::models::InputSpec>(input.clone()) {
        Ok(spec) => {
            let mut parts = vec![
                format!("{0}×{0} px", spec.size),
                serde_json::to_value(spec.centring)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
            ];
            if let Some(m) = spec.mrad_per_px {
                parts.push(format!("{m:.3} mrad/px"));
            }
            if let Some(r) = spec.disk_radius_px {
                parts.push(format!("disk r {r:.1} px"));
            }
            if spec.find_tilt {
                parts.push("follows the specimen tilt".into());
            }
            parts.join(", ")
        }
        Err(_) => input.to_string(),
    }
}
