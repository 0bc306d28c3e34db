//! Class maps: the sidecar's ground truth (`Session::labels`) and a model's predictions
//! (`Session::evaluate`, filling in batch by batch). Each map is rendered on the task thread
//! ([`ClassSource`] carries its images).

use super::Worker;
use crate::gui::data::{ClassSource, Dataset, SourceKind};
use ndarray::{Array2, Array3};
use polarmap_core::classes::Class;
use polarmap_core::maps::ClassMap;
use polarmap_core::models::{Classifier, DeviceChoice};
use polarmap_core::progress::Progress;
use polarmap_core::session::Session;
use std::path::PathBuf;

/// Reads the ground truth of `data`'s scan, when its sidecar names labels.
pub fn start_labels(worker: &mut Worker<Option<ClassSource>>, data: &Dataset) {
    if data.scan().labels.is_none() {
        return;
    }
    let session = data.session.clone();
    worker.spawn("reading labels", data.generation, move |_, _| {
        Ok(session.labels()?.map(|labels| {
            ClassSource::new(
                SourceKind::Truth,
                "ground truth (sidecar labels)".into(),
                ClassMap::new(labels),
                None,
            )
        }))
    });
}

/// Runs the model file `model` over every pattern of `data`'s scan (an inference still running
/// is cancelled). A partial map is answered after each batch; the finished one carries the
/// accuracy against the scan's labels (when it has them) and the crop the model saw.
pub fn start_prediction(
    worker: &mut Worker<ClassSource>,
    data: &Dataset,
    model: PathBuf,
    device: DeviceChoice,
) {
    let session = data.session.clone();
    let label = format!("inference with {}", crate::gui::file_name(&model));
    worker.spawn(label, data.generation, move |progress, reporter| {
        progress.start("loading the model", 1);
        let classifier = polarmap_core::models::load(&model, device)?;
        let name = format!(
            "{} ({})",
            classifier.display_name(),
            crate::gui::file_name(&model)
        );
        predict_map(&session, classifier.as_ref(), name, progress, |p| {
            reporter.partial(p)
        })
    });
}

/// `classifier`'s class map of the session's scan, named `name`: `partial` gets the map after
/// each batch but the last; the finished one carries the accuracy against the scan's labels
/// (when it has them) and the crop the model saw.
pub fn predict_map(
    session: &Session,
    classifier: &dyn Classifier,
    name: String,
    progress: &Progress,
    partial: impl Fn(ClassSource),
) -> polarmap_core::Result<ClassSource> {
    let [rows, cols] = session.scan().scan_shape();
    let n = rows * cols;
    let mrad_per_px = session.scan().calibration.mrad_per_px;
    let tilt_mrad = session.scan().calibration.tilt_mrad;
    let mut classes = Array2::from_elem((rows, cols), Class::RM);
    let mut scores = Array3::<f32>::zeros((rows, cols, Class::COUNT));
    let evaluation = session.evaluate(classifier, progress, |first, batch| {
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
            let mut source = ClassSource::partial(
                SourceKind::Model,
                name.clone(),
                map,
                Some(scores.clone()),
                done,
            );
            source.mrad_per_px = mrad_per_px;
            source.tilt_mrad = tilt_mrad;
            partial(source);
        }
    })?;
    let input = (evaluation.predictions.input, classifier.input().size);
    let mut source = ClassSource::new(
        SourceKind::Model,
        name,
        evaluation.class_map(),
        Some(evaluation.predictions.scores),
    );
    source.accuracy = evaluation.accuracy;
    source.mrad_per_px = mrad_per_px;
    source.tilt_mrad = tilt_mrad;
    source.tilt_search = evaluation.predictions.tilt_search;
    source.input = Some(input);
    source.ood = evaluation.predictions.ood;
    source.calibrated = evaluation.predictions.calibrated;
    source.signal = evaluation.predictions.signal;
    Ok(source)
}
