//! `polarmap calibrate`: a model's probability calibration and OOD reference, fitted on
//! labelled scans and written into a copy of the model file; and the thresholds `predict` uses
//! to leave pixels undetermined.

use super::{with_progress_bar, OpenArgs};
use anyhow::Result;
use clap::Args;
use polarmap_core::models::confidence::{self, Determination};
use polarmap_core::models::{self, DeviceChoice, ModelFile};
use polarmap_core::progress::Progress;
use polarmap_core::session::Session;
use std::path::PathBuf;

#[derive(Args)]
pub struct CalibrateArgs {
    /// The model file to calibrate.
    pub model: PathBuf,
    /// Labelled scans to fit on (labels from their NAME.meta.json).
    #[arg(long, required = true, num_args = 1..)]
    pub scans: Vec<PathBuf>,
    /// Other labelled scans to judge the calibration on (not the fitting scans).
    #[arg(long, num_args = 1..)]
    pub eval: Vec<PathBuf>,
    /// The calibrated model file to write (its card goes beside it).
    #[arg(long, short)]
    pub out: PathBuf,
    #[command(flatten)]
    pub open: OpenArgs,
    #[arg(long, default_value = "auto", value_parser = super::choice(&DeviceChoice::ALL, DeviceChoice::name))]
    pub device: DeviceChoice,
    /// Make the model follow the specimen tilt on every calibrated scan: the tilt the
    /// calibration states, or else the one at which it reads the scan most confidently (searched
    /// within ±8 mrad). The calibration is then fitted on scans read that way.
    #[arg(long)]
    pub find_tilt: bool,
    /// Print the calibration as JSON.
    #[arg(long)]
    pub json: bool,
    /// Replace existing output files.
    #[arg(long)]
    pub overwrite: bool,
}

/// When a pixel counts (`polarmap predict`).
#[derive(Args)]
pub struct DeterminationArgs {
    /// A pixel whose (calibrated) probability is below this is undetermined.
    #[arg(long, default_value_t = Determination::default().min_probability)]
    pub min_probability: f32,
    /// A pixel whose OOD score is above this is undetermined (1 = like the calibration data).
    #[arg(long, default_value_t = Determination::default().max_ood)]
    pub max_ood: f32,
    /// Classify even when the scan's mean pattern shows no polarization signal.
    #[arg(long)]
    pub ignore_signal: bool,
}

impl DeterminationArgs {
    pub fn rule(&self) -> Determination {
        Determination {
            min_probability: self.min_probability,
            max_ood: self.max_ood,
            require_signal: !self.ignore_signal,
        }
    }
}

pub fn calibrate(args: CalibrateArgs, progress: &Progress) -> Result<()> {
    let card_path = models::card::ModelCard::path_for(&args.out);
    for p in [&args.out, &card_path] {
        polarmap_core::export::check_writable(p, args.overwrite)?;
    }
    let mut file = ModelFile::read(&args.model)?;
    file.header.input.find_tilt |= args.find_tilt;
    let model = models::load_file(&args.model, file.clone(), args.device)?;
    let open = |paths: &[PathBuf]| -> Result<Vec<Session>> {
        paths
            .iter()
            .map(|p| args.open.session(p, progress))
            .collect()
    };
    let (fit, held_out) = (open(&args.scans)?, open(&args.eval)?);
    let calibration = with_progress_bar(progress, || {
        confidence::calibrate(model.as_ref(), &fit, &held_out, progress)
    })?;
    file.header.confidence = Some(calibration.clone());
    file.write(&args.out, args.overwrite)?;
    // The card: the original's (when it has one) with the calibration added.
    let original = models::card::ModelCard::path_for(&args.model);
    let mut card = models::card::ModelCard::read(&original)
        .unwrap_or_else(|_| models::card::ModelCard::from_header(&file.header, String::new()));
    // The input as the calibrated model reads it (--find-tilt changes it).
    card.input = serde_json::to_value(&file.header.input)?;
    card.metrics.insert(
        "calibration".into(),
        serde_json::json!({
            "temperature": calibration.scaling.temperature,
            "smoothing": calibration.scaling.smoothing,
            "scans": calibration.scans,
            "fit_before": calibration.fit_before,
            "fit_after": calibration.fit_after,
            "held_out": calibration.held_out,
            "ood_p95": calibration.ood.as_ref().map(|o| o.p95),
            "ood_p99": calibration.ood.as_ref().map(|o| o.p99),
            "ece_bins": models::calibration::ECE_BINS,
            "command": std::env::args().collect::<Vec<_>>().join(" "),
        }),
    );
    card.write(&card_path, args.overwrite)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&calibration)?);
    } else {
        let t = &calibration.scaling;
        println!(
            "{}: temperature {:.3}, smoothing {:.0e}; ECE ({} bins) on the {} fitting patterns \
             {:.2} % → {:.2} %",
            args.out.display(),
            t.temperature,
            t.smoothing,
            models::calibration::ECE_BINS,
            calibration.fit_before.patterns,
            100.0 * calibration.fit_before.ece,
            100.0 * calibration.fit_after.ece
        );
        if let Some(h) = &calibration.held_out {
            println!(
                "held out ({} patterns): ECE {:.2} % → {:.2} %, accuracy {:.2} %",
                h.before.patterns,
                100.0 * h.before.ece,
                100.0 * h.after.ece,
                100.0 * h.after.accuracy
            );
        }
    }
    Ok(())
}
