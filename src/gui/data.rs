//! The open dataset and what the background jobs computed for it, plus the job bodies that call
//! the library (they run on job threads, never on the UI thread).

use polarmap_core::analysis::{ComField, DetectorGeometry, PatternMaps, ScanRotation};
use polarmap_core::session::{DescanChoice, RotationChoice, Session};
use polarmap_core::classes::Class;
use polarmap_core::maps::{ClassMap, Region, RegionStats};
use polarmap_core::models::{DeviceChoice, InputGeometry};
use polarmap_core::progress::Progress;
use polarmap_core::scan::Scan;
use polarmap_core::Calibration;
use ndarray::{Array2, Array3};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// What the open job hands back.
pub struct Opened {
    pub path: PathBuf,
    pub session: Session,
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

/// Where a class map came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// A model's predictions.
    #[default]
    Model,
    /// The scan's sidecar labels.
    Truth,
}

impl SourceKind {
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Model => "model",
            SourceKind::Truth => "ground truth",
        }
    }
}

/// A class map and where it came from.
pub struct ClassSource {
    pub kind: SourceKind,
    /// e.g. "ground truth (sidecar)" or a model's name.
    pub source: String,
    pub map: ClassMap,
    /// Per-pixel class scores `[rows, cols, 8]`, when a model gave them.
    pub scores: Option<Array3<f32>>,
    /// Statistics of the pixels filled in so far (legend counts).
    pub totals: RegionStats,
    /// Pixels filled in, row-major (all of them once a model has finished).
    pub done: usize,
    /// Fraction of pixels equal to the scan's ground truth (a finished model, labelled scan).
    pub accuracy: Option<f64>,
    /// How the model saw the patterns: crop geometry and input side (a finished model).
    pub input: Option<(InputGeometry, usize)>,
}

impl ClassSource {
    /// A complete map.
    pub fn new(
        kind: SourceKind,
        source: String,
        map: ClassMap,
        scores: Option<Array3<f32>>,
    ) -> ClassSource {
        let done = map.classes.len();
        ClassSource::partial(kind, source, map, scores, done)
    }

    /// A map whose first `done` pixels (row-major) are filled in.
    pub fn partial(
        kind: SourceKind,
        source: String,
        map: ClassMap,
        scores: Option<Array3<f32>>,
        done: usize,
    ) -> ClassSource {
        let totals = map.stats_of_first(done);
        ClassSource {
            kind,
            source,
            map,
            scores,
            totals,
            done,
            accuracy: None,
            input: None,
        }
    }

    pub fn is_complete(&self) -> bool {
        self.done >= self.map.classes.len()
    }

    fn filled(&self, [row, col]: [usize; 2]) -> bool {
        let (_, cols) = self.map.dim();
        row * cols + col < self.done
    }

    /// The class of a pixel (None outside the scan or not yet filled in).
    pub fn class_at(&self, pixel: [usize; 2]) -> Option<Class> {
        let [row, col] = pixel;
        self.map
            .classes
            .get((row, col))
            .copied()
            .filter(|_| self.filled(pixel))
    }

    /// The model's 8 class scores at a pixel.
    pub fn scores_at(&self, pixel: [usize; 2]) -> Option<[f32; Class::COUNT]> {
        let [row, col] = pixel;
        let scores = self.scores.as_ref()?;
        if row >= scores.dim().0 || col >= scores.dim().1 || !self.filled(pixel) {
            return None;
        }
        Some(std::array::from_fn(|k| scores[(row, col, k)]))
    }
}

/// The open dataset.
pub struct Dataset {
    /// Increases with every dataset opened; answers of jobs for older ones are dropped.
    pub generation: u64,
    pub path: PathBuf,
    /// The scan and its survey.
    pub session: Session,
    /// The calibration shown and used (the file's, as edited by the user).
    pub calibration: Calibration,
    /// The virtual detectors of the pass that is shown (or running).
    pub geometry: DetectorGeometry,
    pub analysis: Option<Arc<AnalysisResult>>,
    /// The sidecar's ground truth, when the scan has labels.
    pub truth: Option<Arc<ClassSource>>,
    /// The model's map (filling in while inference runs).
    pub prediction: Option<Arc<ClassSource>>,
    /// Which of the two the class map shows (the other when it is missing).
    pub shown: SourceKind,
    pub open_seconds: f64,
}

impl Dataset {
    /// The class map on screen.
    pub fn classes(&self) -> Option<&Arc<ClassSource>> {
        let (first, second) = match self.shown {
            SourceKind::Model => (&self.prediction, &self.truth),
            SourceKind::Truth => (&self.truth, &self.prediction),
        };
        first.as_ref().or(second.as_ref())
    }

    pub fn scan(&self) -> &Arc<Scan> {
        self.session.scan()
    }

    pub fn scan_dims(&self) -> (usize, usize) {
        let [rows, cols] = self.scan().scan_shape();
        (rows, cols)
    }
}

/// Opens a scan and surveys it; the default virtual detectors are the session's.
pub fn open_job(path: &Path, progress: &Progress) -> polarmap_core::Result<Opened> {
    let started = Instant::now();
    let session = Session::open(path, &Default::default(), progress)?;
    let geometry = session.default_detectors();
    Ok(Opened {
        path: path.to_path_buf(),
        session,
        geometry,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The per-pattern pass and both CoM fields (descan removed and not), in the rotation of the
/// calibration as edited in the app.
pub fn analyse_job(
    session: &Session,
    geometry: &DetectorGeometry,
    calibration: &Calibration,
    progress: &Progress,
) -> polarmap_core::Result<AnalysisResult> {
    let started = Instant::now();
    let maps = session.features(geometry, progress)?;
    let rotation = RotationChoice::Fixed(ScanRotation {
        angle_deg: calibration.scan_rotation_deg.unwrap_or(0.0),
        flip: calibration.scan_flip.unwrap_or(false),
    });
    let com_descan = session.com(&maps, DescanChoice::Plane, rotation).field;
    let com_raw = session.com(&maps, DescanChoice::None, rotation).field;
    Ok(AnalysisResult {
        maps,
        com_descan,
        com_raw,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The sidecar's ground truth as a class map, or None when the scan has none.
pub fn labels_job(session: &Session) -> polarmap_core::Result<Option<ClassMap>> {
    Ok(session.labels()?.map(ClassMap::new))
}

/// Runs the model file `model_path` over every pattern of the session's scan; `partial`
/// receives the map as each batch fills it in. The finished map carries the model's accuracy
/// against the scan's ground truth (when it has labels) and the crop it saw.
pub fn predict_job(
    session: &Session,
    model_path: &Path,
    device: DeviceChoice,
    progress: &Progress,
    mut partial: impl FnMut(ClassSource),
) -> polarmap_core::Result<ClassSource> {
    progress.start("loading the model", 1);
    let model = polarmap_core::models::load(model_path, device)?;
    let name = format!(
        "{} ({})",
        model.display_name(),
        model_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let [rows, cols] = session.scan().scan_shape();
    let n = rows * cols;
    let mut classes = Array2::from_elem((rows, cols), Class::RM);
    let mut scores = Array3::<f32>::zeros((rows, cols, Class::COUNT));
    let evaluation = session.evaluate(model.as_ref(), progress, |first, batch| {
        for (k, p) in batch.iter().enumerate() {
            let (r, c) = ((first + k) / cols, (first + k) % cols);
            classes[(r, c)] = p.class;
            for (j, &s) in p.scores.iter().enumerate() {
                scores[(r, c, j)] = s;
            }
        }
        let done = first + batch.len();
        if done < n {
            let map = polarmap_core::models::predict::class_map_of(&classes, &scores);
            partial(ClassSource::partial(
                SourceKind::Model,
                name.clone(),
                map,
                Some(scores.clone()),
                done,
            ));
        }
    })?;
    let input = (evaluation.predictions.input, model.input().size);
    let mut source = ClassSource::new(
        SourceKind::Model,
        name,
        evaluation.predictions.class_map(),
        Some(evaluation.predictions.scores),
    );
    source.accuracy = evaluation.accuracy;
    source.input = Some(input);
    Ok(source)
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
