//! A training run that ends in files: read the labelled scans, train (checkpointing every epoch
//! and resuming from the checkpoint), save the model and its card (which holds the
//! [`TrainConfig`] and the command that re-creates the model, generated from that config), then
//! drop the checkpoint. The CLI's `polarmap train`, the GUI's train dialog and the bench all run
//! this; there is no other way to a saved model.

use super::card::ModelCard;
use super::train::{self, EpochMetrics, LabelledInputs, TrainConfig, Trained};
use super::DeviceChoice;
use crate::error::Result;
use crate::export::check_writable;
use crate::progress::Progress;
use std::path::PathBuf;
use std::time::Instant;

/// What to train, on what, and where the model goes.
#[derive(Debug, Clone)]
pub struct TrainJob {
    pub scans: Vec<PathBuf>,
    pub config: TrainConfig,
    pub device: DeviceChoice,
    /// The model file; its card goes beside it (`NAME.card.json`).
    pub out: PathBuf,
    /// Replace an existing model and card; otherwise they are refused before any work is done.
    pub overwrite: bool,
    /// Checkpoint after every epoch into this folder and resume from it (None: no checkpoint).
    pub checkpoint: Option<PathBuf>,
    /// The simulator preset and folder the scans came from, when they were simulated for this
    /// job (the card's command then simulates them first).
    pub simulated: Option<(String, PathBuf)>,
}

/// The files a finished job wrote and the trained model with its history.
pub struct TrainedFiles {
    pub model: PathBuf,
    pub card: PathBuf,
    pub trained: Trained,
    pub seconds: f64,
}

impl TrainJob {
    /// A job with the default checkpoint folder `OUT.checkpoint`.
    pub fn new(
        scans: Vec<PathBuf>,
        config: TrainConfig,
        device: DeviceChoice,
        out: PathBuf,
    ) -> Self {
        TrainJob {
            checkpoint: Some(out.with_extension("checkpoint")),
            scans,
            config,
            device,
            out,
            overwrite: false,
            simulated: None,
        }
    }

    /// The `polarmap train` command line that re-creates this job's model (with the
    /// `polarmap simulate` that makes its scans first, when they were simulated for it).
    pub fn command(&self) -> String {
        let c = &self.config;
        let mut parts = vec!["polarmap train".to_string()];
        parts.extend(self.scans.iter().map(|p| p.display().to_string()));
        parts.push(format!("--model {}", c.model.name()));
        parts.push(format!("--preprocessing {}", c.preprocessing.name()));
        parts.push(format!(
            "--seed {} --epochs {} --batch-size {} --lr {} --weight-decay {} --patience {}",
            c.seed, c.epochs, c.batch_size, c.learning_rate, c.weight_decay, c.patience
        ));
        if let Some(m) = c.max_per_class {
            parts.push(format!("--max-per-class {m}"));
        }
        if c.input_binning > 1 {
            parts.push(format!("--input-binning {}", c.input_binning));
        }
        if c.split != super::train::Split::default() {
            parts.push(format!("--split {}", c.split.name()));
        }
        if c.symmetry {
            parts.push("--symmetry".to_string());
        }
        if let Some(w) = &c.init_weights {
            parts.push(format!("--init-weights {}", w.display()));
        }
        parts.push(format!("--device {}", self.device.name()));
        parts.push(format!("--out {}", self.out.display()));
        let train = parts.join(" ");
        match &self.simulated {
            Some((preset, dir)) => format!(
                "polarmap simulate --preset {preset} --out-dir {} && {train}",
                dir.display()
            ),
            None => train,
        }
    }

    /// Refuses an existing model or card unless `overwrite`; returns the card's path. Callers
    /// that do slow work before [`TrainJob::run`] (simulating its scans) ask this first.
    pub fn check_writable(&self) -> Result<PathBuf> {
        let card_path = ModelCard::path_for(&self.out);
        for p in [&self.out, &card_path] {
            check_writable(p, self.overwrite)?;
        }
        Ok(card_path)
    }

    /// Runs the job. `on_loaded` sees the labelled patterns before training starts; `on_epoch`
    /// each epoch's metrics.
    pub fn run(
        &self,
        progress: &Progress,
        on_loaded: &mut dyn FnMut(&LabelledInputs),
        on_epoch: &mut dyn FnMut(&EpochMetrics),
    ) -> Result<TrainedFiles> {
        self.check_writable()?;
        let data = train::load_labelled(&self.scans, &self.config, progress)?;
        on_loaded(&data);
        self.run_on(&data, progress, on_epoch)
    }

    /// [`TrainJob::run`] on patterns already loaded from `self.scans` with `self.config` (the
    /// bench shares one load between runs).
    pub fn run_on(
        &self,
        data: &LabelledInputs,
        progress: &Progress,
        on_epoch: &mut dyn FnMut(&EpochMetrics),
    ) -> Result<TrainedFiles> {
        let card_path = self.check_writable()?;
        let started = Instant::now();
        let trained = train::train(
            data,
            &self.config,
            self.device,
            self.checkpoint.as_deref(),
            progress,
            on_epoch,
        )?;
        let seconds = started.elapsed().as_secs_f64();
        trained.model.save(&self.out, self.overwrite)?;
        let device = train::device_name(self.config.model, self.device);
        let mut card = ModelCard::for_trained(&trained, self.command(), seconds, device);
        card.config = Some(self.config.clone());
        card.write(&card_path, self.overwrite)?;
        if let Some(dir) = &self.checkpoint {
            // The model file is complete: the checkpoint has served its purpose.
            let _ = std::fs::remove_dir_all(dir);
        }
        Ok(TrainedFiles {
            model: self.out.clone(),
            card: card_path,
            trained,
            seconds,
        })
    }
}
