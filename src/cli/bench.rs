//! `polarmap bench`: the paper's protocol on labelled scans (library: `polarmap_bench`).

use super::with_progress_bar;
use anyhow::{Context, Result};
use clap::Args;
use polarmap_bench::{self as bench, datasets, Plan};
use polarmap_core::models::train::{ModelKind, Preprocessing};
use polarmap_core::models::DeviceChoice;
use polarmap_core::progress::Progress;
use std::path::PathBuf;

#[derive(Args)]
pub struct BenchArgs {
    /// Which bench: `paper` (train model rows and evaluate, the paper's protocol) or
    /// `transfer` (the shipped or given model files over the transfer suite in --data-dir;
    /// docs/transfer.md).
    #[arg(long, default_value = "paper", value_parser = ["paper", "transfer"])]
    pub suite: String,
    /// With --suite transfer: simulate the suite's polarmap scans into --data-dir first
    /// (scans already there are kept).
    #[arg(long)]
    pub make: bool,
    /// With --suite transfer --make: probe positions per side of each scan (the suite: 16).
    #[arg(long, default_value_t = 16)]
    pub side: usize,
    /// With --suite transfer --make: only the scans whose names contain one of these.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Labelled training scans or folders of them; default: the `paper-train` preset's scans in
    /// --data-dir.
    #[arg(long, num_args = 1..)]
    pub train: Vec<PathBuf>,
    /// Labelled test scans or folders of them (a column each, named by file stem); default: the
    /// `paper-tests` preset's scans present in --data-dir.
    #[arg(long, num_args = 1..)]
    pub tests: Vec<PathBuf>,
    /// Where `polarmap simulate --preset paper-train|paper-tests` wrote its scans.
    #[arg(long, default_value = "sim")]
    pub data_dir: PathBuf,
    /// Defect study: simulated vacancy scans (sidecar with simulation.defect), e.g. from
    /// `--preset paper-defect`; each trained model ranks candidate defects on each.
    #[arg(long, num_args = 1..)]
    pub defects: Vec<PathBuf>,
    /// Output folder: tables, figures, results.json, and the per-run cache (runs/) that lets an
    /// interrupted bench resume.
    #[arg(long, short, default_value = "bench-out")]
    pub out: PathBuf,
    /// Model rows, comma-separated (pca, conv-cls, …, resnet50-proto); default: all ten, or the
    /// quick set. With --suite transfer: model files (default: the shipped models).
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    /// Preprocessing configurations, comma-separated; default: all three, or none with --quick.
    #[arg(long, value_delimiter = ',', value_parser = super::choice(&Preprocessing::ALL, Preprocessing::name))]
    pub configs: Vec<Preprocessing>,
    /// Seeds, comma-separated; default: the paper's 888,1212,3000,5000,7000 (888,1212 with --quick).
    #[arg(long, value_delimiter = ',')]
    pub seeds: Vec<u64>,
    /// The quick subset: PCA and Conv (Cls), no preprocessing, seeds 888 and 1212, 1000 patterns
    /// per class, 15 epochs, inputs binned 2× (docs/results.md has its measured time).
    #[arg(long)]
    pub quick: bool,
    /// Epochs (default: 20, or 15 with --quick).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Patterns per class (default: all, or 1000 with --quick).
    #[arg(long)]
    pub max_per_class: Option<usize>,
    /// Early stopping: epochs without validation-loss improvement (default: the paper's 5).
    #[arg(long)]
    pub patience: Option<usize>,
    /// Side of the detector window the models see, in pixels (the paper's crop: 64).
    #[arg(long, default_value_t = polarmap_core::preprocess::PAPER_CROP)]
    pub input_size: usize,
    /// Average N×N detector pixels into one input pixel: the --input-size window seen as
    /// (size/N)² inputs, about 1/N² of the cost (as `polarmap train --input-binning`).
    /// Default: 1, or 2 with --quick.
    #[arg(long, value_parser = polarmap_core::models::train::parse_binning)]
    pub input_binning: Option<usize>,
    #[arg(long, default_value = "auto", value_parser = super::choice(&DeviceChoice::ALL, DeviceChoice::name))]
    pub device: DeviceChoice,
}

impl BenchArgs {
    fn plan(&self) -> Result<Plan> {
        let mut plan = if self.quick {
            Plan::quick()
        } else {
            Plan::paper()
        };
        if !self.models.is_empty() {
            plan.models = self
                .models
                .iter()
                .map(|m| {
                    ModelKind::from_name(m).with_context(|| {
                        format!("unknown model '{m}': use pca or conv|vgg16|resnet50-cls|reg|proto")
                    })
                })
                .collect::<Result<_>>()?;
        }
        if !self.configs.is_empty() {
            plan.configs = self.configs.clone();
        }
        if !self.seeds.is_empty() {
            plan.seeds = self.seeds.clone();
        }
        if let Some(e) = self.epochs {
            plan.training.epochs = e;
        }
        if let Some(p) = self.patience {
            plan.training.patience = p;
        }
        let binning = self.input_binning.unwrap_or(plan.training.input_binning);
        plan.training = plan.training.with_window(self.input_size, binning);
        if self.max_per_class.is_some() {
            plan.training.max_per_class = self.max_per_class;
        }
        Ok(plan)
    }

    fn inputs(&self) -> Result<bench::protocol::Inputs> {
        let train = if self.train.is_empty() {
            datasets::preset_files("paper-train", &self.data_dir)?
        } else {
            datasets::expand(&self.train)?
        };
        let tests = if self.tests.is_empty() {
            datasets::preset_files("paper-tests", &self.data_dir)?
        } else {
            datasets::expand(&self.tests)?
        };
        Ok(bench::protocol::Inputs {
            train,
            tests: datasets::test_sets(&tests)?,
            defects: datasets::expand(&self.defects)?,
        })
    }
}

pub fn bench(args: BenchArgs, progress: &Progress) -> Result<()> {
    if args.suite == "transfer" {
        return transfer(args, progress);
    }
    let plan = args.plan()?;
    let inputs = args.inputs()?;
    eprintln!(
        "bench: {} rows × {} configs × {} seeds = {} runs; {} training scans, {} test sets, {} \
         defect scans → {}",
        plan.models.len(),
        plan.configs.len(),
        plan.seeds.len(),
        plan.runs().len(),
        inputs.train.len(),
        inputs.tests.len(),
        inputs.defects.len(),
        args.out.display()
    );
    let results = with_progress_bar(progress, || {
        bench::run(
            &plan,
            &inputs,
            &args.out,
            args.device,
            progress,
            &mut |line| eprintln!("{line}"),
        )
    })?;
    let written = bench::write_outputs(&results, &args.out)?;
    let w = results.work;
    eprintln!(
        "{} runs: trained {}, cached {}; {} evaluations, {} cached; {:.0} s",
        results.runs.len(),
        w.trained,
        w.models_cached,
        w.evaluated,
        w.results_cached,
        results.seconds
    );
    for table in bench::tables::tables(&results) {
        println!("{}", table.markdown());
    }
    if !results.defect_scans.is_empty() {
        println!("{}", bench::tables::defect_table(&results));
    }
    eprintln!("wrote {} files into {}", written.len(), args.out.display());
    Ok(())
}

/// `--suite transfer`: optionally simulate the suite, then every model over it.
fn transfer(args: BenchArgs, progress: &Progress) -> Result<()> {
    use polarmap_bench::transfer;
    let dir = &args.data_dir;
    if args.make {
        let started = std::time::Instant::now();
        let mut last = std::time::Instant::now();
        let entries = with_progress_bar(progress, || {
            transfer::make(
                dir,
                args.side,
                &args.only,
                progress,
                |k, n, name, cached| {
                    if k > 0 {
                        eprintln!("    {:.1} s", last.elapsed().as_secs_f64());
                    }
                    last = std::time::Instant::now();
                    let what = if cached { "cached" } else { "simulating" };
                    eprintln!("[{}/{n}] {name} ({what})", k + 1);
                },
            )
        })?;
        let made = entries.iter().filter(|e| e.seconds.is_some()).count();
        eprintln!(
            "suite: {} scans in {} ({made} simulated) in {:.0} s",
            entries.len(),
            dir.display(),
            started.elapsed().as_secs_f64()
        );
    }
    let models: Vec<PathBuf> = if args.models.is_empty() {
        polarmap_core::models::list_models(&polarmap_core::models::shipped_dir())
    } else {
        args.models.iter().map(PathBuf::from).collect()
    };
    if models.is_empty() {
        anyhow::bail!("no model files to run (give --models A.pmm,B.pmm)");
    }
    let (results, found) = with_progress_bar(progress, || {
        transfer::run(&models, dir, args.device, progress, &mut |l| {
            eprintln!("{l}")
        })
    })?;
    let written = transfer::write_report(&results, &found, &args.out)?;
    for m in &results {
        println!("{}", transfer::markdown(m, &found));
    }
    eprintln!("wrote {} files into {}", written.len(), args.out.display());
    Ok(())
}
