//! One scan's way through polarmap: open → survey (once) → features (one CoM path, one set of
//! defaults) → predict → evaluate → summary. The GUI's tasks, the CLI's commands and the bench
//! each hold a [`Session`] and call its steps; none of them re-implements one.

use crate::analysis::{
    find_scan_rotation, pattern_pass_with, ComField, Descan, DetectorGeometry, PatternMaps,
    RotationFit, ScanRotation, Survey, VirtualDetector, SURVEY_FRAMES,
};
use crate::classes::Class;
use crate::domains::{DomainSettings, Domains};
use crate::error::{Error, Result};
use crate::maps::{agreement, find_defects, ClassMap, DefectSearch};
use crate::models::confidence::Determination;
use crate::models::{predict_scan, Classifier, Prediction, ScanPredictions};
use crate::progress::Progress;
use crate::scan::{OpenOptions, Scan};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

/// What the per-pattern CoM is measured against (the choices of `polarmap com --descan`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DescanChoice {
    /// A plane fitted to the CoM over the scan: removes constant and linear descan.
    #[default]
    Plane,
    /// The paper's global CoM of the survey: removes a constant offset only.
    Paper,
    /// The BF disk centre of the survey.
    Disk,
    /// The detector's array centre: the raw CoM, descan left in.
    None,
}

impl DescanChoice {
    pub const ALL: [DescanChoice; 4] = [Self::Plane, Self::Paper, Self::Disk, Self::None];

    pub fn name(self) -> &'static str {
        match self {
            Self::Plane => "plane",
            Self::Paper => "paper",
            Self::Disk => "disk",
            Self::None => "none",
        }
    }
}

/// How CoM directions are rotated from the detector into the scan frame.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum RotationChoice {
    /// The calibration's rotation and flip (none where it has none).
    #[default]
    Calibration,
    /// Searched for: the rotation that makes the CoM field curl-free.
    Auto,
    /// Given explicitly.
    Fixed(ScanRotation),
}

/// The CoM field and how it was obtained.
#[derive(Debug, Clone)]
pub struct ComResult {
    pub field: ComField,
    pub descan: Descan,
    pub rotation: ScanRotation,
    /// The search's result when the rotation was searched for.
    pub fit: Option<RotationFit>,
}

/// A model's predictions on the session's scan, judged against its labels where it has them.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub predictions: ScanPredictions,
    /// The scan's ground truth, when its sidecar has labels.
    pub truth: Option<Array2<Class>>,
    /// Fraction of pixels whose predicted class equals the label.
    pub accuracy: Option<f64>,
}

impl Evaluation {
    pub fn class_map(&self) -> ClassMap {
        self.predictions.class_map()
    }

    /// Domains and walls of the predicted class map; undetermined pixels belong to no domain.
    pub fn domains(&self) -> Domains {
        let map = self.class_map();
        Domains::find(
            &map.classes,
            map.determined.as_ref(),
            DomainSettings::default(),
        )
    }

    /// The most frequent label.
    pub fn labelled_majority(&self) -> Option<Class> {
        let truth = self.truth.as_ref()?;
        ClassMap::new(truth.clone()).stats(None).majority
    }

    /// The scan-level answer as JSON: majority class among determined pixels, distribution,
    /// confidence, how many pixels were left undetermined and why, the OOD score, candidate
    /// defects, and the accuracy against the labels (what `polarmap predict --json` prints).
    pub fn summary(&self, model_file: &Path) -> serde_json::Value {
        let map = self.class_map();
        let stats = map.stats(None);
        let defects = find_defects(&map, &DefectSearch::default());
        let distribution: serde_json::Map<String, serde_json::Value> = Class::ALL
            .iter()
            .zip(stats.fractions())
            .map(|(c, f)| (c.name().to_string(), serde_json::json!(f)))
            .collect();
        let p = &self.predictions;
        let no_signal = p.signal.is_some_and(|s| !s.polarised());
        let outcome = if no_signal && p.determination.require_signal {
            "undetermined: no polarization signal (centrosymmetric mean pattern)"
        } else if stats.majority.is_none() {
            "undetermined: no pixel passed the thresholds"
        } else if stats.direction().is_none() {
            "undetermined: the determined pixels do not agree on a direction"
        } else {
            "determined"
        };
        serde_json::json!({
            "model": p.model,
            "model_file": model_file.display().to_string(),
            "patterns": stats.pixels,
            "outcome": outcome,
            "majority_class": stats.direction().map(|c| c.name()),
            "majority_by_count": stats.majority.map(|c| c.name()),
            "direction_coherence": stats.coherence(),
            "determined_pixels": stats.pixels - stats.undetermined,
            "undetermined_pixels": stats.undetermined,
            "distribution": distribution,
            "calibrated": p.calibrated,
            "mean_confidence": stats.mean_confidence,
            "ood": p.ood.as_ref().map(ood_summary),
            "polarization_signal": p.signal,
            "input_crop": {"centre_px": p.input.center, "scale": p.input.scale},
            "tilt_search": p.tilt_search,
            "thresholds": p.determination,
            "accuracy_vs_labels": self.accuracy,
            "accuracy_determined_vs_labels": self.accuracy_determined(),
            "labelled_majority_class": self.labelled_majority().map(|c| c.name()),
            "defects": defects.iter().take(10).collect::<Vec<_>>(),
            "domains": self.domains().summary(),
        })
    }

    /// Accuracy over the determined pixels only.
    pub fn accuracy_determined(&self) -> Option<f64> {
        let truth = self.truth.as_ref()?;
        let p = &self.predictions;
        if truth.dim() != p.classes.dim() {
            return None;
        }
        let (mut right, mut n) = (0usize, 0usize);
        for ((t, c), d) in truth.iter().zip(&p.classes).zip(&p.determined) {
            if *d {
                n += 1;
                right += (t == c) as usize;
            }
        }
        (n > 0).then(|| right as f64 / n as f64)
    }
}

/// The per-scan OOD score (the median of the per-pixel scores) and its spread.
fn ood_summary(ood: &Array2<f32>) -> serde_json::Value {
    let mut v: Vec<f32> = ood.iter().copied().collect();
    v.sort_by(f32::total_cmp);
    let at = |q: f64| {
        v.get(((v.len().max(1) - 1) as f64 * q).round() as usize)
            .copied()
    };
    serde_json::json!({"scan": at(0.5), "p95": at(0.95), "max": v.last()})
}

/// An open scan and its survey (mean pattern, BF disk, global CoM), read once.
#[derive(Clone)]
pub struct Session {
    scan: Arc<Scan>,
    survey: Arc<Survey>,
    determination: Determination,
}

impl Session {
    /// Opens the scan at `path` and surveys it.
    pub fn open(path: &Path, options: &OpenOptions, progress: &Progress) -> Result<Session> {
        progress.start("opening", 1);
        let scan = crate::scan::open_with(path, options)?;
        progress.check()?;
        Session::new(Arc::new(scan), progress)
    }

    /// Surveys an open scan from [`SURVEY_FRAMES`] evenly spaced frames.
    pub fn new(scan: Arc<Scan>, progress: &Progress) -> Result<Session> {
        if scan.n_frames() == 0 {
            return Err(Error::format(scan.path(), "the scan holds no patterns"));
        }
        let survey = Survey::run(&scan, Some(SURVEY_FRAMES), progress)?;
        Ok(Session {
            scan,
            survey: Arc::new(survey),
            determination: Determination::default(),
        })
    }

    /// Sets when a predicted pixel counts as determined (thresholds on probability and OOD).
    pub fn with_determination(mut self, determination: Determination) -> Session {
        self.determination = determination;
        self
    }

    /// The same scan and survey under another calibration. The survey (mean pattern, BF disk,
    /// global CoM) reads no calibration and is kept; what does (a model's input scale, the CoM
    /// rotation, scale bars) follows the new one.
    pub fn with_calibration(&self, calibration: crate::Calibration) -> Session {
        Session {
            scan: Arc::new(self.scan.with_calibration(calibration)),
            survey: Arc::clone(&self.survey),
            determination: self.determination,
        }
    }

    pub fn scan(&self) -> &Arc<Scan> {
        &self.scan
    }

    pub fn survey(&self) -> &Survey {
        &self.survey
    }

    /// The default virtual detectors: BF on the surveyed disk, ADF from 1.2 disk radii to the
    /// detector edge. Where no disk was found they sit on the detector centre (a quarter of the
    /// detector wide) so that a dark-field-only scan can still be looked at; [`Self::detectors`]
    /// is the strict version.
    pub fn default_detectors(&self) -> DetectorGeometry {
        DetectorGeometry::on_survey(&self.survey, self.scan.frame_shape())
    }

    /// The virtual detectors with the caller's radii (in detector pixels) where given, centred on
    /// the BF disk; an error naming the file when the survey found no disk.
    pub fn detectors(
        &self,
        bf_radius: Option<f64>,
        adf: Option<[f64; 2]>,
    ) -> Result<DetectorGeometry> {
        self.survey.require_disk(&self.scan)?;
        let mut geometry = self.default_detectors();
        if let Some(r) = bf_radius {
            if !(r.is_finite() && r > 0.0) {
                return Err(Error::invalid(format!(
                    "the BF radius must be positive, got {r}"
                )));
            }
            geometry.bf_radius = r;
        }
        if let Some([inner, outer]) = adf {
            if !(inner.is_finite() && outer.is_finite() && 0.0 <= inner && inner < outer) {
                return Err(Error::invalid(format!(
                    "the ADF annulus needs 0 ≤ inner < outer, got [{inner}, {outer}]"
                )));
            }
            geometry.adf_inner = inner;
            geometry.adf_outer = outer;
        }
        Ok(geometry)
    }

    /// The per-pattern pass: sum, CoM, virtual BF and ADF of every pattern.
    pub fn features(
        &self,
        geometry: &DetectorGeometry,
        progress: &Progress,
    ) -> Result<PatternMaps> {
        self.features_with(geometry, &[], progress)
    }

    /// [`Session::features`] with extra virtual detectors summed in the same pass
    /// (`PatternMaps::virtual_images`, in their order).
    pub fn features_with(
        &self,
        geometry: &DetectorGeometry,
        detectors: &[VirtualDetector],
        progress: &Progress,
    ) -> Result<PatternMaps> {
        pattern_pass_with(&self.scan, geometry, detectors, progress)
    }

    /// The paper's global CoM (row, col) of the survey's frames, measured on first use.
    pub fn global_com(&self, progress: &Progress) -> Result<[f64; 2]> {
        self.survey.global_com(&self.scan, progress)
    }

    /// The CoM field of a pass with the descan removed and the rotation applied.
    pub fn com(
        &self,
        maps: &PatternMaps,
        descan: DescanChoice,
        rotation: RotationChoice,
        progress: &Progress,
    ) -> Result<ComResult> {
        let [det_rows, det_cols] = self.scan.frame_shape();
        let descan = match (descan, &self.survey.bf_disk) {
            (DescanChoice::Plane, _) => Descan::fit_plane(maps),
            (DescanChoice::Paper, _) => {
                let [row, col] = self.global_com(progress)?;
                Descan::Fixed { row, col }
            }
            (DescanChoice::Disk, Ok(disk)) => Descan::Fixed {
                row: disk.center_row,
                col: disk.center_col,
            },
            (DescanChoice::Disk, Err(_)) | (DescanChoice::None, _) => Descan::Fixed {
                row: (det_rows as f64 - 1.0) / 2.0,
                col: (det_cols as f64 - 1.0) / 2.0,
            },
        };
        let unrotated = ComField::from_maps(maps, &descan, ScanRotation::default());
        let calibration = &self.scan.calibration;
        let (rotation, fit) = match rotation {
            RotationChoice::Calibration => (
                ScanRotation {
                    angle_deg: calibration.scan_rotation_deg.unwrap_or(0.0),
                    flip: calibration.scan_flip.unwrap_or(false),
                },
                None,
            ),
            RotationChoice::Auto => {
                let fit = find_scan_rotation(&unrotated, Some(&maps.adf));
                (fit.rotation, Some(fit))
            }
            RotationChoice::Fixed(r) => (r, None),
        };
        Ok(ComResult {
            field: unrotated.rotated(rotation),
            descan,
            rotation,
            fit,
        })
    }

    /// The CoM field with the defaults: default detectors, plane descan, the calibration's
    /// rotation.
    pub fn com_field(&self, progress: &Progress) -> Result<ComField> {
        let maps = self.features(&self.default_detectors(), progress)?;
        Ok(self
            .com(
                &maps,
                DescanChoice::Plane,
                RotationChoice::Calibration,
                progress,
            )?
            .field)
    }

    /// The scan's ground truth (sidecar labels) resolved to the scan's shape, if it has any.
    pub fn labels(&self) -> Result<Option<Array2<Class>>> {
        self.scan
            .labels
            .as_ref()
            .map(|labels| labels.resolve(self.scan.scan_shape()))
            .transpose()
    }

    /// Every pattern through `model`; `on_batch(first_index, predictions)` after each batch.
    pub fn predict(
        &self,
        model: &dyn Classifier,
        progress: &Progress,
        on_batch: impl FnMut(usize, &[Prediction]),
    ) -> Result<ScanPredictions> {
        predict_scan(
            &self.scan,
            &self.survey,
            model,
            &self.determination,
            progress,
            on_batch,
        )
    }

    /// Predicts and judges the predictions against the scan's labels.
    pub fn evaluate(
        &self,
        model: &dyn Classifier,
        progress: &Progress,
        on_batch: impl FnMut(usize, &[Prediction]),
    ) -> Result<Evaluation> {
        let predictions = self.predict(model, progress, on_batch)?;
        let truth = self.labels()?;
        let accuracy = truth
            .as_ref()
            .and_then(|t| agreement(t, &predictions.classes));
        Ok(Evaluation {
            predictions,
            truth,
            accuracy,
        })
    }
}
