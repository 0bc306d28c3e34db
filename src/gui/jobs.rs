//! Background jobs. The UI thread never reads a scan or runs an analysis: it starts a job, which
//! runs on its own thread with a shared [`Progress`] (cancel included) and answers through a typed
//! channel. Every answer carries the job's id and the dataset generation it belongs to, so that
//! answers for a dataset that has since been replaced are dropped.
//!
//! Adding a kind of work (inference, training, simulation) is one more [`JobKind`] and one more
//! [`JobOutput`] variant; the plumbing is shared.

use super::data::{AnalysisResult, ClassSource, Opened};
use polarmap_core::maps::{DefectCluster, RegionStats};
use polarmap_core::models::train::EpochMetrics;
use polarmap_core::progress::Progress;
use polarmap_core::scan::Scan;
use eframe::egui;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a job does (shown in the status bar; one job per kind per dataset runs at a time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    Open,
    Analyse,
    Labels,
    Regions,
    Defects,
    Predict,
    Export,
    Train,
    Simulate,
}

impl JobKind {
    pub fn name(self) -> &'static str {
        match self {
            JobKind::Open => "open",
            JobKind::Analyse => "pattern pass",
            JobKind::Labels => "labels",
            JobKind::Regions => "region statistics",
            JobKind::Defects => "candidate defects",
            JobKind::Predict => "inference",
            JobKind::Export => "export",
            JobKind::Train => "training",
            JobKind::Simulate => "simulation",
        }
    }
}

/// What a finished (or partly finished) job hands back.
pub enum JobOutput {
    Opened(Box<Opened>),
    Analysed(Box<AnalysisResult>),
    /// A class map from some source (ground truth, a model): complete, or a model's map still
    /// filling in (sent after each batch).
    Classes(Box<ClassSource>),
    RegionStats {
        region_id: u64,
        stats: Option<RegionStats>,
        mean_com: Option<[f64; 2]>,
    },
    Defects(Vec<DefectCluster>),
    Exported(PathBuf),
    /// One training epoch finished.
    Epoch(EpochMetrics),
    /// A model was trained and saved (model file, test-split accuracy).
    Trained {
        path: PathBuf,
        test_accuracy: f64,
    },
    /// Scans written by a simulation.
    Simulated(Vec<PathBuf>),
    /// Nothing to hand back (e.g. a dataset without ground truth).
    Nothing,
}

/// One message from a job thread.
pub struct JobMessage {
    pub job: u64,
    pub generation: u64,
    pub result: Result<JobOutput, String>,
    /// True for the last message of the job.
    pub done: bool,
}

/// A job that has not finished yet.
pub struct RunningJob {
    pub id: u64,
    pub kind: JobKind,
    pub label: String,
    pub generation: u64,
    pub progress: Arc<Progress>,
    pub started: Instant,
}

/// Sends partial results from inside a job (e.g. a batch of predictions).
#[derive(Clone)]
pub struct JobSender {
    job: u64,
    generation: u64,
    tx: Sender<JobMessage>,
    ctx: Option<egui::Context>,
}

impl JobSender {
    pub fn send(&self, output: JobOutput) {
        let _ = self.tx.send(JobMessage {
            job: self.job,
            generation: self.generation,
            result: Ok(output),
            done: false,
        });
        if let Some(ctx) = &self.ctx {
            ctx.request_repaint();
        }
    }
}

/// The job table: starts jobs, collects their messages.
pub struct Jobs {
    tx: Sender<JobMessage>,
    rx: Receiver<JobMessage>,
    running: Vec<RunningJob>,
    next_id: u64,
    ctx: Option<egui::Context>,
}

impl Jobs {
    pub fn new(ctx: Option<egui::Context>) -> Jobs {
        let (tx, rx) = mpsc::channel();
        Jobs {
            tx,
            rx,
            running: Vec::new(),
            next_id: 1,
            ctx,
        }
    }

    /// Starts `work` on a new thread; a job of the same kind still running for the same purpose
    /// is cancelled first (its answer would be stale).
    pub fn spawn(
        &mut self,
        kind: JobKind,
        label: impl Into<String>,
        generation: u64,
        work: impl FnOnce(&Progress, &JobSender) -> polarmap_core::Result<JobOutput> + Send + 'static,
    ) -> u64 {
        self.cancel_kind(kind);
        self.spawn_alongside(kind, label, generation, work)
    }

    /// Starts `work` without cancelling other jobs of its kind.
    pub fn spawn_alongside(
        &mut self,
        kind: JobKind,
        label: impl Into<String>,
        generation: u64,
        work: impl FnOnce(&Progress, &JobSender) -> polarmap_core::Result<JobOutput> + Send + 'static,
    ) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let progress = Arc::new(Progress::new());
        let sender = JobSender {
            job: id,
            generation,
            tx: self.tx.clone(),
            ctx: self.ctx.clone(),
        };
        let label = label.into();
        self.running.push(RunningJob {
            id,
            kind,
            label: label.clone(),
            generation,
            progress: progress.clone(),
            started: Instant::now(),
        });
        let spawned = std::thread::Builder::new()
            .name(format!("polarmap {}", kind.name()))
            .spawn(move || {
                // A panic in library code must not take the app down: it becomes an error message.
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    work(&progress, &sender)
                }));
                let result = match outcome {
                    Ok(Ok(output)) => Ok(output),
                    Ok(Err(polarmap_core::Error::Cancelled)) => Ok(JobOutput::Nothing),
                    Ok(Err(e)) => Err(format!("{label}: {e}")),
                    Err(panic) => Err(format!("{label}: internal error: {}", panic_text(&panic))),
                };
                let _ = sender.tx.send(JobMessage {
                    job: sender.job,
                    generation: sender.generation,
                    result,
                    done: true,
                });
                if let Some(ctx) = &sender.ctx {
                    ctx.request_repaint();
                }
            });
        if let Err(e) = spawned {
            self.running.retain(|j| j.id != id);
            let _ = self.tx.send(JobMessage {
                job: id,
                generation,
                result: Err(format!("cannot start a thread: {e}")),
                done: true,
            });
        }
        id
    }

    /// Messages that arrived since the last call; finished jobs leave the table.
    pub fn poll(&mut self) -> Vec<(JobKind, JobMessage)> {
        let mut out = Vec::new();
        while let Ok(message) = self.rx.try_recv() {
            let kind = self
                .running
                .iter()
                .find(|j| j.id == message.job)
                .map(|j| j.kind);
            if message.done {
                self.running.retain(|j| j.id != message.job);
            }
            // Messages of cancelled jobs that already left the table are dropped.
            if let Some(kind) = kind {
                out.push((kind, message));
            } else if message.result.is_err() {
                out.push((JobKind::Open, message));
            }
        }
        out
    }

    pub fn running(&self) -> &[RunningJob] {
        &self.running
    }

    pub fn is_running(&self, kind: JobKind) -> bool {
        self.running
            .iter()
            .any(|j| j.kind == kind && !j.progress.is_cancelled())
    }

    pub fn is_idle(&self) -> bool {
        self.running.is_empty()
    }

    /// Cancels a job; it leaves the table at once and whatever it still sends is dropped.
    pub fn cancel(&mut self, id: u64) {
        if let Some(job) = self.running.iter().find(|j| j.id == id) {
            job.progress.cancel();
        }
        self.running.retain(|j| j.id != id);
    }

    pub fn cancel_kind(&mut self, kind: JobKind) {
        let ids: Vec<u64> = self
            .running
            .iter()
            .filter(|j| j.kind == kind)
            .map(|j| j.id)
            .collect();
        for id in ids {
            self.cancel(id);
        }
    }

    pub fn cancel_all(&mut self) {
        let ids: Vec<u64> = self.running.iter().map(|j| j.id).collect();
        for id in ids {
            self.cancel(id);
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

/// Reads single patterns for the inspector on one worker thread; only the newest request is
/// served, so hovering over a slow (compressed) file never queues up reads.
pub struct PatternLoader {
    requests: Sender<(u64, Arc<Scan>, [usize; 2])>,
    answers: Receiver<PatternAnswer>,
}

pub struct PatternAnswer {
    pub generation: u64,
    pub pixel: [usize; 2],
    pub frame: Result<Vec<f32>, String>,
}

impl PatternLoader {
    pub fn new(ctx: Option<egui::Context>) -> PatternLoader {
        let (req_tx, req_rx) = mpsc::channel::<(u64, Arc<Scan>, [usize; 2])>();
        let (ans_tx, ans_rx) = mpsc::channel();
        let _ = std::thread::Builder::new()
            .name("polarmap patterns".into())
            .spawn(move || {
                while let Ok(mut request) = req_rx.recv() {
                    while let Ok(newer) = req_rx.try_recv() {
                        request = newer;
                    }
                    let (generation, scan, [row, col]) = request;
                    let frame = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        scan.frame_f32(row, col).map_err(|e| e.to_string())
                    }))
                    .unwrap_or_else(|_| Err("internal error reading the pattern".into()));
                    if ans_tx
                        .send(PatternAnswer {
                            generation,
                            pixel: [row, col],
                            frame,
                        })
                        .is_err()
                    {
                        break;
                    }
                    if let Some(ctx) = &ctx {
                        ctx.request_repaint();
                    }
                }
            });
        PatternLoader {
            requests: req_tx,
            answers: ans_rx,
        }
    }

    pub fn request(&self, generation: u64, scan: Arc<Scan>, pixel: [usize; 2]) {
        let _ = self.requests.send((generation, scan, pixel));
    }

    /// The newest answer since the last call.
    pub fn poll(&self) -> Option<PatternAnswer> {
        let mut last = None;
        while let Ok(answer) = self.answers.try_recv() {
            last = Some(answer);
        }
        last
    }
}

/// How long the UI waits between polls while jobs run (progress bars move at this rate).
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);
