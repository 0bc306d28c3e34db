//! Analysis of a scan: the per-pattern pass (sum, CoM, virtual BF/ADF and any virtual detector),
//! the mean pattern, BF disk detection, descan, the detector-to-scan rotation and the integrated
//! CoM/DPC images.

pub mod com;
pub mod descan;
pub mod detector;
pub mod disk;
pub mod integrate;
pub mod mean;
pub mod pass;
pub mod rotation;
pub mod stats;
pub mod survey;

pub use com::{ComField, Descan, ScanRotation};
pub use descan::{paper_global_com, Plane};
pub use detector::{DetectorGeometry, VirtualDetector};
pub use disk::{detect_bf_disk, BfDisk};
pub use integrate::{dpc_field, icom, idpc, integrate_gradient};
pub use mean::{mean_pattern, sample_indices};
pub use pass::{pattern_pass, pattern_pass_with, PatternMaps};
pub use rotation::{find_scan_rotation, RotationFit};
pub use stats::{pixel_stats, PixelStats};
pub use survey::Survey;

/// Frames the survey reads (mean pattern, BF disk, global CoM): a fixed sample, so any scan
/// opens in well under a second. The same survey serves the CoM pass, the model's crop and
/// training.
pub const SURVEY_FRAMES: usize = 512;
