//! Confidence that means something: a model's calibration record (stored in its file header),
//! fitted on labelled scans, and the rule that leaves a pixel undetermined.
//!
//! - [`super::calibration`]: calibrated probabilities (temperature scaling) and the ECE;
//! - [`super::ood`]: the out-of-distribution score;
//! - [`crate::analysis::centrosymmetry`]: the scan-level "no polarization signal" test;
//! - [`Determination`]: thresholds that combine the three into a per-pixel `determined` mask.

use super::calibration::{CalibrationQuality, TemperatureScaling};
use super::ood::OodReference;
use super::predict::for_each_batch;
use super::Classifier;
use crate::analysis::PolarizationSignal;
use crate::classes::Class;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::session::Session;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// A model's calibration, fitted by `polarmap calibrate` and stored in the model file's header
/// (older files have none and load as before).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfidenceModel {
    pub scaling: TemperatureScaling,
    /// The OOD reference, where the model gives embeddings.
    #[serde(default)]
    pub ood: Option<OodReference>,
    /// The labelled scans it was fitted on.
    pub scans: Vec<String>,
    /// Probabilities on those scans before (raw scores) and after calibration.
    pub fit_before: CalibrationQuality,
    pub fit_after: CalibrationQuality,
    /// The same on other labelled scans, when some were given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_out: Option<HeldOut>,
}

/// Calibration judged on scans it was not fitted on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldOut {
    pub scans: Vec<String>,
    pub before: CalibrationQuality,
    pub after: CalibrationQuality,
}

impl ConfidenceModel {
    /// Checks a record read from a file.
    pub fn check(&self) -> std::result::Result<(), String> {
        let t = &self.scaling;
        let positive = t.temperature.is_finite() && t.temperature > 0.0;
        if !(positive && t.smoothing.is_finite() && t.smoothing >= 0.0) {
            return Err(format!("calibration {t:?} is not valid"));
        }
        self.ood.as_ref().map_or(Ok(()), OodReference::check)
    }

    /// Calibrated scores and OOD score of one raw prediction.
    pub fn apply(
        &self,
        scores: &[f32; Class::COUNT],
        embedding: Option<&[f32]>,
    ) -> ([f32; Class::COUNT], Option<f32>) {
        let ood = self.ood.as_ref().zip(embedding).map(|(o, e)| o.score(e));
        (self.scaling.apply(scores), ood)
    }
}

/// When a pixel counts as determined.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Determination {
    /// Least (calibrated) probability of the predicted class.
    pub min_probability: f32,
    /// Largest OOD score (1.0 = a typical calibration pattern).
    pub max_ood: f32,
    /// Leave every pixel undetermined when the scan shows no polarization signal.
    pub require_signal: bool,
}

impl Default for Determination {
    fn default() -> Self {
        Determination {
            min_probability: 0.5,
            max_ood: 3.0,
            require_signal: true,
        }
    }
}

impl Determination {
    /// The per-pixel mask: confident enough, in distribution, and a scan with a signal. The
    /// probability threshold applies to `calibrated` scores only: an uncalibrated model's scores
    /// are not probabilities (Conv (Proto)'s stay below 0.5 even where it is right), so
    /// thresholding them would call a right map undetermined.
    pub fn mask(
        &self,
        confidence: &Array2<f32>,
        calibrated: bool,
        ood: Option<&Array2<f32>>,
        signal: Option<&PolarizationSignal>,
    ) -> Array2<bool> {
        let no_signal = self.require_signal && signal.is_some_and(|s| !s.polarised());
        let min_probability = if calibrated {
            self.min_probability
        } else {
            0.0
        };
        Array2::from_shape_fn(confidence.dim(), |ix| {
            !no_signal
                && confidence[ix] >= min_probability
                && ood.is_none_or(|o| o[ix] <= self.max_ood)
        })
    }
}

/// Raw (uncalibrated) predictions of labelled scans, with their labels.
#[derive(Debug, Default)]
pub struct Labelled {
    pub scores: Vec<[f32; Class::COUNT]>,
    pub predicted: Vec<usize>,
    pub labels: Vec<usize>,
    pub embeddings: Vec<Vec<f32>>,
}

impl Labelled {
    /// Every pattern of each session through `model` (any calibration it has is ignored).
    /// Each scan must have labels.
    pub fn collect(
        model: &dyn Classifier,
        sessions: &[Session],
        progress: &Progress,
    ) -> Result<Labelled> {
        let mut out = Labelled::default();
        for session in sessions {
            let labels = session.labels()?.ok_or_else(|| {
                Error::invalid(format!(
                    "{}: calibration needs labelled scans, and this one's sidecar has no labels",
                    session.scan().path().display()
                ))
            })?;
            let flat: Vec<Class> = labels.iter().copied().collect();
            for_each_batch(
                session.scan(),
                session.survey(),
                model,
                progress,
                None,
                |first, predictions| {
                    for (i, p) in predictions.iter().enumerate() {
                        out.scores.push(p.scores);
                        out.predicted.push(p.class.index());
                        out.labels.push(flat[first + i].index());
                        if let Some(e) = &p.embedding {
                            out.embeddings.push(e.clone());
                        }
                    }
                },
            )?;
        }
        Ok(out)
    }

    fn quality(&self, scaling: &TemperatureScaling) -> CalibrationQuality {
        CalibrationQuality::measure(scaling, &self.scores, &self.predicted, &self.labels)
    }
}

/// Fits a model's calibration on the labelled `fit` scans, and judges it on the `held_out`
/// scans when given (which should not be the fitting scans).
pub fn calibrate(
    model: &dyn Classifier,
    fit: &[Session],
    held_out: &[Session],
    progress: &Progress,
) -> Result<ConfidenceModel> {
    let data = Labelled::collect(model, fit, progress)?;
    progress.start("fitting the temperature", 1);
    let scaling = TemperatureScaling::fit(&data.scores, &data.labels)?;
    let ood = if data.embeddings.len() == data.labels.len() {
        Some(OodReference::fit(&data.embeddings, &data.labels)?)
    } else {
        None
    };
    let name = |s: &Session| s.scan().path().display().to_string();
    let held_out = if held_out.is_empty() {
        None
    } else {
        let other = Labelled::collect(model, held_out, progress)?;
        Some(HeldOut {
            scans: held_out.iter().map(name).collect(),
            before: other.quality(&TemperatureScaling::default()),
            after: other.quality(&scaling),
        })
    };
    Ok(ConfidenceModel {
        scaling,
        ood,
        scans: fit.iter().map(name).collect(),
        fit_before: data.quality(&TemperatureScaling::default()),
        fit_after: data.quality(&scaling),
        held_out,
    })
}
