//! Analysis of a scan: the per-pattern pass (sum, CoM, virtual BF/ADF), the mean pattern, BF disk
//! detection, descan and the detector-to-scan rotation.

pub mod com;
pub mod descan;
pub mod detector;
pub mod disk;
pub mod mean;
pub mod pass;
pub mod rotation;
pub mod stats;
pub mod survey;

pub use com::{ComField, Descan, ScanRotation};
pub use descan::{paper_global_com, Plane};
pub use detector::DetectorGeometry;
pub use disk::{detect_bf_disk, BfDisk};
pub use mean::{mean_pattern, sample_indices};
pub use pass::{pattern_pass, PatternMaps};
pub use rotation::{find_scan_rotation, RotationFit};
pub use stats::{pixel_stats, PixelStats};
pub use survey::Survey;

/// Frames the survey reads (mean pattern, BF disk, global CoM): a fixed sample, so any scan
/// opens in well under a second.
pub const SURVEY_FRAMES: usize = 256;

/// The CoM field of a whole scan with the linear descan removed and no rotation: a survey finds
/// the BF disk, one pass measures every pattern.
pub fn com_field_of(
    scan: &crate::scan::Scan,
    progress: &crate::Progress,
) -> crate::Result<ComField> {
    let survey = Survey::run(scan, Some(SURVEY_FRAMES), progress)?;
    let geometry = DetectorGeometry::on_survey(&survey, scan.frame_shape());
    let maps = pattern_pass(scan, &geometry, progress)?;
    Ok(ComField::from_maps(
        &maps,
        &Descan::fit_plane(&maps),
        ScanRotation::default(),
    ))
}
