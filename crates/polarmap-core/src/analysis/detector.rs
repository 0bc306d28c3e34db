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

/// A virtual detector beyond the fixed BF/ADF pair, summed in the same pass over the data.
/// Radii are in detector pixels around the BF disk centre ([`DetectorGeometry`]'s centre).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VirtualDetector {
    /// Pixels at distance in [inner, outer]; with `sector = [from, to]` (degrees, image frame:
    /// counter-clockwise from +x with y up, so a detector segment reads like the CoM direction)
    /// only those whose direction lies in [from, to) going counter-clockwise.
    Annulus {
        inner: f64,
        outer: f64,
        #[serde(default)]
        sector: Option<[f64; 2]>,
    },
    /// Any set of pixels, e.g. a mask drawn on the mean pattern: `rows × cols`, row-major.
    Mask {
        rows: usize,
        cols: usize,
        pixels: Vec<bool>,
    },
}

/// Per detector row, the column ranges a [`VirtualDetector`] covers.
pub type MaskRanges = Vec<Vec<ColRange>>;

impl VirtualDetector {
    /// The four quadrants of a segmented DPC detector between `inner` and `outer` pixels, in
    /// the order right-up (0–90°), left-up, left-down, right-down.
    pub fn quadrants(inner: f64, outer: f64) -> [VirtualDetector; 4] {
        [0.0, 90.0, 180.0, 270.0].map(|from| VirtualDetector::Annulus {
            inner,
            outer,
            sector: Some([from, from + 90.0]),
        })
    }

    /// Whether pixel (row, col) belongs to the detector centred on (center_row, center_col).
    pub fn contains(&self, center: [f64; 2], row: usize, col: usize) -> bool {
        match self {
            VirtualDetector::Annulus {
                inner,
                outer,
                sector,
            } => {
                let dy = -(row as f64 - center[0]);
                let dx = col as f64 - center[1];
                let d2 = dx * dx + dy * dy;
                if d2 < inner * inner || d2 > outer * outer {
                    return false;
                }
                match sector {
                    None => true,
                    Some([from, to]) => {
                        let span = (to - from).clamp(0.0, 360.0);
                        let angle = dy.atan2(dx).to_degrees();
                        (angle - from).rem_euclid(360.0) < span
                    }
                }
            }
            VirtualDetector::Mask { cols, pixels, .. } => {
                col < *cols && pixels.get(row * cols + col).copied().unwrap_or(false)
            }
        }
    }

    /// Checks the definition against a frame shape: finite, ordered radii; a mask of the
    /// frame's size.
    pub fn validate(&self, frame_shape: [usize; 2]) -> std::result::Result<(), String> {
        match self {
            VirtualDetector::Annulus {
                inner,
                outer,
                sector,
            } => {
                if !(inner.is_finite() && outer.is_finite() && *inner >= 0.0 && outer >= inner) {
                    return Err(format!(
                        "annulus radii must be finite with 0 ≤ inner ≤ outer, got {inner}, {outer}"
                    ));
                }
                if let Some([from, to]) = sector {
                    if !(from.is_finite() && to.is_finite() && to > from) {
                        return Err(format!(
                            "sector angles must be finite with from < to, got {from}, {to}"
                        ));
                    }
                }
                Ok(())
            }
            VirtualDetector::Mask { rows, cols, pixels } => {
                if [*rows, *cols] != frame_shape || pixels.len() != rows * cols {
                    Err(format!(
                        "mask is {rows}x{cols} with {} pixels; the patterns are {}x{}",
                        pixels.len(),
                        frame_shape[0],
                        frame_shape[1]
                    ))
                } else {
                    Ok(())
                }
            }
        }
    }

    /// The detector's pixels as column ranges per row, for the pass.
    pub fn rasterise(&self, center: [f64; 2], frame_shape: [usize; 2]) -> MaskRanges {
        let [rows, cols] = frame_shape;
        (0..rows)
            .map(|r| {
                let mut ranges = Vec::new();
                let mut start = None;
                for c in 0..=cols {
                    let inside = c < cols && self.contains(center, r, c);
                    match (inside, start) {
                        (true, None) => start = Some(c),
                        (false, Some(s)) => {
                            ranges.push((s, c));
                            start = None;
                        }
                        _ => {}
                    }
                }
                ranges
            })
            .collect()
    }
}

impl std::str::FromStr for VirtualDetector {
    type Err = String;

    /// `annulus:INNER:OUTER` or `sector:INNER:OUTER:FROM:TO` (pixels; degrees counter-clockwise
    /// from +x, y up), the form the command line takes.
    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let mut parts = text.split(':');
        let kind = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let numbers: Vec<f64> = parts
            .map(|p| {
                p.trim()
                    .parse::<f64>()
                    .map_err(|_| format!("'{p}' is not a number in '{text}'"))
            })
            .collect::<std::result::Result<_, _>>()?;
        let detector = match (kind.as_str(), numbers.as_slice()) {
            ("annulus", &[inner, outer]) => VirtualDetector::Annulus {
                inner,
                outer,
                sector: None,
            },
            ("sector", &[inner, outer, from, to]) => VirtualDetector::Annulus {
                inner,
                outer,
                sector: Some([from, to]),
            },
            _ => {
                return Err(format!(
                    "'{text}' is not a virtual detector: use annulus:INNER:OUTER or \
                     sector:INNER:OUTER:FROM:TO (pixels, degrees)"
                ))
            }
        };
        Ok(detector)
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

    #[test]
    fn quadrants_split_an_annulus_without_overlap_or_gap() {
        let center = [15.3, 16.7];
        let ring = VirtualDetector::Annulus {
            inner: 3.0,
            outer: 12.0,
            sector: None,
        };
        let quads = VirtualDetector::quadrants(3.0, 12.0);
        for r in 0..32 {
            for c in 0..32 {
                let n = quads.iter().filter(|q| q.contains(center, r, c)).count();
                assert_eq!(
                    n,
                    usize::from(ring.contains(center, r, c)),
                    "pixel ({r}, {c})"
                );
            }
        }
        // Quadrant 0 is right-up: x > 0 and y up (row above the centre).
        assert!(quads[0].contains(center, 10, 20));
        assert!(!quads[0].contains(center, 20, 20));
        assert!(quads[3].contains(center, 20, 20));
        assert!(quads[1].contains(center, 10, 12));
    }

    #[test]
    fn parses_the_command_line_forms() {
        assert_eq!(
            "annulus:2:10".parse::<VirtualDetector>(),
            Ok(VirtualDetector::Annulus {
                inner: 2.0,
                outer: 10.0,
                sector: None
            })
        );
        assert_eq!(
            "Sector: 0 : 12.5 : 90 : 180".parse::<VirtualDetector>(),
            Ok(VirtualDetector::Annulus {
                inner: 0.0,
                outer: 12.5,
                sector: Some([90.0, 180.0])
            })
        );
        for bad in ["annulus:2", "ring:1:2", "sector:1:2:x:4", ""] {
            assert!(bad.parse::<VirtualDetector>().is_err(), "{bad}");
        }
    }

    #[test]
    fn masks_rasterise_to_their_runs_and_validate_their_size() {
        let pixels = vec![
            false, true, true, false, true, //
            true, true, true, true, true, //
        ];
        let mask = VirtualDetector::Mask {
            rows: 2,
            cols: 5,
            pixels,
        };
        assert_eq!(
            mask.rasterise([0.0, 0.0], [2, 5]),
            vec![vec![(1, 3), (4, 5)], vec![(0, 5)]]
        );
        assert!(mask.validate([2, 5]).is_ok());
        assert!(mask.validate([5, 2]).unwrap_err().contains("2x5"));
        let bad = VirtualDetector::Annulus {
            inner: 5.0,
            outer: f64::NAN,
            sector: None,
        };
        assert!(bad.validate([8, 8]).is_err());
    }

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
