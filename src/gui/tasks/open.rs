//! Opening a scan: `Session::open` (read + survey) on a task thread.

use super::patterns::PatternImages;
use super::Worker;
use crate::gui::render;
use polarmap_core::analysis::DetectorGeometry;
use polarmap_core::scan::OpenOptions;
use polarmap_core::session::Session;
use std::path::PathBuf;
use std::time::Instant;

/// The open task's answer.
pub struct Opened {
    pub path: PathBuf,
    pub session: Session,
    /// The session's default virtual detectors.
    pub geometry: DetectorGeometry,
    /// The survey's mean pattern, rendered (the inspector draws detector masks on it).
    pub mean_pattern: PatternImages,
    pub seconds: f64,
}

impl Opened {
    /// The answer for `session`, its mean pattern rendered (on the calling task's thread).
    pub fn new(path: PathBuf, session: Session, seconds: f64) -> Opened {
        let mean = &session.survey().mean_pattern;
        let (rows, cols) = mean.dim();
        let values: Vec<f32> = mean.iter().map(|&v| v as f32).collect();
        let mean_pattern = PatternImages {
            log: render::pattern(&values, rows, cols, true),
            linear: render::pattern(&values, rows, cols, false),
        };
        Opened {
            geometry: session.default_detectors(),
            mean_pattern,
            session,
            seconds,
            path,
        }
    }
}

/// Starts opening `path` for dataset `generation` (an open still running is cancelled);
/// returns the job id, which the answer carries.
pub fn start(worker: &mut Worker<Opened>, path: PathBuf, generation: u64) -> u64 {
    start_with(worker, path, OpenOptions::default(), generation)
}

/// [`start`] with the caller's options (e.g. the scan shape the user gave).
pub fn start_with(
    worker: &mut Worker<Opened>,
    path: PathBuf,
    options: OpenOptions,
    generation: u64,
) -> u64 {
    let label = format!("opening {}", crate::gui::file_name(&path));
    worker.spawn(label, generation, move |progress, _| {
        let started = Instant::now();
        let session = Session::open(&path, &options, progress)?;
        Ok(Opened::new(path, session, started.elapsed().as_secs_f64()))
    })
}
