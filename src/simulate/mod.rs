//! Multislice 4D-STEM simulator (core): crystal builder, Kirkland projected potentials, probe,
//! plain multislice and a detector, run in parallel over probe positions.
//!
//! ```no_run
//! use polarmap::simulate::{crystal::KNN_A, simulate_scan, Perovskite, ScanSpec, SimParams};
//! use polarmap::{classes::Class, Progress};
//! // KNN, Nb displaced 0.15 Å for class RD, 2×2 cells wide, 50 cells (19.75 nm) thick.
//! let crystal = Perovskite::knn(Some(Class::RD), 0.15, [2, 2, 50]).build()?;
//! let scan = ScanSpec::over_cells(32, 32, [2, 2], KNN_A);
//! let out = simulate_scan(&crystal, &SimParams::default(), &scan, &Progress::new())?;
//! assert_eq!(out.data.shape(), &[32, 32, 256, 256]);
//! # Ok::<(), polarmap::Error>(())
//! ```
//!
//! Conventions (DESIGN.md): output `[scan_row, scan_col, det_row, det_col]`; image x right, y up
//! on the scan and on the detector; scan row i, column j sits at (x0 + j·step_x, y0 − i·step_y).

pub mod crystal;
pub mod detector;
pub mod grid;
pub mod multislice;
pub mod potential;
pub mod probe;

use std::sync::Arc;

use ndarray::Array4;
use rayon::prelude::*;

pub use crystal::{
    class_direction, class_displacement, directions_110, ASite, Atom, Crystal, OSite, Perovskite,
    Vacancy,
};
pub use detector::{Detector, DetectorSpec};
pub use grid::Grid;
pub use multislice::{Multislice, Specimen};
pub use potential::Kirkland;
pub use probe::{interaction_constant, wavelength_a, ProbeParams};

use crate::{Error, Progress, Result};

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

/// Runs plain multislice for every probe position of `scan`, in parallel (rayon), and records
/// each exit-wave diffraction pattern on the detector. Cancellable through `progress`.
pub fn simulate_scan(
    crystal: &Crystal,
    params: &SimParams,
    scan: &ScanSpec,
    progress: &Progress,
) -> Result<SimOutput> {
    if scan.is_empty() {
        return Err(Error::invalid("the scan has no probe positions"));
    }
    params.probe.validate()?;
    params.detector.validate()?;
    let grid = Grid::with_sampling(crystal.extent[0], crystal.extent[1], params.sampling_a)?;
    let dz = params.slice_thickness.unwrap_or(crystal.slice_thickness);
    let lambda = params.probe.wavelength_a();
    let detector = Detector::new(params.detector, grid, lambda)?;
    let n = params.detector.pixels;
    let mut data = Array4::<f32>::zeros((scan.rows, scan.cols, n, n));
    let configs = match &params.phonons {
        None => 1,
        Some(fp) if fp.configurations == 0 => {
            return Err(Error::invalid(
                "frozen phonons need at least one configuration",
            ))
        }
        Some(fp) => fp.configurations,
    };
    let mut slices = 0;
    let mut thickness_a = 0.0;
    for config in 0..configs {
        let displaced;
        let specimen_crystal = match &params.phonons {
            None => crystal,
            Some(fp) => {
                let seed = fp.seed.wrapping_add(config as u64);
                displaced = crystal.thermal_displaced(|z| fp.sigma(z), seed)?;
                &displaced
            }
        };
        let specimen = Arc::new(Specimen::build(
            specimen_crystal,
            grid,
            dz,
            params.probe.energy_kev,
            progress,
        )?);
        slices = specimen.slices.len();
        thickness_a = specimen.thickness();
        let engine = Multislice::new(specimen, params.probe)?;
        let stage = if configs > 1 {
            format!("multislice {}/{configs}", config + 1)
        } else {
            "multislice".to_string()
        };
        progress.start(&stage, scan.len() as u64);
        let out = data
            .as_slice_mut()
            .ok_or_else(|| Error::invalid("internal: output array not contiguous"))?;
        let weight = 1.0 / configs as f32;
        out.par_chunks_mut(n * n).enumerate().try_for_each_init(
            || {
                (
                    engine.workspace(),
                    vec![0f32; grid.len()],
                    Vec::new(),
                    vec![0f32; n * n],
                )
            },
            |(ws, full, tmp, pattern), (idx, out)| {
                progress.check()?;
                let (x, y) = scan.position(idx / scan.cols, idx % scan.cols);
                engine.run(x, y, ws, full);
                detector.resample(full, pattern, tmp);
                for (o, p) in out.iter_mut().zip(pattern.iter()) {
                    *o += weight * p;
                }
                progress.advance(1);
                Ok::<(), Error>(())
            },
        )?;
    }
    Ok(SimOutput {
        data,
        mrad_per_px: params.detector.mrad_per_px(),
        energy_kev: params.probe.energy_kev,
        convergence_mrad: params.probe.convergence_mrad,
        scan: *scan,
        grid,
        slices,
        thickness_a,
        band_limit_mrad: grid.band_limit() * lambda * 1e3,
    })
}
