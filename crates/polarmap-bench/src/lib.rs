//! The paper's evaluation protocol: every model row × preprocessing configuration × seed is trained
//! on a labelled training set and evaluated on labelled test scans; the results become the paper's
//! tables (accuracy mean ± std over seeds and the majority class per test set), prediction-map
//! grids (majority vote across seeds) and prediction-distribution plots, and a JSON of everything.
//!
//! - [`plan`]: what to run (rows, configurations, seeds, training settings; the paper's and a
//!   quick one);
//! - [`datasets`]: which scans (directories, lists, the simulator presets' file names);
//! - [`cache`]: one folder per run holding its model, training record and per-test-set results,
//!   so that an interrupted bench resumes where it stopped;
//! - [`evaluate`]: one trained model on one labelled scan;
//! - [`protocol`]: the loop over runs;
//! - [`report`], with [`tables`] and [`figures`]: what is written from the results;
//! - [`defects`]: the defect study (distance from the top-ranked cluster to the true vacancy);
//! - [`transfer`]: the transfer suite (scans no model trains on, one nuisance at a time, all
//!   randomised, and from abTEM) and its per-scan and per-condition report.

pub mod cache;
pub mod datasets;
pub mod defects;
pub mod evaluate;
pub mod figures;
pub mod plan;
pub mod protocol;
pub mod report;
pub mod tables;
pub mod transfer;

pub use datasets::TestSet;
pub use plan::{Plan, RunKey, PAPER_SEEDS};
pub use protocol::{run, BenchResults, RunResult, Work};
pub use report::write_outputs;
