//! The specimen tilt found with the model itself.
//!
//! A tilt moves the crystal's pattern inside the bright-field disk by the tilt angle, and a
//! crop centred on the disk then shows the model the pattern off-centre; moving the crop by the
//! tilt puts it back (the calibration's `tilt_mrad`, [`super::InputSpec::geometry`]). When the
//! tilt is not known, it is searched for: the crop is moved over a grid of candidate tilts and
//! the one whose patterns the model classifies most confidently is kept (mean of each pattern's
//! largest class probability, calibrated where the model is, over a sample of the scan's
//! frames), then refined on a grid half as fine around it. For a model averaged over the
//! lattice's 8 symmetries, which are applied about the crop centre, the confidence is highest
//! where the 8 transformed copies agree, i.e. where the crop sits on the crystal's own centre.
//!
//! Only when the model is unsure of the scan as it is: a crop moved off the centre of a crystal
//! that carries little or no polarization signal (a thin or an unpolarised one) looks polarised
//! to the model, so maximising its confidence there would invent a direction. The search
//! therefore runs only when the mean confidence with the crop unmoved is below
//! [`crate::models::confidence::Determination`]'s default probability threshold, i.e. when most
//! pixels would be undetermined anyway (docs/transfer.md, "Finding the tilt with the model").

use super::input::{prepare_batch, InputGeometry};
use super::Classifier;
use crate::analysis::{sample_indices, Survey};
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::scan::Scan;
use serde::Serialize;

/// Where the tilt is searched for.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TiltSearch {
    /// Largest tilt tried, mrad (candidates within a disc of this radius).
    pub radius_mrad: f64,
    /// Spacing of the first grid, mrad; the refinement uses half of it.
    pub step_mrad: f64,
    /// Frames the confidence is measured on (evenly spaced over the scan).
    pub max_frames: usize,
    /// The search runs only when the mean confidence with the crop unmoved is below this.
    pub below_confidence: f64,
}

impl Default for TiltSearch {
    /// ±8 mrad (the largest tilt in the training data) on a 2-mrad grid, then 1 mrad; 256
    /// frames.
    fn default() -> Self {
        TiltSearch {
            radius_mrad: 8.0,
            step_mrad: 2.0,
            max_frames: 256,
            below_confidence: f64::from(
                super::confidence::Determination::default().min_probability,
            ),
        }
    }
}

/// What the search found.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FoundTilt {
    /// The tilt (x right, y up), mrad, at which the model is most confident; zero when it was
    /// not searched for.
    pub tilt_mrad: [f64; 2],
    /// Whether the grid was searched (the model was unsure of the scan as it is).
    pub searched: bool,
    /// The model's mean confidence there, and with the crop not moved.
    pub confidence: f64,
    pub untilted_confidence: f64,
    /// Candidate tilts tried, and frames each was judged on.
    pub candidates: usize,
    pub frames: usize,
}

impl TiltSearch {
    /// The candidates of a grid of spacing `step` around `centre` within `radius` of it, and
    /// within the search's radius of zero tilt.
    fn grid(&self, centre: [f64; 2], step: f64, radius: f64) -> Vec<[f64; 2]> {
        let n = (radius / step).floor() as i64;
        let mut out = Vec::new();
        for i in -n..=n {
            for j in -n..=n {
                let (dx, dy) = (i as f64 * step, j as f64 * step);
                let t = [centre[0] + dx, centre[1] + dy];
                if dx.hypot(dy) <= radius + 1e-9 && t[0].hypot(t[1]) <= self.radius_mrad + 1e-9 {
                    out.push(t);
                }
            }
        }
        out
    }

    /// Searches `scan` (surveyed by `survey`) for the tilt `model` reads best, when the model is
    /// unsure of it with the crop unmoved. Needs the detector calibration (mrad/px); any tilt
    /// the calibration states is replaced.
    pub fn run(
        &self,
        scan: &Scan,
        survey: &Survey,
        model: &dyn Classifier,
        progress: &Progress,
    ) -> Result<FoundTilt> {
        if !(self.radius_mrad.is_finite()
            && self.step_mrad.is_finite()
            && self.step_mrad > 0.0
            && self.radius_mrad >= 0.0
            && self.max_frames > 0)
        {
            return Err(Error::invalid(format!("not a tilt search: {self:?}")));
        }
        if scan.calibration.mrad_per_px.is_none() {
            return Err(Error::format(
                scan.path(),
                "finding the tilt needs the detector calibration (mrad/px)",
            ));
        }
        let spec = model.input();
        let confidence_model = model.header().confidence.as_ref();
        let indices = sample_indices(scan.n_frames(), Some(self.max_frames));
        let coarse = self.grid([0.0, 0.0], self.step_mrad, self.radius_mrad);
        let step = self.step_mrad / 2.0;
        progress.start("finding the tilt", (coarse.len() + 8) as u64);
        let confidence = |tilt: [f64; 2]| -> Result<f64> {
            progress.check()?;
            let mut calibration = scan.calibration;
            calibration.tilt_mrad = Some(tilt);
            let tilted = scan.with_calibration(calibration);
            let geometry = spec.geometry(&tilted, survey)?;
            let inputs = prepare_batch(&tilted, &indices, &geometry, spec.size, None, None)?;
            let predictions = model.predict(inputs.view())?;
            progress.advance(1);
            let sum: f64 = predictions
                .iter()
                .map(|p| {
                    let scores = match confidence_model {
                        Some(c) => c.apply(&p.scores, None).0,
                        None => p.scores,
                    };
                    f64::from(scores.iter().copied().fold(0.0, f32::max))
                })
                .sum();
            Ok(sum / predictions.len().max(1) as f64)
        };
        let untilted = confidence([0.0, 0.0])?;
        if untilted >= self.below_confidence {
            return Ok(FoundTilt {
                tilt_mrad: [0.0, 0.0],
                searched: false,
                confidence: untilted,
                untilted_confidence: untilted,
                candidates: 1,
                frames: indices.len(),
            });
        }
        let mut best = ([0.0, 0.0], untilted);
        let mut tried = 1;
        for tilt in coarse.into_iter().filter(|&t| t != [0.0, 0.0]) {
            let c = confidence(tilt)?;
            tried += 1;
            if c > best.1 {
                best = (tilt, c);
            }
        }
        for tilt in self.grid(best.0, step, step * std::f64::consts::SQRT_2) {
            if tilt == best.0 {
                continue;
            }
            let c = confidence(tilt)?;
            tried += 1;
            if c > best.1 {
                best = (tilt, c);
            }
        }
        Ok(FoundTilt {
            tilt_mrad: best.0,
            searched: true,
            confidence: best.1,
            untilted_confidence: untilted,
            candidates: tried,
            frames: indices.len(),
        })
    }
}

/// How `scan` is brought to `model`'s input: at the tilt the calibration states; else, for a
/// model that follows the tilt ([`super::InputSpec::find_tilt`]) on a calibrated scan, at the
/// tilt [`TiltSearch`] finds (returned beside it); else with the crop not moved.
pub fn input_geometry(
    scan: &Scan,
    survey: &Survey,
    model: &dyn Classifier,
    progress: &Progress,
) -> Result<(InputGeometry, Option<FoundTilt>)> {
    let spec = model.input();
    let searched = spec.find_tilt
        && scan.calibration.tilt_mrad.is_none()
        && scan.calibration.mrad_per_px.is_some();
    if !searched {
        return Ok((spec.geometry(scan, survey)?, None));
    }
    let found = TiltSearch::default().run(scan, survey, model, progress)?;
    let mut calibration = scan.calibration;
    calibration.tilt_mrad = Some(found.tilt_mrad);
    let geometry = spec.geometry(&scan.with_calibration(calibration), survey)?;
    Ok((geometry, Some(found)))
}
