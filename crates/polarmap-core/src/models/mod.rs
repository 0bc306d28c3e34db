//! Classifiers of diffraction patterns into the 8 polarization classes, behind one trait and
//! one model-file format. Backends register by name in [`BACKENDS`] and are loaded by [`load`].
//!
//! - [`input`]: what a model sees (crop, resampling to the training calibration, normalisation);
//! - [`file`]: the model file (header + weights) and its card;
//! - [`predict`]: a whole scan through a model, streamed in batches;
//! - [`pca_knn`]: PCA + kNN (linfa);
//! - [`nets`]: the CNNs (burn), [`train`]: their training loop;
//! - [`adapt`]: a model adapted to a user's scan from pixels they labelled;
//! - [`tilt`]: the specimen tilt found with a model (the crop it reads most confidently).

pub mod adapt;
pub mod calibration;
pub mod card;
pub mod confidence;
pub mod device;
pub mod file;
pub mod input;
pub mod job;
pub mod nets;
pub mod ood;
pub mod pca_knn;
pub mod predict;
pub mod symmetry;
pub mod tilt;
pub mod train;

pub use device::DeviceChoice;
pub use file::{ModelFile, ModelHeader};
pub use input::{Centring, InputGeometry, InputSpec};
pub use predict::{predict_scan, ScanPredictions};

use crate::classes::Class;
use crate::error::{Error, Result};
use ndarray::ArrayView2;
use std::path::{Path, PathBuf};

/// One pattern's prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub class: Class,
    /// Per-class score in class order: probabilities or vote fractions, summing to 1.
    pub scores: [f32; Class::COUNT],
    /// The model's embedding of the pattern, where it has one.
    pub embedding: Option<Vec<f32>>,
}

impl Prediction {
    /// Picks the highest score (ties go to the lower class index).
    pub fn from_scores(scores: [f32; Class::COUNT], embedding: Option<Vec<f32>>) -> Prediction {
        let best = (0..Class::COUNT).fold(0, |b, k| if scores[k] > scores[b] { k } else { b });
        Prediction {
            class: Class::ALL[best],
            scores,
            embedding,
        }
    }

    /// The score of the predicted class.
    pub fn confidence(&self) -> f32 {
        self.scores[self.class.index()]
    }
}

/// A trained classifier.
pub trait Classifier: Send + Sync {
    /// What the model is: backend, architecture, head, where it came from.
    fn header(&self) -> &ModelHeader;
    /// The input the model expects (crop size, calibration, normalisation).
    fn input(&self) -> &InputSpec {
        &self.header().input
    }
    /// A short human-readable name, e.g. "Conv (Proto)".
    fn display_name(&self) -> String {
        self.header().display_name()
    }
    /// Predicts a batch: one row per pattern, `input().len()` values each.
    fn predict(&self, batch: ArrayView2<f32>) -> Result<Vec<Prediction>>;
    /// Writes the model to `path` (refusing to overwrite unless `overwrite`).
    fn save(&self, path: &Path, overwrite: bool) -> Result<()>;
    /// The backend's own type, for what only it can do ([`adapt`]).
    fn as_any(&self) -> &dyn std::any::Any;
}

/// The backends model files can name.
pub const BACKENDS: [&str; 2] = [pca_knn::BACKEND, nets::BACKEND];

/// Loads any model file, picking the backend its header names. Networks run on `device`.
pub fn load(path: &Path, device: DeviceChoice) -> Result<Box<dyn Classifier>> {
    load_file(path, ModelFile::read(path)?, device)
}

/// The model of `file` (read from `path`, which names it in errors), perhaps with its header
/// changed since.
pub fn load_file(
    path: &Path,
    file: ModelFile,
    device: DeviceChoice,
) -> Result<Box<dyn Classifier>> {
    match file.header.backend.as_str() {
        pca_knn::BACKEND => Ok(Box::new(pca_knn::PcaKnn::from_file(path, file)?)),
        nets::BACKEND => Ok(Box::new(nets::NetClassifier::from_file(
            path, file, device,
        )?)),
        other => Err(Error::format(
            path,
            format!(
                "model backend '{other}' is not known to this polarmap (known: {})",
                BACKENDS.join(", ")
            ),
        )),
    }
}

static SHIPPED_DIR: std::sync::OnceLock<fn() -> PathBuf> = std::sync::OnceLock::new();

/// Sets where [`shipped_dir`] looks, asked on first use (the app: the copies embedded in its
/// binary, written out only when a command needs them); the first call wins.
pub fn set_shipped_dir(dir: fn() -> PathBuf) {
    let _ = SHIPPED_DIR.set(dir);
}

/// The folder of shipped models: `POLARMAP_MODELS` when set, else the folder the app set, else
/// the workspace's `models/` (tests and scripts that use the library alone).
pub fn shipped_dir() -> PathBuf {
    std::env::var_os("POLARMAP_MODELS")
        .map(PathBuf::from)
        .or_else(|| SHIPPED_DIR.get().map(|dir| dir()))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models"))
}

/// The default model: the best one measured on the transfer suite and on fresh draws
/// (docs/transfer.md): the Conv (Cls) fine-tuned on domain-randomised draws, symmetrised and
/// calibrated, following the specimen tilt where it is unsure of a scan ([`tilt`]): right on
/// all 178 majorities at 20 nm where PCA+kNN is right on 134 (majorities counted when the pixels
/// agree on a direction), on 14 of 15 at 40–60 nm, and 92.2 % of the pixels (median) there
/// against its 36 %.
pub const DEFAULT_MODEL: &str = "conv-cls-dr.pmm";

/// Model files in `dir` (extension `.pmm`), sorted by name.
pub fn list_models(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == file::EXTENSION))
        .collect();
    found.sort();
    found
}
