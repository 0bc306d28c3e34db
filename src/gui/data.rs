//! The open dataset and what the background tasks computed for it (plain data: the tasks in
//! `tasks/` fill it in, the views read it).

use eframe::egui::ColorImage;
use ndarray::{Array2, Array3};
use polarmap_core::analysis::{ComField, DetectorGeometry, PatternMaps, VirtualDetector};
use polarmap_core::classes::Class;
use polarmap_core::domains::{DomainSettings, Domains};
use polarmap_core::maps::{ClassMap, RegionStats};
use polarmap_core::models::InputGeometry;
use polarmap_core::scan::Scan;
use polarmap_core::session::Session;
use polarmap_core::Calibration;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

/// What the pattern pass computed (`Session::features` and `Session::com`), with its images.
pub struct AnalysisResult {
    pub maps: PatternMaps,
    /// The iCoM image: the descan-removed CoM field integrated (`analysis::icom`).
    pub icom: Array2<f32>,
    /// The iDPC image: four quadrants of the BF disk, summed in the same pass
    /// (`VirtualDetector::quadrants`), rotated like the CoM and integrated (`analysis::idpc`).
    pub idpc: Array2<f32>,
    /// CoM with the descan (a plane fitted over the scan) removed.
    pub com_descan: ComField,
    /// CoM measured from the detector centre, descan left in.
    pub com_raw: ComField,
    pub seconds: f64,
    /// Rendered by the task that computed the maps.
    pub images: AnalysisImages,
    /// The scan rotation and flip the CoM fields are in (from the calibration of the pass).
    pub rotation: (Option<f64>, Option<bool>),
}

impl AnalysisResult {
    /// True when `calibration` turns the CoM directions otherwise than this pass did: its CoM
    /// fields (and the regions' mean CoM) are stale until the pass runs again.
    pub fn is_stale(&self, calibration: &Calibration) -> bool {
        let (angle, flip) = self.rotation;
        angle.unwrap_or(0.0) != calibration.scan_rotation_deg.unwrap_or(0.0)
            || flip.unwrap_or(false) != calibration.scan_flip.unwrap_or(false)
    }
}

/// The pass's maps as images (rendered off the UI thread; the views only upload them).
pub struct AnalysisImages {
    pub bf: Arc<ColorImage>,
    pub adf: Arc<ColorImage>,
    pub sum: Arc<ColorImage>,
    pub icom: Arc<ColorImage>,
    pub idpc: Arc<ColorImage>,
    pub com_descan: Arc<ColorImage>,
    pub com_raw: Arc<ColorImage>,
    /// The colour wheel legend of the CoM view.
    pub wheel: Arc<ColorImage>,
}

/// The image of a virtual detector defined in the app (an annulus, a sector or a mask drawn on
/// the mean pattern), from its own pass (`Session::features_with`).
pub struct CustomImage {
    pub detector: VirtualDetector,
    /// How the detector was described (e.g. "annulus 10–25 mrad, sector 0–90°").
    pub label: String,
    pub values: Array2<f32>,
    /// Rendered by the task that computed it.
    pub image: Arc<ColorImage>,
    pub seconds: f64,
}

/// A class map as images: plain, and with confidence as opacity (when the map has it).
pub struct ClassImages {
    pub plain: Arc<ColorImage>,
    pub confidence: Option<Arc<ColorImage>>,
}

impl ClassImages {
    /// Renders `map` (its first `done` pixels); runs on the task that made the map.
    pub fn render(map: &ClassMap, done: usize) -> ClassImages {
        ClassImages {
            plain: crate::gui::render::classes(map, done, false),
            confidence: map
                .confidence
                .is_some()
                .then(|| crate::gui::render::classes(map, done, true)),
        }
    }
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
    /// The detector calibration (mrad/px) the model's input was scaled with: the map is stale
    /// once the scan's calibration says otherwise. None for the ground truth or an uncalibrated
    /// scan.
    pub mrad_per_px: Option<f64>,
    /// The specimen tilt the model's crop was moved by (the calibration's, when stated): the
    /// map is stale once the scan's calibration states another.
    pub tilt_mrad: Option<[f64; 2]>,
    /// The tilt the model's crop was moved by when the model found it (no tilt stated).
    pub tilt_search: Option<polarmap_core::models::tilt::FoundTilt>,
    /// The map as images, rendered where the map was made (a task thread).
    pub images: ClassImages,
    /// Per-pixel OOD score (a finished, calibrated model).
    pub ood: Option<Array2<f32>>,
    /// Whether the scores are calibrated probabilities (a finished model).
    pub calibrated: bool,
    /// The scan's centrosymmetry test (a finished model).
    pub signal: Option<polarmap_core::analysis::PolarizationSignal>,
    /// Domains and walls of the complete map (undetermined pixels in none), found on the
    /// task thread that made the map; None while it fills in.
    pub domains: Option<Arc<Domains>>,
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
        let images = ClassImages::render(&map, done);
        let domains = (done >= map.classes.len()).then(|| {
            Arc::new(Domains::find(
                &map.classes,
                map.determined.as_ref(),
                DomainSettings::default(),
            ))
        });
        ClassSource {
            kind,
            source,
            map,
            scores,
            totals,
            done,
            accuracy: None,
            input: None,
            mrad_per_px: None,
            tilt_mrad: None,
            tilt_search: None,
            images,
            ood: None,
            calibrated: false,
            signal: None,
            domains,
        }
    }

    pub fn is_complete(&self) -> bool {
        self.done >= self.map.classes.len()
    }

    /// "partial (N of M pixels; `state`)" for a map a model has not finished (None: complete).
    pub fn partial_note(&self, state: &str) -> Option<String> {
        (!self.is_complete()).then(|| {
            format!(
                "partial ({} of {} pixels; {state})",
                self.done,
                self.map.classes.len()
            )
        })
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

    /// A pixel's OOD score and whether it is determined (None: no mask or not filled in).
    pub fn determination_at(&self, pixel: [usize; 2]) -> Option<(Option<f32>, bool)> {
        let [row, col] = pixel;
        let determined = *self.map.determined.as_ref()?.get((row, col))?;
        let ood = self.ood.as_ref().and_then(|o| o.get((row, col)).copied());
        self.filled(pixel).then_some((ood, determined))
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
    /// The scan and its survey: every step of the pipeline goes through it.
    pub session: Session,
    /// The survey's mean pattern, rendered log and linear.
    pub mean_pattern: Arc<crate::gui::tasks::patterns::PatternImages>,
    /// The virtual detectors of the pass that is shown (or running).
    pub geometry: DetectorGeometry,
    pub analysis: Option<Arc<AnalysisResult>>,
    /// The custom virtual detector's image, once computed.
    pub custom: Option<Arc<CustomImage>>,
    /// The sidecar's ground truth, when the scan has labels.
    pub truth: Option<Arc<ClassSource>>,
    /// The model's map (filling in while inference runs).
    pub prediction: Option<Arc<ClassSource>>,
    /// Which of the two the class map shows (the other when it is missing).
    pub shown: SourceKind,
    /// How the last model run ended early ("cancelled", "failed"); None while none has.
    pub prediction_stopped: Option<&'static str>,
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

    /// The class map on screen's partial note: "partial (N of M pixels; running)" while a model
    /// fills it in (`running`), else how it stopped (None: complete).
    pub fn partial_note(&self, running: bool) -> Option<String> {
        let state = if running {
            "running"
        } else {
            self.prediction_stopped.unwrap_or("cancelled")
        };
        self.classes()?.partial_note(state)
    }

    /// The calibration shown and used: the file's, as edited by the user (the session's scan
    /// carries it, so every step reads the same one).
    pub fn calibration(&self) -> &Calibration {
        &self.session.scan().calibration
    }

    /// True when the CoM on screen was computed with another rotation than the calibration's.
    pub fn com_is_stale(&self) -> bool {
        self.analysis
            .as_ref()
            .is_some_and(|a| a.is_stale(self.calibration()))
    }

    /// What of the scan's calibration differs from the one the model's map on screen was made
    /// with: the detector sampling (its input scale) or the stated tilt (its crop); None when
    /// the map is current.
    pub fn classes_stale_because(&self) -> Option<&'static str> {
        let now = self.calibration();
        let made = self.classes().filter(|c| c.kind == SourceKind::Model)?;
        if made.mrad_per_px != now.mrad_per_px {
            Some("the detector calibration (mrad/px)")
        } else if made.tilt_mrad != now.tilt_mrad {
            Some("the stated tilt")
        } else {
            None
        }
    }

    /// True when the model's map on screen was made with another calibration than the scan's
    /// now ([`Self::classes_stale_because`]).
    pub fn classes_are_stale(&self) -> bool {
        self.classes_stale_because().is_some()
    }

    pub fn scan(&self) -> &Arc<Scan> {
        self.session.scan()
    }

    pub fn scan_dims(&self) -> (usize, usize) {
        let [rows, cols] = self.scan().scan_shape();
        (rows, cols)
    }
}
