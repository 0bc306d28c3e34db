//! Multislice 4D-STEM simulator (core): crystal builder, Kirkland projected potentials, probe,
//! plain multislice and a detector, run in parallel over probe positions.
//!
//! ```no_run
//! use polarmap_sim::{crystal::KNN_A, simulate_scan, Perovskite, ScanSpec, SimParams};
//! use polarmap_io::{classes::Class, Progress};
//! // KNN, Nb displaced 0.15 Å for class RD, 2×2 cells wide, 50 cells (19.75 nm) thick.
//! let crystal = Perovskite::knn(Some(Class::RD), 0.15, [2, 2, 50]).build()?;
//! let scan = ScanSpec::over_cells(32, 32, [2, 2], KNN_A);
//! let out = simulate_scan(&crystal, &SimParams::default(), &scan, &Progress::new())?;
//! assert_eq!(out.data.shape(), &[32, 32, 256, 256]);
//! # Ok::<(), polarmap_io::Error>(())
//! ```
//!
//! Conventions (DESIGN.md): output `[scan_row, scan_col, det_row, det_col]`; image x right, y up
//! on the scan and on the detector; scan row i, column j sits at (x0 + j·step_x, y0 − i·step_y).

pub mod acquisition;
pub mod crystal;
pub mod detector;
pub mod grid;
pub mod job;
pub mod multislice;
pub mod nuisance;
pub mod potential;
pub mod prism;
pub mod probe;

use std::sync::Arc;

use ndarray::Array4;
use rayon::prelude::*;

pub use acquisition::Acquisition;
pub use crystal::{
    class_direction, class_displacement, directions_110, ASite, Atom, Crystal, OSite, Perovskite,
    Vacancy,
};
pub use detector::{Detector, DetectorSpec};
pub use grid::Grid;
pub use job::{preset, Job, PRESETS};
pub use multislice::{Multislice, Specimen};
pub use potential::Kirkland;
pub use prism::{Engine, Prism};
pub use probe::{interaction_constant, wavelength_a, ProbeParams};

use polarmap_io::{Error, Progress, Result};

/// Probe positions: `rows × cols`, row i / column j at (x0 + j·step_x, y0 − i·step_y), Å.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScanSpec {
    pub rows: usize,
    pub cols: usize,
    /// Position of scan pixel (0, 0): (x, y), Å.
    pub origin: [f64; 2],
    /// (step_x, step_y), Å; rows go down (−y).
    pub step: [f64; 2],
}

impl ScanSpec {
    /// `rows × cols` positions spread evenly over `cells = [along x, along y]` unit cells of
    /// `a` Å, starting at the A-site column at the origin (endpoint excluded, so a periodic
    /// supercell is sampled uniformly).
    pub fn over_cells(rows: usize, cols: usize, cells: [usize; 2], a: f64) -> ScanSpec {
        ScanSpec {
            rows,
            cols,
            origin: [0.0, 0.0],
            step: [
                cells[0] as f64 * a / cols.max(1) as f64,
                cells[1] as f64 * a / rows.max(1) as f64,
            ],
        }
    }

    /// The same area scanned with `rows × cols` positions (a coarser or finer step).
    pub fn with_positions(&self, rows: usize, cols: usize) -> ScanSpec {
        ScanSpec {
            rows,
            cols,
            origin: self.origin,
            step: [
                self.step[0] * self.cols as f64 / cols.max(1) as f64,
                self.step[1] * self.rows as f64 / rows.max(1) as f64,
            ],
        }
    }

    pub fn position(&self, row: usize, col: usize) -> (f64, f64) {
        (
            self.origin[0] + col as f64 * self.step[0],
            self.origin[1] - row as f64 * self.step[1],
        )
    }

    pub fn len(&self) -> usize {
        self.rows * self.cols
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Frozen phonons: the pattern is the mean over `configurations` crystals whose atoms are
/// displaced at random (independent Gaussians per axis, standard deviation per element).
#[derive(Debug, Clone, PartialEq)]
pub struct FrozenPhonons {
    pub configurations: usize,
    /// Standard deviation per axis for elements not in `per_element`, Å.
    pub sigma_a: f64,
    /// (Z, standard deviation per axis in Å) overrides.
    pub per_element: Vec<(u8, f64)>,
    pub seed: u64,
}

impl FrozenPhonons {
    /// `configurations` configurations with one σ for all elements.
    pub fn new(configurations: usize, sigma_a: f64, seed: u64) -> FrozenPhonons {
        FrozenPhonons {
            configurations,
            sigma_a,
            per_element: Vec::new(),
            seed,
        }
    }

    pub fn sigma(&self, z: u8) -> f64 {
        self.per_element
            .iter()
            .find(|(e, _)| *e == z)
            .map_or(self.sigma_a, |(_, s)| *s)
    }
}

/// Everything but the specimen and the scan.
#[derive(Debug, Clone, PartialEq)]
pub struct SimParams {
    pub probe: ProbeParams,
    /// Largest real-space pixel, Å (the grid is the smallest FFT-friendly size at least this fine).
    pub sampling_a: f64,
    /// Slice thickness, Å; `None` = the crystal's natural slice (half a perovskite cell).
    pub slice_thickness: Option<f64>,
    pub detector: DetectorSpec,
    /// `None`: one static crystal (no thermal diffuse scattering, as in the paper).
    pub phonons: Option<FrozenPhonons>,
    /// Plain multislice (default) or the PRISM S-matrix fast path.
    pub engine: Engine,
    /// Small specimen tilt off the zone axis, (θx, θy) mrad in the image frame: the specimen at
    /// depth z is shifted laterally by z·tan θ (a tilted propagator; see [`Specimen::tilt_mrad`]).
    /// A beam tilt β is the same relative geometry as a specimen tilt −β plus a rigid shift of
    /// the pattern by β (the acquisition's descan), so it needs no parameter of its own.
    pub tilt_mrad: [f64; 2],
}

impl Default for SimParams {
    /// 200 keV, 24 mrad, focused on the entrance surface, 0.05 Å sampling, half-cell slices,
    /// 256×256 detector over ±60 mrad.
    fn default() -> Self {
        SimParams {
            probe: ProbeParams::default(),
            sampling_a: 0.05,
            slice_thickness: None,
            detector: DetectorSpec::default(),
            phonons: None,
            engine: Engine::Multislice,
            tilt_mrad: [0.0, 0.0],
        }
    }
}

/// A simulated scan and its calibration.
#[derive(Debug, Clone)]
pub struct SimOutput {
    /// `[scan_row, scan_col, det_row, det_col]`; each pattern sums to the fraction of the probe
    /// that lands on the detector.
    pub data: Array4<f32>,
    pub mrad_per_px: f64,
    pub energy_kev: f64,
    pub convergence_mrad: f64,
    pub scan: ScanSpec,
    pub grid: Grid,
    pub slices: usize,
    pub thickness_a: f64,
    /// Largest angle the grid represents (the anti-aliasing aperture), mrad.
    pub band_limit_mrad: f64,
}

/// A prepared simulation: the specimen's transmission functions (one set per frozen-phonon
/// configuration, all kept in memory: slices × grid × 8 bytes each), the probe and the detector.
/// Patterns come out one probe position at a time ([`Simulation::pattern`]) or streamed row by row
/// over a scan ([`Simulation::run_rows`]), so a writer never needs the whole 4D array.
pub struct Simulation {
    engines: Vec<Multislice>,
    /// One S-matrix per phonon configuration when the engine is PRISM (empty otherwise).
    prism: Vec<Prism>,
    detector: Detector,
    pub grid: Grid,
    pub params: SimParams,
    pub slices: usize,
    pub thickness_a: f64,
}

/// Per-thread buffers of a [`Simulation`].
pub struct SimWorkspace {
    ms: multislice::Workspace,
    prism: Option<prism::PrismWorkspace>,
    full: Vec<f32>,
    tmp: Vec<f32>,
    pattern: Vec<f32>,
}

impl Simulation {
    /// Builds the grid, the slices' transmission functions (for each phonon configuration), the
    /// probe and the detector; with `Engine::Prism`, the S-matrices too. Cancellable through
    /// `progress` (stages "potentials", then "s-matrix" per configuration).
    pub fn new(crystal: &Crystal, params: &SimParams, progress: &Progress) -> Result<Simulation> {
        params.probe.validate()?;
        params.detector.validate()?;
        let grid = params
            .engine
            .grid(crystal.extent[0], crystal.extent[1], params.sampling_a)?;
        let dz = params.slice_thickness.unwrap_or(crystal.slice_thickness);
        let lambda = params.probe.wavelength_a();
        let detector = Detector::new(params.detector, grid, lambda)?;
        let configs = match &params.phonons {
            None => 1,
            Some(fp) if fp.configurations == 0 => {
                return Err(Error::invalid(
                    "frozen phonons need at least one configuration",
                ))
            }
            Some(fp) => fp.configurations,
        };
        let mut engines = Vec::with_capacity(configs);
        for config in 0..configs {
            let displaced;
            let c = match &params.phonons {
                None => crystal,
                Some(fp) => {
                    let seed = fp.seed.wrapping_add(config as u64);
                    displaced = crystal.thermal_displaced(|z| fp.sigma(z), seed)?;
                    &displaced
                }
            };
            let specimen = Specimen::build(c, grid, dz, params.probe.energy_kev, progress)?
                .with_tilt(params.tilt_mrad);
            engines.push(Multislice::new(Arc::new(specimen), params.probe)?);
        }
        let prism = match params.engine {
            Engine::Multislice => Vec::new(),
            Engine::Prism { interpolation } => engines
                .iter()
                .map(|ms| Prism::new(ms, interpolation, params.detector, progress))
                .collect::<Result<_>>()?,
        };
        let sp = engines[0].specimen();
        Ok(Simulation {
            prism,
            slices: sp.slices.len(),
            thickness_a: sp.thickness(),
            engines,
            detector,
            grid,
            params: params.clone(),
        })
    }

    pub fn workspace(&self) -> SimWorkspace {
        let n = self.params.detector.pixels;
        SimWorkspace {
            ms: self.engines[0].workspace(),
            prism: self.prism.first().map(Prism::workspace),
            full: vec![0f32; self.grid.len()],
            tmp: Vec::new(),
            pattern: vec![0f32; n * n],
        }
    }

    /// The S-matrices (one per phonon configuration) when the engine is PRISM, else empty.
    pub fn prism(&self) -> &[Prism] {
        &self.prism
    }

    /// Largest angle the grid represents (the anti-aliasing aperture), mrad.
    pub fn band_limit_mrad(&self) -> f64 {
        self.grid.band_limit() * self.params.probe.wavelength_a() * 1e3
    }

    /// The detector pattern (N×N, row-major) for the probe at image position (x, y) Å, averaged
    /// over the phonon configurations.
    pub fn pattern(&self, x: f64, y: f64, ws: &mut SimWorkspace, out: &mut [f32]) {
        let weight = 1.0 / self.engines.len() as f32;
        out.iter_mut().for_each(|v| *v = 0.0);
        for (c, engine) in self.engines.iter().enumerate() {
            match (self.prism.get(c), ws.prism.as_mut()) {
                (Some(p), Some(pw)) => {
                    ws.full.resize(p.window.len(), 0.0);
                    p.run(x, y, pw, &mut ws.full);
                    p.detector()
                        .resample(&ws.full, &mut ws.pattern, &mut ws.tmp);
                }
                _ => {
                    engine.run(x, y, &mut ws.ms, &mut ws.full);
                    self.detector
                        .resample(&ws.full, &mut ws.pattern, &mut ws.tmp);
                }
            }
            for (o, p) in out.iter_mut().zip(&ws.pattern) {
                *o += weight * p;
            }
        }
    }

    /// Simulates `scan` in batches of rows, each batch in parallel over its probe positions
    /// (rayon), and hands every row to `sink(row, data)` in order, `data` being
    /// `[scan_col, det_row, det_col]` row-major. Cancellable through `progress`
    /// (stage "multislice"); an error from `sink` stops the run.
    pub fn run_rows(
        &self,
        scan: &ScanSpec,
        progress: &Progress,
        mut sink: impl FnMut(usize, &[f32]) -> Result<()>,
    ) -> Result<()> {
        if scan.is_empty() {
            return Err(Error::invalid("the scan has no probe positions"));
        }
        let n = self.params.detector.pixels;
        let per_pattern = n * n;
        // Enough positions per batch to keep every thread busy.
        let want = 4 * rayon::current_num_threads();
        let rows_per_batch = want.div_ceil(scan.cols).clamp(1, scan.rows);
        let mut buf = vec![0f32; rows_per_batch * scan.cols * per_pattern];
        progress.start("multislice", scan.len() as u64);
        for first in (0..scan.rows).step_by(rows_per_batch) {
            let rows = rows_per_batch.min(scan.rows - first);
            let batch = &mut buf[..rows * scan.cols * per_pattern];
            batch
                .par_chunks_mut(per_pattern)
                .enumerate()
                .try_for_each_init(
                    || self.workspace(),
                    |ws, (idx, out)| {
                        progress.check()?;
                        let (x, y) = scan.position(first + idx / scan.cols, idx % scan.cols);
                        self.pattern(x, y, ws, out);
                        progress.advance(1);
                        Ok::<(), Error>(())
                    },
                )?;
            for (r, data) in batch.chunks(scan.cols * per_pattern).enumerate() {
                sink(first + r, data)?;
            }
        }
        Ok(())
    }
}

/// Runs plain multislice for every probe position of `scan`, in parallel (rayon), and records
/// each exit-wave diffraction pattern on the detector, all in memory (4 bytes per detector
/// pixel per position; use [`Simulation::run_rows`] to stream large scans). Cancellable through
/// `progress`.
pub fn simulate_scan(
    crystal: &Crystal,
    params: &SimParams,
    scan: &ScanSpec,
    progress: &Progress,
) -> Result<SimOutput> {
    if scan.is_empty() {
        return Err(Error::invalid("the scan has no probe positions"));
    }
    let sim = Simulation::new(crystal, params, progress)?;
    let n = params.detector.pixels;
    let mut data = Array4::<f32>::zeros((scan.rows, scan.cols, n, n));
    let row_len = scan.cols * n * n;
    {
        let all = data
            .as_slice_mut()
            .ok_or_else(|| Error::invalid("internal: output array not contiguous"))?;
        sim.run_rows(scan, progress, |r, row| {
            all[r * row_len..(r + 1) * row_len].copy_from_slice(row);
            Ok(())
        })?;
    }
    Ok(SimOutput {
        data,
        mrad_per_px: params.detector.mrad_per_px(),
        energy_kev: params.probe.energy_kev,
        convergence_mrad: params.probe.convergence_mrad,
        scan: *scan,
        grid: sim.grid,
        slices: sim.slices,
        thickness_a: sim.thickness_a,
        band_limit_mrad: sim.band_limit_mrad(),
    })
}
