//! A simulation job — specimen, optics, scan and acquisition — its presets (the paper's training
//! and test sets, the defect set, a quick size for tests), and running it to files: `.npy` plus
//! `.meta.json` (calibration and ground truth), or a folder of one TIFF per probe position (the
//! paper's layout). Output streams row by row; the 4D array is never held in memory.

use super::acquisition::Acquisition;
use super::crystal::{class_displacement, OSite, Perovskite, Vacancy};
use super::{Engine, ScanSpec, SimParams, Simulation};
use polarmap_io::classes::Class;
use polarmap_io::error::{Error, Result};
use polarmap_io::progress::Progress;
use polarmap_io::scan::{npy, Calibration, DType, Sidecar};
use polarmap_io::write::check_writable;
use rayon::prelude::*;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One labelled scan to simulate.
#[derive(Debug, Clone)]
pub struct Job {
    /// File stem of the output (e.g. `train-RM`, `1S-LU-6x6-20nm`).
    pub name: String,
    pub class: Option<Class>,
    /// Nb displacement magnitude, Å.
    pub nb_shift_a: f64,
    pub crystal: Perovskite,
    pub params: SimParams,
    pub scan: ScanSpec,
    /// Unit cells the scan covers, along x and y.
    pub scan_cells: [usize; 2],
    pub acquisition: Acquisition,
    /// Store patterns as counts in uint16 (needs a dose) instead of float32 intensities.
    pub counts_u16: bool,
}

/// KNN cells along the beam for a thickness: 20 nm → 50 cells (19.75 nm), 50 nm → 125.
pub fn cells_for_thickness_nm(nm: f64) -> usize {
    (nm * 10.0 / super::crystal::KNN_A).round().max(1.0) as usize
}

impl Job {
    /// A KNN scan of `class` with `cells` = [nx, ny, nz], a `scan` grid over `scan_cells`.
    pub fn knn(
        name: &str,
        class: Option<Class>,
        cells: [usize; 3],
        scan: [usize; 2],
        scan_cells: [usize; 2],
    ) -> Job {
        let nb_shift_a = 0.15;
        let mut crystal = Perovskite {
            cells,
            ..Perovskite::default()
        };
        if let Some(class) = class {
            crystal.b_shift = class_displacement(class, nb_shift_a);
        }
        Job {
            name: name.to_string(),
            class,
            nb_shift_a,
            scan: ScanSpec::over_cells(scan[0], scan[1], scan_cells, crystal.a),
            scan_cells,
            crystal,
            // PRISM without interpolation equals plain multislice (to 1e-6, tests/prism.rs) and is
            // an order of magnitude faster on these jobs.
            params: SimParams {
                engine: Engine::Prism { interpolation: 1 },
                ..SimParams::default()
            },
            acquisition: Acquisition::default(),
            counts_u16: false,
        }
    }

    /// Sets the Nb displacement magnitude along the job's class direction.
    pub fn with_nb_shift(mut self, magnitude_a: f64) -> Job {
        self.nb_shift_a = magnitude_a;
        if let Some(class) = self.class {
            self.crystal.b_shift = class_displacement(class, magnitude_a);
        }
        self
    }

    /// The removed O's position in scan coordinates (row, col), folded into the scanned area by
    /// the supercell's periodicity; None without a vacancy.
    pub fn defect_scan_position(&self) -> Option<[f64; 2]> {
        let v = self.crystal.vacancy?;
        let [x, y, _] = v.position(self.crystal.a);
        let (wx, wy) = (
            self.crystal.cells[0] as f64 * self.crystal.a,
            self.crystal.cells[1] as f64 * self.crystal.a,
        );
        let col = (x - self.scan.origin[0]).rem_euclid(wx) / self.scan.step[0];
        let row = (self.scan.origin[1] - y).rem_euclid(wy) / self.scan.step[1];
        Some([row, col])
    }

    fn frame_shape(&self) -> [usize; 2] {
        let n = self.params.detector.pixels;
        [n, n]
    }

    /// The sidecar: calibration, labels and the simulation's ground truth.
    pub fn sidecar(&self, slices: usize, thickness_a: f64) -> Sidecar {
        let mut sidecar = Sidecar {
            calibration: Calibration {
                energy_kv: Some(self.params.probe.energy_kev),
                convergence_mrad: Some(self.params.probe.convergence_mrad),
                mrad_per_px: Some(self.params.detector.mrad_per_px()),
                scan_step_a: Some(self.scan.step[0]),
                ..Default::default()
            },
            scan_shape: Some([self.scan.rows, self.scan.cols]),
            labels_text: self.class.map(|c| c.name().to_string()),
            ..Default::default()
        };
        let c = &self.crystal;
        sidecar.extra.insert(
            "simulation".into(),
            json!({
                "simulator": "polarmap multislice",
                "class": self.class.map(|c| c.name()),
                "displacement_a": c.b_shift,
                "nb_shift_a": self.nb_shift_a,
                "o_shift_a": c.o_shift,
                "lattice_a": c.a,
                "supercell": c.cells,
                "a_site": c.a_site,
                "thickness_a": thickness_a,
                "slices": slices,
                "scan_cells": self.scan_cells,
                "scan_step_a": self.scan.step,
                "scan_origin_a": self.scan.origin,
                "sampling_a": self.params.sampling_a,
                "engine": format!("{:?}", self.params.engine),
                "defocus_a": self.params.probe.defocus_a,
                "convergence_mrad": self.params.probe.convergence_mrad,
                "tilt_mrad": self.params.tilt_mrad,
                "cs_a": self.params.probe.cs_a,
                "detector_pixels": self.params.detector.pixels,
                "detector_max_mrad": self.params.detector.max_mrad,
                "frozen_phonons": self.params.phonons.as_ref().map(|p| p.configurations),
                "phonon_sigma_a": self.params.phonons.as_ref().map(|p| p.sigma_a),
                "acquisition": self.acquisition,
                "seed": c.seed,
                "defect": c.vacancy.map(|v| json!({
                    "kind": "oxygen vacancy",
                    "cell": v.cell,
                    "site": v.site,
                    "position_a": v.position(c.a),
                    "relaxation_a": v.relax,
                    "scan_position": self.defect_scan_position(),
                })),
            }),
        );
        sidecar
    }

    /// Simulates the job into `path` (`.npy`) and its sidecar `NAME.meta.json`. Refuses to
    /// overwrite either unless `overwrite`.
    pub fn run_to_npy(&self, path: &Path, overwrite: bool, progress: &Progress) -> Result<()> {
        let meta = path.with_extension("meta.json");
        check_writable(path, overwrite)?;
        check_writable(&meta, overwrite)?;
        self.validate()?;
        let sim = Simulation::new(&self.crystal.build()?, &self.params, progress)?;
        let dtype = if self.counts_u16 {
            DType::U16
        } else {
            DType::F32
        };
        let [n, _] = self.frame_shape();
        let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        out.write_all(&npy::header_bytes(
            dtype,
            &[self.scan.rows, self.scan.cols, n, n],
        ))
        .map_err(|e| Error::io(path, e))?;
        self.stream(&sim, progress, |_, row| {
            let bytes: Vec<u8> = if self.counts_u16 {
                row.iter()
                    .flat_map(|&v| (v.round().clamp(0.0, 65535.0) as u16).to_le_bytes())
                    .collect()
            } else {
                row.iter().flat_map(|v| v.to_le_bytes()).collect()
            };
            out.write_all(&bytes).map_err(|e| Error::io(path, e))
        })?;
        out.flush().map_err(|e| Error::io(path, e))?;
        self.sidecar(sim.slices, sim.thickness_a).write(&meta)
    }

    /// Writes the job into `path` (`.npy`, float32) and its sidecar from the ideal patterns of a
    /// job that differs from this one only in its acquisition and was simulated without any
    /// (`ideal`, as [`Job::run_to_npy`] wrote it): the acquisition effects are applied to those
    /// patterns exactly as a simulation applies them, so the result equals simulating this job,
    /// at the cost of reading a file.
    pub fn acquire_from(&self, ideal: &Path, path: &Path, overwrite: bool) -> Result<()> {
        let meta = path.with_extension("meta.json");
        check_writable(path, overwrite)?;
        check_writable(&meta, overwrite)?;
        self.validate()?;
        if self.counts_u16 {
            return Err(Error::invalid(
                "acquire_from writes float32 intensities only",
            ));
        }
        let source = polarmap_io::scan::open(ideal)?;
        let shape = self.frame_shape();
        if source.scan_shape() != [self.scan.rows, self.scan.cols] || source.frame_shape() != shape
        {
            return Err(Error::format(
                ideal,
                format!(
                    "holds {:?} patterns of {:?} pixels, the job wants {:?} of {:?}",
                    source.scan_shape(),
                    source.frame_shape(),
                    [self.scan.rows, self.scan.cols],
                    shape
                ),
            ));
        }
        let sidecar = polarmap_io::scan::Sidecar::find_for(ideal)?
            .ok_or_else(|| Error::format(ideal, "has no sidecar (NAME.meta.json)"))?;
        let sim = &sidecar.extra.get("simulation").cloned().unwrap_or_default();
        let (slices, thickness) = match (sim["slices"].as_u64(), sim["thickness_a"].as_f64()) {
            (Some(s), Some(t)) => (s as usize, t),
            _ => {
                return Err(Error::format(
                    ideal,
                    "sidecar lacks simulation.slices / simulation.thickness_a",
                ))
            }
        };
        let recorded: Option<Acquisition> = serde_json::from_value(sim["acquisition"].clone()).ok();
        let ideal_acquisition = |a: Acquisition| {
            a == Acquisition {
                seed: a.seed,
                ..Acquisition::default()
            }
        };
        if !recorded.is_some_and(ideal_acquisition) {
            return Err(Error::format(
                ideal,
                "is not ideal: its patterns already carry acquisition effects",
            ));
        }
        let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        out.write_all(&npy::header_bytes(
            DType::F32,
            &[self.scan.rows, self.scan.cols, shape[0], shape[1]],
        ))
        .map_err(|e| Error::io(path, e))?;
        for r in 0..self.scan.rows {
            let row: Vec<Vec<f32>> = (0..self.scan.cols)
                .into_par_iter()
                .map(|c| {
                    let mut p = source.frame_f32(r, c)?;
                    self.acquisition.apply(&mut p, shape, r, c);
                    Ok(p)
                })
                .collect::<Result<_>>()?;
            let bytes: Vec<u8> = row.iter().flatten().flat_map(|v| v.to_le_bytes()).collect();
            out.write_all(&bytes).map_err(|e| Error::io(path, e))?;
        }
        out.flush().map_err(|e| Error::io(path, e))?;
        self.sidecar(slices, thickness).write(&meta)
    }

    /// Simulates the job into a folder of one TIFF per probe position (`NAME_00000.tif`, …,
    /// row-major: the paper's layout) with `dir.meta.json` beside the folder.
    pub fn run_to_tiff_folder(
        &self,
        dir: &Path,
        overwrite: bool,
        progress: &Progress,
    ) -> Result<()> {
        let meta = dir.with_extension("meta.json");
        check_writable(dir, overwrite)?;
        check_writable(&meta, overwrite)?;
        self.validate()?;
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let sim = Simulation::new(&self.crystal.build()?, &self.params, progress)?;
        let shape = self.frame_shape();
        let cols = self.scan.cols;
        let digits = (self.scan.len() - 1).to_string().len().max(5);
        self.stream(&sim, progress, |r, row| {
            for (c, pattern) in row.chunks(shape[0] * shape[1]).enumerate() {
                let file = dir.join(format!("{}_{:0digits$}.tif", self.name, r * cols + c));
                if self.counts_u16 {
                    let counts: Vec<u16> = pattern
                        .iter()
                        .map(|&v| v.round().clamp(0.0, 65535.0) as u16)
                        .collect();
                    polarmap_io::scan::tiff::write_frame_tiff(&file, &counts, shape)?;
                } else {
                    polarmap_io::scan::tiff::write_frame_tiff(&file, pattern, shape)?;
                }
            }
            Ok(())
        })?;
        self.sidecar(sim.slices, sim.thickness_a).write(&meta)
    }

    fn validate(&self) -> Result<()> {
        self.acquisition.validate()?;
        if self.counts_u16 && self.acquisition.dose_per_pattern.is_none() {
            return Err(Error::invalid(
                "uint16 counts need a dose (electrons per pattern)",
            ));
        }
        Ok(())
    }

    /// Runs the simulation row by row, applies the acquisition effects in parallel, and hands
    /// each finished row of patterns to `sink`.
    fn stream(
        &self,
        sim: &Simulation,
        progress: &Progress,
        mut sink: impl FnMut(usize, &[f32]) -> Result<()>,
    ) -> Result<()> {
        let shape = self.frame_shape();
        let len = shape[0] * shape[1];
        let mut buffer = Vec::new();
        sim.run_rows(&self.scan, progress, |r, row| {
            buffer.clear();
            buffer.extend_from_slice(row);
            buffer
                .par_chunks_mut(len)
                .enumerate()
                .for_each(|(c, pattern)| self.acquisition.apply(pattern, shape, r, c));
            sink(r, &buffer)
        })
    }
}

/// Names of the presets.
pub const PRESETS: [&str; 16] = [
    "quick",
    "paper-train",
    "wide-train",
    "seeds-train",
    "dr-train",
    "dr-fast",
    "dr-aligned",
    "dr-single",
    "dr-optics",
    "dr-optics-edges",
    "dr-thick",
    "dr-narrow",
    "dr-unpolarised",
    "paper-tests",
    "paper-defect",
    "demo",
];

/// The models' 64-px window over ±15 mrad: the detector of the training presets.
const MODELS_WINDOW: super::detector::DetectorSpec = super::detector::DetectorSpec {
    pixels: 64,
    max_mrad: 15.0,
};

/// The A-site seeds of the `seeds-train` crystals (the other presets use 0, the held-out sets of
/// `bench/make_test_sets.sh` 7).
const SEEDS_TRAIN_CRYSTALS: [u64; 4] = [11, 12, 13, 14];

/// Scans per class of `dr-train`; scan k of class c has seed `DR_TRAIN_FIRST_SEED + 8k + c`
/// (disjoint from every other preset's and from the transfer suite's seeds, 201–299).
pub const DR_TRAIN_PER_CLASS: u64 = 6;
pub const DR_TRAIN_FIRST_SEED: u64 = 1001;
/// `dr-fast`'s seeds, as `dr-train`'s from here (1101–1148; with more draws per class,
/// 1101 + 8k + c for every k).
pub const DR_FAST_FIRST_SEED: u64 = 1101;
/// The most draws per class `dr-train` takes: beyond 12 its seeds would reach `dr-fast`'s.
pub const DR_TRAIN_MAX_PER_CLASS: u64 = (DR_FAST_FIRST_SEED - DR_TRAIN_FIRST_SEED) / 8;
/// `dr-aligned`'s first seed, above every seed `dr-fast` can take (at most
/// [`DR_MAX_PER_CLASS`] draws per class).
pub const DR_ALIGNED_FIRST_SEED: u64 = 100_001;
/// `dr-single`'s first seed, above every seed `dr-aligned` can take.
pub const DR_SINGLE_FIRST_SEED: u64 = 200_001;
/// `dr-optics`' first seed, above every seed `dr-single` can take.
pub const DR_OPTICS_FIRST_SEED: u64 = 300_001;
/// `dr-optics-edges`' first seed, above every seed `dr-optics` can take.
pub const DR_OPTICS_EDGES_FIRST_SEED: u64 = 400_001;
/// `dr-thick`'s first seed, above every seed `dr-optics-edges` can take.
pub const DR_THICK_FIRST_SEED: u64 = 500_001;
/// `dr-narrow`'s first seed, above every seed `dr-thick` can take.
pub const DR_NARROW_FIRST_SEED: u64 = 600_001;
/// `dr-unpolarised`'s first seed, above every seed `dr-narrow` can take.
pub const DR_UNPOLARISED_FIRST_SEED: u64 = 700_001;
/// The kinds `dr-optics` cycles through ([`crate::nuisance::SINGLE`]'s thickness, defocus and
/// tilt): the optics that break every model on the transfer suite.
pub const DR_OPTICS_KINDS: [usize; 3] = [4, 6, 9];
/// The most draws per class `dr-fast`, `dr-aligned`, `dr-single`, `dr-optics`, `dr-thick` and `dr-narrow` take (a bound that keeps a typo from
/// queueing a year of simulation and the presets' seeds apart).
pub const DR_MAX_PER_CLASS: u64 = 10_000;

/// What a preset may be asked to change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PresetOptions {
    /// Probe positions (rows × cols) over each scan's area instead of the preset's own.
    pub positions: Option<[usize; 2]>,
    /// Scans (independent nuisance draws) per class of the domain-randomised presets instead of
    /// [`DR_TRAIN_PER_CLASS`]: variety comes from draws, not from positions within one draw.
    pub draws_per_class: Option<u64>,
}

/// The jobs of a preset.
///
/// - `quick`: one small RD scan (2×2×10 cells, 16×16 positions, 64-px detector) for tests.
/// - `paper-train`: the 8 classes, 2×2×50 cells (20 nm), 128×128 positions over the 2×2 cells,
///   256×256 detector.
/// - `wide-train`: the shipped models' training set. The 8 classes at 4×4 cells and three
///   thicknesses (20, 35 and 65 nm: a model trained at 20 nm alone fails at 50 nm), 64×64
///   positions over 2×2 cells, 64-px detector over ±15 mrad (the models' window). A 2×2-cell
///   window is only 7.9 Å wide: the probe's tails wrap around it and its reciprocal lattice is
///   3.2 mrad coarse, so its patterns differ from a wide specimen's (NCC 0.95 against 6×6 cells,
///   where 4×4 gives 0.99) and models trained on them transfer badly to wider cells.
/// - `seeds-train`: the networks' training set. The 8 classes at 4×4×50 cells (20 nm), each in
///   four crystals with other random K/Na arrangements (A-site seeds 11–14), 32×32 positions
///   over 2×2 cells, the 64-px ±15 mrad window: as many patterns as one 64×64 scan, from four
///   crystals. Trained on one crystal per class, the networks learn that crystal's A-site
///   pattern and fail on other specimens.
/// - `dr-train`: domain randomisation. The 8 classes × [`DR_TRAIN_PER_CLASS`] scans, each with
///   every nuisance of [`crate::nuisance::Ranges`] drawn from its own seed (dose, descan, blur,
///   thickness 10–60 nm, 2×2–8×8 cells, K/Na arrangement, defocus, convergence, camera length,
///   sampling, phonons, tilt), 32×32 positions over 2×2 cells, a 96-px detector at the models'
///   0.469 mrad/px before the camera-length change.
/// - `dr-fast`: as `dr-train` with [`crate::nuisance::Ranges::training`] (sampling 0.04–0.06 Å,
///   2×2–4×4 cells, no phonons; every physical nuisance in full) and its own seeds.
/// - `dr-aligned`: as `dr-fast` with [`crate::nuisance::Ranges::aligned`] (tilt ≤ 2 mrad,
///   defocus ±30 Å) and seeds from [`DR_ALIGNED_FIRST_SEED`].
/// - `dr-single`: one nuisance at a time. Draw k of class c (seed [`DR_SINGLE_FIRST_SEED`] +
///   8k + c) is the transfer reference (4×4×50 cells, K/Na 50/50 arranged from its seed) with
///   only [`crate::nuisance::SINGLE`]`[k % 12]` drawn from
///   [`crate::nuisance::Ranges::training`] (k % 12 = 0: none): each nuisance's whole range
///   without the others compounding, the way the transfer suite changes them. Each draw's
///   probe grid is moved by a random fraction of a step, so that the draws together sample
///   the whole unit cell, not the few points of one grid.
/// - `dr-optics`: as `dr-single` over [`DR_OPTICS_KINDS`] only (thickness, defocus, tilt in
///   turn), seeds from [`DR_OPTICS_FIRST_SEED`]: more draws where the one-at-a-time draws were
///   too few to carry a model across the optics.
/// - `dr-optics-edges`: as `dr-optics` with each value drawn towards the ends of its range
///   ([`crate::nuisance::Ranges::training_edges`]), seeds from [`DR_OPTICS_EDGES_FIRST_SEED`].
/// - `dr-thick`: as `dr-fast` at 35–60 nm ([`crate::nuisance::Ranges::thick`]), seeds from
///   [`DR_THICK_FIRST_SEED`]: every nuisance at once on thick specimens.
/// - `dr-narrow`: as `dr-thick` in 2×2 and 3×3 cells only ([`crate::nuisance::Ranges::narrow`]),
///   seeds from [`DR_NARROW_FIRST_SEED`].
/// - `dr-unpolarised`: as `dr-fast` with no Nb displacement (8 draws per "class", named
///   `dru-none-sSEED`), seeds from [`DR_UNPOLARISED_FIRST_SEED`]: unpolarised specimens under
///   every nuisance, to judge the undetermined outcome on scans outside the transfer suite.
/// - `paper-tests`: 1S–7S of PAPER-NOTES.md (class, lateral cells, thickness), 128×128 positions
///   over 2×2 cells.
/// - `paper-defect`: RD, 4×4×50 cells with one oxygen vacancy (Nb relaxed 0.4/0.3/0.1 Å),
///   128×128 positions over the 4×4 cells.
/// - `demo`: the two halves of the built-in demo (RM, and RD with a vacancy); see [`write_demo`].
pub fn preset(name: &str) -> Result<Vec<Job>> {
    preset_with(name, PresetOptions::default())
}

/// [`preset`] changed by `options`: fewer positions over the same scanned area (fewer patterns
/// per scan, for a recipe on a small CPU budget), more or fewer draws per class.
pub fn preset_with(name: &str, options: PresetOptions) -> Result<Vec<Job>> {
    let mut jobs = preset_jobs(name, options)?;
    if let Some([rows, cols]) = options.positions {
        if rows == 0 || cols == 0 {
            return Err(Error::invalid(format!(
                "a scan needs at least one position, got {rows}x{cols}"
            )));
        }
        for job in &mut jobs {
            job.scan = job.scan.with_positions(rows, cols);
        }
    }
    Ok(jobs)
}

fn preset_jobs(name: &str, options: PresetOptions) -> Result<Vec<Job>> {
    let positions = options.positions;
    if options.draws_per_class.is_some() && !name.starts_with("dr-") {
        return Err(Error::invalid(format!(
            "draws per class apply to the domain-randomised presets (dr-train, dr-fast, dr-aligned, dr-single, dr-optics, dr-optics-edges, dr-thick, dr-narrow, dr-unpolarised), not to {name}"
        )));
    }
    let t20 = cells_for_thickness_nm(20.0);
    let t50 = cells_for_thickness_nm(50.0);
    Ok(match name {
        "quick" => {
            let mut job = Job::knn("quick-RD", Some(Class::RD), [2, 2, 10], [16, 16], [2, 2]);
            job.params.detector.pixels = 64;
            job.params.detector.max_mrad = 40.0;
            job.params.sampling_a = 0.1;
            vec![job]
        }
        "paper-train" => Class::ALL
            .iter()
            .map(|&c| {
                Job::knn(
                    &format!("train-{c}"),
                    Some(c),
                    [2, 2, t20],
                    [128, 128],
                    [2, 2],
                )
            })
            .collect(),
        "wide-train" => [20.0, 35.0, 65.0]
            .into_iter()
            .flat_map(|nm| Class::ALL.iter().map(move |&c| (nm, c)))
            .map(|(nm, c)| {
                let nz = cells_for_thickness_nm(nm);
                let name = format!("wide-{c}-{nm:.0}nm");
                let mut job = Job::knn(&name, Some(c), [4, 4, nz], [64, 64], [2, 2]);
                job.params.detector = MODELS_WINDOW;
                job
            })
            .collect(),
        "seeds-train" => SEEDS_TRAIN_CRYSTALS
            .into_iter()
            .flat_map(|seed| Class::ALL.iter().map(move |&c| (seed, c)))
            .map(|(seed, c)| {
                let name = format!("seeds-{c}-s{seed}");
                let mut job = Job::knn(&name, Some(c), [4, 4, t20], [32, 32], [2, 2]);
                job.params.detector = MODELS_WINDOW;
                job.crystal.seed = seed;
                job.acquisition.seed = seed;
                job
            })
            .collect(),
        "dr-train" | "dr-fast" | "dr-aligned" | "dr-single" | "dr-optics" | "dr-optics-edges"
        | "dr-thick" | "dr-narrow" | "dr-unpolarised" => {
            use crate::nuisance::{Ranges, ALL_SINGLE, SINGLE};
            // The one-at-a-time presets cycle through these kinds (indices into SINGLE).
            let (first, ranges, prefix, max, kinds): (_, _, _, _, &[usize]) = match name {
                "dr-train" => (
                    DR_TRAIN_FIRST_SEED,
                    Ranges::default(),
                    "dr",
                    DR_TRAIN_MAX_PER_CLASS,
                    &[],
                ),
                "dr-fast" => (
                    DR_FAST_FIRST_SEED,
                    Ranges::training(),
                    "drf",
                    DR_MAX_PER_CLASS,
                    &[],
                ),
                "dr-aligned" => (
                    DR_ALIGNED_FIRST_SEED,
                    Ranges::aligned(),
                    "dra",
                    DR_MAX_PER_CLASS,
                    &[],
                ),
                "dr-single" => (
                    DR_SINGLE_FIRST_SEED,
                    Ranges::training(),
                    "drs",
                    DR_MAX_PER_CLASS,
                    &ALL_SINGLE,
                ),
                "dr-thick" => (
                    DR_THICK_FIRST_SEED,
                    Ranges::thick(),
                    "drt",
                    DR_MAX_PER_CLASS,
                    &[],
                ),
                "dr-narrow" => (
                    DR_NARROW_FIRST_SEED,
                    Ranges::narrow(),
                    "drn",
                    DR_MAX_PER_CLASS,
                    &[],
                ),
                "dr-unpolarised" => (
                    DR_UNPOLARISED_FIRST_SEED,
                    Ranges::training(),
                    "dru",
                    DR_MAX_PER_CLASS,
                    &[],
                ),
                "dr-optics" => (
                    DR_OPTICS_FIRST_SEED,
                    Ranges::training(),
                    "dro",
                    DR_MAX_PER_CLASS,
                    &DR_OPTICS_KINDS,
                ),
                _ => (
                    DR_OPTICS_EDGES_FIRST_SEED,
                    Ranges::training_edges(),
                    "droe",
                    DR_MAX_PER_CLASS,
                    &DR_OPTICS_KINDS,
                ),
            };
            let per_class = options.draws_per_class.unwrap_or(DR_TRAIN_PER_CLASS);
            if per_class == 0 || per_class > max {
                return Err(Error::invalid(format!(
                    "{name} takes 1 to {max} draws per class, not {per_class}"
                )));
            }
            let unpolarised = name == "dr-unpolarised";
            (0..per_class)
                .flat_map(|k| Class::ALL.iter().map(move |&c| (k, c)))
                .map(|(k, c)| {
                    let seed = first + 8 * k + c.index() as u64;
                    let (class, c) = match unpolarised {
                        true => (None, "none".to_string()),
                        false => (Some(c), c.to_string()),
                    };
                    // The draw's descan grows across the scan: drawn for the positions made.
                    let scan = positions.unwrap_or([32, 32]);
                    let (draw, name) = if kinds.is_empty() {
                        (ranges.draw(seed, scan), format!("{prefix}-{c}-s{seed}"))
                    } else {
                        let kind = kinds[k as usize % kinds.len()];
                        (
                            ranges.draw_one(kind, seed, scan),
                            format!("{prefix}-{c}-{}-s{seed}", SINGLE[kind]),
                        )
                    };
                    let mut job = crate::nuisance::job_with(&name, class, seed, scan, &draw);
                    if !kinds.is_empty() {
                        job.scan.origin = offset_origin(&job.scan, seed);
                    }
                    job
                })
                .collect()
        }
        "paper-tests" => [
            ("1S-LU-6x6-20nm", Class::LU, 6, t20),
            ("2S-LU-6x6-50nm", Class::LU, 6, t50),
            ("3S-RM-2x2-20nm", Class::RM, 2, t20),
            ("4S-RD-6x6-50nm", Class::RD, 6, t50),
            ("5S-RU-6x6-20nm", Class::RU, 6, t20),
            ("6S-LD-4x4-20nm", Class::LD, 4, t20),
            ("7S-RD-2x2-20nm", Class::RD, 2, t20),
        ]
        .into_iter()
        .map(|(name, class, lateral, nz)| {
            Job::knn(
                name,
                Some(class),
                [lateral, lateral, nz],
                [128, 128],
                [2, 2],
            )
        })
        .collect(),
        "paper-defect" => {
            let mut job = Job::knn(
                "defect-RD",
                Some(Class::RD),
                [4, 4, t20],
                [128, 128],
                [4, 4],
            );
            job.crystal.vacancy = Some(Vacancy::new([1, 1, t20 / 2], OSite::X));
            vec![job]
        }
        "demo" => demo_jobs(),
        other => {
            return Err(Error::invalid(format!(
                "unknown preset '{other}'; presets: {}",
                PRESETS.join(", ")
            )))
        }
    })
}

/// The first probe position of a one-at-a-time draw (`dr-single`, `dr-optics`,
/// `dr-optics-edges`): the grid moved by a fraction of a step on each axis, drawn from `seed`. A few positions per draw on one fixed grid put every training
/// pattern on the same few points of the unit cell, and a network trained on them failed at
/// other points (a model fine-tuned on 5×5 positions: 100 % of the suite's reference scans at
/// 5×5, 72 % at 8×8); moving each draw's grid spreads the draws over the whole cell.
fn offset_origin(scan: &ScanSpec, seed: u64) -> [f64; 2] {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x6f66_6673_6574);
    let [fx, fy]: [f64; 2] = [rng.random(), rng.random()];
    // Rows go down (−y): a later position along a column has a smaller y.
    [
        scan.origin[0] + fx * scan.step[0],
        scan.origin[1] - fy * scan.step[1],
    ]
}

/// The demo's two domains: RM, and RD with an oxygen vacancy; 4×4×50 cells, 32×32 positions
/// over 4×4 cells, 64-px detector over ±40 mrad, 10⁵ electrons per pattern, uint16 counts.
fn demo_jobs() -> Vec<Job> {
    let t20 = cells_for_thickness_nm(20.0);
    [
        ("demo-RM", Class::RM, false),
        ("demo-RD-vacancy", Class::RD, true),
    ]
    .into_iter()
    .map(|(name, class, vacancy)| {
        let mut job = Job::knn(name, Some(class), [4, 4, t20], [32, 32], [4, 4]);
        job.params.detector.pixels = 64;
        job.params.detector.max_mrad = 40.0;
        job.params.sampling_a = 0.08;
        job.acquisition.dose_per_pattern = Some(1e5);
        job.acquisition.seed = 11;
        job.counts_u16 = true;
        if vacancy {
            job.crystal.vacancy = Some(Vacancy::new([3, 1, t20 / 2], OSite::X));
        }
        job
    })
    .collect()
}

/// Writes the built-in demo: a mosaic of two simulated domains — the left half of the scan from
/// the RM job, the right half from the RD job with its oxygen vacancy — as uint16 counts in
/// `path` (`.npy`), the per-pixel ground truth in `NAME_labels.npy` (class indices, uint8) and
/// `NAME.meta.json` saying what it is.
pub fn write_demo(path: &Path, overwrite: bool, progress: &Progress) -> Result<()> {
    let jobs = demo_jobs();
    let (meta, labels_path, stem) = mosaic_paths(path, overwrite)?;
    let sidecars = stitch_mosaic(path, &labels_path, &jobs, &[vec![0, 1]], progress)?;
    let (cols, split) = (jobs[0].scan.cols, jobs[0].scan.cols / 2);
    let mut sidecar = sidecars[1].clone();
    sidecar.labels_text = Some(format!("{stem}_labels.npy"));
    sidecar.extra.insert(
        "description".into(),
        json!(format!(
            "Mosaic of two simulated KNN scans (polarmap multislice, 20 nm, 200 kV, 24 mrad, \
             {} e- per pattern): columns 0-{} from an RM domain, columns {}-{} from an RD domain \
             with one oxygen vacancy (see simulation.right.defect.scan_position). Per-pixel labels \
             in {stem}_labels.npy (class indices).",
            jobs[0].acquisition.dose_per_pattern.unwrap_or(0.0),
            split - 1,
            split,
            cols - 1
        )),
    );
    sidecar.extra.insert(
        "simulation".into(),
        json!({"left": sidecars[0].extra["simulation"], "right": sidecars[1].extra["simulation"]}),
    );
    sidecar.write(&meta)
}

/// Writes a mosaic of simulated domains with walls at known places: the scan of `base` cut into
/// `layout.len()` × `layout[0].len()` equal tiles (scan row `r` is in tile row
/// `r · tile_rows / rows`, likewise for columns), tile `(i, j)` simulated as `base` with the
/// class `layout[i][j]`. Writes the patterns to `path` (`.npy`, as `base` stores them), the
/// per-pixel classes to `NAME_labels.npy` (uint8 class indices) and `NAME.meta.json` with the
/// layout and the walls made (`mosaic.walls`: the two classes, the scan row or column of the
/// wall — half-integers, between pixel centres — and its extent). One simulation per distinct
/// class.
pub fn write_mosaic(
    path: &Path,
    base: &Job,
    layout: &[Vec<Class>],
    overwrite: bool,
    progress: &Progress,
) -> Result<()> {
    let tile_cols = layout.first().map_or(0, Vec::len);
    if layout.is_empty() || tile_cols == 0 || layout.iter().any(|r| r.len() != tile_cols) {
        return Err(Error::invalid(
            "a mosaic layout needs at least one tile and the same number of tiles in every row",
        ));
    }
    let (rows, cols) = (base.scan.rows, base.scan.cols);
    if layout.len() > rows || tile_cols > cols {
        return Err(Error::invalid(format!(
            "a {}x{tile_cols} mosaic does not fit a {rows}x{cols} scan",
            layout.len()
        )));
    }
    let (meta, labels_path, stem) = mosaic_paths(path, overwrite)?;
    let mut classes: Vec<Class> = layout.iter().flatten().copied().collect();
    classes.sort_by_key(|c| c.index());
    classes.dedup();
    let jobs: Vec<Job> = classes
        .iter()
        .map(|&class| {
            let mut job = base.clone();
            job.name = format!("{}-{}", base.name, class.name());
            job.class = Some(class);
            job.with_nb_shift(base.nb_shift_a)
        })
        .collect();
    let tiles: Vec<Vec<usize>> = layout
        .iter()
        .map(|row| {
            row.iter()
                .map(|c| classes.iter().position(|k| k == c).unwrap_or(0))
                .collect()
        })
        .collect();
    let sidecars = stitch_mosaic(path, &labels_path, &jobs, &tiles, progress)?;
    let walls = mosaic_walls(layout, rows, cols);
    let names: Vec<Vec<&str>> = layout
        .iter()
        .map(|r| r.iter().map(|c| c.name()).collect())
        .collect();
    let mut sidecar = sidecars[0].clone();
    sidecar.labels_text = Some(format!("{stem}_labels.npy"));
    sidecar.extra.insert(
        "description".into(),
        json!(format!(
            "Mosaic of {} simulated domains (tiles, rows top to bottom: {}); per-pixel labels in \
             {stem}_labels.npy (class indices); walls made in mosaic.walls.",
            layout.len() * tile_cols,
            names
                .iter()
                .map(|r| r.join(","))
                .collect::<Vec<_>>()
                .join(" / ")
        )),
    );
    sidecar
        .extra
        .insert("mosaic".into(), json!({"layout": names, "walls": walls}));
    sidecar.extra.insert(
        "simulation".into(),
        json!(classes
            .iter()
            .zip(&sidecars)
            .map(|(c, s)| (c.name().to_string(), s.extra["simulation"].clone()))
            .collect::<serde_json::Map<_, _>>()),
    );
    sidecar.write(&meta)
}

/// First scan index of tile `t` of `tiles` over `n` pixels: the smallest `i` with
/// `i · tiles / n ≥ t`.
fn tile_start(t: usize, tiles: usize, n: usize) -> usize {
    (t * n).div_ceil(tiles)
}

/// The walls a mosaic layout makes: between horizontally and vertically adjacent tiles of
/// different classes, each with its classes, orientation, position (half-integer scan
/// coordinate between the two tiles' pixels) and extent along it.
fn mosaic_walls(layout: &[Vec<Class>], rows: usize, cols: usize) -> Vec<serde_json::Value> {
    let (tr, tc) = (layout.len(), layout[0].len());
    let mut walls = Vec::new();
    for i in 0..tr {
        let (r0, r1) = (tile_start(i, tr, rows), tile_start(i + 1, tr, rows));
        for j in 0..tc {
            let (c0, c1) = (tile_start(j, tc, cols), tile_start(j + 1, tc, cols));
            let here = layout[i][j];
            if j + 1 < tc && layout[i][j + 1] != here {
                walls.push(json!({
                    "classes": [here.name(), layout[i][j + 1].name()],
                    "orientation": "vertical",
                    "col": c1 as f64 - 0.5,
                    "rows": [r0, r1 - 1],
                }));
            }
            if i + 1 < tr && layout[i + 1][j] != here {
                walls.push(json!({
                    "classes": [here.name(), layout[i + 1][j].name()],
                    "orientation": "horizontal",
                    "row": r1 as f64 - 0.5,
                    "cols": [c0, c1 - 1],
                }));
            }
        }
    }
    walls
}

/// The sidecar and labels paths of a mosaic written to `path` (checked writable) and its stem.
fn mosaic_paths(path: &Path, overwrite: bool) -> Result<(PathBuf, PathBuf, String)> {
    let meta = path.with_extension("meta.json");
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("mosaic")
        .to_string();
    let labels_path = path.with_file_name(format!("{stem}_labels.npy"));
    for p in [path, &meta, &labels_path] {
        check_writable(p, overwrite)?;
    }
    Ok((meta, labels_path, stem))
}

/// Simulates every job (same scan grid and detector) and writes the mosaic: tile `(i, j)` of
/// `tiles` (equal tiles, see [`write_mosaic`]) from `jobs[tiles[i][j]]`, patterns to `path`
/// (uint16 counts when the jobs store counts, else float32), class indices to `labels_path`.
/// Returns each job's sidecar. Each job's scan is held in memory while the next is simulated.
fn stitch_mosaic(
    path: &Path,
    labels_path: &Path,
    jobs: &[Job],
    tiles: &[Vec<usize>],
    progress: &Progress,
) -> Result<Vec<Sidecar>> {
    let (rows, cols) = (jobs[0].scan.rows, jobs[0].scan.cols);
    let [n, _] = jobs[0].frame_shape();
    if jobs
        .iter()
        .any(|j| (j.scan.rows, j.scan.cols, j.frame_shape()) != (rows, cols, [n, n]))
    {
        return Err(Error::invalid(
            "the tiles of a mosaic need one scan grid and detector",
        ));
    }
    let mut scans = Vec::new();
    let mut sidecars = Vec::new();
    for job in jobs {
        job.validate()?;
        let sim = Simulation::new(&job.crystal.build()?, &job.params, progress)?;
        let mut data = Vec::with_capacity(rows * cols * n * n);
        job.stream(&sim, progress, |_, row| {
            data.extend_from_slice(row);
            Ok(())
        })?;
        scans.push(data);
        sidecars.push(job.sidecar(sim.slices, sim.thickness_a));
    }
    let counts = jobs[0].counts_u16;
    let dtype = if counts { DType::U16 } else { DType::F32 };
    let (tr, tc) = (tiles.len(), tiles[0].len());
    let mut bytes = npy::header_bytes(dtype, &[rows, cols, n, n]);
    let mut labels = npy::header_bytes(DType::U8, &[rows, cols]);
    for r in 0..rows {
        for c in 0..cols {
            let k = tiles[r * tr / rows][c * tc / cols];
            let start = (r * cols + c) * n * n;
            for &v in &scans[k][start..start + n * n] {
                if counts {
                    bytes.extend((v.round().clamp(0.0, 65535.0) as u16).to_le_bytes());
                } else {
                    bytes.extend(v.to_le_bytes());
                }
            }
            labels.push(jobs[k].class.map_or(0, |k| k.index() as u8));
        }
    }
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))?;
    std::fs::write(labels_path, labels).map_err(|e| Error::io(labels_path, e))?;
    Ok(sidecars)
}

/// What a preset run does with a scan whose output is already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Existing {
    /// Stop with an error naming the file (nothing is lost without asking).
    #[default]
    Refuse,
    /// Simulate it again and replace it.
    Overwrite,
    /// Keep it and go on with the next scan: an interrupted or extended run (more
    /// `--draws-per-class`, whose first draws are the same) resumes. A scan counts as there
    /// only when its sidecar is, which is written after the data; data without a sidecar is an
    /// interrupted write and is made again.
    Keep,
}

impl Existing {
    /// The choice of `--overwrite` and `--resume` (`resume` without `overwrite`).
    pub fn from_flags(overwrite: bool, resume: bool) -> Existing {
        match (overwrite, resume) {
            (true, _) => Existing::Overwrite,
            (false, true) => Existing::Keep,
            (false, false) => Existing::Refuse,
        }
    }

    /// For an output `data` whose sidecar (`.meta.json`) is written after it: `None` to keep
    /// what is there, else whether writing it may replace existing files.
    fn plan(self, data: &Path) -> Option<bool> {
        let sidecar = data.with_extension("meta.json");
        match self {
            Existing::Refuse => Some(false),
            Existing::Overwrite => Some(true),
            Existing::Keep if data.exists() && sidecar.exists() => None,
            Existing::Keep => Some(!sidecar.exists()),
        }
    }
}

/// Runs the preset `name` into `dir` (created when missing): one `.npy` (or, with `tiff`, one
/// TIFF folder) per job, named by [`job_path`]; the `demo` preset writes its mosaic as
/// `dir/demo.npy` ([`write_demo`]). `on_job(k, n, name, path)` is called before each scan is
/// simulated (also for a scan kept under [`Existing::Keep`]). Returns the paths of every job,
/// in job order.
pub fn run_preset(
    name: &str,
    options: PresetOptions,
    dir: &Path,
    tiff: bool,
    existing: Existing,
    progress: &Progress,
    mut on_job: impl FnMut(usize, usize, &str, &Path),
) -> Result<Vec<PathBuf>> {
    let jobs = preset_with(name, options)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    if name == "demo" {
        let path = dir.join("demo.npy");
        on_job(0, 1, "demo mosaic", &path);
        if let Some(overwrite) = existing.plan(&path) {
            write_demo(&path, overwrite, progress)?;
        }
        return Ok(vec![path]);
    }
    let mut written = Vec::with_capacity(jobs.len());
    for (k, job) in jobs.iter().enumerate() {
        let path = job_path(dir, job, tiff);
        on_job(k, jobs.len(), &job.name, &path);
        let Some(overwrite) = existing.plan(&path) else {
            written.push(path);
            continue;
        };
        if tiff {
            job.run_to_tiff_folder(&path, overwrite, progress)?;
        } else {
            job.run_to_npy(&path, overwrite, progress)?;
        }
        written.push(path);
    }
    Ok(written)
}

/// Output path of a job inside `dir`.
pub fn job_path(dir: &Path, job: &Job, tiff: bool) -> PathBuf {
    if tiff {
        dir.join(&job.name)
    } else {
        dir.join(format!("{}.npy", job.name))
    }
}
