//! The status bar at the bottom, one line at any window width: the open scan (details on
//! hover), its calibration (click to edit), the open in flight, memory, every running job with
//! its progress and Cancel button, the last notice (cut to what fits; the Log has it whole).

use crate::gui::dialogs::calibration::{self, CalibrationDialog};
use crate::gui::file_name;
use crate::gui::request::Request;
use crate::gui::state::AppState;
use crate::gui::tasks::Tasks;
use eframe::egui;

/// The status bar; returns the jobs the user cancelled.
pub fn status_bar(
    ui: &mut egui::Ui,
    state: &AppState,
    tasks: &Tasks,
    calibration_dialog: &mut CalibrationDialog,
) -> Vec<Request> {
    let mut requests = Vec::new();
    ui.horizontal(|ui| {
        match &state.data {
            Some(d) => {
                let [r, c, dr, dc] = d.scan().shape();
                ui.add(egui::Label::new(format!(
                    "{} — {r}×{c} scan, {dr}×{dc} patterns",
                    file_name(&d.path)
                )))
                .on_hover_text(format!(
                    "{}\n{} ({}), opened in {:.2} s",
                    d.path.display(),
                    d.scan().dtype().name(),
                    d.scan().format(),
                    d.open_seconds
                ));
                ui.separator();
                if ui
                    .link(calibration::summary(d.calibration()))
                    .on_hover_text("edit the calibration")
                    .clicked()
                {
                    calibration_dialog.open_with(d.calibration());
                }
            }
            None => {
                ui.label("no scan open — File > Open, or drop a file on the window");
            }
        }
        let running = !tasks.predict.running().is_empty() || tasks.adapt.is_running();
        if let Some(note) = state.data.as_ref().and_then(|d| d.partial_note(running)) {
            ui.separator();
            ui.colored_label(ui.visuals().warn_fg_color, format!("class map {note}"));
        }
        if let Some(o) = &state.opening {
            ui.separator();
            ui.label(format!("opening {}…", file_name(&o.path)));
        }
        if let Some(bytes) = resident_memory() {
            ui.separator();
            ui.label(format!("memory {:.0} MB", bytes as f64 / 1e6));
        }
        for job in tasks.running() {
            ui.separator();
            if crate::gui::views::job_progress(ui, job) {
                requests.push(Request::Cancel(job.id));
            }
        }
        if let Some(n) = &state.notice {
            ui.separator();
            ui.add(egui::Label::new(n).truncate());
        }
    });
    requests
}

/// Resident memory of this process in bytes (Linux; None elsewhere).
pub fn resident_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = text.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
