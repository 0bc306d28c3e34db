//! Is there a polarization signal at all? A polarized (non-centrosymmetric) specimen breaks
//! the centrosymmetry of the position-averaged pattern (PACBED): dynamical scattering violates
//! Friedel's law where the crystal has no centre of symmetry. An unpolarised specimen's PACBED is
//! centrosymmetric, so whatever asymmetry it shows is counting noise.
//!
//! The test: the survey's summed pattern S (mean pattern × frames, in detector counts) is
//! reflected through a point on the half-pixel grid (a reflection that maps pixels onto pixels
//! exactly): the one within [`CENTRE_SEARCH_PX`] of the BF-disk centre about which S is most
//! symmetric (the disk fit alone is not enough: in the models' ±15 mrad window the detector sees
//! only the inside of the 24 mrad disk). The rest of the centre offset, a sub-pixel shift δ,
//! makes an antisymmetric part −2(δ·∇)S − (δ·∇)³S/3 − …; its first- and third-order
//! derivative terms (6 templates) are fitted (weighted least squares) and removed. The residual
//! antisymmetric part is summed over [`RINGS`] × [`SECTORS`] ring sectors, and each pair of
//! opposite sectors (A, B) contributes (A − B)² / (A + B): under Poisson noise on a
//! centrosymmetric pattern the sum is χ² with one degree of freedom per pair, less the 6 fitted.
//! A signal is declared when that χ² would be exceeded by chance with probability below
//! [`SIGNAL_P_VALUE`] (Wilson–Hilferty approximation of the χ² tail).
//!
//! Counts must be counts: the data's values are taken as detected electrons. Scans stored as
//! normalised intensities (noise-free simulations) have no counting noise to compare with, and
//! the test is then reported as not applicable.

use super::Survey;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// Rings between the centre and the largest circle inside the detector.
pub const RINGS: usize = 4;
/// Angular sectors per ring (opposite sectors are compared, so RINGS × SECTORS / 2 pairs).
pub const SECTORS: usize = 8;
/// How far from the BF-disk centre the centre of symmetry is searched for, in pixels.
pub const CENTRE_SEARCH_PX: f64 = 3.0;
/// Chance probability below which an asymmetry is a polarization signal.
pub const SIGNAL_P_VALUE: f64 = 1e-3;

/// The result of the centrosymmetry test on a scan's mean pattern.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PolarizationSignal {
    /// χ² of the residual antisymmetric part against counting noise.
    pub chi2: f64,
    /// Its degrees of freedom.
    pub dof: usize,
    /// Chance probability of a χ² this large on a centrosymmetric pattern.
    pub p_value: f64,
    /// Electrons in the summed pattern.
    pub counts: f64,
    /// The reflection point (row, col): the half-pixel point of least asymmetry.
    pub centre: [f64; 2],
    /// The fitted sub-pixel offset of the centre of symmetry from it, (row, col).
    pub shift_px: [f64; 2],
    /// False when the data are not counts (the test does not apply).
    pub applicable: bool,
    /// True when the pattern is asymmetric beyond counting noise.
    pub detected: bool,
}

impl PolarizationSignal {
    /// Runs the test on `summed`, the sum of every frame of a scan (the survey's sample of at
    /// most 512 frames holds too few electrons), searching for the centre near `survey`'s BF
    /// disk; None when the survey found no disk. The data are taken as counts when the summed
    /// pattern is integer-valued.
    pub fn of_sum(summed: &Array2<f64>, survey: &Survey) -> Option<PolarizationSignal> {
        let disk = survey.bf_disk.as_ref().ok()?;
        let counts = summed
            .iter()
            .all(|&v| v >= 0.0 && (v - v.round()).abs() <= 1e-6 * v.max(1.0));
        Some(test(summed, [disk.center_row, disk.center_col], counts))
    }

    /// Whether the scan should be read as polarised: the signal was detected, or the test did
    /// not apply (no counting noise to judge by).
    pub fn polarised(&self) -> bool {
        self.detected || !self.applicable
    }
}

/// The test on a summed pattern `s` (counts) with BF-disk centre `centre` (row, col).
pub fn test(s: &Array2<f64>, centre: [f64; 2], counts: bool) -> PolarizationSignal {
    let (rows, cols) = s.dim();
    // Reflection k → 2c − k maps pixels to pixels for c on the half-pixel grid.
    let steps = (2.0 * CENTRE_SEARCH_PX) as i64;
    let base = centre.map(|v| (v * 2.0).round() / 2.0);
    let mut c = base;
    let mut best = f64::INFINITY;
    for i in -steps..=steps {
        for j in -steps..=steps {
            let candidate = [base[0] + i as f64 / 2.0, base[1] + j as f64 / 2.0];
            let a = asymmetry(s, candidate);
            if a < best {
                best = a;
                c = candidate;
            }
        }
    }
    let inside = |r: i64, k: i64| r >= 0 && k >= 0 && (r as usize) < rows && (k as usize) < cols;
    let reflect = |r: i64, k: i64| -> Option<(usize, usize)> {
        let (rr, kk) = ((2.0 * c[0]) as i64 - r, (2.0 * c[1]) as i64 - k);
        (inside(r, k) && inside(rr, kk)).then_some((rr as usize, kk as usize))
    };
    // The symmetric part A(k) = (S(k) + S(2c − k)) / 2 where both lie on the detector.
    let a = |r: i64, k: i64| reflect(r, k).map(|ix| (s[[r as usize, k as usize]] + s[ix]) / 2.0);
    let radius = c[0]
        .min(c[1])
        .min(rows as f64 - 1.0 - c[0])
        .min(cols as f64 - 1.0 - c[1]);
    // Pixels in the test disc with their antisymmetric part D, variance S(k) + S(−k) and the
    // odd derivatives of A a sub-pixel shift δ of a symmetric pattern leaves in D:
    // D = −2(δ·∇)A − (δ·∇)³A/3 − …, linear in ∂r, ∂c, ∂rrr, ∂rrc, ∂rcc, ∂ccc of A.
    struct Px {
        ring: usize,
        sector: usize,
        d: f64,
        var: f64,
        templates: [f64; TEMPLATES],
    }
    let mut pixels = Vec::new();
    for r in 0..rows as i64 {
        for k in 0..cols as i64 {
            let (dr, dc) = (r as f64 - c[0], k as f64 - c[1]);
            let rho = dr.hypot(dc);
            if rho >= radius || rho == 0.0 {
                continue;
            }
            let Some(ix) = reflect(r, k) else { continue };
            let mut g = [[0f64; 5]; 5];
            let mut complete = true;
            for (i, row) in g.iter_mut().enumerate() {
                for (j, v) in row.iter_mut().enumerate() {
                    match a(r + i as i64 - 2, k + j as i64 - 2) {
                        Some(x) => *v = x,
                        None => complete = false,
                    }
                }
            }
            if !complete {
                continue;
            }
            let d1 = |p: [f64; 5]| (p[3] - p[1]) / 2.0;
            let d3 = |p: [f64; 5]| (p[4] - 2.0 * p[3] + 2.0 * p[1] - p[0]) / 2.0;
            let col = |j: usize| std::array::from_fn::<f64, 5, _>(|i| g[i][j]);
            let d2 = |p: [f64; 5]| p[3] - 2.0 * p[2] + p[1];
            let templates = [
                d1(col(2)),
                d1(g[2]),
                d3(col(2)),
                // ∂rrc: the column derivative of ∂rr; ∂rcc: the row derivative of ∂cc.
                (d2(col(3)) - d2(col(1))) / 2.0,
                (d2(g[3]) - d2(g[1])) / 2.0,
                d3(g[2]),
            ];
            // Angle in the image frame (y up), as everywhere in polarmap.
            let angle = (-dr).atan2(dc).rem_euclid(std::f64::consts::TAU);
            let (ru, ku) = (r as usize, k as usize);
            pixels.push(Px {
                ring: ((rho / radius * RINGS as f64) as usize).min(RINGS - 1),
                sector: ((angle / std::f64::consts::TAU * SECTORS as f64) as usize)
                    .min(SECTORS - 1),
                d: s[[ru, ku]] - s[ix],
                var: (s[[ru, ku]] + s[ix]).max(1.0),
                templates,
            });
        }
    }
    // Weighted least squares D ≈ Σ βᵢ tᵢ; β₀, β₁ = −2δ.
    let mut normal = [[0f64; TEMPLATES]; TEMPLATES];
    let mut rhs = [0f64; TEMPLATES];
    for p in &pixels {
        for (i, (row, ti)) in normal.iter_mut().zip(&p.templates).enumerate() {
            rhs[i] += ti * p.d / p.var;
            for (n, tj) in row.iter_mut().zip(&p.templates) {
                *n += ti * tj / p.var;
            }
        }
    }
    let beta = solve(normal, rhs).unwrap_or([0.0; TEMPLATES]);
    let mut residual = vec![[0f64; 2]; RINGS * SECTORS];
    for p in &pixels {
        let model: f64 = p.templates.iter().zip(&beta).map(|(t, b)| t * b).sum();
        let cell = &mut residual[p.ring * SECTORS + p.sector];
        cell[0] += p.d - model;
        cell[1] += p.var;
    }
    let (mut chi2, mut pairs) = (0.0, 0usize);
    for ring in 0..RINGS {
        for sector in 0..SECTORS / 2 {
            // The opposite sector holds the same pairs with the opposite sign: one term per pair.
            let [d, var] = residual[ring * SECTORS + sector];
            if var > 0.0 {
                chi2 += d * d / var;
                pairs += 1;
            }
        }
    }
    let dof = pairs.saturating_sub(TEMPLATES).max(1);
    let p_value = chi2_tail(chi2, dof);
    PolarizationSignal {
        chi2,
        dof,
        p_value,
        counts: s.sum(),
        centre: c,
        shift_px: [-beta[0] / 2.0, -beta[1] / 2.0],
        applicable: counts,
        detected: counts && p_value < SIGNAL_P_VALUE,
    }
}

/// Odd-derivative templates fitted out of the antisymmetric part.
const TEMPLATES: usize = 6;

/// Solves a small linear system by Gaussian elimination with partial pivoting.
fn solve<const N: usize>(mut a: [[f64; N]; N], mut b: [f64; N]) -> Option<[f64; N]> {
    for col in 0..N {
        let pivot = (col..N).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..N {
            let f = a[row][col] / a[col][col];
            let pivot_row = a[col];
            for (x, p) in a[row][col..].iter_mut().zip(&pivot_row[col..]) {
                *x -= f * p;
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = [0f64; N];
    for row in (0..N).rev() {
        let tail: f64 = (row + 1..N).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - tail) / a[row][row];
    }
    Some(x)
}

/// Mean Σ (S(k) − S(2c − k))² / (S(k) + S(2c − k)) over the disc around `c` inside the
/// detector (infinite when `c` leaves no such disc).
fn asymmetry(s: &Array2<f64>, c: [f64; 2]) -> f64 {
    let (rows, cols) = s.dim();
    let radius = c[0]
        .min(c[1])
        .min(rows as f64 - 1.0 - c[0])
        .min(cols as f64 - 1.0 - c[1]);
    if radius < 2.0 {
        return f64::INFINITY;
    }
    let (mut sum, mut n) = (0.0, 0usize);
    for r in 0..rows {
        for k in 0..cols {
            let (dr, dc) = (r as f64 - c[0], k as f64 - c[1]);
            if dr.hypot(dc) >= radius {
                continue;
            }
            let (rr, kk) = (
                (2.0 * c[0] - r as f64) as usize,
                (2.0 * c[1] - k as f64) as usize,
            );
            let (a, b) = (s[[r, k]], s[[rr, kk]]);
            sum += (a - b).powi(2) / (a + b).max(1.0);
            n += 1;
        }
    }
    sum / n.max(1) as f64
}

/// P(χ²_ν > x), Wilson–Hilferty: (x/ν)^(1/3) is close to normal with mean 1 − 2/(9ν) and
/// variance 2/(9ν) (relative error of a few per cent in the tail at ν ≥ 10).
pub fn chi2_tail(x: f64, dof: usize) -> f64 {
    let nu = dof.max(1) as f64;
    let v = 2.0 / (9.0 * nu);
    let z = ((x.max(0.0) / nu).cbrt() - (1.0 - v)) / v.sqrt();
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// Complementary error function (Numerical Recipes' erfcc, fractional error below 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Poisson};

    /// A disk of `counts` electrons at `centre` with a soft edge, plus `tilt` × an odd
    /// (antisymmetric, quadrupole-free) ring modulation, drawn with Poisson noise.
    fn pattern(centre: [f64; 2], counts: f64, tilt: f64, seed: u64) -> Array2<f64> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mean = Array2::from_shape_fn((64, 64), |(r, c)| {
            let (dr, dc) = (r as f64 - centre[0], c as f64 - centre[1]);
            let rho = dr.hypot(dc);
            let disk = 1.0 / (1.0 + ((rho - 14.0) / 0.8).exp());
            let angle = (-dr).atan2(dc);
            let odd = tilt * (3.0 * angle).sin() * (-(rho - 9.0).powi(2) / 8.0).exp();
            (disk * (1.0 + odd)).max(0.0)
        });
        let scale = counts / mean.sum();
        mean.mapv(|m| {
            let lambda = m * scale;
            if lambda > 0.0 {
                Poisson::new(lambda).unwrap().sample(&mut rng)
            } else {
                0.0
            }
        })
    }

    #[test]
    fn centrosymmetric_pattern_with_noise_is_not_a_signal_even_off_centre() {
        let mut false_alarms = 0;
        for seed in 0..20 {
            // Sub-pixel centres, the disk-centre estimate off by up to a few tenths of a pixel.
            let centre = [31.5 + 0.07 * seed as f64 % 0.5, 31.2 + 0.03 * seed as f64];
            let s = pattern(centre, 1e8, 0.0, seed);
            let t = test(&s, [31.6, 31.4], true);
            assert!(t.applicable && t.dof == 10, "{t:?}");
            false_alarms += t.detected as usize;
        }
        assert!(false_alarms <= 1, "{false_alarms} of 20 false alarms");
    }

    #[test]
    fn antisymmetric_modulation_is_a_signal() {
        // A 1 % odd modulation at 10⁸ electrons.
        let t = test(&pattern([31.5, 31.5], 1e8, 0.01, 1), [31.5, 31.5], true);
        assert!(t.detected && t.p_value < 1e-6, "{t:?}");
        // Not when the data are not counts.
        let t = test(&pattern([31.5, 31.5], 1e8, 0.01, 1), [31.5, 31.5], false);
        assert!(!t.detected && t.polarised());
    }

    #[test]
    fn chi2_tail_matches_known_quantiles() {
        // χ²_14: 95th percentile 23.685, 99.9th 36.123.
        assert!((chi2_tail(23.685, 14) - 0.05).abs() < 0.003);
        assert!((chi2_tail(36.123, 14) - 0.001).abs() < 0.0003);
        assert!((chi2_tail(14.0, 14) - 0.45).abs() < 0.02);
    }
}
