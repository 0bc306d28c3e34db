//! The bench's cache: one folder per run, `OUT/runs/CONFIG/MODEL/seed-SEED/`, holding the trained
//! model (`model.pmm`), its training record (`train.json`), the training checkpoint while a
//! network trains (`checkpoint/`), and one result per test set (`test-NAME.json`). A file is
//! complete once it exists (each is written to a temporary name and renamed), so a bench that
//! was stopped resumes with what is there.

use super::defects::DefectResult;
use super::evaluate::TestResult;
use super::plan::RunKey;
use polarmap_core::error::{Error, Result};
use polarmap_core::models::train::{EpochMetrics, TrainConfig};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How a run's model was trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainRecord {
    pub config: TrainConfig,
    /// The model's display name, e.g. "Conv (Cls)".
    pub display_name: String,
    pub training_scans: Vec<String>,
    pub test_split_accuracy: f64,
    pub test_patterns: usize,
    pub train_patterns: usize,
    pub best_epoch: Option<usize>,
    pub stopped_early: bool,
    pub train_seconds: f64,
    pub history: Vec<EpochMetrics>,
}

/// The folder of one run.
#[derive(Debug, Clone)]
pub struct RunDir(PathBuf);

impl RunDir {
    pub fn new(out: &Path, key: &RunKey) -> RunDir {
        RunDir(
            out.join("runs")
                .join(key.config.name())
                .join(key.model.name())
                .join(format!("seed-{}", key.seed)),
        )
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn model(&self) -> PathBuf {
        self.0.join("model.pmm")
    }

    pub fn train_record(&self) -> PathBuf {
        self.0.join("train.json")
    }

    pub fn checkpoint(&self) -> PathBuf {
        self.0.join("checkpoint")
    }

    pub fn test_result(&self, test_set: &str) -> PathBuf {
        self.0.join(format!("test-{test_set}.json"))
    }

    /// The training record, if the run has been trained. A record made with other settings is an
    /// error: the folder belongs to another bench.
    pub fn read_record(&self, wanted: &TrainConfig) -> Result<Option<TrainRecord>> {
        let path = self.train_record();
        if !path.exists() || !self.model().exists() {
            return Ok(None);
        }
        let record: TrainRecord = read_json(&path)?;
        if record.config != *wanted {
            return Err(Error::format(
                &path,
                "was trained with other settings than this bench asks for; use another output \
                 folder (--out) or remove this run's folder",
            ));
        }
        Ok(Some(record))
    }

    /// Where the defect study of the scan at `scan` is cached.
    pub fn defect_result(&self, scan: &Path) -> PathBuf {
        let stem = scan.file_stem().and_then(|s| s.to_str()).unwrap_or("scan");
        self.0.join(format!("defect-{stem}.json"))
    }

    /// The cached defect study of `scan`, if any.
    pub fn read_defect(&self, scan: &Path) -> Result<Option<DefectResult>> {
        let path = self.defect_result(scan);
        if !path.exists() {
            return Ok(None);
        }
        // A result in an older layout (before the CoM evidence) is measured again.
        Ok(read_json(&path).ok())
    }

    /// The cached result on `test_set`, if any.
    pub fn read_test(&self, test_set: &str) -> Result<Option<TestResult>> {
        let path = self.test_result(test_set);
        if !path.exists() {
            return Ok(None);
        }
        read_json(&path).map(Some)
    }
}

pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::format(path, format!("not a polarmap bench file: {e}")))
}

/// Writes `text` to `path` through a temporary file and a rename, creating the folder.
pub fn write_atomic(path: &Path, text: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("serialises");
    write_atomic(path, text.as_bytes())
}
