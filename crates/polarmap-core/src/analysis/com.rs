//! The CoM vector field in the image frame (x right, y up), after removing the descan and
//! applying the rotation/flip between detector and scan axes.

use super::descan::Plane;
use super::pass::PatternMaps;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// What the per-pattern CoM is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Descan {
    /// A fixed detector position (row, col): the BF disk centre, the paper's global CoM, or the
    /// array centre.
    Fixed { row: f64, col: f64 },
    /// Planes fitted to the CoM rows and columns over the scan (linear descan).
    Plane { row: Plane, col: Plane },
}

impl Descan {
    /// Fits the linear descan to a pass's CoM maps.
    pub fn fit_plane(maps: &PatternMaps) -> Descan {
        Descan::Plane {
            row: Plane::fit(&maps.com_row),
            col: Plane::fit(&maps.com_col),
        }
    }

    /// The reference position (row, col) at scan position (r, c).
    pub fn at(&self, r: usize, c: usize) -> [f64; 2] {
        match self {
            Descan::Fixed { row, col } => [*row, *col],
            Descan::Plane { row, col } => [row.at(r, c), col.at(r, c)],
        }
    }
}

/// Rotation and flip taking detector directions to scan directions: the detector vector is
/// mirrored (y → −y) if `flip`, then rotated counter-clockwise by `angle_deg`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct ScanRotation {
    pub angle_deg: f64,
    pub flip: bool,
}

impl ScanRotation {
    pub fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        let y = if self.flip { -y } else { y };
        let (s, c) = self.angle_deg.to_radians().sin_cos();
        (c * x - s * y, s * x + c * y)
    }
}

/// CoM shift per scan position, in detector pixels, image frame (x right, y up).
#[derive(Debug, Clone, PartialEq)]
pub struct ComField {
    pub x: Array2<f32>,
    pub y: Array2<f32>,
}

impl ComField {
    /// Shift of each pattern's CoM from the descan reference, rotated into the scan frame.
    pub fn from_maps(maps: &PatternMaps, descan: &Descan, rotation: ScanRotation) -> ComField {
        let (rows, cols) = maps.com_row.dim();
        let mut x = Array2::zeros((rows, cols));
        let mut y = Array2::zeros((rows, cols));
        for r in 0..rows {
            for c in 0..cols {
                let [ref_row, ref_col] = descan.at(r, c);
                let dx = maps.com_col[(r, c)] as f64 - ref_col;
                let dy = -(maps.com_row[(r, c)] as f64 - ref_row);
                let (rx, ry) = rotation.apply(dx, dy);
                x[(r, c)] = rx as f32;
                y[(r, c)] = ry as f32;
            }
        }
        ComField { x, y }
    }

    pub fn dim(&self) -> (usize, usize) {
        self.x.dim()
    }

    pub fn magnitude(&self) -> Array2<f32> {
        ndarray::Zip::from(&self.x)
            .and(&self.y)
            .map_collect(|&x, &y| x.hypot(y))
    }

    /// Mean vector over the scan.
    pub fn mean(&self) -> [f64; 2] {
        let n = self.x.len().max(1) as f64;
        [
            self.x.iter().map(|&v| v as f64).sum::<f64>() / n,
            self.y.iter().map(|&v| v as f64).sum::<f64>() / n,
        ]
    }

    /// `(curl, divergence)` maps by central differences on the scan grid (x = col, y = −row);
    /// one-sided at the borders.
    pub fn curl_divergence(&self) -> (Array2<f64>, Array2<f64>) {
        let (rows, cols) = self.dim();
        let d_dx = |f: &Array2<f32>, r: usize, c: usize| -> f64 {
            let (a, b) = (c.saturating_sub(1), (c + 1).min(cols - 1));
            if a == b {
                0.0
            } else {
                (f[(r, b)] - f[(r, a)]) as f64 / (b - a) as f64
            }
        };
        // y is up, rows go down: d/dy = −d/drow.
        let d_dy = |f: &Array2<f32>, r: usize, c: usize| -> f64 {
            let (a, b) = (r.saturating_sub(1), (r + 1).min(rows - 1));
            if a == b {
                0.0
            } else {
                -(f[(b, c)] - f[(a, c)]) as f64 / (b - a) as f64
            }
        };
        let curl = Array2::from_shape_fn((rows, cols), |(r, c)| {
            d_dx(&self.y, r, c) - d_dy(&self.x, r, c)
        });
        let div = Array2::from_shape_fn((rows, cols), |(r, c)| {
            d_dx(&self.x, r, c) + d_dy(&self.y, r, c)
        });
        (curl, div)
    }

    /// The same field in another rotation (for searching the detector-to-scan rotation).
    pub fn rotated(&self, rotation: ScanRotation) -> ComField {
        let mut out = self.clone();
        ndarray::Zip::from(&mut out.x)
            .and(&mut out.y)
            .for_each(|x, y| {
                let (rx, ry) = rotation.apply(*x as f64, *y as f64);
                *x = rx as f32;
                *y = ry as f32;
            });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_is_counter_clockwise_and_flip_mirrors_y() {
        let r = ScanRotation {
            angle_deg: 90.0,
            flip: false,
        };
        let (x, y) = r.apply(1.0, 0.0);
        assert!(x.abs() < 1e-12 && (y - 1.0).abs() < 1e-12);
        let f = ScanRotation {
            angle_deg: 0.0,
            flip: true,
        };
        assert_eq!(f.apply(0.3, 0.7), (0.3, -0.7));
    }

    #[test]
    fn gradient_field_has_no_curl_and_rotational_field_has_no_divergence() {
        // Field = ∇(x² + y²)/2 = (x, y): pure divergence. Its 90° rotation (−y, x): pure curl.
        let (rows, cols) = (9, 11);
        let x = Array2::from_shape_fn((rows, cols), |(_, c)| c as f32 - 5.0);
        let y = Array2::from_shape_fn((rows, cols), |(r, _)| 4.0 - r as f32);
        let field = ComField { x, y };
        let (curl, div) = field.curl_divergence();
        assert!(curl.iter().all(|v| v.abs() < 1e-9));
        assert!(div.iter().all(|v| (v - 2.0).abs() < 1e-9));
        let turned = field.rotated(ScanRotation {
            angle_deg: 90.0,
            flip: false,
        });
        let (curl, div) = turned.curl_divergence();
        assert!(curl.iter().all(|v| (v - 2.0).abs() < 1e-6));
        assert!(div.iter().all(|v| v.abs() < 1e-6));
    }
}
