//! Background tasks. The UI thread never reads a scan, runs an analysis or colour-maps an image:
//! it starts a task, which runs on its own thread and answers through its own typed channel
//! ([`Worker`]). Each kind of task is one module here (its body and its message type) and one
//! [`Worker`] in [`Tasks`]; a task that renders pixels renders them on its thread, so the UI
//! thread only uploads textures.
//!
//! Every answer carries the job's id and the dataset generation it was started for. A job is
//! cancelled through its [`Progress`] (an atomic flag the library checks between units of
//! work); it leaves the table at once and whatever it still sends is dropped, except a failure,
//! which is still reported (and, carrying the old job id, changes nothing else).

pub mod adapt;
pub mod analyse;
pub mod classes;
pub mod export;
pub mod maps;
pub mod open;
pub mod patterns;
pub mod simulate;
pub mod train;
pub mod virtual_detector;

use eframe::egui;
use polarmap_core::maps::DefectCluster;
use polarmap_core::models::train::EpochMetrics;
use polarmap_core::progress::Progress;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Creates the folder a file is about to be written into (the user's models folder on first
/// use).
pub fn create_parent(path: &std::path::Path) -> polarmap_core::Result<()> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => std::fs::create_dir_all(dir).map_err(|e| polarmap_core::Error::io(dir, e)),
        None => Ok(()),
    }
}

/// How long the UI waits between polls while tasks run (progress bars move at this rate).
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Job ids, unique over all workers (a Cancel button names one job).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A job that has not finished yet (what the status bar shows).
pub struct RunningJob {
    pub id: u64,
    pub label: String,
    pub generation: u64,
    pub progress: Arc<Progress>,
    pub started: Instant,
}

/// What a task says: `Partial` on the way (e.g. a class map filling in), then exactly one of
/// `Done`, `Failed` or `Cancelled`.
#[derive(Debug)]
pub enum Event<D, P> {
    Partial(P),
    Done(D),
    /// The error, prefixed with the job's label.
    Failed(String),
    Cancelled,
}

/// One message from a job thread.
#[derive(Debug)]
pub struct Answer<D, P = D> {
    pub job: u64,
    pub generation: u64,
    pub event: Event<D, P>,
}

/// Hands partial results from inside a job to the UI thread.
pub struct Reporter<D, P> {
    job: u64,
    generation: u64,
    tx: Sender<Answer<D, P>>,
    ctx: Option<egui::Context>,
}

impl<D, P> Reporter<D, P> {
    pub fn partial(&self, message: P) {
        self.send(Event::Partial(message));
    }

    fn send(&self, event: Event<D, P>) {
        let _ = self.tx.send(Answer {
            job: self.job,
            generation: self.generation,
            event,
        });
        if let Some(ctx) = &self.ctx {
            ctx.request_repaint();
        }
    }
}

/// One kind of task: starts its jobs, each on a thread, and collects their typed answers.
pub struct Worker<D, P = D> {
    name: &'static str,
    tx: Sender<Answer<D, P>>,
    rx: Receiver<Answer<D, P>>,
    running: Vec<RunningJob>,
    ctx: Option<egui::Context>,
}

impl<D: Send + 'static, P: Send + 'static> Worker<D, P> {
    /// `ctx` is woken when an answer arrives (None in unit tests).
    pub fn new(name: &'static str, ctx: Option<egui::Context>) -> Self {
        let (tx, rx) = mpsc::channel();
        Worker {
            name,
            tx,
            rx,
            running: Vec::new(),
            ctx,
        }
    }

    /// Starts `work` on a new thread; jobs of this worker still running are cancelled first
    /// (their answers would be stale). Returns the job's id.
    pub fn spawn(
        &mut self,
        label: impl Into<String>,
        generation: u64,
        work: impl FnOnce(&Progress, &Reporter<D, P>) -> polarmap_core::Result<D> + Send + 'static,
    ) -> u64 {
        self.cancel_all();
        self.spawn_alongside(label, generation, work)
    }

    /// Starts `work` without cancelling this worker's other jobs.
    pub fn spawn_alongside(
        &mut self,
        label: impl Into<String>,
        generation: u64,
        work: impl FnOnce(&Progress, &Reporter<D, P>) -> polarmap_core::Result<D> + Send + 'static,
    ) -> u64 {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let progress = Arc::new(Progress::new());
        let reporter = Reporter {
            job: id,
            generation,
            tx: self.tx.clone(),
            ctx: self.ctx.clone(),
        };
        let label = label.into();
        self.running.push(RunningJob {
            id,
            label: label.clone(),
            generation,
            progress: progress.clone(),
            started: Instant::now(),
        });
        let spawned = std::thread::Builder::new()
            .name(format!("polarmap {}", self.name))
            .spawn(move || {
                // A panic in library code must not take the app down: it becomes an error.
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    work(&progress, &reporter)
                }));
                reporter.send(match outcome {
                    Ok(Ok(done)) => Event::Done(done),
                    Ok(Err(polarmap_core::Error::Cancelled)) => Event::Cancelled,
                    Ok(Err(e)) => Event::Failed(format!("{label}: {e}")),
                    Err(panic) => {
                        Event::Failed(format!("{label}: internal error: {}", panic_text(&panic)))
                    }
                });
            });
        if let Err(e) = spawned {
            // The job stays in the table, so its failure is answered like any other.
            let _ = self.tx.send(Answer {
                job: id,
                generation,
                event: Event::Failed(format!("cannot start a thread: {e}")),
            });
        }
        id
    }

    /// Answers that arrived since the last call, in order; finished jobs leave the table.
    /// Answers of jobs no longer in the table are dropped, except failures.
    pub fn poll(&mut self) -> Vec<Answer<D, P>> {
        let mut out = Vec::new();
        while let Ok(answer) = self.rx.try_recv() {
            let current = self.running.iter().any(|j| j.id == answer.job);
            if !matches!(answer.event, Event::Partial(_)) {
                self.running.retain(|j| j.id != answer.job);
            }
            if current || matches!(answer.event, Event::Failed(_)) {
                out.push(answer);
            }
        }
        out
    }

    pub fn running(&self) -> &[RunningJob] {
        &self.running
    }

    /// True while a job of this worker runs and has not been asked to stop.
    pub fn is_running(&self) -> bool {
        self.running.iter().any(|j| !j.progress.is_cancelled())
    }
}

impl<D, P> Worker<D, P> {
    /// Cancels a job; it leaves the table at once. True if it was this worker's.
    pub fn cancel(&mut self, id: u64) -> bool {
        let Some(job) = self.running.iter().find(|j| j.id == id) else {
            return false;
        };
        job.progress.cancel();
        self.running.retain(|j| j.id != id);
        true
    }

    pub fn cancel_all(&mut self) {
        for job in self.running.drain(..) {
            job.progress.cancel();
        }
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Every kind of background task the app runs, one typed worker each.
pub struct Tasks {
    pub open: Worker<open::Opened>,
    pub analyse: Worker<analyse::Analysed>,
    /// A custom virtual detector's image.
    pub detector: Worker<crate::gui::data::CustomImage>,
    /// The sidecar's ground truth (None: the scan has no labels).
    pub labels: Worker<Option<crate::gui::data::ClassSource>>,
    /// A model's class map: partial after each batch, then the finished one.
    pub predict: Worker<crate::gui::data::ClassSource>,
    /// The selected model adapted to the labelled regions, its map filling in on the way.
    pub adapt: Worker<adapt::Adapted, crate::gui::data::ClassSource>,
    pub regions: Worker<maps::RegionAnswer>,
    pub defects: Worker<Vec<DefectCluster>>,
    /// The file written.
    pub export: Worker<PathBuf>,
    /// The trained model; each epoch's metrics on the way.
    pub train: Worker<train::Trained, EpochMetrics>,
    /// The scans written.
    pub simulate: Worker<Vec<PathBuf>>,
    /// Single patterns for the inspector (newest request only).
    pub patterns: patterns::PatternLoader,
}

impl Tasks {
    pub fn new(ctx: Option<egui::Context>) -> Tasks {
        Tasks {
            open: Worker::new("open", ctx.clone()),
            analyse: Worker::new("pattern pass", ctx.clone()),
            detector: Worker::new("virtual detector", ctx.clone()),
            labels: Worker::new("labels", ctx.clone()),
            predict: Worker::new("inference", ctx.clone()),
            adapt: Worker::new("adaptation", ctx.clone()),
            regions: Worker::new("region statistics", ctx.clone()),
            defects: Worker::new("candidate defects", ctx.clone()),
            export: Worker::new("export", ctx.clone()),
            train: Worker::new("training", ctx.clone()),
            simulate: Worker::new("simulation", ctx.clone()),
            patterns: patterns::PatternLoader::new(ctx),
        }
    }

    /// Every running job, for the status bar.
    pub fn running(&self) -> impl Iterator<Item = &RunningJob> {
        [
            self.open.running(),
            self.analyse.running(),
            self.detector.running(),
            self.labels.running(),
            self.predict.running(),
            self.adapt.running(),
            self.regions.running(),
            self.defects.running(),
            self.export.running(),
            self.train.running(),
            self.simulate.running(),
        ]
        .into_iter()
        .flatten()
    }

    pub fn is_idle(&self) -> bool {
        self.running().next().is_none()
    }

    /// Cancels the job with this id, whichever worker runs it.
    pub fn cancel(&mut self, id: u64) {
        let _ = self.open.cancel(id)
            || self.analyse.cancel(id)
            || self.detector.cancel(id)
            || self.labels.cancel(id)
            || self.predict.cancel(id)
            || self.adapt.cancel(id)
            || self.regions.cancel(id)
            || self.defects.cancel(id)
            || self.export.cancel(id)
            || self.train.cancel(id)
            || self.simulate.cancel(id);
    }

    /// Cancels the work on the open dataset (a new one replaces it).
    pub fn cancel_dataset(&mut self) {
        self.analyse.cancel_all();
        self.detector.cancel_all();
        self.labels.cancel_all();
        self.predict.cancel_all();
        self.adapt.cancel_all();
        self.regions.cancel_all();
        self.defects.cancel_all();
    }

    pub fn cancel_all(&mut self) {
        self.open.cancel_all();
        self.cancel_dataset();
        self.export.cancel_all();
        self.train.cancel_all();
        self.simulate.cancel_all();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    /// Polls until `n` answers have arrived (or fails after a few seconds).
    pub(crate) fn wait_for<D: Send + 'static, P: Send + 'static>(
        worker: &mut Worker<D, P>,
        n: usize,
    ) -> Vec<Answer<D, P>> {
        let start = Instant::now();
        let mut out = Vec::new();
        while out.len() < n {
            out.extend(worker.poll());
            assert!(start.elapsed() < Duration::from_secs(10), "no answer");
            std::thread::sleep(Duration::from_millis(1));
        }
        out
    }

    #[test]
    fn partial_and_final_answers_arrive_typed_and_in_order() {
        let mut worker: Worker<String, usize> = Worker::new("test", None);
        let id = worker.spawn("counting", 7, |_, reporter| {
            reporter.partial(1);
            reporter.partial(2);
            Ok("done".to_string())
        });
        let answers = wait_for(&mut worker, 3);
        assert!(answers.iter().all(|a| a.job == id && a.generation == 7));
        assert!(matches!(answers[0].event, Event::Partial(1)));
        assert!(matches!(answers[1].event, Event::Partial(2)));
        assert!(matches!(&answers[2].event, Event::Done(s) if s == "done"));
        assert!(worker.running().is_empty());
    }

    #[test]
    fn a_cancelled_job_stops_and_its_answers_are_dropped_but_not_its_failure() {
        let mut worker: Worker<u32> = Worker::new("test", None);
        let (go, wait) = channel::<()>();
        let first = worker.spawn("first", 1, move |progress, _| {
            wait.recv().unwrap();
            progress.check()?;
            Ok(1)
        });
        // A second job cancels the first; the first sees the flag when it looks.
        let second = worker.spawn("second", 1, |_, _| Ok(2));
        assert_eq!(worker.running().len(), 1);
        go.send(()).unwrap();
        let answers = wait_for(&mut worker, 1);
        assert_eq!(answers[0].job, second);
        assert!(matches!(answers[0].event, Event::Done(2)));
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            worker.poll().is_empty(),
            "the cancelled job's answer was dropped"
        );

        // A job that left the table and then fails is still reported, under its own id.
        let (go, wait) = channel::<()>();
        let stale = worker.spawn("stale", 2, move |_, _| {
            wait.recv().unwrap();
            Err(polarmap_core::Error::invalid("broken"))
        });
        assert!(worker.cancel(stale));
        assert!(!worker.cancel(first));
        go.send(()).unwrap();
        let answers = wait_for(&mut worker, 1);
        assert_eq!(answers[0].job, stale);
        assert!(matches!(&answers[0].event, Event::Failed(e) if e.contains("broken")));
    }

    #[test]
    fn a_panic_in_a_job_is_a_failure_not_a_crash() {
        let mut worker: Worker<u32> = Worker::new("test", None);
        worker.spawn("panicking", 0, |_, _| panic!("boom"));
        let answers = wait_for(&mut worker, 1);
        assert!(matches!(&answers[0].event, Event::Failed(e) if e.contains("boom")));
        assert!(worker.running().is_empty());
    }
}
