//! Calibrated class probabilities: temperature scaling of the model's log-scores, fitted by
//! minimising the negative log-likelihood (NLL) on labelled scans (Guo et al. 2017), and the
//! expected calibration error (ECE) that says how far confidence is from accuracy.
//!
//! Every model's scores sum to 1, so one mechanism serves all of them: the calibrated
//! probabilities are `p_k ∝ (s_k + α)^(1/T)`. For the networks (softmax scores) α is negligible
//! and this is plain temperature scaling of the logits, `softmax(z / T)`. PCA + kNN's scores are
//! vote fractions of k = 5 neighbours, 0 for every class no neighbour voted for; α is the
//! pseudo-count that gives those classes a probability (add-α smoothing of the votes), fitted
//! with T. Both transforms are monotone in the score, so the predicted class never changes.

use crate::classes::Class;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Equal-width confidence bins of the expected calibration error (Guo et al. 2017 use 15).
pub const ECE_BINS: usize = 15;

/// The pseudo-counts α tried; T is fitted for each (golden-section search on ln T).
const SMOOTHING_GRID: [f64; 12] = [
    1e-12, 1e-9, 1e-6, 1e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0,
];
/// Range of temperatures searched.
const LN_T_RANGE: (f64, f64) = (-4.6, 4.6); // 0.01 to 100

/// A fitted score calibration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TemperatureScaling {
    /// T: above 1 softens over-confident scores, below 1 sharpens under-confident ones.
    pub temperature: f64,
    /// α, the pseudo-count added to each score before scaling.
    pub smoothing: f64,
}

impl Default for TemperatureScaling {
    /// The identity (to within α = 1e-12).
    fn default() -> Self {
        TemperatureScaling {
            temperature: 1.0,
            smoothing: 1e-12,
        }
    }
}

impl TemperatureScaling {
    /// Calibrated probabilities of one pattern's scores.
    pub fn apply(&self, scores: &[f32; Class::COUNT]) -> [f32; Class::COUNT] {
        let beta = 1.0 / self.temperature;
        let logits = scores.map(|s| beta * (s.max(0.0) as f64 + self.smoothing).ln());
        let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let exp = logits.map(|l| (l - max).exp());
        let total: f64 = exp.iter().sum();
        exp.map(|e| (e / total) as f32)
    }

    /// Mean negative log-likelihood of `labels` under the calibrated scores.
    pub fn nll(&self, scores: &[[f32; Class::COUNT]], labels: &[usize]) -> f64 {
        nll_of(scores, labels, 1.0 / self.temperature, self.smoothing)
    }

    /// Fits T and α by minimising the NLL of `labels` (class indices) under the calibrated
    /// `scores`. An error when there is nothing to fit on.
    pub fn fit(scores: &[[f32; Class::COUNT]], labels: &[usize]) -> Result<TemperatureScaling> {
        if scores.is_empty() || scores.len() != labels.len() {
            return Err(Error::invalid(format!(
                "calibration needs labelled patterns (got {} score rows, {} labels)",
                scores.len(),
                labels.len()
            )));
        }
        if let Some(l) = labels.iter().find(|&&l| l >= Class::COUNT) {
            return Err(Error::invalid(format!("label {l} is not a class index")));
        }
        let mut best = (f64::INFINITY, TemperatureScaling::default());
        for alpha in SMOOTHING_GRID {
            // The NLL of softmax(β·z) is convex in β, so unimodal in ln T = −ln β.
            let ln_t = golden_section(LN_T_RANGE, |ln_t| {
                nll_of(scores, labels, (-ln_t).exp(), alpha)
            });
            let nll = nll_of(scores, labels, (-ln_t).exp(), alpha);
            if nll < best.0 {
                best = (
                    nll,
                    TemperatureScaling {
                        temperature: ln_t.exp(),
                        smoothing: alpha,
                    },
                );
            }
        }
        Ok(best.1)
    }
}

fn nll_of(scores: &[[f32; Class::COUNT]], labels: &[usize], beta: f64, alpha: f64) -> f64 {
    let total: f64 = scores
        .iter()
        .zip(labels)
        .map(|(s, &y)| {
            let logits = s.map(|v| beta * (v.max(0.0) as f64 + alpha).ln());
            let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lse = max + logits.iter().map(|l| (l - max).exp()).sum::<f64>().ln();
            lse - logits[y]
        })
        .sum();
    total / scores.len().max(1) as f64
}

/// The minimum of a unimodal `f` on `[lo, hi]` to 1e-6.
fn golden_section((mut lo, mut hi): (f64, f64), f: impl Fn(f64) -> f64) -> f64 {
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let (mut a, mut b) = (hi - g * (hi - lo), lo + g * (hi - lo));
    let (mut fa, mut fb) = (f(a), f(b));
    while hi - lo > 1e-6 {
        if fa < fb {
            hi = b;
            (b, fb) = (a, fa);
            a = hi - g * (hi - lo);
            fa = f(a);
        } else {
            lo = a;
            (a, fa) = (b, fb);
            b = lo + g * (hi - lo);
            fb = f(b);
        }
    }
    (lo + hi) / 2.0
}

/// Expected calibration error with `bins` equal-width confidence bins: the mean over patterns
/// of |accuracy − mean confidence| of each pattern's bin. `confidence[i]` is the probability
/// given to the predicted class, `correct[i]` whether that class was right.
pub fn expected_calibration_error(confidence: &[f32], correct: &[bool], bins: usize) -> f64 {
    let bins = bins.max(1);
    let mut sum_conf = vec![0f64; bins];
    let mut sum_right = vec![0f64; bins];
    let mut count = vec![0usize; bins];
    for (&c, &ok) in confidence.iter().zip(correct) {
        let c = (c as f64).clamp(0.0, 1.0);
        let b = ((c * bins as f64) as usize).min(bins - 1);
        sum_conf[b] += c;
        sum_right[b] += ok as u8 as f64;
        count[b] += 1;
    }
    let n = confidence.len().min(correct.len()).max(1) as f64;
    (0..bins)
        .map(|b| (sum_right[b] - sum_conf[b]).abs() / n)
        .sum()
}

/// How well a set of probabilities fits labelled patterns.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalibrationQuality {
    pub patterns: usize,
    pub accuracy: f64,
    /// Expected calibration error, [`ECE_BINS`] equal-width bins.
    pub ece: f64,
    /// Mean negative log-likelihood of the labels.
    pub nll: f64,
    pub mean_confidence: f64,
}

impl CalibrationQuality {
    /// Judges `scaling` on patterns with scores `scores`, predicted classes `predicted` and
    /// labels `labels`.
    pub fn measure(
        scaling: &TemperatureScaling,
        scores: &[[f32; Class::COUNT]],
        predicted: &[usize],
        labels: &[usize],
    ) -> CalibrationQuality {
        let confidence: Vec<f32> = scores
            .iter()
            .zip(predicted)
            .map(|(s, &k)| scaling.apply(s)[k])
            .collect();
        let correct: Vec<bool> = predicted.iter().zip(labels).map(|(a, b)| a == b).collect();
        let n = scores.len().max(1) as f64;
        CalibrationQuality {
            patterns: scores.len(),
            accuracy: correct.iter().filter(|&&c| c).count() as f64 / n,
            ece: expected_calibration_error(&confidence, &correct, ECE_BINS),
            nll: scaling.nll(scores, labels),
            mean_confidence: confidence.iter().map(|&c| c as f64).sum::<f64>() / n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn softmax(z: [f64; Class::COUNT]) -> [f32; Class::COUNT] {
        let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e = z.map(|v| (v - m).exp());
        let t: f64 = e.iter().sum();
        e.map(|v| (v / t) as f32)
    }

    /// A fixed toy set: logits z drawn at random, labels drawn from softmax(z / T0), scores
    /// reported as softmax(z), i.e. over-confident by T0.
    fn toy(t0: f64, n: usize, seed: u64) -> (Vec<[f32; 8]>, Vec<usize>, Vec<usize>) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let (mut scores, mut labels, mut predicted) = (vec![], vec![], vec![]);
        for _ in 0..n {
            let z: [f64; 8] = std::array::from_fn(|_| rng.random_range(0.0..6.0));
            let truth = softmax(z.map(|v| v / t0));
            let u: f32 = rng.random();
            let mut acc = 0.0;
            let label = (0..8)
                .find(|&k| {
                    acc += truth[k];
                    u < acc
                })
                .unwrap_or(7);
            let s = softmax(z);
            predicted.push((0..8).fold(0, |b, k| if s[k] > s[b] { k } else { b }));
            scores.push(s);
            labels.push(label);
        }
        (scores, labels, predicted)
    }

    #[test]
    fn temperature_fit_recovers_a_known_temperature_and_lowers_the_ece() {
        for t0 in [0.5, 2.5] {
            let (scores, labels, predicted) = toy(t0, 20_000, 7);
            let fit = TemperatureScaling::fit(&scores, &labels).unwrap();
            assert!(
                (fit.temperature / t0 - 1.0).abs() < 0.05,
                "T0 {t0}: fitted {fit:?}"
            );
            assert!(fit.smoothing < 1e-5, "{fit:?}");
            // ECE judged on another draw of the same toy distribution.
            let (scores, labels, predicted2) = toy(t0, 20_000, 8);
            let _ = predicted;
            let before = CalibrationQuality::measure(
                &TemperatureScaling::default(),
                &scores,
                &predicted2,
                &labels,
            );
            let after = CalibrationQuality::measure(&fit, &scores, &predicted2, &labels);
            assert!(before.ece > 0.05, "{before:?}");
            assert!(
                after.ece < 0.02 && after.ece < before.ece / 3.0,
                "{after:?}"
            );
            assert!(after.nll < before.nll);
            assert_eq!(before.accuracy, after.accuracy, "the class never changes");
        }
    }

    #[test]
    fn ece_of_known_bins() {
        // Two bins used: confidence 0.95 (4 patterns, 2 right) and 0.25 (4, 1 right).
        let conf = [0.95, 0.95, 0.95, 0.95, 0.25, 0.25, 0.25, 0.25];
        let right = [true, true, false, false, true, false, false, false];
        let ece = expected_calibration_error(&conf, &right, 10);
        assert!((ece - (0.5 * 0.45 + 0.5 * 0.0)).abs() < 1e-6, "{ece}");
        // Perfectly calibrated: 0.75 confidence, 3 of 4 right.
        let ece = expected_calibration_error(&[0.75; 4], &[true, true, true, false], 15);
        assert!(ece < 1e-6);
    }

    #[test]
    fn vote_fractions_get_a_finite_likelihood_and_keep_their_class() {
        // kNN-like scores: 5 votes; the truth sometimes has none of them.
        let scores = vec![
            [0.6, 0.4, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.8, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        ];
        let labels = vec![0, 3, 1, 2];
        let fit = TemperatureScaling::fit(&scores, &labels).unwrap();
        assert!(fit.nll(&scores, &labels).is_finite());
        assert!(fit.smoothing > 1e-6, "{fit:?}");
        for s in &scores {
            let p = fit.apply(s);
            assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            let argmax = |v: &[f32; 8]| (0..8).fold(0, |b, k| if v[k] > v[b] { k } else { b });
            assert_eq!(argmax(&p), argmax(s));
        }
        assert!(TemperatureScaling::fit(&[], &[]).is_err());
        assert!(TemperatureScaling::fit(&scores[..1], &[9]).is_err());
    }
}
