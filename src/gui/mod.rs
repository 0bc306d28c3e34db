//! The desktop app (eframe/egui), a thin shell over the library. Every number it shows comes
//! from `polarmap_core` (through a `Session`), computed on background threads (`tasks`), which
//! also render the images; the UI thread lays out, routes requests and answers, and uploads
//! textures. See docs/architecture.md, "The GUI".

pub mod app;
pub mod data;
pub mod dialogs;
mod input;
pub mod layout;
mod menus;
pub mod render;
pub mod request;
pub mod state;
mod status;
pub mod tasks;
pub mod views;

pub use app::{PolarmapApp, Startup};

use eframe::egui;
use std::path::PathBuf;

/// The built-in demo scan shipped in `assets/`.
pub fn demo_path() -> PathBuf {
    crate::assets::demo_path()
}

/// The last component of a path, for labels.
pub fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Opens the app's window on `path` (the demo scan when None) and runs until it is closed.
pub fn run(path: Option<PathBuf>) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("polarmap")
            .with_inner_size([1500.0, 900.0])
            .with_min_inner_size([800.0, 500.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    let startup = Startup {
        path: Some(path.unwrap_or_else(demo_path)),
        persist: true,
    };
    eframe::run_native(
        "polarmap",
        options,
        Box::new(move |cc| Ok(Box::new(PolarmapApp::new(cc, startup)))),
    )
    .map_err(|e| anyhow::anyhow!("cannot start the desktop app: {e}"))
}
