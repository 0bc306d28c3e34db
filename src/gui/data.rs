//! The open dataset and what the background jobs computed for it, plus the job bodies that call
//! the library (they run on job threads, never on the UI thread).

use crate::analysis::{
    pattern_pass, ComField, Descan, DetectorGeometry, PatternMaps, ScanRotation, Survey,
};
use crate::classes::Class;
use crate::maps::{ClassMap, Region, RegionStats};
use crate::progress::Progress;
use crate::scan::Scan;
use crate::Calibration;
use ndarray::Array3;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Frames the survey reads (mean pattern, BF disk, global CoM): a fixed sample, so any scan
/// opens in well under a second.
pub const SURVEY_FRAMES: usize = 256;

/// What the open job hands back.
pub struct Opened {
    pub path: PathBuf,
    pub scan: Arc<Scan>,
    pub survey: Survey,
    pub geometry: DetectorGeometry,
    pub seconds: f64,
}

/// What the pattern pass hands back.
pub struct AnalysisResult {
    pub maps: PatternMaps,
    /// CoM with the descan (a plane fitted over the scan) removed.
    pub com_descan: ComField,
    /// CoM measured from the detector centre, descan left in.
    pub com_raw: ComField,
    pub seconds: f64,
}

/// A class map and where it came from.
pub struct ClassSource {
    /// e.g. "ground truth (sidecar)" or a model's name.
    pub source: String,
    pub map: ClassMap,
    /// Per-pixel class scores `[rows, cols, 8]`, when a model gave them.
    pub scores: Option<Array3<f32>>,
    /// Statistics of the whole map (legend counts).
    pub totals: RegionStats,
}

impl ClassSource {
    pub fn new(source: String, map: ClassMap, scores: Option<Array3<f32>>) -> ClassSource {
        let totals = map.stats(None);
        ClassSource {
            source,
            map,
            scores,
            totals,
        }
    }

    pub fn class_at(&self, [row, col]: [usize; 2]) -> Option<Class> {
        self.map.classes.get((row, col)).copied()
    }
}

/// The open dataset.
pub struct Dataset {
    /// Increases with every dataset opened; answers of jobs for older ones are dropped.
    pub generation: u64,
    pub path: PathBuf,
    pub scan: Arc<Scan>,
    pub survey: Survey,
    /// The calibration shown and used (the file's, as edited by the user).
    pub calibration: Calibration,
    /// The virtual detectors of the pass that is shown (or running).
    pub geometry: DetectorGeometry,
    pub analysis: Option<Arc<AnalysisResult>>,
    pub classes: Option<Arc<ClassSource>>,
    pub open_seconds: f64,
}

impl Dataset {
    pub fn scan_dims(&self) -> (usize, usize) {
        let [rows, cols] = self.scan.scan_shape();
        (rows, cols)
    }
}

/// Opens a scan and surveys it (mean pattern, BF disk, global CoM); the default virtual
/// detectors follow the CLI's: BF on the disk, ADF from 1.2 disk radii to the detector edge.
pub fn open_job(path: &Path, progress: &Progress) -> crate::Result<Opened> {
    let started = Instant::now();
    progress.start("opening", 1);
    let scan = crate::scan::open(path)?;
    progress.check()?;
    let survey = Survey::run(&scan, Some(SURVEY_FRAMES), progress)?;
    let [det_rows, det_cols] = scan.frame_shape();
    let geometry = default_geometry(&survey, [det_rows, det_cols]);
    Ok(Opened {
        path: path.to_path_buf(),
        scan: Arc::new(scan),
        survey,
        geometry,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// BF disk and ADF annulus on the surveyed disk (detector centre and a quarter of the detector
/// when no disk was found).
pub fn default_geometry(survey: &Survey, frame_shape: [usize; 2]) -> DetectorGeometry {
    let [rows, cols] = frame_shape;
    let edge = rows.min(cols) as f64 / 2.0;
    let (center_row, center_col, radius) = match &survey.bf_disk {
        Ok(d) => (d.center_row, d.center_col, d.radius_px),
        Err(_) => (
            (rows as f64 - 1.0) / 2.0,
            (cols as f64 - 1.0) / 2.0,
            edge / 4.0,
        ),
    };
    DetectorGeometry {
        center_row,
        center_col,
        bf_radius: radius,
        adf_inner: 1.2 * radius,
        adf_outer: edge.max(1.2 * radius + 1.0),
    }
}

/// The per-pattern pass and both CoM fields (descan removed and not).
pub fn analyse_job(
    scan: &Scan,
    geometry: &DetectorGeometry,
    calibration: &Calibration,
    progress: &Progress,
) -> crate::Result<AnalysisResult> {
    let started = Instant::now();
    let maps = pattern_pass(scan, geometry, progress)?;
    let rotation = ScanRotation {
        angle_deg: calibration.scan_rotation_deg.unwrap_or(0.0),
        flip: calibration.scan_flip.unwrap_or(false),
    };
    let [det_rows, det_cols] = scan.frame_shape();
    let com_descan = ComField::from_maps(&maps, &Descan::fit_plane(&maps), rotation);
    let centre = Descan::Fixed {
        row: (det_rows as f64 - 1.0) / 2.0,
        col: (det_cols as f64 - 1.0) / 2.0,
    };
    let com_raw = ComField::from_maps(&maps, &centre, rotation);
    Ok(AnalysisResult {
        maps,
        com_descan,
        com_raw,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The sidecar's ground truth as a class map, or None when the scan has none.
pub fn labels_job(scan: &Scan) -> crate::Result<Option<ClassMap>> {
    scan.labels
        .as_ref()
        .map(|labels| Ok(ClassMap::new(labels.resolve(scan.scan_shape())?)))
        .transpose()
}

/// Mean CoM vector (x, y) over a region's pixels.
pub fn region_mean_com(com: &ComField, region: &Region) -> Option<[f64; 2]> {
    let pixels = region.pixels(com.dim());
    if pixels.is_empty() {
        return None;
    }
    let n = pixels.len() as f64;
    let (sx, sy) = pixels.iter().fold((0.0, 0.0), |(sx, sy), &ix| {
        (sx + com.x[ix] as f64, sy + com.y[ix] as f64)
    });
    Some([sx / n, sy / n])
}

/// Resident memory of this process in bytes (Linux; None elsewhere).
pub fn resident_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = text.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
