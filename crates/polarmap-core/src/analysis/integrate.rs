//! Integrated centre of mass (iCoM) and integrated DPC (iDPC): the scalar image whose gradient is
//! a measured deflection field. For a thin specimen the CoM shift is proportional to the gradient
//! of the projected electrostatic potential, so its integral is that potential (bright at atom
//! columns, oxygen included), the image ferroelectric users read beside the class map.
//!
//! Integration is done in Fourier space, φ = F⁻¹[(k_x G_x + k_y G_y) / (2πi |k|²)], on the field
//! mirrored into a 2R × 2C periodic extension (the gradient's component along a mirror axis
//! changes sign), so a non-periodic scan gets no wrap-around edge artefacts and a constant
//! gradient integrates to a ramp. The curl-free part of the field is what survives; noise and
//! descan residue with curl are dropped.

use super::com::{ComField, Descan, ScanRotation};
use super::descan::Plane;
use ndarray::Array2;
use rustfft::num_complex::Complex64;
use rustfft::FftPlanner;

/// The scalar field whose gradient best matches `(gx, gy)` (least squares), with zero mean.
/// `gx` is ∂φ/∂x along columns (x right) and `gy` ∂φ/∂y with y **up** (decreasing row), in units
/// per scan pixel; pass `step` (x, y) to integrate over physical distances instead.
pub fn integrate_gradient(gx: &Array2<f64>, gy: &Array2<f64>, step: [f64; 2]) -> Array2<f64> {
    let (rows, cols) = gx.dim();
    assert_eq!(
        gy.dim(),
        (rows, cols),
        "gradient components must have one shape"
    );
    if rows == 0 || cols == 0 {
        return Array2::zeros((rows, cols));
    }
    let (h, w) = (2 * rows, 2 * cols);
    // The derivative along rows (downwards) is −∂φ/∂y.
    let mut fx = vec![Complex64::default(); h * w];
    let mut fr = vec![Complex64::default(); h * w];
    for r in 0..h {
        let (sr, flip_r) = mirror(r, rows);
        for c in 0..w {
            let (sc, flip_c) = mirror(c, cols);
            let x = gx[(sr, sc)] * if flip_c { -1.0 } else { 1.0 };
            let d_row = -gy[(sr, sc)] * if flip_r { -1.0 } else { 1.0 };
            fx[r * w + c] = Complex64::new(x, 0.0);
            fr[r * w + c] = Complex64::new(d_row, 0.0);
        }
    }
    let mut planner = FftPlanner::new();
    fft2(&mut planner, &mut fx, h, w, false);
    fft2(&mut planner, &mut fr, h, w, false);
    // k in cycles per unit length; derivative ↔ multiplication by 2πik.
    let mut phi = vec![Complex64::default(); h * w];
    for r in 0..h {
        let kr = frequency(r, h) / step[1];
        for c in 0..w {
            let kc = frequency(c, w) / step[0];
            let k2 = kr * kr + kc * kc;
            if k2 > 0.0 {
                let i = r * w + c;
                let num = fx[i] * kc + fr[i] * kr;
                phi[i] = num / Complex64::new(0.0, 2.0 * std::f64::consts::PI * k2);
            }
        }
    }
    fft2(&mut planner, &mut phi, h, w, true);
    let scale = 1.0 / (h * w) as f64;
    let mut out = Array2::from_shape_fn((rows, cols), |(r, c)| phi[r * w + c].re * scale);
    let mean = out.mean().unwrap_or(0.0);
    out.mapv_inplace(|v| v - mean);
    out
}

/// The iCoM image of a CoM field (image frame, detector pixels per scan pixel; the field's
/// rotation into the scan frame must already be applied, as [`ComField`] is).
pub fn icom(field: &ComField) -> Array2<f64> {
    let gx = field.x.mapv(f64::from);
    let gy = field.y.mapv(f64::from);
    integrate_gradient(&gx, &gy, [1.0, 1.0])
}

/// The deflection signal of a four-quadrant (segmented) detector, from the quadrants' images in
/// [`super::VirtualDetector::quadrants`]'s order (right-up, left-up, left-down, right-down):
/// x = (right − left) / sum, y = (up − down) / sum, in the detector frame. Dimensionless (a
/// fraction of the intensity), not pixels; a pattern without intensity gives zero.
pub fn dpc_field(quadrants: [&Array2<f32>; 4]) -> ComField {
    let [q0, q1, q2, q3] = quadrants;
    let ratio = |num: f32, den: f32| if den > 0.0 { num / den } else { 0.0 };
    let x = ndarray::Zip::from(q0)
        .and(q1)
        .and(q2)
        .and(q3)
        .map_collect(|&a, &b, &c, &d| ratio(a + d - b - c, a + b + c + d));
    let y = ndarray::Zip::from(q0)
        .and(q1)
        .and(q2)
        .and(q3)
        .map_collect(|&a, &b, &c, &d| ratio(a + b - c - d, a + b + c + d));
    ComField { x, y }
}

/// The iDPC image: the segmented-detector signal with the descan removed as the CoM field's
/// is, rotated into the scan frame (the same rotation as the CoM field's) and integrated.
///
/// Under a fitted-plane descan ([`Descan::Plane`]) a plane fitted to each DPC component is
/// subtracted: a BF disk that drifts across the segments with probe position gives the signal an
/// offset linear in position, which would integrate to a quadratic surface. Under a fixed
/// reference the signal is integrated as measured: the segments are already centred on the BF
/// disk, the detector's own reference.
pub fn idpc(quadrants: [&Array2<f32>; 4], descan: &Descan, rotation: ScanRotation) -> Array2<f64> {
    let mut dpc = dpc_field(quadrants);
    if let Descan::Plane { .. } = descan {
        for component in [&mut dpc.x, &mut dpc.y] {
            let plane = Plane::fit(component);
            for ((r, c), v) in component.indexed_iter_mut() {
                *v -= plane.at(r, c) as f32;
            }
        }
    }
    icom(&dpc.rotated(rotation))
}

/// Index `i` of the 2n mirrored extension → (source index, whether it is the mirrored half).
fn mirror(i: usize, n: usize) -> (usize, bool) {
    if i < n {
        (i, false)
    } else {
        (2 * n - 1 - i, true)
    }
}

/// FFT frequency of bin `i` of `n`, in cycles per sample.
fn frequency(i: usize, n: usize) -> f64 {
    let i = i as f64;
    let n_f = n as f64;
    if i < n_f / 2.0 {
        i / n_f
    } else {
        (i - n_f) / n_f
    }
}

/// In-place 2-D FFT of a row-major `h × w` array (unnormalised).
fn fft2(planner: &mut FftPlanner<f64>, data: &mut [Complex64], h: usize, w: usize, inverse: bool) {
    let row_fft = if inverse {
        planner.plan_fft_inverse(w)
    } else {
        planner.plan_fft_forward(w)
    };
    for row in data.chunks_exact_mut(w) {
        row_fft.process(row);
    }
    let col_fft = if inverse {
        planner.plan_fft_inverse(h)
    } else {
        planner.plan_fft_forward(h)
    };
    let mut column = vec![Complex64::default(); h];
    for c in 0..w {
        for r in 0..h {
            column[r] = data[r * w + c];
        }
        col_fft.process(&mut column);
        for r in 0..h {
            data[r * w + c] = column[r];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rms(a: &Array2<f64>) -> f64 {
        (a.iter().map(|v| v * v).sum::<f64>() / a.len() as f64).sqrt()
    }

    /// φ = a non-periodic mix of Gaussians and a ramp, x right, y up (y = −row).
    fn potential(r: f64, c: f64) -> f64 {
        let (x, y) = (c, -r);
        let bump = |x0: f64, y0: f64, s: f64| {
            (-((x - x0).powi(2) + (y - y0).powi(2)) / (2.0 * s * s)).exp()
        };
        3.0 * bump(10.0, -12.0, 3.0) - 2.0 * bump(25.0, -5.0, 4.0) + 0.05 * x + 0.02 * y
    }

    #[test]
    fn recovers_a_known_non_periodic_potential() {
        let (rows, cols) = (40, 48);
        let truth = Array2::from_shape_fn((rows, cols), |(r, c)| potential(r as f64, c as f64));
        let d = 1e-4;
        let gx = Array2::from_shape_fn((rows, cols), |(r, c)| {
            let (r, c) = (r as f64, c as f64);
            (potential(r, c + d) - potential(r, c - d)) / (2.0 * d)
        });
        let gy = Array2::from_shape_fn((rows, cols), |(r, c)| {
            let (r, c) = (r as f64, c as f64);
            // y up: +y is −row.
            (potential(r - d, c) - potential(r + d, c)) / (2.0 * d)
        });
        let phi = integrate_gradient(&gx, &gy, [1.0, 1.0]);
        let mean = truth.mean().unwrap();
        let expected = truth.mapv(|v| v - mean);
        let error = rms(&(&phi - &expected)) / rms(&expected);
        // The discrete Fourier derivative of a sampled smooth field: small, not zero.
        assert!(error < 0.03, "relative rms error {error}");
    }

    #[test]
    fn a_constant_gradient_is_a_ramp_and_step_scales_it() {
        let gx = Array2::from_elem((16, 20), 0.5);
        let gy = Array2::zeros((16, 20));
        let phi = integrate_gradient(&gx, &gy, [1.0, 1.0]);
        // Along a row φ rises by 0.5 per column (away from the ends of the mirrored square wave).
        let slope = (phi[(8, 14)] - phi[(8, 5)]) / 9.0;
        assert!((slope - 0.5).abs() < 0.02, "slope {slope}");
        // Every row is the same: no spurious y dependence.
        assert!((phi[(2, 10)] - phi[(13, 10)]).abs() < 1e-9);
        let phi2 = integrate_gradient(&gx, &gy, [2.0, 2.0]);
        assert!((phi2[(8, 14)] - phi2[(8, 5)] - 2.0 * (phi[(8, 14)] - phi[(8, 5)])).abs() < 1e-9);
    }

    #[test]
    fn a_pure_curl_integrates_to_nothing() {
        // g = (−∂ψ/∂y, ∂ψ/∂x) has no gradient part. ψ vanishes on the half-pixel borders, so
        // the field keeps the mirror symmetry the extension assumes (a curl that does not is
        // not removed exactly: near the edges it looks like a gradient).
        let (rows, cols) = (24, 32);
        let (kr, kc) = (
            std::f64::consts::PI / rows as f64,
            std::f64::consts::PI / cols as f64,
        );
        let (sr, cr) = (
            |r: usize| (kr * (r as f64 + 0.5)).sin(),
            |r: usize| (kr * (r as f64 + 0.5)).cos(),
        );
        let (sc, cc) = (
            |c: usize| (kc * (c as f64 + 0.5)).sin(),
            |c: usize| (kc * (c as f64 + 0.5)).cos(),
        );
        // y = −row: ∂ψ/∂y = −∂ψ/∂row.
        let gx = Array2::from_shape_fn((rows, cols), |(r, c)| sc(c) * kr * cr(r));
        let gy = Array2::from_shape_fn((rows, cols), |(r, c)| kc * cc(c) * sr(r));
        let phi = integrate_gradient(&gx, &gy, [1.0, 1.0]);
        assert!(rms(&phi) < 1e-9, "rms {}", rms(&phi));
        // The same field as a gradient (swap the roles) integrates to something.
        let phi = integrate_gradient(&gy, &gx.mapv(|v| -v), [1.0, 1.0]);
        assert!(rms(&phi) > 0.1, "rms {}", rms(&phi));
    }

    #[test]
    fn idpc_removes_a_linear_descan_only_under_the_plane_descan() {
        // Four segments whose x signal (right − left)/sum drifts linearly with the scan column
        // (a BF disk sliding across the segments) on top of a column-periodic deflection.
        let (rows, cols) = (16, 24);
        let wave = |c: usize| 0.05 * (2.0 * std::f64::consts::PI * c as f64 / 6.0).sin();
        let drift = |c: usize| 0.02 * (c as f64 - 11.5);
        let segments = |total: fn(f64) -> f64| {
            let right = Array2::from_shape_fn((rows, cols), |(_, c)| {
                (0.5 + (wave(c) + total(drift(c))) / 2.0) as f32 / 2.0
            });
            let left = right.mapv(|v| 0.5 - v);
            [right.clone(), left.clone(), left, right]
        };
        let [a, b, c, d] = segments(|drift| drift);
        let drifting = [&a, &b, &c, &d];
        let [a0, b0, c0, d0] = segments(|_| 0.0);
        let steady = [&a0, &b0, &c0, &d0];
        let plane = Descan::Plane {
            row: Plane::constant(0.0),
            col: Plane::constant(0.0),
        };
        let fixed = Descan::Fixed { row: 0.0, col: 0.0 };
        let no_rotation = ScanRotation::default();
        // Plane descan: a linear drift added to the signal changes nothing (the plane fit is
        // linear in the signal), and the periodic deflection still integrates to its columns.
        let reference = idpc(steady, &plane, no_rotation);
        let removed = idpc(drifting, &plane, no_rotation);
        let error = rms(&(&removed - &reference)) / rms(&reference);
        assert!(error < 1e-4, "relative rms error {error}");
        assert!(rms(&reference) > 0.01, "rms {}", rms(&reference));
        // Fixed reference: the drift is integrated, a parabola along the columns that outweighs
        // the periodic part.
        let kept = idpc(drifting, &fixed, no_rotation);
        assert!(
            rms(&(&kept - &reference)) > rms(&reference),
            "drift not integrated"
        );
    }

    #[test]
    fn empty_and_single_pixel_fields() {
        let e = Array2::<f64>::zeros((0, 3));
        assert_eq!(integrate_gradient(&e, &e, [1.0, 1.0]).dim(), (0, 3));
        let one = Array2::from_elem((1, 1), 2.0);
        assert_eq!(integrate_gradient(&one, &one, [1.0, 1.0])[(0, 0)], 0.0);
    }
}
