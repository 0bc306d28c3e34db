//! The `polarmap` command line: a thin layer over the library. Long passes show a progress bar and
//! stop cleanly on Ctrl-C.

mod bench;
mod calibrate;
mod figure;
mod models;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use polarmap_core::analysis::{icom, idpc, pixel_stats, ComField, ScanRotation, VirtualDetector};
use polarmap_core::export;
use polarmap_core::progress::Progress;
use polarmap_core::scan::{Calibration, DType, Endian, OpenOptions, RawLayout};
use polarmap_core::session::{ComResult, DescanChoice, RotationChoice, Session};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A clap parser for one of a library type's named values (the library knows no clap): the names
/// are listed in `--help` and parsed back to the value.
fn choice<T: Copy + Send + Sync + 'static>(
    all: &'static [T],
    name: fn(T) -> &'static str,
) -> impl clap::builder::TypedValueParser<Value = T> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(all.iter().map(|&v| name(v)))
        .map(move |s| *all.iter().find(|&&v| name(v) == s).expect("a listed name"))
}

/// Whether `word` is one of the command line's subcommands (or `help`), from the parser itself.
pub fn is_command(word: &str) -> bool {
    use clap::CommandFactory;
    word == "help" || Cli::command().find_subcommand(word).is_some()
}

#[derive(Parser)]
#[command(
    name = "polarmap",
    version,
    about = "Polarization maps of ferroelectrics from 4D-STEM data"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Shape, dtype, calibration, BF disk and global CoM of a scan (reads a sample of frames).
    Info(InfoArgs),
    /// Centre-of-mass vector field and virtual BF/ADF images (one pass over every frame).
    Com(ComArgs),
    /// Labelled synthetic KNN scans from the built-in multislice simulator.
    Simulate(SimulateArgs),
    /// Train a classifier on labelled scans; writes a model file and its card.
    Train(models::TrainArgs),
    /// Classify every pattern of a scan with a trained model.
    Predict(models::PredictArgs),
    /// A figure for a paper: the virtual image, CoM field and class map side by side (or one of
    /// them), with legends, scale bar, region outlines and defect markers, as PNG or SVG.
    Figure(figure::FigureArgs),
    /// Fit a model's probability calibration and OOD reference on labelled scans.
    Calibrate(calibrate::CalibrateArgs),
    /// The paper's benchmark: train model rows × preprocessing configs × seeds, evaluate on
    /// labelled test scans, write tables, figures and JSON (resumes from its output folder).
    Bench(bench::BenchArgs),
}

#[derive(Args)]
struct SimulateArgs {
    /// A preset: quick, paper-train, wide-train, seeds-train, dr-train, dr-fast, dr-aligned, dr-single, dr-optics, dr-optics-edges, dr-thick, dr-narrow, dr-unpolarised, paper-tests, paper-defect, demo (writes into
    /// --out-dir).
    #[arg(long)]
    preset: Option<String>,
    /// With --preset: ROWSxCOLS probe positions over each scan's area instead of the preset's
    /// own (fewer patterns, for a first look at a recipe).
    #[arg(long, value_parser = parse_pair)]
    preset_positions: Option<[usize; 2]>,
    /// With a domain-randomised preset (dr-train, dr-fast, dr-aligned, dr-single,
    /// dr-optics(-edges), dr-thick, dr-narrow, dr-unpolarised): independent nuisance draws (scans) per class
    /// instead of 6 (dr-train: at most 12).
    #[arg(long)]
    draws_per_class: Option<u64>,
    /// Folder for a preset's scans.
    #[arg(long, default_value = "sim")]
    out_dir: PathBuf,
    /// Output of a single scan (.npy, with NAME.meta.json beside it; a folder with --tiff).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write a folder of one TIFF per probe position (the paper's layout) instead of .npy.
    #[arg(long)]
    tiff: bool,
    /// Polarization class (RM RU MU LU LM LD MD RD); omit for no Nb displacement.
    #[arg(long)]
    class: Option<String>,
    /// Supercell in unit cells, NXxNYxNZ (NZ along the beam: 50 = 19.75 nm).
    #[arg(long, value_parser = parse_triple, default_value = "2x2x50")]
    cells: [usize; 3],
    /// Probe positions, ROWSxCOLS.
    #[arg(long, value_parser = parse_pair, default_value = "128x128")]
    scan: [usize; 2],
    /// Unit cells the scan covers, AxB (along x and y), starting at an A-site column.
    #[arg(long, value_parser = parse_pair, default_value = "2x2")]
    scan_cells: [usize; 2],
    /// Detector pixels per side.
    #[arg(long, default_value_t = 256)]
    detector: usize,
    /// Detector half-width, mrad.
    #[arg(long, default_value_t = 60.0)]
    max_mrad: f64,
    /// Beam energy, keV.
    #[arg(long, default_value_t = 200.0)]
    kv: f64,
    /// Probe convergence semi-angle, mrad.
    #[arg(long, default_value_t = 24.0)]
    convergence_mrad: f64,
    /// Probe defocus, Å.
    #[arg(long, default_value_t = 0.0)]
    defocus: f64,
    /// Nb displacement, Å.
    #[arg(long, default_value_t = 0.15)]
    nb_shift: f64,
    /// A sites: K, Na, or KNa (random 50/50 from the seed).
    #[arg(long, default_value = "KNa")]
    a_site: String,
    /// Real-space sampling, Å per pixel.
    #[arg(long, default_value_t = 0.05)]
    sampling: f64,
    /// Propagation: PRISM interpolation factor (1 = exact, equal to plain multislice and much
    /// faster; 2, 4 trade accuracy for speed on thin specimens only), or 0 for plain multislice.
    #[arg(long, default_value_t = 1)]
    prism: usize,
    /// Frozen-phonon configurations (0: none).
    #[arg(long, default_value_t = 0)]
    phonons: usize,
    /// Thermal displacement (standard deviation per axis), Å.
    #[arg(long, default_value_t = 0.08)]
    phonon_sigma: f64,
    /// Oxygen vacancy in unit cell IXxIYxIZ (the O on the Nb–O chain along x).
    #[arg(long, value_parser = parse_triple)]
    vacancy: Option<[usize; 3]>,
    /// Electrons per pattern: Poisson counting noise.
    #[arg(long)]
    dose: Option<f64>,
    /// Store uint16 counts (needs --dose) instead of float32 intensities.
    #[arg(long)]
    counts: bool,
    /// Detector blur, Gaussian sigma in pixels.
    #[arg(long)]
    blur: Option<f64>,
    /// Constant descan shift of the patterns, ROW COL in detector pixels.
    #[arg(long, num_args = 2, value_names = ["ROW", "COL"], allow_negative_numbers = true)]
    descan: Option<Vec<f64>>,
    /// Descan gradient: change of the shift per scan row and per scan column, DROW/DR DROW/DC
    /// DCOL/DR DCOL/DC in detector pixels per scan pixel.
    #[arg(long, num_args = 4, value_names = ["DROW_DR", "DROW_DC", "DCOL_DR", "DCOL_DC"], allow_negative_numbers = true)]
    descan_gradient: Option<Vec<f64>>,
    /// Specimen tilt off the zone axis, TX TY in mrad (image frame, x right, y up).
    #[arg(long, num_args = 2, value_names = ["TX", "TY"], allow_negative_numbers = true)]
    tilt: Option<Vec<f64>>,
    /// Seed of the A-site occupation, phonons and noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// A mosaic of domains with walls at known places instead of one class: tiles of classes,
    /// rows separated by '/', e.g. "RU,LD" (two domains, a 180° wall down the middle) or
    /// "RU,LD/RD,LU" (four quadrants). The scan is cut into equal tiles, each simulated with
    /// its class; labels go to NAME_labels.npy, the walls made to the sidecar's mosaic.walls.
    #[arg(long, value_name = "LAYOUT", conflicts_with_all = ["class", "tiff"])]
    mosaic: Option<String>,
    /// Replace outputs that exist.
    #[arg(long)]
    overwrite: bool,
    /// With --preset: keep the scans already in --out-dir (data and sidecar) and simulate the
    /// rest, to finish an interrupted run or extend one with more --draws-per-class.
    #[arg(long, requires = "preset", conflicts_with = "overwrite")]
    resume: bool,
}

/// How to open a scan: what the file may not say.
#[derive(Args, Clone, Default)]
pub(crate) struct OpenArgs {
    /// Scan shape ROWSxCOLS (overrides the file and the sidecar).
    #[arg(long, value_parser = parse_pair)]
    scan_shape: Option<[usize; 2]>,
    /// HDF5/EMD: path of the dataset to open, when the file holds several datacubes.
    #[arg(long)]
    dataset: Option<String>,
    /// Raw binary: pixel type (uint8, uint16, uint32, int16, int32, float32, float64).
    #[arg(long)]
    raw_dtype: Option<String>,
    /// Raw binary: frame shape ROWSxCOLS.
    #[arg(long, value_parser = parse_pair)]
    raw_frame: Option<[usize; 2]>,
    /// Raw binary: byte order.
    #[arg(long, value_enum, default_value_t = EndianArg::Little)]
    raw_endian: EndianArg,
    /// Raw binary: bytes before the first frame.
    #[arg(long, default_value_t = 0)]
    raw_header: usize,
    /// Raw binary: bytes before each frame.
    #[arg(long, default_value_t = 0)]
    raw_frame_header: usize,
    /// Raw binary: bytes after each frame.
    #[arg(long, default_value_t = 0)]
    raw_frame_footer: usize,
    /// Raw binary preset: EMPAD (128×130 float32 frames, 2 footer rows).
    #[arg(long)]
    empad: bool,
    /// Beam energy in keV.
    #[arg(long)]
    energy_kv: Option<f64>,
    /// Convergence semi-angle in mrad.
    #[arg(long)]
    convergence_mrad: Option<f64>,
    /// Detector sampling in mrad per pixel.
    #[arg(long)]
    mrad_per_px: Option<f64>,
    /// Scan step in Å.
    #[arg(long)]
    scan_step_a: Option<f64>,
    /// Specimen tilt away from the zone axis X,Y in mrad (image frame: x right, y up), when
    /// known: the models' crop is moved onto the crystal's pattern by it. Needs the detector
    /// calibration (mrad/px).
    #[arg(long, value_name = "X,Y", value_parser = parse_tilt, allow_hyphen_values = true)]
    tilt_mrad: Option<[f64; 2]>,
}

/// `X,Y` in mrad.
fn parse_tilt(s: &str) -> std::result::Result<[f64; 2], String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    match parts[..] {
        [x, y] => match (x.parse::<f64>(), y.parse::<f64>()) {
            (Ok(x), Ok(y)) => Ok([x, y]),
            _ => Err(format!("'{s}' is not two numbers X,Y")),
        },
        _ => Err(format!(
            "'{s}' is not X,Y (two numbers separated by a comma)"
        )),
    }
}

#[derive(Clone, Copy, ValueEnum, Default)]
enum EndianArg {
    #[default]
    Little,
    Big,
}

#[derive(Args)]
struct InfoArgs {
    path: PathBuf,
    #[command(flatten)]
    open: OpenArgs,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Read every frame and add sum, min, max and mean of all pixel values.
    #[arg(long)]
    stats: bool,
}

#[derive(Args)]
struct ComArgs {
    path: PathBuf,
    #[command(flatten)]
    open: OpenArgs,
    /// Write the CoM field as a (rows, cols, 2) float32 .npy of (x, y) shifts in detector pixels
    /// (x right, y up).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the CoM field as a colour-wheel PNG (direction = hue, magnitude = brightness).
    #[arg(long)]
    png: Option<PathBuf>,
    /// Write the virtual bright-field image as a (rows, cols) float32 .npy.
    #[arg(long)]
    bf_out: Option<PathBuf>,
    /// Write the virtual annular dark-field image as a (rows, cols) float32 .npy.
    #[arg(long)]
    adf_out: Option<PathBuf>,
    /// Write the integrated CoM (iCoM: the projected potential up to a constant; Fourier
    /// integration of the rotated CoM field) as a (rows, cols) float32 .npy.
    #[arg(long)]
    icom_out: Option<PathBuf>,
    /// Write the integrated DPC (iDPC) of a four-quadrant detector over the BF disk as a
    /// (rows, cols) float32 .npy (under `--descan plane` a plane fitted to each DPC component
    /// is removed first, as from the CoM).
    #[arg(long)]
    idpc_out: Option<PathBuf>,
    /// An extra virtual detector, summed in the same pass: annulus:INNER:OUTER or
    /// sector:INNER:OUTER:FROM:TO (pixels around the BF disk centre; degrees counter-clockwise
    /// from +x, y up). Repeatable.
    #[arg(long = "virtual", value_name = "SPEC")]
    virtual_detectors: Vec<VirtualDetector>,
    /// Extra virtual detectors from a JSON list (annuli, sectors and drawn masks, as the GUI
    /// saves them).
    #[arg(long, value_name = "FILE")]
    virtual_json: Option<PathBuf>,
    /// Write the extra virtual detectors' images as an (n, rows, cols) float32 .npy.
    #[arg(long)]
    virtual_out: Option<PathBuf>,
    /// Bright-field detector radius in pixels (default: the detected BF disk radius).
    #[arg(long)]
    bf: Option<f64>,
    /// ADF detector inner and outer radii in pixels (default: 1.2× the disk radius to the frame edge).
    #[arg(long, num_args = 2, value_names = ["INNER", "OUTER"])]
    adf: Option<Vec<f64>>,
    /// Descan correction: plane (constant and linear, fitted over the scan), paper (the global
    /// CoM), disk (the BF disk centre) or none (the array centre).
    #[arg(long, default_value = "plane", value_parser = choice(&DescanChoice::ALL, DescanChoice::name))]
    descan: DescanChoice,
    /// Detector-to-scan rotation in degrees, or "auto" to find it by minimising the CoM curl
    /// (default: the calibration's, else 0).
    #[arg(long)]
    rotation: Option<String>,
    /// The detector is mirrored relative to the scan.
    #[arg(long)]
    flip: bool,
    /// Enlarge each scan pixel of the PNG to N×N.
    #[arg(long, default_value_t = 4)]
    png_scale: usize,
    /// Replace output files that exist.
    #[arg(long)]
    overwrite: bool,
    /// Print a JSON summary.
    #[arg(long)]
    json: bool,
}

fn parse_triple(text: &str) -> Result<[usize; 3], String> {
    let parts: Vec<&str> = text.split(['x', 'X', ',']).collect();
    let [a, b, c] = parts[..] else {
        return Err(format!("expected AxBxC, got '{text}'"));
    };
    let parse = |s: &str| {
        s.trim()
            .parse::<usize>()
            .map_err(|_| format!("'{s}' is not a non-negative integer"))
    };
    Ok([parse(a)?, parse(b)?, parse(c)?])
}

fn parse_pair(text: &str) -> Result<[usize; 2], String> {
    let (a, b) = text
        .split_once(['x', 'X', ','])
        .ok_or_else(|| format!("expected ROWSxCOLS, got '{text}'"))?;
    let parse = |s: &str| {
        s.trim()
            .parse::<usize>()
            .map_err(|_| format!("'{s}' is not a positive integer"))
    };
    let pair = [parse(a)?, parse(b)?];
    if pair.contains(&0) {
        return Err(format!("'{text}' has a zero dimension"));
    }
    Ok(pair)
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    restore_sigpipe();
    let cli = Cli::parse();
    let progress = Arc::new(Progress::new());
    {
        let progress = progress.clone();
        // Ctrl-C cancels the running pass; a second Ctrl-C is the default handler's to act on.
        let _ = ctrlc::set_handler(move || progress.cancel());
    }
    let result = match cli.command {
        Some(Command::Info(args)) => info(args, &progress),
        Some(Command::Com(args)) => com(args, &progress),
        Some(Command::Simulate(args)) => simulate(args, &progress),
        Some(Command::Train(args)) => models::train(args, &progress),
        Some(Command::Predict(args)) => models::predict(args, &progress),
        Some(Command::Figure(args)) => figure::figure(args, &progress),
        Some(Command::Calibrate(args)) => calibrate::calibrate(args, &progress),
        Some(Command::Bench(args)) => bench::bench(args, &progress),
        None => demo(&progress),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Rust ignores SIGPIPE, so printing into a closed pipe (`polarmap predict ... --json | head`)
/// panics; with the default action the process ends quietly instead, like any Unix tool.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: only sets the process's action for SIGPIPE, for which nothing installs a handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// The built-in demo: the CLI's view of the demo scan shipped in `assets/`.
fn demo(progress: &Arc<Progress>) -> Result<()> {
    let path = crate::assets::demo_path();
    if !path.exists() {
        bail!("the demo scan {} is missing", path.display());
    }
    println!("polarmap demo: {}\n", path.display());
    info(
        InfoArgs {
            path: path.clone(),
            open: OpenArgs::default(),
            json: false,
            stats: false,
        },
        progress,
    )?;
    println!();
    com(
        ComArgs {
            path: path.clone(),
            open: OpenArgs::default(),
            out: None,
            png: None,
            bf_out: None,
            adf_out: None,
            icom_out: None,
            idpc_out: None,
            virtual_detectors: Vec::new(),
            virtual_json: None,
            virtual_out: None,
            bf: None,
            adf: None,
            descan: DescanChoice::Plane,
            rotation: None,
            flip: false,
            png_scale: 4,
            overwrite: false,
            json: false,
        },
        progress,
    )?;
    println!(
        "\nNext: polarmap com {} --png com.png   (see polarmap --help)",
        path.display()
    );
    Ok(())
}

impl OpenArgs {
    fn options(&self) -> Result<OpenOptions> {
        let raw = if self.empad {
            Some(RawLayout::empad())
        } else if let Some(name) = &self.raw_dtype {
            let dtype = DType::parse(name).with_context(|| format!("unknown dtype '{name}'"))?;
            let frame_shape = self
                .raw_frame
                .context("--raw-dtype needs --raw-frame ROWSxCOLS")?;
            Some(RawLayout {
                dtype,
                frame_shape,
                endian: match self.raw_endian {
                    EndianArg::Little => Endian::Little,
                    EndianArg::Big => Endian::Big,
                },
                header_bytes: self.raw_header,
                frame_header_bytes: self.raw_frame_header,
                frame_footer_bytes: self.raw_frame_footer,
            })
        } else {
            None
        };
        let calibration = Calibration {
            energy_kv: self.energy_kv,
            convergence_mrad: self.convergence_mrad,
            mrad_per_px: self.mrad_per_px,
            scan_step_a: self.scan_step_a,
            tilt_mrad: self.tilt_mrad,
            ..Default::default()
        };
        calibration.validate().map_err(anyhow::Error::msg)?;
        Ok(OpenOptions {
            scan_shape: self.scan_shape,
            raw,
            calibration,
            dataset: self.dataset.clone(),
        })
    }

    /// Opens and surveys the scan, with a progress bar.
    pub(crate) fn session(&self, path: &Path, progress: &Progress) -> Result<Session> {
        let options = self.options()?;
        let session = with_progress_bar(progress, || Session::open(path, &options, progress))?;
        for w in session.scan().warnings() {
            eprintln!("warning: {w}");
        }
        Ok(session)
    }
}

/// Runs `work` while a progress bar on stderr follows `progress`.
pub(crate) fn with_progress_bar<R>(progress: &Progress, work: impl FnOnce() -> R) -> R {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:>28} [{bar:40}] {pos}/{len} {per_sec} eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    // The drawing thread waits on a channel, not a sleep: it ends the moment the work does
    // (a 50 ms sleep cost `polarmap com` up to 50 ms after its pass).
    let (done, finished) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        s.spawn(move || {
            // Show the bar only for work that lasts.
            let start = Instant::now();
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                finished.recv_timeout(Duration::from_millis(50))
            {
                if start.elapsed() > Duration::from_millis(300) {
                    bar.set_message(progress.stage());
                    bar.set_length(progress.total());
                    bar.set_position(progress.done());
                }
            }
            bar.finish_and_clear();
        });
        let result = work();
        drop(done);
        result
    })
}

fn info(args: InfoArgs, progress: &Progress) -> Result<()> {
    let session = args.open.session(&args.path, progress)?;
    let (scan, survey) = (session.scan(), session.survey());
    let stats = if args.stats {
        Some(with_progress_bar(progress, || pixel_stats(scan, progress))?)
    } else {
        None
    };
    let shape = scan.shape();
    let global_com = session.global_com(progress)?;
    let offset = survey.descan_offset(global_com);
    let mut out = json!({
        "path": scan.path(),
        "format": scan.format(),
        "shape": shape,
        "dtype": scan.dtype().name(),
        "calibration": scan.calibration,
        "corrections": scan.corrections(),
        "bf_disk": survey.bf_disk.as_ref().ok(),
        "bf_disk_problem": survey.bf_disk.as_ref().err(),
        "global_com": {
            "row": global_com[0],
            "col": global_com[1],
            "offset_row": offset.row,
            "offset_col": offset.col,
            "frames_sampled": survey.frames_sampled,
        },
    });
    if let Some(s) = &stats {
        for (k, v) in [
            ("sum", s.sum),
            ("min", s.min),
            ("max", s.max),
            ("mean", s.mean),
        ] {
            out[k] = json!(v);
        }
    }
    if args.json {
        println!("{out}");
        return Ok(());
    }
    println!("file         {}", scan.path().display());
    println!("format       {}", scan.format());
    println!(
        "shape        {} x {} scan, {} x {} patterns ({})",
        shape[0],
        shape[1],
        shape[2],
        shape[3],
        scan.dtype()
    );
    let c = &scan.calibration;
    let show =
        |v: Option<f64>, unit: &str| v.map_or("unknown".to_string(), |v| format!("{v} {unit}"));
    println!("energy       {}", show(c.energy_kv, "keV"));
    println!("convergence  {}", show(c.convergence_mrad, "mrad"));
    println!("detector     {}", show(c.mrad_per_px, "mrad/px"));
    println!("scan step    {}", show(c.scan_step_a, "Å"));
    if let Some([x, y]) = c.tilt_mrad {
        println!("tilt         {x}, {y} mrad (stated)");
    }
    if let Some(k) = scan.corrections() {
        let by = |v: Option<bool>| match v {
            Some(true) => "applied by the detector",
            Some(false) => "not applied by the detector",
            None => "detector did not say",
        };
        println!(
            "pixel mask   {} pixels read as 0 ({})",
            k.masked_pixels,
            by(k.mask_applied_by_detector)
        );
        println!(
            "flatfield    {}",
            if !k.flatfield_in_file {
                "none in the file"
            } else if k.flatfield_applied_here {
                "applied here (frames read as float32)"
            } else if k.flatfield_applied_by_detector == Some(true) {
                "applied by the detector"
            } else {
                "1 everywhere: nothing to apply"
            }
        );
        for n in &k.notes {
            println!("corrections  {n}");
        }
    }
    match &survey.bf_disk {
        Ok(d) => println!(
            "BF disk      centre ({:.2}, {:.2}) px, radius {:.2} px",
            d.center_row, d.center_col, d.radius_px
        ),
        Err(why) => println!("BF disk      not found: {why}"),
    }
    println!(
        "global CoM   ({:.2}, {:.2}) px, descan offset ({:+.2}, {:+.2}) px  [{} patterns sampled]",
        global_com[0], global_com[1], offset.row, offset.col, survey.frames_sampled
    );
    if let Some(s) = stats {
        println!(
            "pixels       sum {} min {} max {} mean {:.6}",
            s.sum, s.min, s.max, s.mean
        );
    }
    Ok(())
}

fn com(args: ComArgs, progress: &Progress) -> Result<()> {
    for path in [
        &args.out,
        &args.png,
        &args.bf_out,
        &args.adf_out,
        &args.icom_out,
        &args.idpc_out,
        &args.virtual_out,
    ]
    .into_iter()
    .flatten()
    {
        export::check_writable(path, args.overwrite)?;
    }
    let mut detectors = args.virtual_detectors.clone();
    if let Some(path) = &args.virtual_json {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading virtual detectors from {}", path.display()))?;
        let listed: Vec<VirtualDetector> = serde_json::from_str(&text).with_context(|| {
            format!(
                "{}: not a JSON list of virtual detectors ({{\"kind\": \"annulus\", ...}})",
                path.display()
            )
        })?;
        detectors.extend(listed);
    }
    if !detectors.is_empty() && args.virtual_out.is_none() {
        bail!("--virtual/--virtual-json need --virtual-out for their images");
    }
    let started = Instant::now();
    let session = args.open.session(&args.path, progress)?;
    let scan = session.scan();
    let adf = match args.adf.as_deref() {
        Some(&[inner, outer]) => Some([inner, outer]),
        Some(v) => bail!("--adf takes INNER OUTER; got {v:?}"),
        None => None,
    };
    let geometry = session.detectors(args.bf, adf)?;
    // The iDPC's four quadrants go after the user's detectors, in the same pass.
    let quadrants_at = detectors.len();
    if args.idpc_out.is_some() {
        detectors.extend(VirtualDetector::quadrants(0.0, geometry.bf_radius));
    }
    let pass_start = Instant::now();
    let maps = with_progress_bar(progress, || {
        session.features_with(&geometry, &detectors, progress)
    })?;
    let pass_seconds = pass_start.elapsed().as_secs_f64();
    let rotation = match args.rotation.as_deref() {
        Some("auto") => RotationChoice::Auto,
        Some(text) => RotationChoice::Fixed(ScanRotation {
            angle_deg: text
                .parse()
                .with_context(|| format!("--rotation takes degrees or 'auto', got '{text}'"))?,
            flip: args.flip,
        }),
        None if args.flip => RotationChoice::Fixed(ScanRotation {
            angle_deg: scan.calibration.scan_rotation_deg.unwrap_or(0.0),
            flip: true,
        }),
        None => RotationChoice::Calibration,
    };
    let ComResult {
        field,
        descan,
        rotation,
        fit,
    } = session.com(&maps, args.descan, rotation, progress)?;
    let (rows, cols) = field.dim();
    if let Some(path) = &args.out {
        let data: Vec<f32> = field
            .x
            .iter()
            .zip(field.y.iter())
            .flat_map(|(&x, &y)| [x, y])
            .collect();
        export::write_npy_f32(path, &[rows, cols, 2], &data, args.overwrite)?;
    }
    if let Some(path) = &args.png {
        write_com_png(path, &field, args.png_scale, args.overwrite)?;
    }
    for (path, map) in [(&args.bf_out, &maps.bf), (&args.adf_out, &maps.adf)] {
        if let Some(path) = path {
            let data: Vec<f32> = map.iter().copied().collect();
            export::write_npy_f32(path, &[rows, cols], &data, args.overwrite)?;
        }
    }
    if let Some(path) = &args.icom_out {
        let data: Vec<f32> = icom(&field).iter().map(|&v| v as f32).collect();
        export::write_npy_f32(path, &[rows, cols], &data, args.overwrite)?;
    }
    if let Some(path) = &args.idpc_out {
        let q = &maps.virtual_images[quadrants_at..quadrants_at + 4];
        let image = idpc([&q[0], &q[1], &q[2], &q[3]], &descan, rotation);
        let data: Vec<f32> = image.iter().map(|&v| v as f32).collect();
        export::write_npy_f32(path, &[rows, cols], &data, args.overwrite)?;
    }
    if let Some(path) = &args.virtual_out {
        let images = &maps.virtual_images[..quadrants_at];
        let data: Vec<f32> = images.iter().flat_map(|m| m.iter().copied()).collect();
        export::write_npy_f32(path, &[images.len(), rows, cols], &data, args.overwrite)?;
    }
    let mean = field.mean();
    let summary = json!({
        "path": scan.path(),
        "shape": scan.shape(),
        "geometry": geometry,
        "descan": descan,
        "rotation": rotation,
        "rotation_fit": fit,
        "mean_com": {"x": mean[0], "y": mean[1]},
        "max_com": field.magnitude().iter().fold(0f32, |a, &b| a.max(b)),
        "pass_seconds": pass_seconds,
        "total_seconds": started.elapsed().as_secs_f64(),
    });
    if args.json {
        println!("{summary}");
    } else {
        println!(
            "CoM over {}x{} positions in {:.2} s ({:.2} s total); mean shift ({:+.4}, {:+.4}) px; \
             rotation {:.2}°{}",
            rows,
            cols,
            pass_seconds,
            started.elapsed().as_secs_f64(),
            mean[0],
            mean[1],
            rotation.angle_deg,
            if rotation.flip { " (flipped)" } else { "" }
        );
    }
    Ok(())
}

/// The CoM field as a colour-wheel image, brightness scaled to the 99th percentile magnitude.
fn write_com_png(path: &Path, field: &ComField, scale: usize, overwrite: bool) -> Result<()> {
    let pixels = export::com_pixels(field);
    let (rows, cols) = field.dim();
    Ok(export::write_png_rgb(
        path, cols, rows, &pixels, scale, overwrite,
    )?)
}

/// A mosaic layout: rows of class names separated by '/', tiles by ','.
fn parse_mosaic(text: &str) -> std::result::Result<Vec<Vec<polarmap_core::Class>>, String> {
    text.split('/')
        .map(|row| {
            row.split(',')
                .map(|name| {
                    polarmap_core::Class::from_name(name.trim()).ok_or_else(|| {
                        format!(
                            "--mosaic: unknown class '{}' in '{text}' (RM RU MU LU LM LD MD RD)",
                            name.trim()
                        )
                    })
                })
                .collect()
        })
        .collect()
}

fn simulate(args: SimulateArgs, progress: &Progress) -> Result<()> {
    use polarmap_sim::{crystal::OSite, crystal::Vacancy, job::Existing, FrozenPhonons, Job};
    if let Some(name) = &args.preset {
        if args.out.is_some() {
            bail!("--out names one scan; a preset writes into --out-dir");
        }
        let mut started = Instant::now();
        with_progress_bar(progress, || {
            polarmap_sim::job::run_preset(
                name,
                polarmap_sim::job::PresetOptions {
                    positions: args.preset_positions,
                    draws_per_class: args.draws_per_class,
                },
                &args.out_dir,
                args.tiff,
                Existing::from_flags(args.overwrite, args.resume),
                progress,
                |k, n, job, path| {
                    if k > 0 {
                        eprintln!("    done in {:.1} s", started.elapsed().as_secs_f64());
                    }
                    started = Instant::now();
                    eprintln!("[{}/{n}] {job} → {}", k + 1, path.display());
                },
            )
        })?;
        eprintln!("    done in {:.1} s", started.elapsed().as_secs_f64());
        return Ok(());
    }
    let class = match &args.class {
        Some(name) => Some(
            polarmap_core::classes::Class::from_name(name)
                .with_context(|| format!("unknown class '{name}' (RM RU MU LU LM LD MD RD)"))?,
        ),
        None => None,
    };
    let out = args
        .out
        .clone()
        .context("give --out FILE.npy (or --preset NAME)")?;
    let name = out
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("scan")
        .to_string();
    let mut job =
        Job::knn(&name, class, args.cells, args.scan, args.scan_cells).with_nb_shift(args.nb_shift);
    job.crystal.a_site = polarmap_sim::crystal::ASite::from_name(&args.a_site)
        .with_context(|| format!("--a-site takes K, Na or KNa, got '{}'", args.a_site))?;
    job.crystal.seed = args.seed;
    if let Some(cell) = args.vacancy {
        job.crystal.vacancy = Some(Vacancy::new(cell, OSite::X));
    }
    job.params.probe.energy_kev = args.kv;
    job.params.probe.convergence_mrad = args.convergence_mrad;
    job.params.probe.defocus_a = args.defocus;
    job.params.sampling_a = args.sampling;
    job.params.engine = match args.prism {
        0 => polarmap_sim::Engine::Multislice,
        f => polarmap_sim::Engine::Prism { interpolation: f },
    };
    job.params.detector.pixels = args.detector;
    job.params.detector.max_mrad = args.max_mrad;
    if args.phonons > 0 {
        job.params.phonons = Some(FrozenPhonons::new(
            args.phonons,
            args.phonon_sigma,
            args.seed,
        ));
    }
    job.acquisition.dose_per_pattern = args.dose;
    job.acquisition.blur_px = args.blur;
    if let Some(d) = &args.descan {
        job.acquisition.descan_px = [d[0], d[1]];
    }
    if let Some(g) = &args.descan_gradient {
        job.acquisition.descan_gradient = [[g[0], g[1]], [g[2], g[3]]];
    }
    if let Some(t) = &args.tilt {
        job.params.tilt_mrad = [t[0], t[1]];
    }
    job.acquisition.seed = args.seed;
    job.counts_u16 = args.counts;
    let path = out;
    eprintln!("{} → {}", job.name, path.display());
    let started = Instant::now();
    with_progress_bar(progress, || {
        if let Some(layout) = &args.mosaic {
            let layout = parse_mosaic(layout).map_err(polarmap_core::Error::invalid)?;
            polarmap_sim::job::write_mosaic(&path, &job, &layout, args.overwrite, progress)
        } else if args.tiff {
            job.run_to_tiff_folder(&path, args.overwrite, progress)
        } else {
            job.run_to_npy(&path, args.overwrite, progress)
        }
    })?;
    eprintln!("    done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
