//! The menu bar: File (open, recent, export, quit), Dataset, Models, View (panes), Help. Menus open dialogs
//! and return requests; they start no work themselves.

use crate::gui::dialogs::Dialogs;
use crate::gui::layout::{Layout, Pane};
use crate::gui::request::Request;
use crate::gui::state::AppState;
use crate::gui::views::image_view::ViewTransform;
use crate::gui::views::Views;
use eframe::egui;

/// The file types offered by File > Open file….
/// Every extension a reader opens (`polarmap_core::scan::open`): NumPy, Merlin, HDF5 / EMD
/// (py4DSTEM, Prismatic, Dectris master + data, Velox), TIFF, blockfile, Gatan DM, MRC, TVIPS,
/// raw binary (with a sidecar layout).
pub const SCAN_EXTENSIONS: [&str; 16] = [
    "npy", "mib", "hdr", "h5", "hdf5", "hdf", "emd", "tif", "tiff", "blo", "dm3", "dm4", "mrc",
    "mrcs", "tvips", "raw",
];

pub fn menu_bar(
    ui: &mut egui::Ui,
    state: &mut AppState,
    dialogs: &mut Dialogs,
    views: &Views,
    layout: &mut Layout,
) -> Vec<Request> {
    let mut requests = Vec::new();
    egui::MenuBar::new().ui(ui, |ui| {
        ui.menu_button("File", |ui| file_menu(ui, state, dialogs, &mut requests));
        ui.menu_button("Dataset", |ui| {
            let has = state.data.is_some();
            if ui
                .add_enabled(has, egui::Button::new("Calibration…"))
                .clicked()
            {
                if let Some(d) = &state.data {
                    dialogs.calibration.open_with(d.calibration());
                }
            }
            if ui
                .add_enabled(has, egui::Button::new("Fit views"))
                .clicked()
            {
                let (r, c) = state.linked.dims;
                state.linked.transform = ViewTransform::fit(r, c);
            }
        });
        ui.menu_button("Models", |ui| {
            let model = views.model.selected.clone();
            if ui
                .add_enabled(
                    state.data.is_some() && model.is_some(),
                    egui::Button::new("Run the selected model"),
                )
                .clicked()
            {
                requests.extend(model.map(Request::RunModel));
            }
            if ui.button("Train…").clicked() {
                dialogs.train.open = true;
            }
            if ui.button("Simulate…").clicked() {
                dialogs.simulate.open = true;
            }
        });
        ui.menu_button("View", |ui| {
            ui.label("Panes (drag a tab to move a pane, its edge to resize it):");
            for pane in Pane::ALL {
                let mut open = layout.is_open(pane);
                if ui.checkbox(&mut open, pane.title()).changed() {
                    if open {
                        layout.show(pane);
                    } else {
                        layout.close(pane);
                    }
                }
            }
            ui.separator();
            if ui.button("Reset the layout").clicked() {
                *layout = Layout::default();
            }
        });
        ui.menu_button("Help", |ui| {
            if ui.button("About polarmap").clicked() {
                dialogs.about = true;
            }
        });
    });
    requests
}

fn file_menu(
    ui: &mut egui::Ui,
    state: &AppState,
    dialogs: &mut Dialogs,
    requests: &mut Vec<Request>,
) {
    if ui.button("Open file…").clicked() {
        let picked = rfd::FileDialog::new()
            .add_filter("4D-STEM scans", &SCAN_EXTENSIONS)
            .add_filter("raw binary (with a sidecar)", &["raw", "bin", "dat"])
            .add_filter("all files", &["*"])
            .pick_file();
        requests.extend(picked.map(Request::Open));
    }
    if ui.button("Open TIFF folder…").clicked() {
        requests.extend(rfd::FileDialog::new().pick_folder().map(Request::Open));
    }
    if ui.button("Open path…").clicked() {
        dialogs.open_path.open = true;
    }
    if ui.button("Open demo scan").clicked() {
        requests.push(Request::Open(crate::gui::demo_path()));
    }
    ui.menu_button("Recent", |ui| {
        if state.settings.recent.is_empty() {
            ui.label("(none)");
        }
        for p in &state.settings.recent {
            if ui.button(p.display().to_string()).clicked() {
                requests.push(Request::Open(p.clone()));
            }
        }
    });
    ui.separator();
    let path = state.data.as_ref().map(|d| d.path.clone());
    if ui
        .add_enabled(path.is_some(), egui::Button::new("Export…"))
        .clicked()
    {
        dialogs.export.open_for(path.as_deref());
    }
    ui.separator();
    if ui.button("Quit").clicked() {
        ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
    }
}
