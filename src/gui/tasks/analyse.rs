//! The pattern pass: `Session::features` with the app's virtual detectors and `Session::com`
//! (descan removed and not) in the calibration's rotation as edited in the app; the task renders
//! the virtual images and CoM maps before it answers.

use super::Worker;
use crate::gui::data::{AnalysisImages, AnalysisResult, Dataset};
use crate::gui::render;
use polarmap_core::analysis::ScanRotation;
use polarmap_core::session::{DescanChoice, RotationChoice};
use std::time::Instant;

/// The pass's answer.
pub type Analysed = AnalysisResult;

/// Runs the pass over `data` with its current detectors and calibration (a pass still running
/// is cancelled).
pub fn start(worker: &mut Worker<Analysed>, data: &Dataset) {
    let (session, geometry, calibration) = (data.session.clone(), data.geometry, data.calibration);
    let label = format!("pattern pass over {}", crate::gui::file_name(&data.path));
    worker.spawn(label, data.generation, move |progress, _| {
        let started = Instant::now();
        let maps = session.features(&geometry, progress)?;
        let rotation = RotationChoice::Fixed(ScanRotation {
            angle_deg: calibration.scan_rotation_deg.unwrap_or(0.0),
            flip: calibration.scan_flip.unwrap_or(false),
        });
        let com_descan = session
            .com(&maps, DescanChoice::Plane, rotation, progress)?
            .field;
        let com_raw = session
            .com(&maps, DescanChoice::None, rotation, progress)?
            .field;
        progress.check()?;
        let images = AnalysisImages {
            bf: render::grey(&maps.bf),
            adf: render::grey(&maps.adf),
            sum: render::grey(&maps.sum),
            com_descan: render::com(&com_descan),
            com_raw: render::com(&com_raw),
            wheel: render::wheel(64),
        };
        Ok(AnalysisResult {
            maps,
            com_descan,
            com_raw,
            seconds: started.elapsed().as_secs_f64(),
            images,
            rotation: (calibration.scan_rotation_deg, calibration.scan_flip),
        })
    });
}
