//! The scan-shape question: a file that does not say its scan shape (a 3-D stack, a Merlin or
//! MRC series without a header that says it, no sidecar) opens as one row of frames; this asks
//! for rows × cols, suggesting the frame count's factorisations (most square first,
//! `polarmap_core::scan::scan_shapes_for`), and opens the file again with that shape.

use crate::gui::request::Request;
use eframe::egui;
use std::path::PathBuf;

#[derive(Default)]
pub struct ScanShapeDialog {
    /// The file asked about and its frame count (None: closed).
    pub asking: Option<(PathBuf, usize)>,
    pub rows: usize,
    pub cols: usize,
}

impl ScanShapeDialog {
    /// Opens the question for `path` of `frames` frames, the most square layout filled in.
    pub fn ask(&mut self, path: PathBuf, frames: usize) {
        let [rows, cols] = polarmap_core::scan::scan_shapes_for(frames)
            .first()
            .copied()
            .unwrap_or([1, frames]);
        (self.rows, self.cols) = (rows, cols);
        self.asking = Some((path, frames));
    }

    pub fn show(&mut self, ctx: &egui::Context) -> Option<Request> {
        let (path, frames) = self.asking.clone()?;
        let mut request = None;
        let mut open = true;
        egui::Window::new("Scan shape")
            .open(&mut open)
            .collapsible(false)
            .show(ctx, |ui| {
                ui.label(format!(
                    "{} does not say its scan shape: its {frames} frames are shown as one row.",
                    crate::gui::file_name(&path)
                ));
                ui.horizontal_wrapped(|ui| {
                    ui.label("Suggested:");
                    for [r, c] in polarmap_core::scan::scan_shapes_for(frames)
                        .into_iter()
                        .take(6)
                    {
                        if ui.button(format!("{r} × {c}")).clicked() {
                            (self.rows, self.cols) = (r, c);
                        }
                    }
                });
                ui.horizontal(|ui| {
                    let l = ui.label("Rows");
                    ui.add(egui::DragValue::new(&mut self.rows).range(1..=frames))
                        .labelled_by(l.id);
                    let l = ui.label("cols");
                    ui.add(egui::DragValue::new(&mut self.cols).range(1..=frames))
                        .labelled_by(l.id);
                });
                let fits = self.rows.checked_mul(self.cols) == Some(frames);
                if !fits {
                    ui.colored_label(
                        ui.visuals().warn_fg_color,
                        format!("{} × {} ≠ {frames} frames", self.rows, self.cols),
                    );
                }
                ui.horizontal(|ui| {
                    if ui
                        .add_enabled(fits, egui::Button::new("Reopen"))
                        .on_hover_text("open the file again with this scan shape")
                        .clicked()
                    {
                        request =
                            Some(Request::OpenWithShape(path.clone(), [self.rows, self.cols]));
                    }
                    if ui.button("Keep one row").clicked() {
                        self.asking = None;
                    }
                });
            });
        if !open || request.is_some() {
            self.asking = None;
        }
        request
    }
}
