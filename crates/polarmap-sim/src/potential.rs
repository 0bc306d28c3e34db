//! Projected atomic potentials from the Kirkland (2010) parametrization.
//!
//! The electron scattering factor is f_e(q) = Σᵢ aᵢ/(q² + bᵢ) + Σᵢ cᵢ exp(−dᵢ q²) (q = 1/d, Å⁻¹;
//! f_e in Å), with the coefficients of E. J. Kirkland, *Advanced Computing in Electron Microscopy*,
//! 2nd ed. (Springer 2010), Appendix C, kept as data in `kirkland.txt`. The projected potential of
//! an atom has the 2D Fourier transform (h²/2π m0 e)·f_e(q) = 2π a0 e·f_e(q) (V·Å²), so a slice is
//! built in Fourier space as Σ_species 2π a0 e f_e(|q|)/A · Σ_atoms exp(−2πi q·r), band-limited to
//! the grid's anti-aliasing aperture (2/3 Nyquist), then inverse-transformed.

use std::sync::OnceLock;

use num_complex::Complex32;

use super::crystal::Atom;
use super::grid::{Fft2, FftScratch, Grid};
use polarmap_io::{Error, Result};

pub use super::crystal::MAX_Z;
/// Bohr radius, Å.
pub const BOHR_A: f64 = 0.529_177_210_9;
/// e²/(4π ε0) = 14.39964 V·Å ("e" in Kirkland's a0·e products).
pub const E_COULOMB_VA: f64 = 14.399_645;
/// 2π a0 e = h²/(2π m0 e), V·Å².
pub const TWO_PI_A0_E: f64 = 2.0 * std::f64::consts::PI * BOHR_A * E_COULOMB_VA;

const TABLE: &str = include_str!("kirkland.txt");

/// Kirkland's 12 coefficients of one element, in the table's order
/// a1 b1 a2 b2 a3 b3 c1 d1 c2 d2 c3 d3.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Kirkland {
    pub z: u8,
    pub symbol: &'static str,
    pub p: [f64; 12],
}

fn table() -> &'static [Kirkland] {
    static T: OnceLock<Vec<Kirkland>> = OnceLock::new();
    T.get_or_init(|| {
        let mut out = Vec::new();
        for line in TABLE.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut it = line.split_whitespace();
            let z: u8 = it
                .next()
                .and_then(|s| s.parse().ok())
                .expect("kirkland.txt: Z");
            let symbol = it.next().expect("kirkland.txt: symbol");
            let mut p = [0.0; 12];
            for v in &mut p {
                *v = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .expect("kirkland.txt: coefficient");
            }
            assert_eq!(z as usize, out.len() + 1, "kirkland.txt: rows in Z order");
            out.push(Kirkland { z, symbol, p });
        }
        assert_eq!(out.len(), MAX_Z as usize, "kirkland.txt: Z = 1–103");
        out
    })
}

impl Kirkland {
    pub fn get(z: u8) -> Result<Kirkland> {
        if z == 0 || z > MAX_Z {
            return Err(Error::invalid(format!(
                "no scattering factors for Z = {z} (1–{MAX_Z})"
            )));
        }
        Ok(table()[z as usize - 1])
    }

    pub fn by_symbol(symbol: &str) -> Option<Kirkland> {
        table()
            .iter()
            .find(|k| k.symbol.eq_ignore_ascii_case(symbol.trim()))
            .copied()
    }

    /// Electron scattering factor f_e(q), Å, for q = 1/d in Å⁻¹.
    pub fn scattering_factor(&self, q: f64) -> f64 {
        let q2 = q * q;
        let p = &self.p;
        let mut f = 0.0;
        for i in 0..3 {
            f += p[2 * i] / (q2 + p[2 * i + 1]);
            f += p[6 + 2 * i] * (-p[7 + 2 * i] * q2).exp();
        }
        f
    }

    /// Projected potential v_z(r), V·Å, at distance r (Å) from the atom, from the closed form
    /// (Kirkland 2010, eq. C.20): 4π² a0 e Σ aᵢ K0(2π r √bᵢ) + 2π² a0 e Σ (cᵢ/dᵢ) exp(−π² r²/dᵢ).
    pub fn projected_potential(&self, r: f64) -> f64 {
        let pi = std::f64::consts::PI;
        let p = &self.p;
        let mut v = 0.0;
        for i in 0..3 {
            v += 2.0 * pi * TWO_PI_A0_E * p[2 * i] * bessel_k0(2.0 * pi * r * p[2 * i + 1].sqrt());
            let (c, d) = (p[6 + 2 * i], p[7 + 2 * i]);
            v += pi * TWO_PI_A0_E * c / d * (-pi * pi * r * r / d).exp();
        }
        v
    }
}

/// Modified Bessel function K0(x), x > 0 (Abramowitz & Stegun 9.8.5–9.8.6, |ε| < 2e-7).
pub fn bessel_k0(x: f64) -> f64 {
    if x <= 2.0 {
        let t = x / 3.75;
        let t2 = t * t;
        let i0 = 1.0
            + t2 * (3.5156229
                + t2 * (3.0899424
                    + t2 * (1.2067492 + t2 * (0.2659732 + t2 * (0.0360768 + t2 * 0.0045813)))));
        let y = x * x / 4.0;
        -(x / 2.0).ln() * i0
            + (-0.57721566
                + y * (0.42278420
                    + y * (0.23069756
                        + y * (0.03488590 + y * (0.00262698 + y * (0.00010750 + y * 0.0000074))))))
    } else {
        let y = 2.0 / x;
        (-x).exp() / x.sqrt()
            * (1.25331414
                + y * (-0.07832358
                    + y * (0.02189568
                        + y * (-0.01062446
                            + y * (0.00587872 + y * (-0.00251540 + y * 0.00053208))))))
    }
}

/// Builds slice potentials on one grid; caches each element's band-limited form factor.
pub struct PotentialBuilder {
    grid: Grid,
    fft: Fft2,
    mask: Vec<bool>,
    form: std::collections::HashMap<u8, Vec<f32>>,
}

impl PotentialBuilder {
    pub fn new(grid: Grid) -> PotentialBuilder {
        PotentialBuilder {
            fft: Fft2::new(&grid),
            mask: grid.band_limit_mask(),
            grid,
            form: Default::default(),
        }
    }

    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    /// 2π a0 e f_e(|q|)/A on the grid (V·Å per unit structure factor), zero outside the band limit.
    fn form_factor(&mut self, z: u8) -> Result<&Vec<f32>> {
        if !self.form.contains_key(&z) {
            let k = Kirkland::get(z)?;
            let g = self.grid;
            let (qr, qc) = (g.freq_rows(), g.freq_cols());
            let scale = TWO_PI_A0_E / (g.width * g.height);
            let mut out = vec![0f32; g.len()];
            for (r, &qy) in qr.iter().enumerate() {
                for (c, &qx) in qc.iter().enumerate() {
                    let i = r * g.cols + c;
                    if self.mask[i] {
                        out[i] = (scale * k.scattering_factor((qx * qx + qy * qy).sqrt())) as f32;
                    }
                }
            }
            self.form.insert(z, out);
        }
        Ok(&self.form[&z])
    }

    /// Fourier coefficients of the projected potential of `atoms` (depth ignored), unshifted
    /// layout; the inverse FFT (unnormalised) gives v(r) in V·Å.
    pub fn fourier(&mut self, atoms: &[Atom]) -> Result<Vec<Complex32>> {
        let g = self.grid;
        let (qr, qc) = (g.freq_rows(), g.freq_cols());
        let two_pi = 2.0 * std::f64::consts::PI;
        let mut total = vec![Complex32::new(0.0, 0.0); g.len()];
        let mut species: Vec<u8> = atoms.iter().map(|a| a.z).collect();
        species.sort_unstable();
        species.dedup();
        // Rows that hold any frequency inside the band limit.
        let rows: Vec<usize> = (0..g.rows)
            .filter(|&r| (0..g.cols).any(|c| self.mask[r * g.cols + c]))
            .collect();
        let mut sf = vec![Complex32::new(0.0, 0.0); g.len()];
        let mut pc = vec![Complex32::new(0.0, 0.0); g.cols];
        for z in species {
            sf.iter_mut().for_each(|v| *v = Complex32::new(0.0, 0.0));
            for atom in atoms.iter().filter(|a| a.z == z) {
                // Column coordinate u = x, row coordinate v = −y (rows grow downwards).
                let (u, v) = (atom.pos[0], -atom.pos[1]);
                for (c, &q) in qc.iter().enumerate() {
                    pc[c] = Complex32::from_polar(1.0, (-two_pi * q * u).rem_euclid(two_pi) as f32);
                }
                for &r in &rows {
                    let pr =
                        Complex32::from_polar(1.0, (-two_pi * qr[r] * v).rem_euclid(two_pi) as f32);
                    let row = &mut sf[r * g.cols..(r + 1) * g.cols];
                    for (s, p) in row.iter_mut().zip(&pc) {
                        *s += pr * p;
                    }
                }
            }
            let f = self.form_factor(z)?;
            for ((t, s), f) in total.iter_mut().zip(&sf).zip(f) {
                *t += s * *f;
            }
        }
        Ok(total)
    }

    /// Projected potential of `atoms` on the grid, V·Å, row-major.
    pub fn real_space(&mut self, atoms: &[Atom], scratch: &mut FftScratch) -> Result<Vec<f32>> {
        let mut v = self.fourier(atoms)?;
        self.fft.inverse(&mut v, scratch);
        Ok(v.into_iter().map(|c| c.re).collect())
    }

    /// Transmission function exp(iσ v(r)), band-limited to the anti-aliasing aperture.
    pub fn transmission(
        &mut self,
        atoms: &[Atom],
        sigma: f64,
        scratch: &mut FftScratch,
    ) -> Result<Vec<Complex32>> {
        let v = self.real_space(atoms, scratch)?;
        let mut t: Vec<Complex32> = v
            .into_iter()
            .map(|v| Complex32::from_polar(1.0, (sigma * v as f64) as f32))
            .collect();
        self.fft.forward(&mut t, scratch);
        let n = self.grid.len() as f32;
        for (t, &m) in t.iter_mut().zip(&self.mask) {
            *t = if m { *t / n } else { Complex32::new(0.0, 0.0) };
        }
        self.fft.inverse(&mut t, scratch);
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of Kirkland's own table as printed in his C code (fparams, order a1 b1 a2 b2 a3 b3 c1
    /// d1 c2 d2 c3 d3), an independent copy of the source from the abTEM file we transcribed.
    #[test]
    fn coefficients_match_kirkland_fparams() {
        let o = [
            3.39969204e-001,
            3.81570280e-001,
            3.07570172e-001,
            3.81571436e-001,
            1.30369072e-001,
            1.91919745e+001,
            8.83326058e-002,
            7.60635525e-001,
            1.96586700e-001,
            2.07401094e+000,
            9.96220028e-004,
            3.03266869e-002,
        ];
        let k = [
            6.92717865e-001,
            7.10849990e+000,
            9.65161085e-001,
            3.57532901e-001,
            1.48466588e-001,
            3.93763275e-002,
            2.64645027e-002,
            1.03591321e-001,
            1.80883768e+000,
            3.22845199e+001,
            5.43900018e-001,
            1.67791374e+000,
        ];
        let nb = [
            6.59532875e-001,
            8.66145490e-002,
            1.84545854e+000,
            5.94774398e+000,
            1.25584405e+000,
            6.40851475e-001,
            1.22253422e-001,
            1.66646050e-001,
            7.06638328e-001,
            1.62853268e+000,
            2.62381591e-003,
            8.26257859e-003,
        ];
        for (z, sym, want) in [(8u8, "O", o), (19, "K", k), (41, "Nb", nb)] {
            let got = Kirkland::get(z).unwrap();
            assert_eq!(got.symbol, sym);
            for (g, w) in got.p.iter().zip(&want) {
                assert!((g - w).abs() <= 1e-6 * w.abs(), "{sym}: {g} vs {w}");
            }
        }
        assert_eq!(Kirkland::get(92).unwrap().symbol, "U");
        assert_eq!(Kirkland::get(11).unwrap().symbol, "Na");
        assert!(Kirkland::get(0).is_err());
        for z in 1..=MAX_Z {
            let k = Kirkland::get(z).unwrap();
            assert!(k.p.iter().all(|v| v.is_finite() && *v >= 0.0), "Z {z}");
            // f_e(0) grows roughly with Z; at least positive.
            assert!(k.scattering_factor(0.0) > 0.0);
        }
    }

    #[test]
    fn bessel_k0_values() {
        // K0(0.1) = 2.4270690, K0(1) = 0.4210244, K0(3) = 0.0347395 (A&S table 9.8).
        assert!((bessel_k0(0.1) - 2.4270690).abs() < 1e-6);
        assert!((bessel_k0(1.0) - 0.4210244).abs() < 1e-6);
        assert!((bessel_k0(3.0) - 0.0347395).abs() < 1e-6);
    }

    /// The Fourier-space slice of one Nb atom agrees with Kirkland's real-space closed form away
    /// from the core (where the band limit smooths the singular K0 terms).
    #[test]
    fn fourier_slice_matches_closed_form() {
        let grid = Grid::new(256, 256, 16.0, 16.0).unwrap();
        let mut b = PotentialBuilder::new(grid);
        let mut s = Fft2::new(&grid).scratch();
        let atom = Atom {
            z: 41,
            pos: [8.0, -8.0, 0.0],
        };
        let v = b.real_space(&[atom], &mut s).unwrap();
        let k = Kirkland::get(41).unwrap();
        let dx = grid.dx();
        // Atom at row 128, col 128; walk along the row. The hard band limit rings with a period
        // of 3 pixels (1/q_max), so compare averages over one period.
        let avg = |f: &dyn Fn(usize) -> f64, p: usize| (f(p - 1) + f(p) + f(p + 1)) / 3.0;
        for pix in [8usize, 16, 24, 32] {
            let got = avg(&|p| v[128 * 256 + 128 + p] as f64, pix);
            let want = avg(&|p| k.projected_potential(p as f64 * dx), pix);
            assert!(
                (got - want).abs() < 0.02 * want,
                "r = {} Å: {got} vs {want}",
                pix as f64 * dx
            );
        }
        // Up is −row: the same value one step up and one step right (isotropy, y up convention).
        let right = v[128 * 256 + 136];
        let up = v[120 * 256 + 128];
        assert!((right - up).abs() < 1e-3 * right.abs());
    }
}
