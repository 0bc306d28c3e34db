//! The error banner under the menu bar and the status bar at the bottom: the open scan, its
//! calibration (click to edit), the open in flight, memory, every running job with its progress
//! and Cancel button, the last notice.

use crate::gui::dialogs::calibration::{self, CalibrationDialog};
use crate::gui::file_name;
use crate::gui::request::Request;
use crate::gui::state::AppState;
use crate::gui::tasks::Tasks;
use eframe::egui;

/// The errors, each with a Dismiss button.
pub fn error_banner(ui: &mut egui::Ui, errors: &mut Vec<String>) {
    let mut dismiss = None;
    for (i, e) in errors.iter().enumerate() {
        ui.horizontal(|ui| {
            ui.colored_label(ui.visuals().error_fg_color, format!("Error: {e}"));
            if ui.small_button("Dismiss").clicked() {
                dismiss = Some(i);
            }
        });
    }
    if let Some(i) = dismiss {
        errors.remove(i);
    }
}

/// The status bar; returns the jobs the user cancelled.
pub fn status_bar(
    ui: &mut egui::Ui,
    state: &AppState,
    tasks: &Tasks,
    calibration_dialog: &mut CalibrationDialog,
) -> Vec<Request> {
    let mut requests = Vec::new();
    ui.horizontal_wrapped(|ui| {
        match &state.data {
            Some(d) => {
                let [r, c, dr, dc] = d.scan().shape();
                ui.label(format!(
                    "{} — {r}×{c} scan, {dr}×{dc} patterns, {} ({}), opened in {:.2} s",
                    file_name(&d.path),
                    d.scan().dtype().name(),
                    d.scan().format(),
                    d.open_seconds
                ))
                .on_hover_text(d.path.display().to_string());
                ui.separator();
                if ui
                    .link(calibration::summary(&d.calibration))
                    .on_hover_text("edit the calibration")
                    .clicked()
                {
                    calibration_dialog.open_with(&d.calibration);
                }
            }
            None => {
                ui.label("no scan open — File > Open, or drop a file on the window");
            }
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
            ui.label(n);
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
