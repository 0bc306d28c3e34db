//! The model card `NAME.card.json` beside a model file: what the model is, how it was trained,
//! how well it did on which simulated sets, and the command that re-creates it.

use super::file::ModelHeader;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ModelCard {
    /// The paper's row name, e.g. "Conv (Proto)".
    pub name: String,
    pub architecture: String,
    pub head: String,
    pub input: serde_json::Value,
    /// Training data recipe, preprocessing configuration, seed, epochs, split.
    pub training: serde_json::Value,
    /// Accuracy etc. per evaluation set, filled by `polarmap train` (test split) and later runs.
    #[serde(default)]
    pub metrics: serde_json::Map<String, serde_json::Value>,
    /// The command that made the model.
    pub command: String,
    /// The training configuration, for models trained since cards carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<super::train::TrainConfig>,
    /// How the model was adapted to a user's scan (adapted models only): method, base model,
    /// source scan, labelled pixels per class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptation: Option<super::adapt::Adaptation>,
}

/// Where a model is right and wrong on the transfer suite ([`ModelCard::transfer`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// Conditions with every majority right.
    pub right: Vec<String>,
    /// Conditions with at most half the majorities right.
    pub wrong: Vec<String>,
    /// The other conditions: more than half right, not all.
    pub partly: Vec<String>,
}

impl ModelCard {
    pub fn from_header(header: &ModelHeader, command: String) -> ModelCard {
        ModelCard {
            name: header.display_name(),
            architecture: header.architecture.clone(),
            head: header.head.clone(),
            input: serde_json::to_value(&header.input).unwrap_or_default(),
            training: header.training.clone(),
            metrics: Default::default(),
            command,
            config: None,
            adaptation: header.adaptation.clone(),
        }
    }

    /// The card of a finished training run: the model's header, the command that re-creates it,
    /// and the test-split metrics with the epoch history.
    pub fn for_trained(
        trained: &super::train::Trained,
        command: String,
        seconds: f64,
        device: &str,
    ) -> ModelCard {
        let mut card = ModelCard::from_header(trained.model.header(), command);
        card.metrics.insert(
            "test_split".into(),
            serde_json::json!({
                "accuracy": trained.test_accuracy,
                "patterns": trained.test_patterns,
                "train_patterns": trained.train_patterns,
                "best_epoch": trained.best_epoch,
                "stopped_early": trained.stopped_early,
                "history": trained.history,
                "train_seconds": seconds,
                "device": device,
            }),
        );
        card
    }

    /// Accuracy on the training run's held-out test split, when the card records it.
    pub fn test_accuracy(&self) -> Option<f64> {
        self.metrics.get("test_split")?.get("accuracy")?.as_f64()
    }

    /// The transfer-suite conditions (docs/transfer.md) on which the card records every
    /// majority right, and those with at most half right: where the model can be trusted and
    /// where not. None when the model was not run on the suite.
    pub fn transfer(&self) -> Option<Transfer> {
        let t = self.metrics.get("transfer")?;
        let names = |key: &str| -> Option<Vec<String>> {
            t.get(key)?
                .as_array()?
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect()
        };
        let (right, wrong) = (names("right")?, names("wrong")?);
        let partly = t
            .get("conditions")
            .and_then(|c| c.as_object())
            .map(|c| {
                c.keys()
                    .filter(|k| !right.contains(k) && !wrong.contains(k))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        Some(Transfer {
            right,
            wrong,
            partly,
        })
    }

    /// `models/x.pmm` → `models/x.card.json`.
    pub fn path_for(model: &Path) -> PathBuf {
        let stem = model.file_stem().unwrap_or_default().to_string_lossy();
        model.with_file_name(format!("{stem}.card.json"))
    }

    pub fn read(path: &Path) -> Result<ModelCard> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| Error::format(path, e.to_string()))
    }

    pub fn write(&self, path: &Path, overwrite: bool) -> Result<()> {
        crate::export::check_writable(path, overwrite)?;
        let text = serde_json::to_string_pretty(self).expect("a card serialises");
        std::fs::write(path, text + "\n").map_err(|e| Error::io(path, e))
    }
}
