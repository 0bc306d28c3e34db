//! One trained model on one labelled scan: pixel accuracy against the labels, the majority class,
//! the class distribution, and the predicted map.

use ndarray::Array2;
use polarmap_core::classes::Class;
use polarmap_core::error::{Error, Result};
use polarmap_core::maps::{agreement, majority_of, ClassMap};
use polarmap_core::models::Classifier;
use polarmap_core::progress::Progress;
use polarmap_core::session::Session;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    pub test_set: String,
    pub path: String,
    /// Fraction of patterns whose predicted class equals the label.
    pub accuracy: f64,
    /// The most frequent predicted class.
    pub majority: Option<Class>,
    /// The most frequent label.
    pub truth: Option<Class>,
    /// Predicted patterns per class, in class order.
    pub counts: [usize; Class::COUNT],
    pub shape: [usize; 2],
    /// The predicted class index of every pattern, row-major.
    pub classes: Vec<u8>,
    pub seconds: f64,
}

impl TestResult {
    /// Compares a predicted map with the labels.
    pub fn new(
        test_set: &str,
        path: &Path,
        predicted: &Array2<Class>,
        truth: &Array2<Class>,
    ) -> TestResult {
        let stats = ClassMap::new(predicted.clone()).stats(None);
        let (rows, cols) = predicted.dim();
        TestResult {
            test_set: test_set.to_string(),
            path: path.display().to_string(),
            // Shapes match by construction (labels resolved to the scan's shape).
            accuracy: agreement(truth, predicted).unwrap_or(0.0),
            majority: stats.majority,
            truth: ClassMap::new(truth.clone()).stats(None).majority,
            counts: stats.counts,
            shape: [rows, cols],
            classes: predicted.iter().map(|c| c.index() as u8).collect(),
            seconds: 0.0,
        }
    }

    /// Whether the majority class equals the labels' majority.
    pub fn majority_right(&self) -> bool {
        self.majority.is_some() && self.majority == self.truth
    }

    /// Fraction of patterns per class.
    pub fn fractions(&self) -> [f64; Class::COUNT] {
        let n = self.counts.iter().sum::<usize>().max(1) as f64;
        self.counts.map(|c| c as f64 / n)
    }

    /// The predicted map.
    pub fn class_map(&self) -> Array2<Class> {
        Array2::from_shape_fn((self.shape[0], self.shape[1]), |(r, c)| {
            Class::ALL[self.classes[r * self.shape[1] + c] as usize % Class::COUNT]
        })
    }
}

/// Runs `model` over the labelled scan at `path`.
pub fn evaluate(
    model: &dyn Classifier,
    test_set: &str,
    path: &Path,
    progress: &Progress,
) -> Result<TestResult> {
    let started = std::time::Instant::now();
    let session = Session::open(path, &Default::default(), progress)?;
    let evaluation = session.evaluate(model, progress, |_, _| {})?;
    let truth = evaluation
        .truth
        .as_ref()
        .ok_or_else(|| Error::format(path, "has no labels (a sidecar with \"labels\")"))?;
    let mut result = TestResult::new(test_set, path, &evaluation.predictions.classes, truth);
    result.seconds = started.elapsed().as_secs_f64();
    Ok(result)
}

/// Per-pixel majority vote over maps of one shape (ties go to the lower class index).
pub fn vote(maps: &[Array2<Class>]) -> Option<Array2<Class>> {
    let first = maps.first()?;
    let dim = first.dim();
    if maps.iter().any(|m| m.dim() != dim) {
        return None;
    }
    Some(Array2::from_shape_fn(dim, |ix| {
        let mut counts = [0usize; Class::COUNT];
        maps.iter().for_each(|m| counts[m[ix].index()] += 1);
        majority_of(&counts).expect("at least one map")
    }))
}
