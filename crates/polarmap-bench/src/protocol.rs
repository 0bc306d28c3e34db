//! The bench loop: for every run (row × configuration × seed) train a model unless its folder
//! already holds one, evaluate it on every test set (and defect scan) whose result is not cached,
//! then collect every run's results from the cache and write tables, figures and one JSON.

use super::cache::{write_json, RunDir, TrainRecord};
use super::datasets::TestSet;
use super::defects::{self, DefectResult};
use super::evaluate::{evaluate, TestResult};
use super::plan::{Plan, RunKey};
use polarmap_core::error::{Error, Result};
use polarmap_core::models::job::TrainJob;
use polarmap_core::models::train::{self, LabelledInputs, TrainConfig};
use polarmap_core::models::{self, Classifier, DeviceChoice};
use polarmap_core::progress::Progress;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The scans a bench reads.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// Labelled training scans.
    pub train: Vec<PathBuf>,
    pub tests: Vec<TestSet>,
    /// Simulated vacancy scans for the defect study (may be empty).
    pub defects: Vec<PathBuf>,
}

/// What a bench run did (and what it found done).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Work {
    pub trained: usize,
    pub models_cached: usize,
    pub evaluated: usize,
    pub results_cached: usize,
}

/// One run's training record and results.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub key: RunKey,
    pub record: TrainRecord,
    /// One per test set, in the order of the test sets.
    pub tests: Vec<TestResult>,
    /// One per defect scan.
    pub defects: Vec<DefectResult>,
}

#[derive(Debug, Clone)]
pub struct BenchResults {
    pub plan: Plan,
    pub test_sets: Vec<TestSet>,
    pub defect_scans: Vec<PathBuf>,
    pub runs: Vec<RunResult>,
    pub work: Work,
    pub seconds: f64,
}

/// Runs the bench into `out`, reusing what `out` already holds. `log` receives one line per
/// step; `progress` follows each stage (loading, epochs, classifying) and cancels.
pub fn run(
    plan: &Plan,
    inputs: &Inputs,
    out: &Path,
    device: DeviceChoice,
    progress: &Progress,
    log: &mut dyn FnMut(&str),
) -> Result<BenchResults> {
    let started = std::time::Instant::now();
    if inputs.tests.is_empty() && inputs.defects.is_empty() {
        return Err(Error::invalid("the bench needs at least one test scan"));
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let runs = plan.runs();
    let mut work = Work::default();
    let mut loaded: Option<(DataKey, LabelledInputs)> = None;
    let mut results = Vec::with_capacity(runs.len());
    for (i, key) in runs.iter().enumerate() {
        progress.check()?;
        let step = format!("[{}/{}] {}", i + 1, runs.len(), key.label());
        let dir = RunDir::new(out, key);
        let config = plan.config_for(key);
        let (record, mut model) = match dir.read_record(&config)? {
            Some(record) => {
                work.models_cached += 1;
                (record, None)
            }
            None => {
                let data = training_data(&mut loaded, &inputs.train, &config, progress, log)?;
                log(&format!("{step}: training on {} patterns", data.len()));
                let (record, model) =
                    train_run(&dir, &config, data, &inputs.train, device, progress, log)?;
                work.trained += 1;
                (record, Some(model))
            }
        };
        let mut model_for = |log: &mut dyn FnMut(&str)| -> Result<Box<dyn Classifier>> {
            match model.take() {
                Some(m) => Ok(m),
                None => {
                    log(&format!("{step}: loading {}", dir.model().display()));
                    models::load(&dir.model(), device)
                }
            }
        };
        let mut loaded_model: Option<Box<dyn Classifier>> = None;
        let mut tests = Vec::with_capacity(inputs.tests.len());
        for set in &inputs.tests {
            if let Some(cached) = dir.read_test(&set.name)? {
                work.results_cached += 1;
                tests.push(cached);
                continue;
            }
            let m = match &loaded_model {
                Some(m) => m,
                None => loaded_model.insert(model_for(log)?),
            };
            log(&format!("{step}: evaluating on {}", set.name));
            let result = evaluate(m.as_ref(), &set.name, &set.path, progress)?;
            write_json(&dir.test_result(&set.name), &result)?;
            work.evaluated += 1;
            tests.push(result);
        }
        let mut found = Vec::with_capacity(inputs.defects.len());
        for path in &inputs.defects {
            let cache = dir.defect_result(path);
            if let Some(cached) = dir.read_defect(path)? {
                work.results_cached += 1;
                found.push(cached);
                continue;
            }
            let m = match &loaded_model {
                Some(m) => m,
                None => loaded_model.insert(model_for(log)?),
            };
            log(&format!("{step}: defect search on {}", path.display()));
            let result = defects::study(m.as_ref(), path, progress)?;
            write_json(&cache, &result)?;
            work.evaluated += 1;
            found.push(result);
        }
        results.push(RunResult {
            key: *key,
            record,
            tests,
            defects: found,
        });
    }
    Ok(BenchResults {
        plan: plan.clone(),
        test_sets: inputs.tests.clone(),
        defect_scans: inputs.defects.clone(),
        runs: results,
        work,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Loaded training inputs depend on the magnitude filter and, through the per-class subset, on
/// the seed, and on the input size and binning.
type DataKey = (bool, u64, Option<usize>, usize, usize);

fn training_data<'a>(
    loaded: &'a mut Option<(DataKey, LabelledInputs)>,
    paths: &[PathBuf],
    config: &TrainConfig,
    progress: &Progress,
    log: &mut dyn FnMut(&str),
) -> Result<&'a LabelledInputs> {
    let key = (
        config.preprocessing.filters(),
        config.seed,
        config.max_per_class,
        config.input_size,
        config.input_binning,
    );
    if loaded.as_ref().is_none_or(|(k, _)| *k != key) {
        // Free the previous set before reading the next.
        *loaded = None;
        log(&format!(
            "reading {} training scans (filter {}, seed {})",
            paths.len(),
            key.0,
            key.1
        ));
        let data = train::load_labelled(paths, config, progress)?;
        *loaded = Some((key, data));
    }
    Ok(&loaded.as_ref().expect("just loaded").1)
}

/// Trains one run (resuming its checkpoint), saves the model and its record.
fn train_run(
    dir: &RunDir,
    config: &TrainConfig,
    data: &LabelledInputs,
    scans: &[PathBuf],
    device: DeviceChoice,
    progress: &Progress,
    log: &mut dyn FnMut(&str),
) -> Result<(TrainRecord, Box<dyn Classifier>)> {
    std::fs::create_dir_all(dir.path()).map_err(|e| Error::io(dir.path(), e))?;
    let mut job = TrainJob::new(scans.to_vec(), config.clone(), device, dir.model());
    job.checkpoint = Some(dir.checkpoint());
    // A model file left by an interrupted save has no record yet: replace it.
    job.overwrite = true;
    let files = job.run_on(data, progress, &mut |m| log(&format!("    {m}")))?;
    let trained = files.trained;
    let record = TrainRecord {
        config: config.clone(),
        display_name: trained.model.display_name(),
        training_scans: scans.iter().map(|p| p.display().to_string()).collect(),
        test_split_accuracy: trained.test_accuracy,
        test_patterns: trained.test_patterns,
        train_patterns: trained.train_patterns,
        best_epoch: trained.best_epoch,
        stopped_early: trained.stopped_early,
        train_seconds: files.seconds,
        history: trained.history,
    };
    write_json(&dir.train_record(), &record)?;
    log(&format!(
        "    test split {:.2} % in {:.0} s",
        100.0 * record.test_split_accuracy,
        record.train_seconds
    ));
    Ok((record, trained.model))
}
