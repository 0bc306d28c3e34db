//! Open by typing a path (for folders of TIFFs, remote mounts, and where no file dialog exists).

use eframe::egui;
use std::path::PathBuf;

#[derive(Default)]
pub struct OpenPathDialog {
    pub open: bool,
    pub path: String,
}

impl OpenPathDialog {
    pub fn show(&mut self, ctx: &egui::Context) -> Option<PathBuf> {
        if !self.open {
            return None;
        }
        let mut chosen = None;
        let mut open = self.open;
        egui::Window::new("Open path")
            .open(&mut open)
            .collapsible(false)
            .show(ctx, |ui| {
                ui.label("A file (.npy, .mib, .hdr, .h5/.hdf5/.emd, .tif, .blo, .dm3/.dm4, .mrc, .tvips, raw with sidecar) or a folder of TIFFs:");
                let label = ui.label("Path to open");
                let edit = ui
                    .add(egui::TextEdit::singleline(&mut self.path).desired_width(400.0))
                    .labelled_by(label.id);
                let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                if (ui.button("Open").clicked() || enter) && !self.path.trim().is_empty() {
                    chosen = Some(PathBuf::from(self.path.trim()));
                }
            });
        self.open = open && chosen.is_none();
        chosen
    }
}
