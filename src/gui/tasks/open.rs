//! Opening a scan: `Session::open` (read + survey) on a task thread.

use super::Worker;
use polarmap_core::analysis::DetectorGeometry;
use polarmap_core::session::Session;
use std::path::PathBuf;
use std::time::Instant;

/// The open task's answer.
pub struct Opened {
    pub path: PathBuf,
    pub session: Session,
    /// The session's default virtual detectors.
    pub geometry: DetectorGeometry,
    pub seconds: f64,
}

/// Starts opening `path` for dataset `generation` (an open still running is cancelled);
/// returns the job id, which the answer carries.
pub fn start(worker: &mut Worker<Opened>, path: PathBuf, generation: u64) -> u64 {
    let label = format!("opening {}", crate::gui::file_name(&path));
    worker.spawn(label, generation, move |progress, _| {
        let started = Instant::now();
        let session = Session::open(&path, &Default::default(), progress)?;
        Ok(Opened {
            geometry: session.default_detectors(),
            session,
            seconds: started.elapsed().as_secs_f64(),
            path,
        })
    })
}
