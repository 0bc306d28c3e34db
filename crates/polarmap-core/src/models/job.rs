//! A training run that ends in files: read the labelled scans, train (checkpointing every epoch
//! and resuming from the checkpoint), save the model and its card, then drop the checkpoint. The
//! CLI's `polarmap train` and the GUI's train dialog both run this.

use super::card::ModelCard;
use super::train::{self, EpochMetrics, LabelledInputs, TrainConfig};
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
    /// Checkpoint after every epoch into `OUT.checkpoint` and resume from it.
    pub checkpoint: bool,
    /// The command that re-creates the model, for its card.
    pub command: String,
}

/// The files a finished job wrote and how the model did on its test split.
#[derive(Debug, Clone)]
pub struct TrainedFiles {
    pub model: PathBuf,
    pub card: PathBuf,
    pub test_accuracy: f64,
    pub test_patterns: usize,
    pub seconds: f64,
}

impl TrainJob {
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
        let card_path = self.check_writable()?;
        let data = train::load_labelled(&self.scans, &self.config, progress)?;
        on_loaded(&data);
        let checkpoint = self
            .checkpoint
            .then(|| self.out.with_extension("checkpoint"));
        let started = Instant::now();
        let trained = train::train(
            &data,
            &self.config,
            self.device,
            checkpoint.as_deref(),
            progress,
            on_epoch,
        )?;
        let seconds = started.elapsed().as_secs_f64();
        trained.model.save(&self.out, self.overwrite)?;
        let device = train::device_name(self.config.model, self.device);
        ModelCard::for_trained(&trained, self.command.clone(), seconds, device)
            .write(&card_path, self.overwrite)?;
        if let Some(dir) = checkpoint {
            // The model file is complete: the checkpoint has served its purpose.
            let _ = std::fs::remove_dir_all(dir);
        }
        Ok(TrainedFiles {
            model: self.out.clone(),
            card: card_path,
            test_accuracy: trained.test_accuracy,
            test_patterns: trained.test_patterns,
            seconds,
        })
    }
}
