//! Electron optics: relativistic wavelength and interaction constant, and the STEM probe.

use num_complex::Complex32;

use super::grid::Grid;
use polarmap_io::{Error, Result};

/// Electron rest energy m0c² in keV (CODATA 2018).
pub const ELECTRON_REST_KEV: f64 = 510.998_950;
/// hc in keV·Å (CODATA 2018).
pub const HC_KEV_A: f64 = 12.398_419_843;

/// Relativistic electron wavelength λ in Å for a beam energy in keV.
pub fn wavelength_a(energy_kev: f64) -> f64 {
    HC_KEV_A / (energy_kev * (2.0 * ELECTRON_REST_KEV + energy_kev)).sqrt()
}

/// Relativistic interaction constant σ = 2π m e λ / h² in rad/(V·Å) (Kirkland 2010, eq. 5.6):
/// σ = 2π/(λ V) · (m0c² + eV)/(2 m0c² + eV).
pub fn interaction_constant(energy_kev: f64) -> f64 {
    let lambda = wavelength_a(energy_kev);
    let volts = energy_kev * 1e3;
    2.0 * std::f64::consts::PI / (lambda * volts) * (ELECTRON_REST_KEV + energy_kev)
        / (2.0 * ELECTRON_REST_KEV + energy_kev)
}

/// Probe-forming optics. Aberration phase χ(k) = −π λ k² · defocus + ½ π Cs λ³ k⁴ (abTEM's sign
/// convention: a positive defocus moves the focus into the specimen); the probe is
/// A(k) exp(−iχ(k)) with an aperture A at the convergence semi-angle: hard (0 or 1 per Fourier
/// pixel), or with a soft edge one pixel wide, A = clamp((k_max − |k|)/Δk(φ) + ½, 0, 1) with Δk(φ)
/// the pixel size along the radial direction (as abTEM's default), which removes most of the
/// pixelation of a small aperture.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeParams {
    pub energy_kev: f64,
    pub convergence_mrad: f64,
    /// Å; 0 = focused on the entrance surface.
    pub defocus_a: f64,
    /// Spherical aberration Cs in Å (1 mm = 1e7 Å).
    pub cs_a: f64,
    /// Soft (one-pixel linear) aperture edge instead of a hard one.
    pub soft_edge: bool,
}

impl Default for ProbeParams {
    fn default() -> Self {
        Self {
            energy_kev: 200.0,
            convergence_mrad: 24.0,
            defocus_a: 0.0,
            cs_a: 0.0,
            soft_edge: true,
        }
    }
}

impl ProbeParams {
    pub fn wavelength_a(&self) -> f64 {
        wavelength_a(self.energy_kev)
    }

    pub fn validate(&self) -> Result<()> {
        if !(self.energy_kev.is_finite() && self.energy_kev > 0.0) {
            return Err(Error::invalid(format!(
                "beam energy must be positive, got {} keV",
                self.energy_kev
            )));
        }
        if !(self.convergence_mrad.is_finite() && self.convergence_mrad > 0.0) {
            return Err(Error::invalid(format!(
                "convergence semi-angle must be positive, got {} mrad",
                self.convergence_mrad
            )));
        }
        if !(self.defocus_a.is_finite() && self.cs_a.is_finite()) {
            return Err(Error::invalid("defocus and Cs must be finite"));
        }
        Ok(())
    }

    /// The probe centred at the array origin, in Fourier space (unshifted FFT layout, row-major
    /// `[row, col]`), scaled so that its inverse FFT (unnormalised) has Σ|ψ(r)|² = 1.
    pub fn fourier(&self, grid: &Grid) -> Result<Vec<Complex32>> {
        self.validate()?;
        let lambda = self.wavelength_a();
        let kmax = self.convergence_mrad * 1e-3 / lambda;
        if kmax > grid.band_limit() {
            return Err(Error::invalid(format!(
                "convergence semi-angle {} mrad exceeds the grid's anti-aliasing limit {:.1} mrad; \
                 use a finer sampling",
                self.convergence_mrad,
                grid.band_limit() * lambda * 1e3
            )));
        }
        let (qr, qc) = (grid.freq_rows(), grid.freq_cols());
        let (dkx, dky) = (1.0 / grid.width, 1.0 / grid.height);
        let pi = std::f64::consts::PI;
        let mut out = vec![Complex32::new(0.0, 0.0); grid.len()];
        let mut power = 0.0f64;
        for (r, &qy) in qr.iter().enumerate() {
            for (c, &qx) in qc.iter().enumerate() {
                let k2 = qx * qx + qy * qy;
                let k = k2.sqrt();
                let a = if self.soft_edge {
                    let step = if k > 0.0 {
                        ((qx / k * dkx).powi(2) + (qy / k * dky).powi(2)).sqrt()
                    } else {
                        1.0
                    };
                    ((kmax - k) / step + 0.5).clamp(0.0, 1.0)
                } else if k <= kmax {
                    1.0
                } else {
                    0.0
                };
                if a > 0.0 {
                    let chi = -pi * lambda * k2 * self.defocus_a
                        + 0.5 * pi * self.cs_a * lambda.powi(3) * k2 * k2;
                    out[r * grid.cols + c] = Complex32::from_polar(a as f32, -chi as f32);
                    power += a * a;
                }
            }
        }
        if power == 0.0 {
            return Err(Error::invalid(
                "the probe aperture holds no Fourier pixel; enlarge the simulation cell",
            ));
        }
        // Σ_r |ψ|² = N Σ_k |Ψ|² for an unnormalised inverse FFT.
        let scale = 1.0 / (power * grid.len() as f64).sqrt();
        for v in &mut out {
            *v *= scale as f32;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wavelength_and_sigma_known_values() {
        // Kirkland (2010) table 2.2: 200 kV → 0.02508 Å, 300 kV → 0.01969 Å, 100 kV → 0.03701 Å.
        assert!(
            (wavelength_a(200.0) - 0.02508).abs() < 1e-5,
            "{}",
            wavelength_a(200.0)
        );
        assert!((wavelength_a(300.0) - 0.01969).abs() < 1e-5);
        assert!((wavelength_a(100.0) - 0.03701).abs() < 1e-5);
        // σ(200 kV) = 7.29e-4 rad/(V·Å).
        let s = interaction_constant(200.0);
        assert!((s - 7.288e-4).abs() < 0.01e-4, "{s}");
    }

    #[test]
    fn soft_aperture_area_matches_the_disk() {
        let grid = Grid::new(64, 64, 8.0, 8.0).unwrap();
        let p = ProbeParams::default();
        let r_px = p.convergence_mrad * 1e-3 / p.wavelength_a() * 8.0;
        let disk = std::f64::consts::PI * r_px * r_px;
        let area = |soft_edge: bool| {
            let psi = ProbeParams { soft_edge, ..p }.fourier(&grid).unwrap();
            let max = psi.iter().map(|c| c.norm()).fold(0f32, f32::max) as f64;
            psi.iter().map(|c| c.norm() as f64).sum::<f64>() / max
        };
        let soft = area(true);
        assert!(
            (soft - disk).abs() < 0.01 * disk,
            "soft {soft} vs disk {disk}"
        );
        let hard = area(false);
        assert!(hard.fract() == 0.0 && (hard - disk).abs() < 0.1 * disk);
    }
}
