//! The transfer suite: labelled scans that no model trains on, made two ways — by polarmap's
//! simulator with unseen seeds and one nuisance changed at a time, then all randomised together
//! ([`scans`], [`make`]), and by an independent simulator (abTEM 1.0.11, `bench/transfer_abtem.py`,
//! into `DIR/abtem/`) — and the models run over it through the library's [`Session`]
//! ([`evaluate`]), reported per scan and per condition ([`write_report`]).
//!
//! Every scan's sidecar carries a `transfer` object (condition, what changed, class, seed,
//! simulator, the nuisances applied); `DIR/manifest.json` lists the polarmap scans with their
//! generation time. A scan whose `.npy` and sidecar exist is not simulated again.

use super::cache::{write_atomic, write_json};
use polarmap_core::classes::Class;
use polarmap_core::error::{Error, Result};
use polarmap_core::maps::{agreement, ClassMap};
use polarmap_core::models::Classifier;
use polarmap_core::progress::Progress;
use polarmap_core::scan::Sidecar;
use polarmap_core::session::Session;
use polarmap_sim::crystal::ASite;
use polarmap_sim::job::Job;
use polarmap_sim::nuisance::{job_with, Nuisance, Ranges};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::{Path, PathBuf};

/// Seeds of the suite's crystals and noise: 201–299, disjoint from the training presets (0,
/// 11–14, `dr-train` 1001+) and the held-out sets (7, 15).
pub const SUITE_SEEDS: std::ops::RangeInclusive<u64> = 201..=299;
/// The reference condition's two crystals.
const REFERENCE_SEEDS: [u64; 2] = [201, 202];
/// The crystal of every one-at-a-time condition: the first reference crystal, so that each
/// such scan differs from `reference-CLASS-s201` in its one nuisance only.
const ONE_AT_A_TIME_SEED: u64 = 201;
/// Scans per class with every nuisance randomised; scan k of class c has seed 221 + 8k + c.
const RANDOMISED_PER_CLASS: u64 = 2;
const RANDOMISED_FIRST_SEED: u64 = 221;
/// Unpolarised scans: two at the reference, two randomised.
const UNPOLARISED_SEEDS: [u64; 2] = [211, 212];
const UNPOLARISED_RANDOMISED_SEEDS: [u64; 2] = [213, 214];

/// One scan of the suite: its polarmap job and what it tests.
#[derive(Debug, Clone)]
pub struct SuiteScan {
    pub condition: String,
    /// What differs from the reference, in words.
    pub changed: String,
    pub class: Option<Class>,
    pub seed: u64,
    pub nuisances: Vec<Nuisance>,
    pub job: Job,
}

impl SuiteScan {
    /// The sidecar's `transfer` object.
    pub fn tag(&self) -> serde_json::Value {
        json!({
            "condition": self.condition,
            "changed": self.changed,
            "class": self.class.map(|c| c.name()),
            "seed": self.seed,
            "simulator": "polarmap",
            "nuisances": self.nuisances,
        })
    }
}

/// The one-at-a-time conditions: name, what changed, the change (given the scan side for the
/// linear descan).
fn one_at_a_time(side: usize) -> Vec<(&'static str, &'static str, Nuisance)> {
    let seed = ONE_AT_A_TIME_SEED;
    let across = 5.0 / (side.max(2) - 1) as f64;
    vec![
        (
            "dose-5e3",
            "5×10³ e⁻ per pattern (Poisson)",
            Nuisance::Dose(5e3),
        ),
        (
            "dose-2e4",
            "2×10⁴ e⁻ per pattern (Poisson)",
            Nuisance::Dose(2e4),
        ),
        (
            "descan-constant",
            "descan (+3, −4) px (5 px)",
            Nuisance::Descan([3.0, -4.0]),
        ),
        (
            "descan-linear",
            "descan growing to 5 px across the scan (rows: +col, cols: −row)",
            Nuisance::DescanGradient([[0.0, across], [-across, 0.0]]),
        ),
        ("blur-2px", "detector blur σ = 2 px", Nuisance::Blur(2.0)),
        (
            "thickness-10nm",
            "10 nm thick (25 cells)",
            Nuisance::ThicknessNm(10.0),
        ),
        (
            "thickness-60nm",
            "60 nm thick (152 cells)",
            Nuisance::ThicknessNm(60.0),
        ),
        ("cells-2x2", "2×2-cell periodic box", Nuisance::Lateral(2)),
        ("cells-8x8", "8×8-cell periodic box", Nuisance::Lateral(8)),
        (
            "a-site-K",
            "A sites all K",
            Nuisance::ASite {
                a_site: ASite::K,
                seed,
            },
        ),
        (
            "a-site-Na",
            "A sites all Na",
            Nuisance::ASite {
                a_site: ASite::NA,
                seed,
            },
        ),
        ("defocus+100", "defocus +100 Å", Nuisance::Defocus(100.0)),
        ("defocus-100", "defocus −100 Å", Nuisance::Defocus(-100.0)),
        (
            "convergence-20",
            "20 mrad convergence",
            Nuisance::Convergence(20.0),
        ),
        (
            "convergence-30",
            "30 mrad convergence",
            Nuisance::Convergence(30.0),
        ),
        (
            "camera-0.7",
            "camera length: 0.7× mrad per pixel",
            Nuisance::CameraScale(0.7),
        ),
        (
            "camera-1.3",
            "camera length: 1.3× mrad per pixel",
            Nuisance::CameraScale(1.3),
        ),
        (
            "sampling-0.02",
            "0.02 Å real-space sampling",
            Nuisance::Sampling(0.02),
        ),
        (
            "sampling-0.06",
            "0.06 Å real-space sampling",
            Nuisance::Sampling(0.06),
        ),
        (
            "phonons",
            "frozen phonons: 4 configurations, σ 0.08 Å",
            Nuisance::Phonons {
                configurations: 4,
                sigma_a: 0.08,
                seed,
            },
        ),
        (
            "tilt-5mrad",
            "specimen tilt (4, 3) mrad",
            Nuisance::Tilt([4.0, 3.0]),
        ),
    ]
}

/// Every polarmap scan of the suite, `side`×`side` probe positions over 2×2 cells each (the
/// suite's size: 16). Names: `CONDITION-CLASS-sSEED`, `unpolarised-sSEED`,
/// `unpolarised-randomised-sSEED`.
pub fn scans(side: usize) -> Vec<SuiteScan> {
    let scan = [side, side];
    let mut out = Vec::new();
    let mut push = |condition: &str, changed: &str, class, seed, nuisances: Vec<Nuisance>| {
        let name = match class {
            Some(c) => format!("{condition}-{c}-s{seed}"),
            None => format!("{condition}-s{seed}"),
        };
        let job = job_with(&name, class, seed, scan, &nuisances);
        out.push(SuiteScan {
            condition: condition.to_string(),
            changed: changed.to_string(),
            class,
            seed,
            nuisances,
            job,
        });
    };
    let reference = "none: 4×4×51 cells (20 nm), K/Na 50/50, 24 mrad, 0.05 Å, no noise";
    for seed in REFERENCE_SEEDS {
        for &c in &Class::ALL {
            push("reference", reference, Some(c), seed, Vec::new());
        }
    }
    for (name, changed, nuisance) in one_at_a_time(side) {
        for &c in &Class::ALL {
            push(name, changed, Some(c), ONE_AT_A_TIME_SEED, vec![nuisance]);
        }
    }
    let ranges = Ranges::default();
    let all = "every nuisance drawn from issue 19's ranges";
    for k in 0..RANDOMISED_PER_CLASS {
        for &c in &Class::ALL {
            let seed = RANDOMISED_FIRST_SEED + 8 * k + c.index() as u64;
            push("randomised", all, Some(c), seed, ranges.draw(seed, scan));
        }
    }
    for seed in UNPOLARISED_SEEDS {
        push(
            "unpolarised",
            "no Nb displacement",
            None,
            seed,
            vec![Nuisance::Unpolarised],
        );
    }
    for seed in UNPOLARISED_RANDOMISED_SEEDS {
        let mut n = ranges.draw(seed, scan);
        n.push(Nuisance::Unpolarised);
        push(
            "unpolarised-randomised",
            "no Nb displacement, every nuisance randomised",
            None,
            seed,
            n,
        );
    }
    out
}

/// Rough cost of simulating `job`: multislices (one per probe position, or per plane wave for
/// PRISM) × grid pixels × slices × phonon configurations. Only for ordering.
pub fn relative_cost(job: &Job) -> f64 {
    let p = &job.params;
    let [w, h] = [
        job.crystal.cells[0] as f64 * job.crystal.a,
        job.crystal.cells[1] as f64 * job.crystal.a,
    ];
    let pixels = (w / p.sampling_a) * (h / p.sampling_a);
    let runs = match p.engine {
        polarmap_sim::Engine::Multislice => job.scan.len() as f64,
        polarmap_sim::Engine::Prism { .. } => {
            let k = p.probe.convergence_mrad * 1e-3 / p.probe.wavelength_a();
            std::f64::consts::PI * k * k * w * h
        }
    };
    let phonons = p.phonons.as_ref().map_or(1, |f| f.configurations) as f64;
    runs * pixels * job.crystal.cells[2] as f64 * phonons
}

/// Whether every nuisance is a detector effect (dose, descan, blur) that leaves the simulated
/// intensities as they are.
fn acquisition_only(nuisances: &[Nuisance]) -> bool {
    !nuisances.is_empty()
        && nuisances.iter().all(|n| {
            matches!(
                n,
                Nuisance::Dose(_)
                    | Nuisance::Descan(_)
                    | Nuisance::DescanGradient(_)
                    | Nuisance::Blur(_)
            )
        })
}

/// A scan of the suite as the manifest records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub name: String,
    pub file: String,
    pub condition: String,
    pub class: Option<Class>,
    pub seed: u64,
    /// Seconds to simulate it (None when it was already there).
    pub seconds: Option<f64>,
}

/// Simulates the suite's scans (`side`×`side` positions; those whose names contain one of
/// `only`, when given) into `dir`, skipping scans already there; writes `dir/manifest.json`.
/// `on_scan(k, n, name)` before each scan.
pub fn make(
    dir: &Path,
    side: usize,
    only: &[String],
    progress: &Progress,
    mut on_scan: impl FnMut(usize, usize, &str, bool),
) -> Result<Vec<ManifestEntry>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut all: Vec<SuiteScan> = scans(side)
        .into_iter()
        .filter(|s| only.is_empty() || only.iter().any(|o| s.job.name.contains(o.as_str())))
        .collect();
    // References first (the acquisition-only scans are made from them), then cheapest first,
    // so that an interrupted make leaves the most conditions complete.
    let key = |s: &SuiteScan| {
        let cost = if acquisition_only(&s.nuisances) {
            0.0
        } else {
            relative_cost(&s.job)
        };
        (s.condition != "reference", cost)
    };
    all.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        ka.0.cmp(&kb.0).then(ka.1.total_cmp(&kb.1))
    });
    let mut entries = Vec::with_capacity(all.len());
    for (k, scan) in all.iter().enumerate() {
        let path = dir.join(format!("{}.npy", scan.job.name));
        let meta = path.with_extension("meta.json");
        let cached = path.is_file() && meta.is_file();
        on_scan(k, all.len(), &scan.job.name, cached);
        let seconds = if cached {
            None
        } else {
            let started = std::time::Instant::now();
            // Acquisition effects alone: applied to the reference scan's ideal patterns (the
            // same job up to its acquisition), which equals simulating it again.
            let twin = scan
                .class
                .map(|c| dir.join(format!("reference-{c}-s{}.npy", scan.seed)));
            match twin.filter(|t| acquisition_only(&scan.nuisances) && t.is_file()) {
                Some(ideal) => scan.job.acquire_from(&ideal, &path, true)?,
                None => scan.job.run_to_npy(&path, true, progress)?,
            }
            let mut sidecar = Sidecar::read(&meta)?;
            sidecar.extra.insert("transfer".into(), scan.tag());
            sidecar.write(&meta)?;
            Some(started.elapsed().as_secs_f64())
        };
        let entry = ManifestEntry {
            name: scan.job.name.clone(),
            file: format!("{}.npy", scan.job.name),
            condition: scan.condition.clone(),
            class: scan.class,
            seed: scan.seed,
            seconds,
        };
        // After every scan, so that an interrupted make keeps the times of what it made.
        record(dir, side, &entry)?;
        entries.push(entry);
    }
    Ok(entries)
}

/// Adds `entry` to `dir/manifest.json`, keeping the time an earlier make recorded for a scan
/// that is now cached.
fn record(dir: &Path, side: usize, entry: &ManifestEntry) -> Result<()> {
    let manifest = dir.join("manifest.json");
    let mut scans: Vec<ManifestEntry> = if manifest.is_file() {
        let v: serde_json::Value = super::cache::read_json(&manifest)?;
        serde_json::from_value(v["scans"].clone())
            .map_err(|e| Error::format(&manifest, format!("not a suite manifest: {e}")))?
    } else {
        Vec::new()
    };
    match scans.iter_mut().find(|p| p.name == entry.name) {
        Some(p) if entry.seconds.is_some() => *p = entry.clone(),
        Some(_) => {}
        None => scans.push(entry.clone()),
    }
    write_json(
        &manifest,
        &json!({"side": side, "simulator": "polarmap", "scans": scans}),
    )
}

/// A labelled-or-not scan of the suite found on disk, with its `transfer` tag.
#[derive(Debug, Clone)]
pub struct Found {
    pub path: PathBuf,
    pub name: String,
    pub condition: String,
    pub changed: String,
    pub simulator: String,
    pub class: Option<Class>,
    pub seed: Option<u64>,
}

/// The suite's scans in `dir` and `dir/abtem`: every `.npy` whose sidecar has a `transfer`
/// object, sorted by simulator, condition and name.
pub fn find(dir: &Path) -> Result<Vec<Found>> {
    let mut found = Vec::new();
    for folder in [dir.to_path_buf(), dir.join("abtem")] {
        if !folder.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&folder).map_err(|e| Error::io(&folder, e))? {
            let path = entry.map_err(|e| Error::io(&folder, e))?.path();
            if path.extension().is_none_or(|e| e != "npy") {
                continue;
            }
            let Some(sidecar) = Sidecar::find_for(&path)? else {
                continue;
            };
            let Some(tag) = sidecar.extra.get("transfer") else {
                continue;
            };
            let text = |k: &str| tag[k].as_str().unwrap_or("").to_string();
            let class = match &tag["class"] {
                serde_json::Value::String(s) => Some(Class::from_name(s).ok_or_else(|| {
                    Error::format(&path, format!("transfer.class '{s}' is not a class"))
                })?),
                _ => None,
            };
            found.push(Found {
                name: path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or("scan")
                    .to_string(),
                condition: text("condition"),
                changed: text("changed"),
                simulator: text("simulator"),
                class,
                seed: tag["seed"].as_u64(),
                path,
            });
        }
    }
    if found.is_empty() {
        return Err(Error::invalid(format!(
            "{} holds no transfer-suite scan (make it with `polarmap bench --suite transfer \
             --make --data-dir {}`)",
            dir.display(),
            dir.display()
        )));
    }
    found.sort_by(|a, b| {
        (&a.simulator, &a.condition, &a.name).cmp(&(&b.simulator, &b.condition, &b.name))
    });
    Ok(found)
}

/// One model on one suite scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanResult {
    pub scan: String,
    pub condition: String,
    pub simulator: String,
    pub truth: Option<Class>,
    pub majority: Option<Class>,
    /// Fraction of pixels equal to the label (None for unpolarised scans).
    pub accuracy: Option<f64>,
    /// Fraction of pixels per class, in class order.
    pub distribution: [f64; Class::COUNT],
    pub mean_confidence: Option<f64>,
}

impl ScanResult {
    pub fn majority_right(&self) -> Option<bool> {
        self.truth.map(|t| self.majority == Some(t))
    }
}

/// Runs `model` over one scan through [`Session`]; the scan's labels, if any, must match its
/// `transfer.class`.
pub fn evaluate_scan(
    model: &dyn Classifier,
    scan: &Found,
    progress: &Progress,
) -> Result<ScanResult> {
    let session = Session::open(&scan.path, &Default::default(), progress)?;
    let evaluation = session.evaluate(model, progress, |_, _| {})?;
    let truth_map = evaluation.truth.as_ref();
    let truth = truth_map.and_then(|t| ClassMap::new(t.clone()).stats(None).majority);
    if truth != scan.class {
        return Err(Error::format(
            &scan.path,
            format!(
                "labels say {:?} but transfer.class says {:?}",
                truth.map(|c| c.name()),
                scan.class.map(|c| c.name())
            ),
        ));
    }
    let stats = evaluation.class_map().stats(None);
    Ok(ScanResult {
        scan: scan.name.clone(),
        condition: scan.condition.clone(),
        simulator: scan.simulator.clone(),
        truth,
        majority: stats.direction(),
        accuracy: truth_map.and_then(|t| agreement(t, &evaluation.predictions.classes)),
        distribution: stats.fractions(),
        mean_confidence: stats.mean_confidence,
    })
}

/// One model over the whole suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelResults {
    pub model: String,
    pub model_file: String,
    pub scans: Vec<ScanResult>,
    pub seconds: f64,
}

/// Per condition: scans, majority right, pixel accuracy mean and standard deviation over its
/// labelled scans.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionRow {
    pub simulator: String,
    pub condition: String,
    pub changed: String,
    pub scans: usize,
    pub labelled: usize,
    pub majority_right: usize,
    pub accuracy_mean: Option<f64>,
    pub accuracy_std: Option<f64>,
    pub accuracy_min: Option<f64>,
}

/// Groups `results` by (simulator, condition) in the order of `found`.
pub fn condition_rows(results: &ModelResults, found: &[Found]) -> Vec<ConditionRow> {
    let mut rows: Vec<ConditionRow> = Vec::new();
    for f in found {
        if rows
            .iter()
            .any(|r| r.simulator == f.simulator && r.condition == f.condition)
        {
            continue;
        }
        let of: Vec<&ScanResult> = results
            .scans
            .iter()
            .filter(|s| s.simulator == f.simulator && s.condition == f.condition)
            .collect();
        let acc: Vec<f64> = of.iter().filter_map(|s| s.accuracy).collect();
        let n = acc.len() as f64;
        let mean = (!acc.is_empty()).then(|| acc.iter().sum::<f64>() / n);
        let std = mean.map(|m| (acc.iter().map(|a| (a - m).powi(2)).sum::<f64>() / n).sqrt());
        rows.push(ConditionRow {
            simulator: f.simulator.clone(),
            condition: f.condition.clone(),
            changed: f.changed.clone(),
            scans: of.len(),
            labelled: acc.len(),
            majority_right: of
                .iter()
                .filter(|s| s.majority_right() == Some(true))
                .count(),
            accuracy_mean: mean,
            accuracy_std: std,
            accuracy_min: acc.iter().copied().reduce(f64::min),
        });
    }
    rows
}

fn pct(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{:.1}", 100.0 * v))
}

fn top_classes(d: &[f64; Class::COUNT], n: usize) -> String {
    let mut order: Vec<usize> = (0..Class::COUNT).collect();
    order.sort_by(|&a, &b| d[b].total_cmp(&d[a]));
    order
        .iter()
        .take(n)
        .filter(|&&k| d[k] > 0.0)
        .map(|&k| format!("{} {:.0} %", Class::ALL[k], 100.0 * d[k]))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The Markdown report of one model: the per-condition table, the unpolarised scans, and the
/// per-scan table.
pub fn markdown(results: &ModelResults, found: &[Found]) -> String {
    let mut md = format!(
        "### {} (`{}`)\n\n| simulator | condition | what changed | majority right | pixel accuracy % (mean ± std over scans) | lowest % |\n|---|---|---|---|---|---|\n",
        results.model, results.model_file
    );
    for r in condition_rows(results, found) {
        if r.labelled == 0 {
            continue;
        }
        md.push_str(&format!(
            "| {} | {} | {} | {}/{} | {} ± {} | {} |\n",
            r.simulator,
            r.condition,
            r.changed,
            r.majority_right,
            r.labelled,
            pct(r.accuracy_mean),
            pct(r.accuracy_std),
            pct(r.accuracy_min)
        ));
    }
    let unpolarised: Vec<&ScanResult> =
        results.scans.iter().filter(|s| s.truth.is_none()).collect();
    if !unpolarised.is_empty() {
        md.push_str(
            "\nUnpolarised scans (no Nb displacement: no class is right), what the model claims:\n\n| scan | majority | largest classes | mean confidence |\n|---|---|---|---|\n",
        );
        for s in unpolarised {
            md.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                s.scan,
                s.majority.map_or("—", |c| c.name()),
                top_classes(&s.distribution, 3),
                s.mean_confidence.map_or("—".into(), |c| format!("{c:.2}"))
            ));
        }
    }
    md
}

/// Per-scan CSV of every model.
pub fn csv(all: &[ModelResults]) -> String {
    let mut out = String::from(
        "model,scan,simulator,condition,truth,majority,majority_right,accuracy,mean_confidence",
    );
    for c in Class::ALL {
        out.push_str(&format!(",frac_{c}"));
    }
    out.push('\n');
    for m in all {
        for s in &m.scans {
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{}",
                m.model,
                s.scan,
                s.simulator,
                s.condition,
                s.truth.map_or("", |c| c.name()),
                s.majority.map_or("", |c| c.name()),
                s.majority_right().map_or(String::new(), |b| b.to_string()),
                s.accuracy.map_or(String::new(), |a| format!("{a:.4}")),
                s.mean_confidence
                    .map_or(String::new(), |c| format!("{c:.4}")),
            ));
            for f in s.distribution {
                out.push_str(&format!(",{f:.4}"));
            }
            out.push('\n');
        }
    }
    out
}

/// Writes `transfer.md`, `transfer.csv` (per scan) and `transfer.json` (everything) into `out`.
pub fn write_report(all: &[ModelResults], found: &[Found], out: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let md: String = all
        .iter()
        .map(|m| markdown(m, found) + "\n")
        .collect::<String>();
    let files = [
        out.join("transfer.md"),
        out.join("transfer.csv"),
        out.join("transfer.json"),
    ];
    write_atomic(&files[0], md.as_bytes())?;
    write_atomic(&files[1], csv(all).as_bytes())?;
    let conditions: Vec<serde_json::Value> = all
        .iter()
        .map(|m| json!({"model": m.model, "conditions": condition_rows(m, found)}))
        .collect();
    write_json(
        &files[2],
        &json!({"class_order": Class::ALL, "models": all, "conditions": conditions}),
    )?;
    Ok(files.to_vec())
}

/// Runs every model file over every scan of the suite in `dir`; `log` gets a line per model.
pub fn run(
    models: &[PathBuf],
    dir: &Path,
    device: polarmap_core::models::DeviceChoice,
    progress: &Progress,
    log: &mut dyn FnMut(String),
) -> Result<(Vec<ModelResults>, Vec<Found>)> {
    let found = find(dir)?;
    let mut all = Vec::with_capacity(models.len());
    for file in models {
        let started = std::time::Instant::now();
        let model = polarmap_core::models::load(file, device)?;
        let scans = found
            .iter()
            .map(|f| evaluate_scan(model.as_ref(), f, progress))
            .collect::<Result<Vec<_>>>()?;
        let seconds = started.elapsed().as_secs_f64();
        log(format!(
            "{}: {} scans in {seconds:.1} s",
            model.display_name(),
            scans.len()
        ));
        all.push(ModelResults {
            model: model.display_name(),
            model_file: file.display().to_string(),
            scans,
            seconds,
        });
    }
    Ok((all, found))
}
