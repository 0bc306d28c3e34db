//! Simulate a labelled dataset from one of the simulator's presets
//! (the simulation task, `tasks::simulate`), then open what it wrote.

use crate::gui::request::Request;
use crate::gui::tasks::RunningJob;
use eframe::egui;
use std::path::PathBuf;

pub struct SimulateDialog {
    pub open: bool,
    pub preset: String,
    pub dir: String,
    pub overwrite: bool,
}

impl Default for SimulateDialog {
    fn default() -> Self {
        SimulateDialog {
            open: false,
            preset: "quick".into(),
            dir: "sim".into(),
            overwrite: false,
        }
    }
}

/// A simulation to start.
#[derive(Debug, Clone)]
pub struct SimulateRequest {
    pub preset: String,
    pub dir: PathBuf,
    pub overwrite: bool,
}

/// What each preset is, for the dialog.
fn describe(preset: &str) -> &'static str {
    match preset {
        "quick" => "one small RD scan, 16×16 positions, 64-px detector (seconds)",
        "demo" => {
            "the built-in demo: RM | RD-with-vacancy mosaic, 32×32 positions (a minute or so)"
        }
        "paper-train" => {
            "the paper's training set: 8 scans of 128×128 positions, 256-px detector (hours)"
        }
        "wide-train" => {
            "the shipped models' training set: 8 classes × 20/35/65 nm, 64×64 positions over \
             4×4-cell crystals, 64-px detector (about 40 minutes in a release build)"
        }
        "seeds-train" => {
            "the networks' training set: 8 classes × 4 crystals (other K/Na arrangements), \
             32×32 positions over 4×4-cell crystals, 20 nm, 64-px detector (about 15 minutes)"
        }
        "paper-tests" => "the paper's test sets 1S–7S, 128×128 positions each (hours)",
        "paper-defect" => "RD with one oxygen vacancy, 128×128 positions (long)",
        _ => "",
    }
}

impl SimulateDialog {
    pub fn show(&mut self, ctx: &egui::Context, running: Option<&RunningJob>) -> Option<Request> {
        if !self.open {
            return None;
        }
        let mut action = None;
        let mut open = self.open;
        egui::Window::new("Simulate a dataset")
            .open(&mut open)
            .collapsible(false)
            .show(ctx, |ui| {
                egui::ComboBox::from_label("preset")
                    .selected_text(self.preset.as_str())
                    .show_ui(ui, |ui| {
                        for p in polarmap_sim::job::PRESETS {
                            ui.selectable_value(&mut self.preset, p.to_string(), p);
                        }
                    });
                ui.label(describe(&self.preset));
                ui.horizontal(|ui| {
                    let label = ui.label("Output folder");
                    ui.add(egui::TextEdit::singleline(&mut self.dir).desired_width(260.0))
                        .labelled_by(label.id);
                    if ui.button("…").clicked() {
                        if let Some(p) = rfd::FileDialog::new().pick_folder() {
                            self.dir = p.display().to_string();
                        }
                    }
                });
                ui.checkbox(&mut self.overwrite, "replace scans that exist");
                let ready = running.is_none() && !self.dir.trim().is_empty();
                if ui
                    .add_enabled(ready, egui::Button::new("Simulate"))
                    .clicked()
                {
                    action = Some(Request::Simulate(SimulateRequest {
                        preset: self.preset.clone(),
                        dir: PathBuf::from(self.dir.trim()),
                        overwrite: self.overwrite,
                    }));
                }
                if let Some(job) = running {
                    if crate::gui::views::job_progress(ui, job) {
                        action = Some(Request::Cancel(job.id));
                    }
                }
                ui.label("The first scan written opens when the simulation ends; all of them are added to the training dialog.");
            });
        self.open = open;
        action
    }
}
