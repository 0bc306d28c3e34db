//! What the views, menus and dialogs ask the app to do. They never start work themselves: they
//! return requests, and the app routes each one (`app.rs`) to a task or a state change.

use crate::gui::data::SourceKind;
use crate::gui::dialogs::export::ExportRequest;
use crate::gui::dialogs::simulate::SimulateRequest;
use crate::gui::dialogs::train::TrainRequest;
use polarmap_core::analysis::DetectorGeometry;
use polarmap_core::maps::Region;
use polarmap_core::Calibration;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub enum Request {
    /// Open a scan (it replaces the one on screen once it has opened).
    Open(PathBuf),
    /// Open a scan again with this scan shape (rows, cols): its file did not say it.
    OpenWithShape(PathBuf, [usize; 2]),
    /// Run this model file over the open scan; it becomes the selected model.
    RunModel(PathBuf),
    /// Cancel the job with this id.
    Cancel(u64),
    /// Show the model's class map or the ground truth.
    ShowSource(SourceKind),
    /// A region drawn on a view.
    AddRegion(Region),
    RemoveRegion(u64),
    ClearRegions,
    /// Write the region table as CSV here; replace an existing file when true.
    ExportRegions(PathBuf, bool),
    /// Empty the Log pane.
    ClearLog,
    /// The class the user says a region is (None: not labelled).
    LabelRegion(u64, Option<polarmap_core::classes::Class>),
    /// Adapt the selected model to the labelled regions and show its class map.
    AdaptModel,
    /// Write the adapted model (and its card) here; replace an existing file when true.
    SaveAdapted(PathBuf, bool),
    /// Run the pattern pass with these virtual detectors.
    ApplyGeometry(DetectorGeometry),
    /// Sum this virtual detector over every pattern (its own pass) and show its image; the
    /// text says how it was defined.
    ComputeDetector(polarmap_core::analysis::VirtualDetector, String),
    /// Run the pattern pass again (its CoM is stale).
    RerunAnalysis,
    /// Run the selected model again (its map is stale).
    RerunModel,
    /// The calibration as edited by the user.
    SetCalibration(Calibration),
    /// Use this calibration and write it into the scan's sidecar; replace an existing sidecar
    /// when true (the user confirmed).
    SaveCalibration(Calibration, bool),
    Export(ExportRequest),
    /// Write the domains of the class map on screen as this file; replace an existing file
    /// when true (the user confirmed).
    ExportDomains(crate::gui::views::domains::DomainFile, PathBuf, bool),
    Train(Box<TrainRequest>),
    Simulate(SimulateRequest),
}
