//! A whole scan through a classifier: survey (centre, scale), then batches of prepared inputs,
//! each reported as it finishes so that a map can fill in while the rest runs.

use super::{input, Classifier, Prediction};
use crate::analysis::Survey;
use crate::classes::Class;
use crate::error::Result;
use crate::maps::ClassMap;
use crate::progress::Progress;
use crate::scan::Scan;
use ndarray::{Array2, Array3};

/// Patterns per batch: large enough to keep a GPU busy, small enough to show progress.
pub const BATCH: usize = 256;

/// Per-pattern predictions over a scan.
#[derive(Debug, Clone)]
pub struct ScanPredictions {
    pub classes: Array2<Class>,
    /// `[rows, cols, 8]` class scores.
    pub scores: Array3<f32>,
    pub model: String,
    /// How the scan's frames were brought to the model's input (centre and scale of the crop).
    pub input: input::InputGeometry,
}

impl ScanPredictions {
    /// The class map with the predicted class's score as confidence.
    pub fn class_map(&self) -> ClassMap {
        class_map_of(&self.classes, &self.scores)
    }
}

/// A class map from per-pixel classes and `[rows, cols, 8]` scores, with the predicted class's
/// score as confidence.
pub fn class_map_of(classes: &Array2<Class>, scores: &Array3<f32>) -> ClassMap {
    let confidence = Array2::from_shape_fn(classes.dim(), |(r, c)| {
        scores[[r, c, classes[[r, c]].index()]]
    });
    ClassMap {
        classes: classes.clone(),
        confidence: Some(confidence),
    }
}

/// Runs `model` over every pattern of `scan`, whose `survey` places and scales the model's crop.
/// `on_batch(first_index, predictions)` is called after each batch, in order. Stops with
/// `Error::Cancelled` once `progress` is cancelled. [`crate::session::Session::predict`] is the
/// way in for front ends.
pub fn predict_scan(
    scan: &Scan,
    survey: &Survey,
    model: &dyn Classifier,
    progress: &Progress,
    mut on_batch: impl FnMut(usize, &[Prediction]),
) -> Result<ScanPredictions> {
    let spec = model.input();
    let geometry = spec.geometry(scan, survey)?;
    let [rows, cols] = scan.scan_shape();
    let n = scan.n_frames();
    let mut classes = Vec::with_capacity(n);
    let mut scores = Vec::with_capacity(n * Class::COUNT);
    progress.start("classifying patterns", n as u64);
    let indices: Vec<usize> = (0..n).collect();
    for batch in indices.chunks(BATCH) {
        progress.check()?;
        let inputs = input::prepare_batch(scan, batch, &geometry, spec.size, Some(progress))?;
        let predictions = model.predict(inputs.view())?;
        for p in &predictions {
            classes.push(p.class);
            scores.extend_from_slice(&p.scores);
        }
        on_batch(batch[0], &predictions);
        progress.advance(batch.len() as u64);
    }
    Ok(ScanPredictions {
        classes: Array2::from_shape_vec((rows, cols), classes).expect("one class per pattern"),
        scores: Array3::from_shape_vec((rows, cols, Class::COUNT), scores)
            .expect("8 scores per pattern"),
        model: model.display_name(),
        input: geometry,
    })
}
