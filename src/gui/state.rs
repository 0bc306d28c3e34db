//! The app's state apart from the views' own: the dataset on screen, the open request in
//! flight, what is linked across the views (zoom, selection), the regions drawn, the candidate
//! defects found, errors and notices. Plain data with the transitions the task answers cause;
//! no threads, no drawing.

use crate::gui::data::{AnalysisResult, ClassSource, Dataset, SourceKind};
use crate::gui::tasks::maps::RegionAnswer;
use crate::gui::tasks::open::Opened;
use crate::gui::tasks::{Answer, Event};
use crate::gui::views::image_view::Linked;
use crate::gui::views::regions::Regions;
use polarmap_core::maps::{DefectCluster, DefectSearch};
use polarmap_core::Calibration;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// App settings kept between runs (each view keeps its own toggles: `views::Views`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub recent: Vec<PathBuf>,
    /// The model run on every scan opened (the shipped default when None or missing); set
    /// once it has produced a complete map.
    pub model: Option<PathBuf>,
}

const RECENT_MAX: usize = 10;
/// The log keeps this many messages (the oldest go first).
const LOG_MAX: usize = 500;

/// How serious a logged message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Info,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Info => "info",
        }
    }
}

/// A message of the Log pane (errors and warnings are also shown once as toasts).
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// Increases with every message (the app toasts each message once).
    pub id: u64,
    pub level: Level,
    pub message: String,
    /// Wall-clock time, UTC, "HH:MM:SS".
    pub time: String,
}

/// An open request whose job is running.
#[derive(Debug, Clone, PartialEq)]
pub struct Opening {
    pub job: u64,
    pub path: PathBuf,
}

/// The candidate defects of the class map on screen.
/// What a calibration edit made stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CalibrationChange {
    /// The CoM directions (scan rotation or flip changed).
    pub rotation: bool,
    /// A model's input (the detector's mrad per pixel, or the stated tilt that moves the crop,
    /// changed).
    pub model_input: bool,
}

#[derive(Debug, Default)]
pub struct DefectResults {
    pub found: Vec<DefectCluster>,
    /// The settings of the last search started for this map (None: none yet).
    pub started: Option<DefectSearch>,
}

/// What a new class map changed.
#[derive(Debug, Default, PartialEq)]
pub struct ClassesChange {
    /// A model's map is complete: remember the model for the next start.
    pub model_worked: bool,
    /// The complete map on screen was replaced: regions and defects are redone.
    pub map_changed: bool,
}

pub struct AppState {
    pub settings: Settings,
    /// Increases with every open request; answers for older datasets are dropped.
    pub generation: u64,
    /// The dataset on screen.
    pub data: Option<Dataset>,
    /// The scan being opened (the dataset on screen stays until it has opened).
    pub opening: Option<Opening>,
    pub linked: Linked,
    pub regions: Regions,
    pub defects: DefectResults,
    /// Errors, warnings and notices, oldest first (the Log pane).
    pub log: Vec<LogEntry>,
    next_log_id: u64,
    /// The last thing done (e.g. a file written).
    pub notice: Option<String>,
}

impl AppState {
    pub fn new(settings: Settings) -> AppState {
        AppState {
            settings,
            generation: 0,
            data: None,
            opening: None,
            linked: Linked::new(1, 1),
            regions: Regions::default(),
            defects: DefectResults::default(),
            log: Vec::new(),
            next_log_id: 0,
            notice: None,
        }
    }

    /// Logs a message (the Log pane; errors and warnings also as a toast).
    pub fn log(&mut self, level: Level, message: String) {
        self.next_log_id += 1;
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() % 86_400);
        self.log.push(LogEntry {
            id: self.next_log_id,
            level,
            message,
            time: format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60),
        });
        if self.log.len() > LOG_MAX {
            self.log.remove(0);
        }
    }

    pub fn error(&mut self, message: String) {
        self.log(Level::Error, message);
    }

    pub fn warn(&mut self, message: String) {
        self.log(Level::Warning, message);
    }

    /// The last thing done: in the status bar and the log.
    pub fn notify(&mut self, message: String) {
        self.log(Level::Info, message.clone());
        self.notice = Some(message);
    }

    /// The generation of the dataset on screen.
    pub fn current(&self) -> Option<u64> {
        self.data.as_ref().map(|d| d.generation)
    }

    /// A new open request: the generation its dataset will have.
    pub fn next_generation(&mut self) -> u64 {
        self.generation += 1;
        self.generation
    }

    /// True when `job` is the open request in flight.
    pub fn is_opening(&self, job: u64) -> bool {
        self.opening.as_ref().is_some_and(|o| o.job == job)
    }

    /// An open job ended without a dataset (failed, or cancelled). Only the request in flight
    /// is cleared: the answer of an older open job (one a newer request replaced) leaves the
    /// newer request alone. A failure is shown either way.
    pub fn open_ended(&mut self, job: u64, error: Option<String>) {
        if self.is_opening(job) {
            self.opening = None;
        }
        if let Some(e) = error {
            self.error(e);
        }
    }

    /// Puts the scan `job` opened on screen, if `job` is the open request in flight; its
    /// regions and defects start empty, the class view shows `shown` first.
    pub fn install(
        &mut self,
        job: u64,
        generation: u64,
        opened: Opened,
        shown: SourceKind,
    ) -> bool {
        if !self.is_opening(job) {
            return false;
        }
        self.opening = None;
        self.remember_recent(&opened.path);
        let [rows, cols] = opened.session.scan().scan_shape();
        self.linked = Linked::new(rows, cols);
        // Start with the centre pixel in the inspector, so a pattern is on screen at once.
        self.linked.selected = Some([rows / 2, cols / 2]);
        self.regions.clear();
        self.defects = DefectResults::default();
        self.data = Some(Dataset {
            generation,
            path: opened.path,
            session: opened.session,
            geometry: opened.geometry,
            mean_pattern: std::sync::Arc::new(opened.mean_pattern),
            analysis: None,
            custom: None,
            truth: None,
            prediction: None,
            shown,
            prediction_stopped: None,
            open_seconds: opened.seconds,
        });
        true
    }

    fn remember_recent(&mut self, path: &Path) {
        let path = path.to_path_buf();
        self.settings.recent.retain(|p| p != &path);
        self.settings.recent.insert(0, path);
        self.settings.recent.truncate(RECENT_MAX);
    }

    /// What of a task's answers is for the app: failures become errors, cancellations are
    /// dropped, and for a task on the dataset (`for_dataset`) answers for any other dataset than
    /// the one on screen are dropped. Returns the partial and final results left.
    pub fn accept<D, P>(
        &mut self,
        answers: Vec<Answer<D, P>>,
        for_dataset: bool,
    ) -> Vec<Event<D, P>> {
        let current = self.current();
        let mut out = Vec::new();
        for answer in answers {
            let stale = for_dataset && Some(answer.generation) != current;
            match answer.event {
                Event::Failed(e) => self.error(e),
                Event::Cancelled => {}
                _ if stale => {}
                event => out.push(event),
            }
        }
        out
    }

    /// The pattern pass's maps (for the dataset on screen).
    pub fn set_analysis(&mut self, result: AnalysisResult) {
        if let Some(d) = &mut self.data {
            d.geometry = result.maps.geometry;
            d.analysis = Some(Arc::new(result));
        }
    }

    pub fn set_region_stats(&mut self, answer: RegionAnswer) {
        if let Some(entry) = self.regions.get_mut(answer.region_id) {
            entry.stats = answer.stats;
            entry.mean_com = answer.mean_com;
            entry.partial = answer.partial;
        }
    }

    /// The calibration as edited: the session reads it from now on; says which results it made
    /// stale.
    pub fn set_calibration(&mut self, c: Calibration) -> CalibrationChange {
        let Some(d) = &mut self.data else {
            return CalibrationChange::default();
        };
        let old = *d.calibration();
        d.session = d.session.with_calibration(c);
        CalibrationChange {
            rotation: c.scan_rotation_deg != old.scan_rotation_deg
                || c.scan_flip.unwrap_or(false) != old.scan_flip.unwrap_or(false),
            model_input: c.mrad_per_px != old.mrad_per_px || c.tilt_mrad != old.tilt_mrad,
        }
    }

    /// A class map arrived for the dataset on screen.
    pub fn set_classes(&mut self, source: ClassSource) -> ClassesChange {
        let Some(d) = self.data.as_mut() else {
            return ClassesChange::default();
        };
        let complete = source.is_complete();
        let kind = source.kind;
        let before = d.classes().cloned();
        let slot = match kind {
            SourceKind::Model => &mut d.prediction,
            SourceKind::Truth => &mut d.truth,
        };
        *slot = Some(Arc::new(source));
        let after = d.classes();
        let shown_changed = match (&before, after) {
            (Some(a), Some(b)) => !Arc::ptr_eq(a, b),
            (a, b) => a.is_some() != b.is_some(),
        };
        let change = ClassesChange {
            model_worked: complete && kind == SourceKind::Model,
            map_changed: shown_changed && complete,
        };
        if change.map_changed {
            self.defects = DefectResults::default();
        }
        change
    }

    /// Shows the model's map or the ground truth; true when the map on screen changed.
    pub fn show_source(&mut self, kind: SourceKind) -> bool {
        let Some(d) = &mut self.data else {
            return false;
        };
        if d.shown == kind {
            return false;
        }
        d.shown = kind;
        self.defects = DefectResults::default();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gui::tasks::tests::wait_for;
    use crate::gui::tasks::{Event, Worker};
    use polarmap_core::session::Session;
    use std::sync::mpsc::channel;

    /// The bug this guards against: the failure of an open job that a newer request replaced
    /// cleared `opening`, so the window said nothing was being opened while the newer scan
    /// still was.
    #[test]
    fn a_stale_open_failure_leaves_the_newer_open_request_alone() {
        let mut state = AppState::new(Settings::default());
        let mut worker: Worker<Opened> = Worker::new("open", None);

        // The first request: a job that fails when told to.
        let (fail, wait) = channel::<()>();
        let first_generation = state.next_generation();
        let first = worker.spawn("opening broken.npy", first_generation, move |_, _| {
            wait.recv().unwrap();
            Err(polarmap_core::Error::invalid("broken.npy: not a scan"))
        });
        state.opening = Some(Opening {
            job: first,
            path: "broken.npy".into(),
        });

        // A second request replaces it (the first is cancelled, but finishes all the same); it
        // opens the demo when told to.
        let demo = crate::gui::demo_path();
        let generation = state.next_generation();
        let (go, wait) = channel::<()>();
        let path = demo.clone();
        let second = worker.spawn("opening demo.npy", generation, move |progress, _| {
            wait.recv().unwrap();
            let session = Session::open(&path, &Default::default(), progress)?;
            Ok(Opened::new(path, session, 0.0))
        });
        state.opening = Some(Opening {
            job: second,
            path: demo.clone(),
        });

        // The stale failure arrives first: it is shown, and the newer request stays in flight.
        fail.send(()).unwrap();
        let answers = wait_for(&mut worker, 1);
        let Event::Failed(e) = &answers[0].event else {
            panic!("the first job fails");
        };
        assert_eq!(answers[0].job, first);
        state.open_ended(answers[0].job, Some(e.clone()));
        assert_eq!(state.log.len(), 1);
        assert_eq!(state.log[0].level, Level::Error);
        assert_eq!(state.opening.as_ref().map(|o| o.job), Some(second));

        // Then the newer scan opens and is installed.
        go.send(()).unwrap();
        let mut answers = wait_for(&mut worker, 1);
        let answer = answers.remove(0);
        let Event::Done(opened) = answer.event else {
            panic!("the second job opens the demo");
        };
        assert!(state.install(answer.job, answer.generation, opened, SourceKind::Model));
        assert_eq!(state.opening, None);
        let data = state.data.as_ref().unwrap();
        assert_eq!(
            (data.path.as_path(), data.generation),
            (demo.as_path(), generation)
        );

        // The failure of the request in flight does clear it.
        state.opening = Some(Opening {
            job: 99,
            path: "x".into(),
        });
        state.open_ended(98, Some("an older one".into()));
        assert!(state.opening.is_some());
        state.open_ended(99, Some("this one".into()));
        assert!(state.opening.is_none());
    }
}
