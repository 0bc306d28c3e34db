//! Adapting the selected model to the open scan from the labelled regions
//! (`models::adapt::adapt`), then its class map, filling in batch by batch as inference does.

use super::Worker;
use crate::gui::data::{ClassSource, Dataset};
use polarmap_core::classes::Class;
use polarmap_core::models::adapt::{self, AdaptOptions};
use polarmap_core::models::{Classifier, DeviceChoice};
use std::path::PathBuf;
use std::sync::Arc;

/// The adapted model and its class map.
pub struct Adapted {
    pub model: Arc<dyn Classifier>,
    /// The model file it was adapted from.
    pub base: PathBuf,
    pub map: ClassSource,
}

/// Adapts the model file `model` to `data`'s scan from `labels` ((row-major pixel index,
/// class)); a partial map is answered after each batch of the adapted model's inference.
pub fn start(
    worker: &mut Worker<Adapted, ClassSource>,
    data: &Dataset,
    model: PathBuf,
    device: DeviceChoice,
    labels: Vec<(usize, Class)>,
) {
    let session = data.session.clone();
    let label = format!("adapting {}", crate::gui::file_name(&model));
    worker.spawn(label, data.generation, move |progress, reporter| {
        progress.start("loading the model", 1);
        let base = polarmap_core::models::load(&model, device)?;
        let adapted = adapt::adapt(
            base.as_ref(),
            Some(&model),
            &session,
            &labels,
            &AdaptOptions::default(),
            progress,
        )?;
        let name = format!(
            "{} adapted to {} labelled px ({})",
            adapted.display_name(),
            labels.len(),
            crate::gui::file_name(&model)
        );
        let map = super::classes::predict_map(&session, adapted.as_ref(), name, progress, |p| {
            reporter.partial(p)
        })?;
        Ok(Adapted {
            model: Arc::from(adapted),
            base: model,
            map,
        })
    });
}
