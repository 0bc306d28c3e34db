//! The About window.

use eframe::egui;

pub fn show(ctx: &egui::Context, open: &mut bool) {
    if !*open {
        return;
    }
    egui::Window::new("About polarmap")
        .open(open)
        .collapsible(false)
        .show(ctx, |ui| {
            ui.label(format!("polarmap {}", env!("CARGO_PKG_VERSION")));
            ui.label("Polarization maps of ferroelectrics from 4D-STEM data.");
            ui.label(
                "Conventions: scan [row, col, det_row, det_col]; x right, y up; angles counter-clockwise.",
            );
        });
}
