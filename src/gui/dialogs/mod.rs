//! Dialog windows: export, calibration, open by path, train, simulate, about. Each keeps what
//! the user typed and returns a [`Request`] when the user asks for something.

pub mod about;
pub mod calibration;
pub mod export;
pub mod open_path;
pub mod scan_shape;
pub mod simulate;
pub mod train;

use crate::gui::data::Dataset;
use crate::gui::request::Request;
use crate::gui::tasks::RunningJob;
use eframe::egui;
use polarmap_core::models::DeviceChoice;

/// What the dialogs read this frame.
pub struct DialogContext<'a> {
    pub data: Option<&'a Dataset>,
    /// Where networks run (the model panel's choice).
    pub device: DeviceChoice,
    pub train_job: Option<&'a RunningJob>,
    pub simulate_job: Option<&'a RunningJob>,
}

#[derive(Default)]
pub struct Dialogs {
    pub export: export::ExportDialog,
    pub calibration: calibration::CalibrationDialog,
    pub open_path: open_path::OpenPathDialog,
    pub scan_shape: scan_shape::ScanShapeDialog,
    pub train: train::TrainDialog,
    pub simulate: simulate::SimulateDialog,
    pub about: bool,
}

impl Dialogs {
    /// Shows the open dialogs; returns what the user asked for.
    pub fn show(&mut self, ctx: &egui::Context, dc: DialogContext<'_>) -> Vec<Request> {
        let mut requests = Vec::new();
        let path = dc.data.map(|d| d.path.as_path());
        let has_step = dc
            .data
            .is_some_and(|d| d.calibration().scan_step_a.is_some());
        requests.extend(self.export.show(ctx, path, has_step).map(Request::Export));
        let scan = dc.data.map(|d| d.path.as_path());
        requests.extend(self.calibration.show(ctx, scan));
        requests.extend(self.open_path.show(ctx).map(Request::Open));
        requests.extend(self.scan_shape.show(ctx));
        requests.extend(self.train.show(ctx, dc.device, path, dc.train_job));
        requests.extend(self.simulate.show(ctx, dc.simulate_job));
        about::show(ctx, &mut self.about);
        requests
    }
}
