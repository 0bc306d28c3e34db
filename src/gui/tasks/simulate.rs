//! Simulating a labelled dataset from one of the simulator's presets
//! (`polarmap_sim::job::run_preset`).

use super::Worker;
use crate::gui::dialogs::simulate::SimulateRequest;
use std::path::PathBuf;

/// Starts the simulation (one still running is cancelled); answers the scans written.
pub fn start(worker: &mut Worker<Vec<PathBuf>>, request: SimulateRequest, generation: u64) {
    let label = format!("simulating {}", request.preset);
    worker.spawn(label, generation, move |progress, _| {
        polarmap_sim::job::run_preset(
            &request.preset,
            Default::default(),
            &request.dir,
            false,
            polarmap_sim::job::Existing::from_flags(request.overwrite, false),
            progress,
            |_, _, _, _| {},
        )
    });
}
