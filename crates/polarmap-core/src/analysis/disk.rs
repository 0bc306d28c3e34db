//! Bright-field disk detection on a (mean) diffraction pattern.
//!
//! Median-filter (removes hot pixels), threshold half-way between the background (median) and the
//! disk plateau (filtered maximum), keep the connected region around the brightest point, then fit
//! a circle to its edge located with sub-pixel interpolation. Edge points on the frame border are
//! left out, so a disk cut by the border is still measured right.

use crate::error::{Error, Result};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BfDisk {
    pub center_row: f64,
    pub center_col: f64,
    pub radius_px: f64,
}

pub fn detect_bf_disk(pattern: &Array2<f64>) -> Result<BfDisk> {
    let (rows, cols) = pattern.dim();
    if rows < 3 || cols < 3 {
        return Err(Error::invalid(format!(
            "pattern {rows}x{cols} is too small to find a bright-field disk"
        )));
    }
    if pattern.iter().any(|v| !v.is_finite()) {
        return Err(Error::invalid("pattern contains NaN or infinite values"));
    }
    let filtered = median3(pattern);
    let background = percentile(filtered.iter().copied().collect(), 0.5);
    let peak = filtered.iter().copied().fold(f64::MIN, f64::max);
    if peak <= background {
        return Err(Error::invalid(
            "pattern is flat: no bright-field disk stands out from the background",
        ));
    }
    // Otsu's threshold separates disk from background whatever the structure inside the disk
    // (thick specimens give a far from flat disk, so half the maximum would cut into it).
    let threshold = otsu_threshold(&filtered);
    let region = largest_region(&filtered, threshold);
    let area = region.iter().filter(|&&m| m).count() as f64;
    let edge = edge_points(&filtered, &region, threshold);
    if let Some(disk) = fit_circle(&edge).filter(|d| d.radius_px > 0.5) {
        return Ok(disk);
    }
    // Too few edge points for a fit (tiny disk): centroid and the radius of equal area.
    let (mut sr, mut sc) = (0.0, 0.0);
    for ((r, c), _) in region.indexed_iter().filter(|(_, &m)| m) {
        sr += r as f64;
        sc += c as f64;
    }
    Ok(BfDisk {
        center_row: sr / area,
        center_col: sc / area,
        radius_px: (area / std::f64::consts::PI).sqrt(),
    })
}

fn median3(image: &Array2<f64>) -> Array2<f64> {
    let (rows, cols) = image.dim();
    Array2::from_shape_fn((rows, cols), |(r, c)| {
        let mut window = [0f64; 9];
        let mut n = 0;
        for rr in r.saturating_sub(1)..(r + 2).min(rows) {
            for cc in c.saturating_sub(1)..(c + 2).min(cols) {
                window[n] = image[(rr, cc)];
                n += 1;
            }
        }
        let w = &mut window[..n];
        w.sort_by(|a, b| a.total_cmp(b));
        w[n / 2]
    })
}

/// The `q`-quantile (0..=1) of `values` (nearest rank).
pub fn percentile(mut values: Vec<f64>, q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let k = ((values.len() - 1) as f64 * q).round() as usize;
    *values.select_nth_unstable_by(k, |a, b| a.total_cmp(b)).1
}

/// Otsu's threshold over a 256-bin histogram between the image's minimum and maximum.
fn otsu_threshold(image: &Array2<f64>) -> f64 {
    let lo = image.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = image.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    const BINS: usize = 256;
    let width = (hi - lo) / BINS as f64;
    let mut hist = [0f64; BINS];
    for &v in image {
        hist[(((v - lo) / width) as usize).min(BINS - 1)] += 1.0;
    }
    let total: f64 = hist.iter().sum();
    let sum_all: f64 = hist.iter().enumerate().map(|(i, &h)| i as f64 * h).sum();
    let (mut weight_below, mut sum_below) = (0.0, 0.0);
    let (mut best, mut best_between) = (0, f64::MIN);
    for (i, &h) in hist.iter().enumerate() {
        weight_below += h;
        sum_below += i as f64 * h;
        let weight_above = total - weight_below;
        if weight_below == 0.0 || weight_above == 0.0 {
            continue;
        }
        let mean_below = sum_below / weight_below;
        let mean_above = (sum_all - sum_below) / weight_above;
        let between = weight_below * weight_above * (mean_below - mean_above).powi(2);
        if between > best_between {
            best_between = between;
            best = i;
        }
    }
    lo + (best as f64 + 1.0) * width
}

/// The largest 4-connected region of pixels above `threshold`.
fn largest_region(image: &Array2<f64>, threshold: f64) -> Array2<bool> {
    let mut claimed = Array2::from_elem(image.dim(), false);
    let mut best: Option<(usize, Array2<bool>)> = None;
    for (ix, &v) in image.indexed_iter() {
        if v <= threshold || claimed[ix] {
            continue;
        }
        let region = connected_region(image, ix, threshold);
        let size = region.iter().filter(|&&m| m).count();
        claimed.zip_mut_with(&region, |c, &m| *c |= m);
        if best.as_ref().is_none_or(|(n, _)| size > *n) {
            best = Some((size, region));
        }
    }
    best.map(|(_, r)| r)
        .expect("a pixel above the threshold exists")
}

/// Pixels above `threshold` 4-connected to `seed`.
fn connected_region(image: &Array2<f64>, seed: (usize, usize), threshold: f64) -> Array2<bool> {
    let (rows, cols) = image.dim();
    let mut mask = Array2::from_elem((rows, cols), false);
    let mut stack = vec![seed];
    mask[seed] = true;
    while let Some((r, c)) = stack.pop() {
        for (dr, dc) in [(-1i64, 0i64), (1, 0), (0, -1), (0, 1)] {
            let (nr, nc) = (r as i64 + dr, c as i64 + dc);
            if nr < 0 || nc < 0 || nr >= rows as i64 || nc >= cols as i64 {
                continue;
            }
            let n = (nr as usize, nc as usize);
            if !mask[n] && image[n] > threshold {
                mask[n] = true;
                stack.push(n);
            }
        }
    }
    mask
}

/// Sub-pixel points where the image crosses `threshold` between a region pixel and an outside
/// neighbour (not across the frame border).
fn edge_points(image: &Array2<f64>, region: &Array2<bool>, threshold: f64) -> Vec<[f64; 2]> {
    let (rows, cols) = image.dim();
    let mut points = Vec::new();
    for ((r, c), _) in region.indexed_iter().filter(|(_, &m)| m) {
        for (dr, dc) in [(-1i64, 0i64), (1, 0), (0, -1), (0, 1)] {
            let (nr, nc) = (r as i64 + dr, c as i64 + dc);
            if nr < 0 || nc < 0 || nr >= rows as i64 || nc >= cols as i64 {
                continue;
            }
            let n = (nr as usize, nc as usize);
            if region[n] {
                continue;
            }
            let (inside, outside) = (image[(r, c)], image[n]);
            let t = ((inside - threshold) / (inside - outside)).clamp(0.0, 1.0);
            points.push([r as f64 + t * dr as f64, c as f64 + t * dc as f64]);
        }
    }
    points
}

/// Algebraic least-squares circle fit (Kåsa): x² + y² + D x + E y + F = 0.
fn fit_circle(points: &[[f64; 2]]) -> Option<BfDisk> {
    if points.len() < 8 {
        return None;
    }
    // Centre the coordinates for conditioning.
    let n = points.len() as f64;
    let mr = points.iter().map(|p| p[0]).sum::<f64>() / n;
    let mc = points.iter().map(|p| p[1]).sum::<f64>() / n;
    let mut ata = [[0f64; 3]; 3];
    let mut atb = [0f64; 3];
    for p in points {
        let (x, y) = (p[0] - mr, p[1] - mc);
        let row = [x, y, 1.0];
        let rhs = -(x * x + y * y);
        for i in 0..3 {
            for j in 0..3 {
                ata[i][j] += row[i] * row[j];
            }
            atb[i] += row[i] * rhs;
        }
    }
    let [d, e, f] = solve3(ata, atb)?;
    let (cx, cy) = (-d / 2.0, -e / 2.0);
    let r2 = cx * cx + cy * cy - f;
    (r2 > 0.0).then(|| BfDisk {
        center_row: cx + mr,
        center_col: cy + mc,
        radius_px: r2.sqrt(),
    })
}

/// Solves a 3×3 linear system by Cramer's rule; None when singular.
pub(crate) fn solve3(a: [[f64; 3]; 3], b: [f64; 3]) -> Option<[f64; 3]> {
    let det = |m: [[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(a);
    let scale = a
        .iter()
        .flatten()
        .map(|v| v.abs())
        .fold(0.0, f64::max)
        .powi(3);
    if d.abs() <= 1e-12 * scale || !d.is_finite() {
        return None;
    }
    let mut out = [0f64; 3];
    for (k, o) in out.iter_mut().enumerate() {
        let mut m = a;
        for i in 0..3 {
            m[i][k] = b[i];
        }
        *o = det(m) / d;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Poisson};

    /// A disk with soft (antialiased) edges of intensity `level` on a background of 1.
    fn disk(rows: usize, cols: usize, cr: f64, cc: f64, radius: f64, level: f64) -> Array2<f64> {
        Array2::from_shape_fn((rows, cols), |(r, c)| {
            let d = ((r as f64 - cr).powi(2) + (c as f64 - cc).powi(2)).sqrt();
            1.0 + level * (radius - d + 0.5).clamp(0.0, 1.0)
        })
    }

    #[test]
    fn finds_centred_disk_exactly() {
        let d = detect_bf_disk(&disk(128, 128, 63.5, 63.5, 20.0, 100.0)).unwrap();
        assert!((d.center_row - 63.5).abs() < 0.05, "{d:?}");
        assert!((d.center_col - 63.5).abs() < 0.05, "{d:?}");
        assert!((d.radius_px - 20.0).abs() < 0.2, "{d:?}");
    }

    #[test]
    fn finds_off_centre_noisy_disk_with_hot_pixel() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let clean = disk(96, 128, 30.2, 80.7, 14.3, 40.0);
        let mut noisy = clean.mapv(|v| Poisson::new(v).unwrap().sample(&mut rng));
        noisy[(5, 5)] = 1e6; // a hot pixel
        noisy[(90, 3)] = 5e4;
        let d = detect_bf_disk(&noisy).unwrap();
        assert!((d.center_row - 30.2).abs() < 0.3, "{d:?}");
        assert!((d.center_col - 80.7).abs() < 0.3, "{d:?}");
        assert!((d.radius_px - 14.3).abs() < 0.4, "{d:?}");
    }

    #[test]
    fn disk_cut_by_the_border_keeps_its_radius() {
        let d = detect_bf_disk(&disk(64, 64, 10.0, 32.0, 16.0, 50.0)).unwrap();
        assert!((d.center_row - 10.0).abs() < 0.2, "{d:?}");
        assert!((d.radius_px - 16.0).abs() < 0.3, "{d:?}");
    }

    #[test]
    fn structured_disk_of_a_thick_specimen_keeps_its_full_radius() {
        // Inside the disk: a bright lobe three times the plateau (as channelling gives), which
        // made a half-maximum threshold cut into the disk.
        let mut p = disk(64, 64, 31.5, 31.5, 19.0, 80.0);
        for ((r, c), v) in p.indexed_iter_mut() {
            let d = ((r as f64 - 28.0).powi(2) + (c as f64 - 35.0).powi(2)).sqrt();
            if d < 5.0 {
                *v += 160.0;
            }
        }
        let d = detect_bf_disk(&p).unwrap();
        assert!((d.radius_px - 19.0).abs() < 0.3, "{d:?}");
        assert!(
            (d.center_row - 31.5).abs() < 0.2 && (d.center_col - 31.5).abs() < 0.2,
            "{d:?}"
        );
    }

    #[test]
    fn flat_pattern_is_an_error() {
        assert!(detect_bf_disk(&Array2::from_elem((16, 16), 3.0)).is_err());
        let mut nan = Array2::from_elem((16, 16), 3.0);
        nan[(2, 2)] = f64::NAN;
        assert!(detect_bf_disk(&nan).is_err());
    }
}
