//! `polarmap train` and `polarmap predict`.

use super::{with_progress_bar, OpenArgs};
use anyhow::{bail, Context, Result};
use clap::Args;
use polarmap_core::classes::Class;
use polarmap_core::colour::class_colour;
use polarmap_core::export;
use polarmap_core::models::adapt::{self, AdaptOptions, RegionLabels};
use polarmap_core::models::card::ModelCard;
use polarmap_core::models::job::TrainJob;
use polarmap_core::models::train::{self, ModelKind, Preprocessing, Split, TrainConfig};
use polarmap_core::models::{self, Classifier, DeviceChoice, ScanPredictions};
use polarmap_core::progress::Progress;
use polarmap_core::session::{Evaluation, Session};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct TrainArgs {
    /// Labelled training scans (labels from their NAME.meta.json), e.g. sim/paper-train/*.npy.
    #[arg(required = true)]
    pub scans: Vec<PathBuf>,
    /// Model row: pca, or ENCODER-HEAD with ENCODER conv|vgg16|resnet50, HEAD cls|reg|proto.
    #[arg(long, default_value = "conv-proto")]
    pub model: String,
    /// Preprocessing configuration (the paper's three).
    #[arg(long, default_value = "none", value_parser = super::choice(&Preprocessing::ALL, Preprocessing::name))]
    pub preprocessing: Preprocessing,
    #[arg(long, default_value_t = 888)]
    pub seed: u64,
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 2e-4)]
    pub lr: f64,
    #[arg(long, default_value_t = 1e-4)]
    pub weight_decay: f64,
    /// Early stopping: epochs without validation-loss improvement.
    #[arg(long, default_value_t = 5)]
    pub patience: usize,
    /// Use at most this many patterns per class, over all the scans together (a seeded random
    /// subset).
    #[arg(long)]
    pub max_per_class: Option<usize>,
    /// Average N×N detector pixels into one input pixel: the paper's 64-px window seen as
    /// (64/N)² inputs, at about 1/N² of the cost (the paper: 1).
    #[arg(long, default_value = "1", value_parser = train::parse_binning)]
    pub input_binning: usize,
    /// What validation and test hold out: patterns (the paper's; they come from the training
    /// scans) or whole scans (never trained on: the honest number when every scan is its own
    /// acquisition, as in dr-fast).
    #[arg(long, default_value = "patterns", value_parser = super::choice(&Split::ALL, Split::name))]
    pub split: Split,
    /// Train on each pattern transformed by a random one of the square lattice's 8 symmetries
    /// (mirrors and quarter turns, the class turned with it), and average the trained network's
    /// scores over the 8 when it classifies (networks only: 8 passes per pattern).
    #[arg(long)]
    pub symmetry: bool,
    /// Start the network from these weights: PyTorch's (a torchvision state dict such as
    /// vgg16-397923af.pth, or the paper's CNN; a first RGB convolution is summed to grey), or a
    /// polarmap model of the same network and head (FILE.pmm: fine-tuning; the scans are then
    /// read at that model's input scale).
    #[arg(long, value_name = "FILE.pth|FILE.pmm")]
    pub init_weights: Option<PathBuf>,
    /// Where networks run.
    #[arg(long, default_value = "auto", value_parser = super::choice(&DeviceChoice::ALL, DeviceChoice::name))]
    pub device: DeviceChoice,
    /// The model file to write (NAME.pmm; the card goes to NAME.card.json).
    #[arg(long, short)]
    pub out: PathBuf,
    /// Replace existing output files.
    #[arg(long)]
    pub overwrite: bool,
    /// Do not resume from (or write) the checkpoint folder OUT.checkpoint.
    #[arg(long)]
    pub no_checkpoint: bool,
}

#[derive(Args)]
pub struct PredictArgs {
    pub path: PathBuf,
    #[command(flatten)]
    pub open: OpenArgs,
    /// Model file; default: the shipped default model.
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[arg(long, default_value = "auto", value_parser = super::choice(&DeviceChoice::ALL, DeviceChoice::name))]
    pub device: DeviceChoice,
    /// Class map in the DESIGN.md colour wheel.
    #[arg(long)]
    pub png: Option<PathBuf>,
    /// Integer upscaling of the PNG.
    #[arg(long, default_value_t = 1)]
    pub scale: usize,
    /// Rows of (row, col, class, 8 scores, determined, OOD score).
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Print one JSON object (majority class, distribution, confidence, defects, model).
    #[arg(long)]
    pub json: bool,
    /// Domains and walls of the class map, wall points included, as JSON.
    #[arg(long, value_name = "FILE.json")]
    pub domains_json: Option<PathBuf>,
    /// One line per domain (id, class, pixels, fraction, centroid).
    #[arg(long, value_name = "FILE.csv")]
    pub domains_csv: Option<PathBuf>,
    /// One line per wall point (wall, domains, classes, kind, angle, length, row, col).
    #[arg(long, value_name = "FILE.csv")]
    pub walls_csv: Option<PathBuf>,
    /// The class map with the walls drawn on it (180° white, 90° black, other grey), enlarged
    /// --scale times but at least 4 times so that walls lie between pixels.
    #[arg(long, value_name = "FILE.png")]
    pub walls_png: Option<PathBuf>,
    /// Adapt the model to this scan first, from the labelled regions of a region-labels file
    /// (docs/formats.md); the accuracy on labelled and unlabelled pixels is reported where the
    /// scan has ground truth.
    #[arg(long, value_name = "LABELS.json")]
    pub adapt: Option<PathBuf>,
    /// How strongly a last-layer fit keeps the model's own head (relative to the features'
    /// scale): smaller lets a few labels overrule a confident model further. Default: chosen
    /// among 0.1, 0.01 and 0.001 by cross-validation over the labelled pixels.
    #[arg(long, requires = "adapt")]
    pub adapt_ridge: Option<f64>,
    /// Classification heads: weight of keeping the model's own class probabilities on
    /// unlabelled pixels of the scan beside fitting the labels (0: labels alone), so that a
    /// region labelled in one domain does not repaint the others.
    /// `auto`: chosen among 0, 0.2 and 1 by cross-validation over the labelled pixels (the
    /// strongest within one standard error of the best held-out loss).
    #[arg(
        long,
        requires = "adapt",
        default_value = "0",
        value_name = "W|auto",
        value_parser = parse_anchor
    )]
    pub adapt_anchor: AnchorWeight,
    /// Write the adapted model here (its card beside it, NAME.card.json).
    #[arg(long, value_name = "OUT.pmm", requires = "adapt")]
    pub save_adapted: Option<PathBuf>,
    /// Move the model's crop to the specimen tilt at which it reads the scan most confidently
    /// (searched within ±8 mrad; calibrated scans), as a model made with `polarmap calibrate
    /// --find-tilt` does. It helps on thick, tilted scans and can invent a direction on thin or
    /// unpolarised ones (docs/transfer.md, "Finding the tilt with the model").
    #[arg(long, conflicts_with = "tilt_mrad")]
    pub find_tilt: bool,
    #[arg(long)]
    pub overwrite: bool,
    #[command(flatten)]
    pub determination: super::calibrate::DeterminationArgs,
}

pub fn train(args: TrainArgs, progress: &Progress) -> Result<()> {
    let model = ModelKind::from_name(&args.model).with_context(|| {
        format!(
            "unknown model '{}': use pca or conv|vgg16|resnet50 - cls|reg|proto",
            args.model
        )
    })?;
    let config = TrainConfig {
        preprocessing: args.preprocessing,
        seed: args.seed,
        epochs: args.epochs,
        batch_size: args.batch_size.max(1),
        learning_rate: args.lr,
        weight_decay: args.weight_decay,
        patience: args.patience,
        max_per_class: args.max_per_class,
        init_weights: args.init_weights.clone(),
        split: args.split,
        symmetry: args.symmetry,
        ..TrainConfig::paper(model)
    }
    .with_window(polarmap_core::preprocess::PAPER_CROP, args.input_binning);
    let mut job = TrainJob::new(args.scans.clone(), config, args.device, args.out.clone());
    job.overwrite = args.overwrite;
    if args.no_checkpoint {
        job.checkpoint = None;
    }
    let device = train::device_name(model, args.device);
    let files = with_progress_bar(progress, || {
        job.run(
            progress,
            &mut |data| {
                eprintln!(
                    "{} patterns from {} scans; training {} on {device}",
                    data.len(),
                    job.scans.len(),
                    model.name(),
                )
            },
            &mut |m| eprintln!("{m}"),
        )
    })?;
    println!(
        "{}: test-split accuracy {:.2} % on {} patterns ({:.0} s); card {}",
        files.model.display(),
        100.0 * files.trained.test_accuracy,
        files.trained.test_patterns,
        files.seconds,
        files.card.display()
    );
    Ok(())
}

/// The model a prediction uses: the given file or the shipped default.
pub fn model_path(given: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    let default = models::shipped_dir().join(models::DEFAULT_MODEL);
    if !default.exists() {
        bail!(
            "no --model given and the shipped default {} is missing",
            default.display()
        );
    }
    Ok(default)
}

pub fn predict(args: PredictArgs, progress: &Progress) -> Result<()> {
    for p in [
        &args.png,
        &args.csv,
        &args.domains_json,
        &args.domains_csv,
        &args.walls_csv,
        &args.walls_png,
    ]
    .into_iter()
    .flatten()
    {
        export::check_writable(p, args.overwrite)?;
    }
    if let Some(out) = &args.save_adapted {
        export::check_writable(out, args.overwrite)?;
        export::check_writable(&ModelCard::path_for(out), args.overwrite)?;
    }
    let model_file = model_path(args.model.as_deref())?;
    let mut file = models::ModelFile::read(&model_file)?;
    file.header.input.find_tilt |= args.find_tilt;
    let mut model = models::load_file(&model_file, file, args.device)?;
    let session = args
        .open
        .session(&args.path, progress)?
        .with_determination(args.determination.rule());
    let mut adapted = None;
    if let Some(labels_file) = &args.adapt {
        let labels = RegionLabels::read(labels_file)?.pixels(session.scan().scan_shape())?;
        let base = with_progress_bar(progress, || {
            adapt::adapt(
                model.as_ref(),
                Some(&model_file),
                &session,
                &labels,
                &AdaptOptions {
                    ridge: args.adapt_ridge,
                    anchor: args.adapt_anchor.0,
                    ..AdaptOptions::default()
                },
                progress,
            )
        })?;
        adapted = Some((labels, std::mem::replace(&mut model, base)));
    }
    let evaluation = with_progress_bar(progress, || {
        session.evaluate(model.as_ref(), progress, |_, _| {})
    })?;
    let predictions = &evaluation.predictions;
    if let Some(png) = &args.png {
        write_class_png(png, predictions, args.scale, args.overwrite)?;
    }
    if let Some(csv) = &args.csv {
        export::write_classes_csv(
            csv,
            &predictions.class_map(),
            Some(&predictions.scores),
            predictions.ood.as_ref(),
            args.overwrite,
        )?;
    }
    write_domains(&args, &evaluation)?;
    let mut summary = evaluation.summary(&model_file);
    if let Some((labels, base)) = &adapted {
        let report = adaptation_report(
            &args,
            &session,
            &evaluation,
            labels,
            base.as_ref(),
            model.as_ref(),
            progress,
        )?;
        if let Some(out) = &args.save_adapted {
            model.save(out, args.overwrite)?;
            let mut card =
                ModelCard::from_header(model.header(), adapt_command(&args, &model_file));
            card.metrics
                .insert("adapted_scan".into(), report["accuracy"].clone());
            card.write(&ModelCard::path_for(out), args.overwrite)?;
        }
        summary["adaptation"] = report;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_summary(&summary);
    }
    Ok(())
}

/// The domain exports asked for on the command line.
fn write_domains(args: &PredictArgs, evaluation: &Evaluation) -> Result<()> {
    if args.domains_json.is_none()
        && args.domains_csv.is_none()
        && args.walls_csv.is_none()
        && args.walls_png.is_none()
    {
        return Ok(());
    }
    let domains = evaluation.domains();
    if let Some(p) = &args.domains_json {
        domains.write_json(p, args.overwrite)?;
    }
    if let Some(p) = &args.domains_csv {
        domains.write_domains_csv(p, args.overwrite)?;
    }
    if let Some(p) = &args.walls_csv {
        domains.write_walls_csv(p, args.overwrite)?;
    }
    if let Some(p) = &args.walls_png {
        let classes = &evaluation.predictions.classes;
        let (rows, cols) = classes.dim();
        let base = export::class_pixels(classes);
        let (w, h, pixels) = domains.overlay(&base, rows, cols, args.scale.max(4));
        export::write_png_rgb(p, w, h, &pixels, 1, args.overwrite)?;
    }
    Ok(())
}

pub fn write_class_png(
    path: &Path,
    p: &ScanPredictions,
    scale: usize,
    overwrite: bool,
) -> Result<()> {
    let (rows, cols) = p.classes.dim();
    let pixels: Vec<[u8; 3]> = p.classes.iter().map(|&c| class_colour(c)).collect();
    Ok(export::write_png_rgb(
        path, cols, rows, &pixels, scale, overwrite,
    )?)
}

/// What an adaptation did: method, labelled pixels, and — where the scan has ground truth — the
/// accuracy on the labelled and the unlabelled pixels before (the base model, run again) and
/// after.
fn adaptation_report(
    args: &PredictArgs,
    session: &Session,
    evaluation: &Evaluation,
    labels: &[(usize, Class)],
    base: &dyn Classifier,
    adapted: &dyn Classifier,
    progress: &Progress,
) -> Result<serde_json::Value> {
    let labels_file = args.adapt.as_deref().unwrap_or(Path::new("?"));
    let record = adapted
        .header()
        .adaptation
        .clone()
        .context("the adapted model does not record its adaptation")?;
    let mut accuracy = serde_json::Value::Null;
    if let Some(truth) = &evaluation.truth {
        let before = with_progress_bar(progress, || session.predict(base, progress, |_, _| {}))?;
        let split = |p: &ndarray::Array2<Class>| adapt::split_accuracy(truth, p, labels);
        accuracy = serde_json::json!({
            "before": split(&before.classes),
            "after": split(&evaluation.predictions.classes),
        });
    }
    Ok(serde_json::json!({
        "labels_file": labels_file.display().to_string(),
        "method": record.method.name(),
        "labelled_pixels": record.labelled_pixels,
        "details": record.details,
        "accuracy": accuracy,
        "saved": args.save_adapted.as_ref().map(|p| p.display().to_string()),
    }))
}

/// The command that re-creates an adapted model (for its card).
fn adapt_command(args: &PredictArgs, model_file: &Path) -> String {
    let mut command = format!(
        "polarmap predict {} --model {} --adapt {}",
        args.path.display(),
        model_file.display(),
        args.adapt.as_deref().unwrap_or(Path::new("?")).display()
    );
    if let Some(out) = &args.save_adapted {
        command += &format!(" --save-adapted {}", out.display());
    }
    command
}

fn print_summary(s: &serde_json::Value) {
    println!(
        "model: {} ({})",
        s["model"].as_str().unwrap_or("?"),
        s["model_file"].as_str().unwrap_or("?")
    );
    println!(
        "majority class: {} ({}; {} of {} pixels undetermined)",
        s["majority_class"].as_str().unwrap_or("-"),
        s["outcome"].as_str().unwrap_or("?"),
        s["undetermined_pixels"],
        s["patterns"]
    );
    if let Some(d) = s["distribution"].as_object() {
        let parts: Vec<String> = d
            .iter()
            .map(|(k, v)| format!("{k} {:.1} %", 100.0 * v.as_f64().unwrap_or(0.0)))
            .collect();
        println!("distribution: {}", parts.join(", "));
    }
    if let Some(c) = s["mean_confidence"].as_f64() {
        let calibrated = s["calibrated"].as_bool() == Some(true);
        let how = if calibrated {
            "calibrated"
        } else {
            "not calibrated"
        };
        println!("mean confidence: {c:.3} ({how})");
    }
    if let Some(o) = s["ood"]["scan"].as_f64() {
        println!("OOD score of the scan: {o:.2} (1 = like the calibration data)");
    }
    if let Some(a) = s["accuracy_vs_labels"].as_f64() {
        println!("accuracy against the scan's labels: {:.2} %", 100.0 * a);
    }
    let tilt = &s["tilt_search"];
    let confidence = |key: &str| tilt[key].as_f64().unwrap_or(f64::NAN);
    match (
        tilt["searched"].as_bool(),
        tilt["tilt_mrad"][0].as_f64(),
        tilt["tilt_mrad"][1].as_f64(),
    ) {
        (Some(true), Some(x), Some(y)) => println!(
            "tilt found: {x}, {y} mrad (mean confidence {:.3}; {:.3} with the crop not moved)",
            confidence("confidence"),
            confidence("untilted_confidence")
        ),
        (Some(false), ..) => println!(
            "tilt not searched: the model reads the scan confidently as it is (mean confidence \
             {:.3})",
            confidence("untilted_confidence")
        ),
        _ => {}
    }
    let adaptation = &s["adaptation"];
    if let Some(method) = adaptation["method"].as_str() {
        let counts: Vec<String> = adaptation["labelled_pixels"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        println!(
            "adapted ({method}) to {} labelled pixels: {}",
            adaptation["labels_file"].as_str().unwrap_or("?"),
            counts.join(", ")
        );
        let pct = |v: &serde_json::Value| {
            v.as_f64()
                .map_or("-".to_string(), |a| format!("{:.2} %", 100.0 * a))
        };
        let acc = &adaptation["accuracy"];
        for part in ["labelled", "unlabelled"] {
            if acc["after"].is_object() {
                println!(
                    "accuracy on the {part} pixels: {} before, {} after",
                    pct(&acc["before"][part]),
                    pct(&acc["after"][part])
                );
            }
        }
        if let Some(saved) = adaptation["saved"].as_str() {
            println!("adapted model written to {saved}");
        }
    }
    if let Some(d) = s["defects"].as_array() {
        println!("candidate defect clusters: {}", d.len());
    }
}

/// `--adapt-anchor`: a weight, or None for `auto` (cross-validated).
#[derive(Debug, Clone, Copy)]
pub struct AnchorWeight(pub Option<f64>);

/// `--adapt-anchor`: a weight of 0 or more, or `auto`.
fn parse_anchor(value: &str) -> Result<AnchorWeight, String> {
    if value == "auto" {
        return Ok(AnchorWeight(None));
    }
    match value.parse::<f64>() {
        Ok(w) if w.is_finite() && w >= 0.0 => Ok(AnchorWeight(Some(w))),
        _ => Err(format!(
            "expected a weight of 0 or more, or auto; got {value}"
        )),
    }
}
