//! Virtual detectors on the diffraction pattern: a bright-field disk and an annular dark-field
//! ring, both centred on the BF disk, precomputed as column ranges per detector row so that the
//! per-pattern pass sums contiguous runs of pixels.

use super::Survey;
use serde::{Deserialize, Serialize};

/// Where the virtual detectors sit on the pattern, in detector pixels (row, col; pixel centres at
/// integer coordinates).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DetectorGeometry {
    pub center_row: f64,
    pub center_col: f64,
    /// Bright-field disk: pixels at distance ≤ this radius.
    pub bf_radius: f64,
    /// Annular dark field: pixels at distance in [inner, outer].
    pub adf_inner: f64,
    pub adf_outer: f64,
}

/// Half-open column range `[start, end)`.
pub type ColRange = (usize, usize);

/// The detector geometry rasterised for a frame size.
#[derive(Debug, Clone)]
pub struct RowRanges {
    pub bf: Vec<ColRange>,
    pub adf: Vec<[ColRange; 2]>,
}

impl DetectorGeometry {
    /// BF disk and ADF annulus on the surveyed disk (detector centre and a quarter of the
    /// detector when no disk was found).
    pub fn on_survey(survey: &Survey, frame_shape: [usize; 2]) -> DetectorGeometry {
        let [rows, cols] = frame_shape;
        let edge = rows.min(cols) as f64 / 2.0;
        let (center_row, center_col, radius) = match &survey.bf_disk {
            Ok(d) => (d.center_row, d.center_col, d.radius_px),
            Err(_) => (
                (rows as f64 - 1.0) / 2.0,
                (cols as f64 - 1.0) / 2.0,
                edge / 4.0,
            ),
        };
        DetectorGeometry {
            center_row,
            center_col,
            bf_radius: radius,
            adf_inner: 1.2 * radius,
            adf_outer: edge.max(1.2 * radius + 1.0),
        }
    }

    pub fn rasterise(&self, frame_shape: [usize; 2]) -> RowRanges {
        let [rows, cols] = frame_shape;
        let mut bf = Vec::with_capacity(rows);
        let mut adf = Vec::with_capacity(rows);
        for r in 0..rows {
            let dr = r as f64 - self.center_row;
            bf.push(closed_disk_range(dr, self.center_col, self.bf_radius, cols));
            let outer = closed_disk_range(dr, self.center_col, self.adf_outer, cols);
            let inner = open_disk_range(dr, self.center_col, self.adf_inner, cols);
            adf.push(subtract(outer, inner));
        }
        RowRanges { bf, adf }
    }

    /// Whether pixel (row, col) is in the BF disk / ADF annulus (the reference definition the
    /// rasterised ranges must agree with).
    pub fn contains(&self, row: usize, col: usize) -> (bool, bool) {
        let d2 = (row as f64 - self.center_row).powi(2) + (col as f64 - self.center_col).powi(2);
        (
            d2 <= self.bf_radius * self.bf_radius,
            d2 >= self.adf_inner * self.adf_inner && d2 <= self.adf_outer * self.adf_outer,
        )
    }
}

/// Columns with distance ≤ radius on a row `dr` away from the centre.
fn closed_disk_range(dr: f64, center_col: f64, radius: f64, cols: usize) -> ColRange {
    let h2 = radius * radius - dr * dr;
    if h2.is_nan() || h2 < 0.0 {
        return (0, 0);
    }
    let half = h2.sqrt();
    clamp_range(
        (center_col - half).ceil(),
        (center_col + half).floor() + 1.0,
        cols,
    )
}

/// Columns with distance < radius.
fn open_disk_range(dr: f64, center_col: f64, radius: f64, cols: usize) -> ColRange {
    let h2 = radius * radius - dr * dr;
    if h2.is_nan() || h2 <= 0.0 {
        return (0, 0);
    }
    let half = h2.sqrt();
    clamp_range(
        (center_col - half).floor() + 1.0,
        (center_col + half).ceil(),
        cols,
    )
}

fn clamp_range(start: f64, end: f64, cols: usize) -> ColRange {
    let clamp = |v: f64| v.clamp(0.0, cols as f64) as usize;
    let (s, e) = (clamp(start), clamp(end));
    if s < e {
        (s, e)
    } else {
        (0, 0)
    }
}

/// `outer` minus `inner` as up to two ranges.
fn subtract(outer: ColRange, inner: ColRange) -> [ColRange; 2] {
    if inner.0 >= inner.1 {
        return [outer, (0, 0)];
    }
    let left = (outer.0, inner.0.min(outer.1).max(outer.0));
    let right = (inner.1.max(outer.0).min(outer.1), outer.1);
    let nonempty = |r: ColRange| if r.0 < r.1 { r } else { (0, 0) };
    [nonempty(left), nonempty(right)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // The rasterised ranges select exactly the pixels the distance definition selects.
        #[test]
        fn ranges_match_distance_definition(
            cr in -10.0f64..40.0, cc in -10.0f64..40.0,
            bf in 0.0f64..30.0, inner in 0.0f64..20.0, width in 0.0f64..25.0,
            rows in 1usize..33, cols in 1usize..33,
        ) {
            let g = DetectorGeometry {
                center_row: cr, center_col: cc, bf_radius: bf,
                adf_inner: inner, adf_outer: inner + width,
            };
            let ranges = g.rasterise([rows, cols]);
            for r in 0..rows {
                for c in 0..cols {
                    let (in_bf, in_adf) = g.contains(r, c);
                    let (s, e) = ranges.bf[r];
                    prop_assert_eq!(in_bf, c >= s && c < e, "bf r={} c={}", r, c);
                    let a = ranges.adf[r];
                    let in_ranges = a.iter().any(|&(s, e)| c >= s && c < e);
                    prop_assert_eq!(in_adf, in_ranges, "adf r={} c={}", r, c);
                }
            }
        }
    }
}
