//! Finding the rotation (and flip) between detector and scan axes by minimising the curl of the
//! CoM field, as py4DSTEM and LiberTEM do: the CoM of a thin specimen follows the gradient of the
//! projected potential, which is curl-free only in the right frame.
//!
//! Curl cannot tell θ from θ + 180° (the field only changes sign); the sign is chosen so that the
//! field converges on atom columns (negative divergence where a reference image that is bright
//! on atoms, such as ADF, is bright). Without a reference the angle is reported in [−90°, 90°).

use super::com::{ComField, ScanRotation};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RotationFit {
    pub rotation: ScanRotation,
    /// Mean squared curl at the optimum divided by the mean squared divergence there: near 0 for
    /// a clean potential-gradient field.
    pub curl_ratio: f64,
    /// Whether the 180° ambiguity was resolved with a reference image.
    pub sign_resolved: bool,
}

fn mean_square(a: &Array2<f64>) -> f64 {
    a.iter().map(|v| v * v).sum::<f64>() / a.len().max(1) as f64
}

fn curl_cost(field: &ComField, rotation: ScanRotation) -> f64 {
    mean_square(&field.rotated(rotation).curl_divergence().0)
}

/// Searches angles in 1° steps over [−90°, 90°) for both flips, then refines to ~0.01°.
pub fn find_scan_rotation(field: &ComField, atoms_bright: Option<&Array2<f32>>) -> RotationFit {
    let mut best = (f64::INFINITY, ScanRotation::default());
    for flip in [false, true] {
        for step in -90..90 {
            let rotation = ScanRotation {
                angle_deg: step as f64,
                flip,
            };
            let cost = curl_cost(field, rotation);
            if cost < best.0 {
                best = (cost, rotation);
            }
        }
    }
    // Golden-section refinement within ±1° of the best grid angle.
    let flip = best.1.flip;
    let cost_at = |a: f64| curl_cost(field, ScanRotation { angle_deg: a, flip });
    let (mut lo, mut hi) = (best.1.angle_deg - 1.0, best.1.angle_deg + 1.0);
    let g = (5f64.sqrt() - 1.0) / 2.0;
    while hi - lo > 0.01 {
        let (a, b) = (hi - g * (hi - lo), lo + g * (hi - lo));
        if cost_at(a) < cost_at(b) {
            hi = b;
        } else {
            lo = a;
        }
    }
    let mut rotation = ScanRotation {
        angle_deg: (lo + hi) / 2.0,
        flip,
    };
    let mut sign_resolved = false;
    if let Some(reference) = atoms_bright {
        let div = field.rotated(rotation).curl_divergence().1;
        let mean_ref =
            reference.iter().map(|&v| v as f64).sum::<f64>() / reference.len().max(1) as f64;
        let correlation: f64 = div
            .iter()
            .zip(reference.iter())
            .map(|(d, &r)| d * (r as f64 - mean_ref))
            .sum();
        if correlation != 0.0 {
            sign_resolved = true;
            if correlation > 0.0 {
                rotation.angle_deg += 180.0;
            }
        }
    }
    rotation.angle_deg = (rotation.angle_deg + 180.0).rem_euclid(360.0) - 180.0;
    let rotated = field.rotated(rotation);
    let (curl, div) = rotated.curl_divergence();
    RotationFit {
        rotation,
        curl_ratio: mean_square(&curl) / mean_square(&div).max(f64::MIN_POSITIVE),
        sign_resolved,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CoM field of a lattice of Gaussian "atoms": the gradient of the potential, pointing at the
    /// atoms, and an ADF-like image bright on them.
    fn lattice_field() -> (ComField, Array2<f32>) {
        let (rows, cols) = (40, 48);
        let potential = |x: f64, y: f64| {
            let (u, v) = (
                (x / 8.0 * std::f64::consts::TAU).cos(),
                (y / 10.0 * std::f64::consts::TAU).cos(),
            );
            (u + v + 0.5 * u * v).exp()
        };
        let mut fx = Array2::zeros((rows, cols));
        let mut fy = Array2::zeros((rows, cols));
        let mut adf = Array2::zeros((rows, cols));
        let h = 1e-4;
        for r in 0..rows {
            for c in 0..cols {
                let (x, y) = (c as f64, -(r as f64));
                fx[(r, c)] = ((potential(x + h, y) - potential(x - h, y)) / (2.0 * h)) as f32;
                fy[(r, c)] = ((potential(x, y + h) - potential(x, y - h)) / (2.0 * h)) as f32;
                adf[(r, c)] = potential(x, y) as f32;
            }
        }
        (ComField { x: fx, y: fy }, adf)
    }

    #[test]
    fn recovers_a_known_rotation_and_flip() {
        let (truth, adf) = lattice_field();
        for (angle, flip) in [(37.0, false), (-120.0, false), (75.0, true), (170.0, true)] {
            // The detector sees the scan-frame field rotated back by −angle (and mirrored).
            let forward = ScanRotation {
                angle_deg: angle,
                flip,
            };
            let detector = inverse(forward, &truth);
            let fit = find_scan_rotation(&detector, Some(&adf));
            assert_eq!(fit.rotation.flip, flip, "angle {angle}");
            let diff = (fit.rotation.angle_deg - angle + 540.0).rem_euclid(360.0) - 180.0;
            assert!(diff.abs() < 0.5, "expected {angle}, got {:?}", fit);
            assert!(fit.sign_resolved);
            // Central differences on an 8-px lattice leave a small residual curl; a wrong
            // angle leaves an order of magnitude more.
            assert!(fit.curl_ratio < 0.05, "{fit:?}");
            let off = ScanRotation {
                angle_deg: fit.rotation.angle_deg + 45.0,
                flip,
            };
            let wrong = detector.rotated(off).curl_divergence();
            assert!(mean_square(&wrong.0) / mean_square(&wrong.1) > 10.0 * fit.curl_ratio);
        }
    }

    fn inverse(forward: ScanRotation, field: &ComField) -> ComField {
        // Undo: rotate by −angle, then mirror.
        let unrotated = field.rotated(ScanRotation {
            angle_deg: -forward.angle_deg,
            flip: false,
        });
        if forward.flip {
            unrotated.rotated(ScanRotation {
                angle_deg: 0.0,
                flip: true,
            })
        } else {
            unrotated
        }
    }
}
