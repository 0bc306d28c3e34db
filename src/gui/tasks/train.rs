//! Training a model (`models::job::TrainJob`), after simulating its data first when asked; each
//! epoch's metrics are answered as they come in.

use super::Worker;
use crate::gui::dialogs::train::TrainRequest;
use polarmap_core::models::job::TrainJob;
use polarmap_core::models::train::EpochMetrics;
use std::path::PathBuf;

/// The training task's answer: the model file written and its test-split accuracy.
pub struct Trained {
    pub path: PathBuf,
    pub test_accuracy: f64,
}

/// Starts training (a run still going is cancelled).
pub fn start(worker: &mut Worker<Trained, EpochMetrics>, request: TrainRequest, generation: u64) {
    let label = format!("training {}", crate::gui::file_name(&request.out));
    worker.spawn(label, generation, move |progress, reporter| {
        let mut job = TrainJob::new(
            request.scans.clone(),
            request.config.clone(),
            request.device,
            request.out.clone(),
        );
        job.overwrite = request.overwrite;
        super::create_parent(&request.out)?;
        if let Some((name, dir)) = &request.preset {
            // Refuse an existing model before spending minutes on the simulation.
            job.check_writable()?;
            job.scans = polarmap_sim::job::run_preset(
                name,
                Default::default(),
                dir,
                false,
                polarmap_sim::job::Existing::Refuse,
                progress,
                |_, _, _, _| {},
            )?;
            job.simulated = Some((name.clone(), dir.clone()));
        }
        let files = job.run(progress, &mut |_| {}, &mut |m: &EpochMetrics| {
            reporter.partial(*m)
        })?;
        Ok(Trained {
            path: files.model,
            test_accuracy: files.trained.test_accuracy,
        })
    });
}
