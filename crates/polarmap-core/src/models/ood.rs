//! Out-of-distribution (OOD) score: how far a pattern's embedding lies from the calibration
//! data, in units of how far the calibration data itself lies.
//!
//! The embedding is the model's own representation of the pattern (PCA + kNN: its principal
//! components; the networks: the encoder's 512-d features, or the prototype head's embedding).
//! The distance is the Euclidean distance to the nearest class centroid of the calibration
//! scans' embeddings (a Euclidean form of the class-conditional feature-space detector of Lee et
//! al. 2018), and the score is that distance divided by its median over the calibration
//! patterns: 1.0 is a typical calibration pattern, 2.0 twice as far as a typical one.

use crate::classes::Class;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// What the OOD score of new patterns is measured against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OodReference {
    /// Class centroids of the calibration embeddings, in class order (empty for a class the
    /// calibration scans did not hold).
    pub centroids: Vec<Vec<f32>>,
    /// Median nearest-centroid distance over the calibration patterns (the unit of the score).
    pub median_distance: f64,
    /// The score's 95th and 99th percentiles over the calibration patterns.
    pub p95: f64,
    pub p99: f64,
}

impl OodReference {
    /// Fits centroids and the distance scale on labelled embeddings.
    pub fn fit(embeddings: &[Vec<f32>], labels: &[usize]) -> Result<OodReference> {
        let width = embeddings.first().map_or(0, Vec::len);
        if width == 0 || embeddings.len() != labels.len() {
            return Err(Error::invalid(
                "the OOD score needs labelled embeddings: this model gives none",
            ));
        }
        if embeddings.iter().any(|e| e.len() != width) {
            return Err(Error::invalid("embeddings of different widths"));
        }
        let mut sums = vec![vec![0f64; width]; Class::COUNT];
        let mut counts = [0usize; Class::COUNT];
        for (e, &l) in embeddings.iter().zip(labels) {
            let l = l.min(Class::COUNT - 1);
            counts[l] += 1;
            for (s, v) in sums[l].iter_mut().zip(e) {
                *s += *v as f64;
            }
        }
        let centroids = sums
            .iter()
            .zip(counts)
            .map(|(s, n)| {
                if n == 0 {
                    Vec::new()
                } else {
                    s.iter().map(|v| (v / n as f64) as f32).collect()
                }
            })
            .collect();
        let mut reference = OodReference {
            centroids,
            median_distance: 1.0,
            p95: 0.0,
            p99: 0.0,
        };
        let mut d: Vec<f64> = embeddings.iter().map(|e| reference.distance(e)).collect();
        d.sort_by(f64::total_cmp);
        let median = quantile(&d, 0.5);
        if !(median.is_finite() && median > 0.0) {
            return Err(Error::invalid(
                "the calibration embeddings all sit on their class centroids: no scale for OOD",
            ));
        }
        reference.median_distance = median;
        reference.p95 = quantile(&d, 0.95) / median;
        reference.p99 = quantile(&d, 0.99) / median;
        Ok(reference)
    }

    /// Distance to the nearest centroid (infinite when the widths differ).
    pub fn distance(&self, embedding: &[f32]) -> f64 {
        self.centroids
            .iter()
            .filter(|c| c.len() == embedding.len() && !c.is_empty())
            .map(|c| {
                c.iter()
                    .zip(embedding)
                    .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
                    .sum::<f64>()
                    .sqrt()
            })
            .fold(f64::INFINITY, f64::min)
    }

    /// The OOD score: 1.0 is a typical calibration pattern, larger is further away.
    pub fn score(&self, embedding: &[f32]) -> f32 {
        (self.distance(embedding) / self.median_distance) as f32
    }

    /// Checks a reference read from a file: 8 centroids of one width, a positive scale.
    pub fn check(&self) -> std::result::Result<(), String> {
        let width = self.centroids.iter().map(Vec::len).max().unwrap_or(0);
        if self.centroids.len() != Class::COUNT
            || width == 0
            || self
                .centroids
                .iter()
                .any(|c| !c.is_empty() && c.len() != width)
            || self.centroids.iter().flatten().any(|v| !v.is_finite())
        {
            return Err("the OOD reference needs 8 class centroids of one width".into());
        }
        if !(self.median_distance.is_finite() && self.median_distance > 0.0) {
            return Err("the OOD reference's median distance must be positive".into());
        }
        Ok(())
    }
}

/// Linear-interpolated quantile of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (i, f) = (pos.floor() as usize, pos.fract());
    let next = sorted[(i + 1).min(sorted.len() - 1)];
    sorted[i] * (1.0 - f) + next * f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_is_one_at_the_median_and_grows_with_distance() {
        // Two classes on a line, points at distances 1, 2, 3 from their centroids.
        let embeddings: Vec<Vec<f32>> = [-3.0, -1.0, 1.0, 3.0, 17.0, 19.0, 21.0, 23.0]
            .iter()
            .map(|&x| vec![x, 0.0])
            .collect();
        let labels = [0, 0, 0, 0, 1, 1, 1, 1];
        let r = OodReference::fit(&embeddings, &labels).unwrap();
        assert_eq!(r.centroids[0], vec![0.0, 0.0]);
        assert_eq!(r.centroids[1], vec![20.0, 0.0]);
        assert!(r.centroids[2].is_empty());
        assert!((r.median_distance - 2.0).abs() < 1e-9, "{r:?}");
        assert!((r.score(&[0.0, 2.0]) - 1.0).abs() < 1e-6);
        assert!((r.score(&[10.0, 0.0]) - 5.0).abs() < 1e-6);
        assert!(r.check().is_ok());
        assert!(OodReference::fit(&[], &[]).is_err());
        assert!(OodReference::fit(&[vec![1.0], vec![1.0]], &[0, 0]).is_err());
    }
}
