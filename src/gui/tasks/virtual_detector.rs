//! A custom virtual detector (an annulus or sector typed in the virtual image view, or a mask
//! drawn on the pattern): `Session::features_with` sums it over every pattern in one pass; the
//! task renders its image before it answers.

use super::Worker;
use crate::gui::data::{CustomImage, Dataset};
use crate::gui::render;
use polarmap_core::analysis::VirtualDetector;
use std::time::Instant;

/// Computes `detector`'s image over `data` (a detector pass still running is cancelled).
pub fn start(
    worker: &mut Worker<CustomImage>,
    data: &Dataset,
    detector: VirtualDetector,
    label: String,
) {
    let (session, geometry) = (data.session.clone(), data.geometry);
    let job = format!("virtual detector ({label})");
    worker.spawn(job, data.generation, move |progress, _| {
        let started = Instant::now();
        detector
            .validate(session.scan().frame_shape())
            .map_err(polarmap_core::Error::invalid)?;
        let mut maps =
            session.features_with(&geometry, std::slice::from_ref(&detector), progress)?;
        let values = maps
            .virtual_images
            .pop()
            .ok_or_else(|| polarmap_core::Error::invalid("the pass returned no virtual image"))?;
        progress.check()?;
        let image = render::grey(&values);
        Ok(CustomImage {
            detector,
            label,
            values,
            image,
            seconds: started.elapsed().as_secs_f64(),
        })
    });
}
