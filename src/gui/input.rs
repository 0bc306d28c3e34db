//! Input that belongs to no widget: files dropped on the window, arrow keys moving the selection.

use crate::gui::request::Request;
use crate::gui::state::AppState;
use eframe::egui;

/// Reads this frame's drops and keys; a dropped file is a request to open it.
pub fn read(ctx: &egui::Context, state: &mut AppState) -> Option<Request> {
    let dropped = ctx.input(|i| i.raw.dropped_files.first().map(|f| f.path().to_path_buf()));
    if state.data.is_some() && !ctx.egui_wants_keyboard_input() {
        let (l, r, u, d) = ctx.input(|i| {
            (
                i.key_pressed(egui::Key::ArrowLeft),
                i.key_pressed(egui::Key::ArrowRight),
                i.key_pressed(egui::Key::ArrowUp),
                i.key_pressed(egui::Key::ArrowDown),
            )
        });
        let (dr, dc) = (d as isize - u as isize, r as isize - l as isize);
        if dr != 0 || dc != 0 {
            state.linked.step_selection(dr, dc);
        }
    }
    dropped.map(Request::Open)
}
