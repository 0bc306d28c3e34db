//! A whole scan through a classifier: survey (centre, scale), then batches of prepared inputs,
//! each reported as it finishes so that a map can fill in while the rest runs.

use super::confidence::Determination;
use super::{input, Classifier, Prediction};
use crate::analysis::{PolarizationSignal, Survey};
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
    /// The tilt search, when the model follows the tilt and the scan stated none.
    pub tilt_search: Option<super::tilt::FoundTilt>,
    /// Whether `scores` are calibrated probabilities (the model file has a calibration).
    pub calibrated: bool,
    /// Per-pixel OOD score (1.0 = like the calibration data), where the model has a reference.
    pub ood: Option<Array2<f32>>,
    /// The scan's centrosymmetry test (None where the survey found no BF disk).
    pub signal: Option<PolarizationSignal>,
    /// The rule `determined` was made with.
    pub determination: Determination,
    /// Pixels whose class counts: confident, in distribution, on a scan with a signal.
    pub determined: Array2<bool>,
}

impl ScanPredictions {
    /// The class map with the predicted class's score as confidence and the determined mask.
    pub fn class_map(&self) -> ClassMap {
        let mut map = class_map_of(&self.classes, &self.scores);
        map.determined = Some(self.determined.clone());
        map
    }

    /// Pixels left undetermined.
    pub fn undetermined(&self) -> usize {
        self.determined.iter().filter(|&&d| !d).count()
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
        determined: None,
    }
}

/// Runs `model` over every pattern of `scan`, whose `survey` places and scales the model's crop.
/// Scores are calibrated and OOD scores computed where the model file has a calibration;
/// `determination` decides which pixels count. `on_batch(first_index, predictions)` is called
/// after each batch, in order. Stops with `Error::Cancelled` once `progress` is cancelled.
/// [`crate::session::Session::predict`] is the way in for front ends.
pub fn predict_scan(
    scan: &Scan,
    survey: &Survey,
    model: &dyn Classifier,
    determination: &Determination,
    progress: &Progress,
    mut on_batch: impl FnMut(usize, &[Prediction]),
) -> Result<ScanPredictions> {
    let [rows, cols] = scan.scan_shape();
    let n = scan.n_frames();
    let calibration = model.header().confidence.as_ref();
    let mut classes = Vec::with_capacity(n);
    let mut scores = Vec::with_capacity(n * Class::COUNT);
    let mut ood = Vec::with_capacity(n);
    // The centrosymmetry test's summed pattern is added up while the batches are read.
    let [det_rows, det_cols] = scan.frame_shape();
    let mut summed = Array2::<f64>::zeros((det_rows, det_cols));
    let sum = summed.as_slice_mut().expect("a new array is contiguous");
    let (geometry, tilt_search) = for_each_batch(
        scan,
        survey,
        model,
        progress,
        Some(sum),
        |first, predictions| {
            let mut predictions = predictions.to_vec();
            for p in &mut predictions {
                if let Some(c) = calibration {
                    let (calibrated, score) = c.apply(&p.scores, p.embedding.as_deref());
                    p.scores = calibrated;
                    ood.extend(score);
                }
                classes.push(p.class);
                scores.extend_from_slice(&p.scores);
            }
            on_batch(first, &predictions);
        },
    )?;
    let classes = Array2::from_shape_vec((rows, cols), classes).expect("one class per pattern");
    let scores =
        Array3::from_shape_vec((rows, cols, Class::COUNT), scores).expect("8 scores per pattern");
    let ood = (ood.len() == n).then(|| Array2::from_shape_vec((rows, cols), ood).expect("n"));
    let signal = PolarizationSignal::of_sum(&summed, survey);
    let confidence = class_map_of(&classes, &scores)
        .confidence
        .expect("class_map_of gives confidence");
    let determined = determination.mask(
        &confidence,
        calibration.is_some(),
        ood.as_ref(),
        signal.as_ref(),
    );
    Ok(ScanPredictions {
        classes,
        scores,
        model: model.display_name(),
        input: geometry,
        tilt_search,
        calibrated: calibration.is_some(),
        ood,
        signal,
        determination: *determination,
        determined,
    })
}

/// The raw predictions of every pattern of `scan`, batch by batch: `f(first_index,
/// predictions)`, in order; every frame is added into `sum` (frame-sized) where given. Returns
/// how the frames were brought to the model's input, and the tilt search when there was one.
pub fn for_each_batch(
    scan: &Scan,
    survey: &Survey,
    model: &dyn Classifier,
    progress: &Progress,
    mut sum: Option<&mut [f64]>,
    mut f: impl FnMut(usize, &[Prediction]),
) -> Result<(input::InputGeometry, Option<super::tilt::FoundTilt>)> {
    let spec = model.input();
    let (geometry, tilt_search) = super::tilt::input_geometry(scan, survey, model, progress)?;
    let n = scan.n_frames();
    progress.start("classifying patterns", n as u64);
    let indices: Vec<usize> = (0..n).collect();
    for batch in indices.chunks(BATCH) {
        progress.check()?;
        let inputs = input::prepare_batch(
            scan,
            batch,
            &geometry,
            spec.size,
            Some(progress),
            sum.as_deref_mut(),
        )?;
        let predictions = model.predict(inputs.view())?;
        f(batch[0], &predictions);
        progress.advance(batch.len() as u64);
    }
    Ok((geometry, tilt_search))
}
