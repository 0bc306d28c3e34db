//! What a bench runs: model rows × preprocessing configurations × seeds, with shared training
//! settings.

use polarmap_core::models::train::{ModelKind, Preprocessing, TrainConfig};
use serde::{Deserialize, Serialize};

/// The paper's five seeds.
pub const PAPER_SEEDS: [u64; 5] = [888, 1212, 3000, 5000, 7000];

/// One training run of the bench.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunKey {
    pub model: ModelKind,
    pub config: Preprocessing,
    pub seed: u64,
}

impl RunKey {
    /// "conv-cls / augment / seed 888".
    pub fn label(&self) -> String {
        format!(
            "{} / {} / seed {}",
            self.model.name(),
            self.config.name(),
            self.seed
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub models: Vec<ModelKind>,
    pub configs: Vec<Preprocessing>,
    pub seeds: Vec<u64>,
    /// Settings shared by every run; model, preprocessing and seed are set per run.
    pub training: TrainConfig,
}

/// The quick bench's rows, seeds and sizes: PCA and Conv (Cls), no preprocessing, two seeds,
/// 1000 patterns per class, 15 epochs, inputs binned 2× (docs/results.md has its measured time
/// on a 2-core CPU).
pub const QUICK_MODELS: [&str; 2] = ["pca", "conv-cls"];
pub const QUICK_SEEDS: [u64; 2] = [888, 1212];
pub const QUICK_PER_CLASS: usize = 1000;
/// Enough optimiser steps (15 × 50) for the CNN to leave its initial plateau (docs/models.md).
pub const QUICK_EPOCHS: usize = 15;
/// The paper's 64-px window averaged 2×2: 32×32 inputs, about 4× cheaper per step.
pub const QUICK_BINNING: usize = 2;

impl Plan {
    /// The paper's protocol: ten rows, three configurations, five seeds, the paper's recipe.
    pub fn paper() -> Plan {
        Plan {
            models: ModelKind::all(),
            configs: vec![
                Preprocessing::None,
                Preprocessing::Augment,
                Preprocessing::AugmentFilter,
            ],
            seeds: PAPER_SEEDS.to_vec(),
            training: TrainConfig::paper(ModelKind::PcaKnn),
        }
    }

    /// A subset sized for a CPU: see [`QUICK_MODELS`].
    pub fn quick() -> Plan {
        Plan {
            models: QUICK_MODELS
                .iter()
                .map(|m| ModelKind::from_name(m).expect("known row"))
                .collect(),
            configs: vec![Preprocessing::None],
            seeds: QUICK_SEEDS.to_vec(),
            training: TrainConfig {
                epochs: QUICK_EPOCHS,
                max_per_class: Some(QUICK_PER_CLASS),
                ..TrainConfig::paper(ModelKind::PcaKnn)
            }
            .with_window(polarmap_core::preprocess::PAPER_CROP, QUICK_BINNING),
        }
    }

    /// The training settings of one run.
    pub fn config_for(&self, key: &RunKey) -> TrainConfig {
        TrainConfig {
            model: key.model,
            preprocessing: key.config,
            seed: key.seed,
            ..self.training.clone()
        }
    }

    /// Every run, seed-major then configuration then row (runs sharing loaded training data are
    /// neighbours).
    pub fn runs(&self) -> Vec<RunKey> {
        let mut runs = Vec::new();
        for &seed in &self.seeds {
            for &config in &self.configs {
                for &model in &self.models {
                    runs.push(RunKey {
                        model,
                        config,
                        seed,
                    });
                }
            }
        }
        runs
    }
}
