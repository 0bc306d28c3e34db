//! The pattern pass: `Session::features_with` with the app's virtual detectors plus the four
//! quadrants of the iDPC, and `Session::com` (descan removed and not) in the calibration's
//! rotation as edited in the app; iCoM and iDPC are integrated here, and the task renders every
//! image before it answers.

use super::Worker;
use crate::gui::data::{AnalysisImages, AnalysisResult, Dataset};
use crate::gui::render;
use polarmap_core::analysis::{icom, idpc, ScanRotation, VirtualDetector};
use polarmap_core::session::{DescanChoice, RotationChoice};
use std::time::Instant;

/// The pass's answer.
pub type Analysed = AnalysisResult;

/// Runs the pass over `data` with its current detectors and calibration (a pass still running
/// is cancelled).
pub fn start(worker: &mut Worker<Analysed>, data: &Dataset) {
    let (session, geometry, calibration) =
        (data.session.clone(), data.geometry, *data.calibration());
    let label = format!("pattern pass over {}", crate::gui::file_name(&data.path));
    worker.spawn(label, data.generation, move |progress, _| {
        let started = Instant::now();
        // The segmented detector of the iDPC: the BF disk in four quadrants (as `com
        // --idpc-out`), summed in the same pass.
        let quadrants = VirtualDetector::quadrants(0.0, geometry.bf_radius);
        let maps = session.features_with(&geometry, &quadrants, progress)?;
        let rotation = ScanRotation {
            angle_deg: calibration.scan_rotation_deg.unwrap_or(0.0),
            flip: calibration.scan_flip.unwrap_or(false),
        };
        let fixed = RotationChoice::Fixed(rotation);
        let descanned = session.com(&maps, DescanChoice::Plane, fixed, progress)?;
        let com_raw = session
            .com(&maps, DescanChoice::None, fixed, progress)?
            .field;
        progress.check()?;
        let q = &maps.virtual_images;
        let idpc = idpc([&q[0], &q[1], &q[2], &q[3]], &descanned.descan, rotation);
        let idpc = idpc.mapv(|v| v as f32);
        let com_descan = descanned.field;
        let icom = icom(&com_descan).mapv(|v| v as f32);
        let images = AnalysisImages {
            bf: render::grey(&maps.bf),
            adf: render::grey(&maps.adf),
            sum: render::grey(&maps.sum),
            icom: render::grey(&icom),
            idpc: render::grey(&idpc),
            com_descan: render::com(&com_descan),
            com_raw: render::com(&com_raw),
            wheel: render::wheel(64),
        };
        Ok(AnalysisResult {
            maps,
            icom,
            idpc,
            com_descan,
            com_raw,
            seconds: started.elapsed().as_secs_f64(),
            images,
            rotation: (calibration.scan_rotation_deg, calibration.scan_flip),
        })
    });
}
