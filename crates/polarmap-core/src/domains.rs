//! Domains and domain walls: what a ferroelectric user reads off a class map beyond the class
//! of each pixel. A domain is a 4-connected region of one class; islands smaller than a minimum
//! size (single misclassified pixels, the paper's periodic errors between columns) and
//! undetermined pixels belong to no domain. A wall is the set of pixel edges between two
//! domains, typed by the angle between their polarization directions (180°, 90°, or other —
//! 45° and 135° are not walls KNN forms, so they flag a misclassification or a rotation).
//!
//! The continuous polarization angle per pixel comes from a model's class scores (the circular
//! mean of the 8 class directions weighted by the scores) or, without a model, from the CoM
//! direction.

use crate::analysis::ComField;
use crate::classes::Class;
use crate::maps::circular_distance;
use ndarray::{Array2, Array3};
use serde::{Deserialize, Serialize};

/// How domains are found.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DomainSettings {
    /// Connected regions of one class with fewer pixels are not domains.
    pub min_pixels: usize,
}

impl Default for DomainSettings {
    fn default() -> Self {
        DomainSettings { min_pixels: 8 }
    }
}

/// One domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Domain {
    /// 1-based; 0 in [`Domains::labels`] means "no domain".
    pub id: u32,
    pub class: Class,
    pub pixels: usize,
    /// Fraction of the scan's pixels.
    pub fraction: f64,
    /// Mean (row, col) of its pixels.
    pub centroid: [f64; 2],
}

/// The kind of a wall, from the angle between the two domains' directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WallKind {
    Deg180,
    Deg90,
    /// 45° or 135°.
    Other,
}

impl WallKind {
    pub fn name(self) -> &'static str {
        match self {
            WallKind::Deg180 => "180°",
            WallKind::Deg90 => "90°",
            WallKind::Other => "other",
        }
    }
}

/// The boundary between two domains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Wall {
    /// The two domains' ids, smaller first.
    pub domains: [u32; 2],
    pub kind: WallKind,
    /// Angle between the two directions, degrees (45, 90, 135 or 180).
    pub angle_deg: f64,
    /// Number of pixel edges: its length in scan pixels.
    pub length_px: usize,
    /// Midpoints (row, col) of its pixel edges, in scan-pixel coordinates (pixel centres at
    /// integers, so an edge between columns 7 and 8 lies at col 7.5).
    pub points: Vec<[f64; 2]>,
}

/// Domains and walls of a class map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Domains {
    /// Domain id per pixel (0: no domain).
    #[serde(skip)]
    pub labels: Array2<u32>,
    pub domains: Vec<Domain>,
    pub walls: Vec<Wall>,
    /// Pixels in no domain (undetermined, or in an island below the minimum size).
    pub unassigned: usize,
}

impl Domains {
    /// Finds the domains of `classes`; pixels where `determined` is false belong to none.
    pub fn find(
        classes: &Array2<Class>,
        determined: Option<&Array2<bool>>,
        settings: DomainSettings,
    ) -> Domains {
        let (rows, cols) = classes.dim();
        let usable = |r: usize, c: usize| determined.is_none_or(|d| d[(r, c)]);
        let mut labels = Array2::<u32>::zeros((rows, cols));
        let mut visited = Array2::from_elem((rows, cols), false);
        let mut domains = Vec::new();
        let total = (rows * cols).max(1) as f64;
        let mut stack = Vec::new();
        let mut members = Vec::new();
        for r0 in 0..rows {
            for c0 in 0..cols {
                if visited[(r0, c0)] || !usable(r0, c0) {
                    continue;
                }
                let class = classes[(r0, c0)];
                members.clear();
                stack.push((r0, c0));
                visited[(r0, c0)] = true;
                while let Some((r, c)) = stack.pop() {
                    members.push((r, c));
                    for (nr, nc) in neighbours(r, c, rows, cols) {
                        if !visited[(nr, nc)] && usable(nr, nc) && classes[(nr, nc)] == class {
                            visited[(nr, nc)] = true;
                            stack.push((nr, nc));
                        }
                    }
                }
                if members.len() < settings.min_pixels {
                    continue;
                }
                let id = domains.len() as u32 + 1;
                let (mut sr, mut sc) = (0.0, 0.0);
                for &(r, c) in &members {
                    labels[(r, c)] = id;
                    sr += r as f64;
                    sc += c as f64;
                }
                let n = members.len();
                domains.push(Domain {
                    id,
                    class,
                    pixels: n,
                    fraction: n as f64 / total,
                    centroid: [sr / n as f64, sc / n as f64],
                });
            }
        }
        let walls = trace_walls(&labels, &domains);
        let unassigned = labels.iter().filter(|&&l| l == 0).count();
        Domains {
            labels,
            domains,
            walls,
            unassigned,
        }
    }

    /// Total wall length (pixel edges) per kind: 180°, 90°, other.
    pub fn wall_lengths(&self) -> [usize; 3] {
        let mut out = [0; 3];
        for w in &self.walls {
            out[match w.kind {
                WallKind::Deg180 => 0,
                WallKind::Deg90 => 1,
                WallKind::Other => 2,
            }] += w.length_px;
        }
        out
    }
}

fn neighbours(
    r: usize,
    c: usize,
    rows: usize,
    cols: usize,
) -> impl Iterator<Item = (usize, usize)> {
    [
        (r.wrapping_sub(1), c),
        (r + 1, c),
        (r, c.wrapping_sub(1)),
        (r, c + 1),
    ]
    .into_iter()
    .filter(move |&(nr, nc)| nr < rows && nc < cols)
}

/// Pixel edges between two different domains (right and down neighbours), grouped per pair.
/// Domains separated by a strip of unassigned pixels share no edge, so a noisy boundary a pixel
/// wide is bridged: an unassigned pixel between two domains gives an edge at its centre.
fn trace_walls(labels: &Array2<u32>, domains: &[Domain]) -> Vec<Wall> {
    use std::collections::BTreeMap;
    let (rows, cols) = labels.dim();
    let mut edges: BTreeMap<[u32; 2], Vec<[f64; 2]>> = BTreeMap::new();
    let mut add = |a: u32, b: u32, point: [f64; 2]| {
        if a != 0 && b != 0 && a != b {
            edges.entry([a.min(b), a.max(b)]).or_default().push(point);
        }
    };
    for r in 0..rows {
        for c in 0..cols {
            let here = labels[(r, c)];
            if c + 1 < cols {
                add(here, labels[(r, c + 1)], [r as f64, c as f64 + 0.5]);
            }
            if r + 1 < rows {
                add(here, labels[(r + 1, c)], [r as f64 + 0.5, c as f64]);
            }
            // A one-pixel gap of unassigned pixels between two domains.
            if here == 0 {
                if c > 0 && c + 1 < cols {
                    add(labels[(r, c - 1)], labels[(r, c + 1)], [r as f64, c as f64]);
                }
                if r > 0 && r + 1 < rows {
                    add(labels[(r - 1, c)], labels[(r + 1, c)], [r as f64, c as f64]);
                }
            }
        }
    }
    edges
        .into_iter()
        .map(|([a, b], points)| {
            let (ca, cb) = (domains[a as usize - 1].class, domains[b as usize - 1].class);
            let angle_deg = 45.0 * circular_distance(ca, cb) as f64;
            let kind = match circular_distance(ca, cb) {
                4 => WallKind::Deg180,
                2 => WallKind::Deg90,
                _ => WallKind::Other,
            };
            Wall {
                domains: [a, b],
                kind,
                angle_deg,
                length_px: points.len(),
                points,
            }
        })
        .collect()
}

/// The polarization angle per pixel (radians, counter-clockwise from +x, y up) from `[rows,
/// cols, 8]` class scores: the circular mean of the class directions weighted by the scores.
/// NaN where the scores cancel (no direction).
pub fn angle_from_scores(scores: &Array3<f32>) -> Array2<f64> {
    let (rows, cols, _) = scores.dim();
    Array2::from_shape_fn((rows, cols), |(r, c)| {
        let (mut x, mut y) = (0.0, 0.0);
        for class in Class::ALL {
            let (s, co) = class.angle_deg().to_radians().sin_cos();
            let w = f64::from(scores[(r, c, class.index())]);
            x += w * co;
            y += w * s;
        }
        if x.hypot(y) < 1e-6 {
            f64::NAN
        } else {
            y.atan2(x)
        }
    })
}

/// The polarization angle per pixel from the CoM field's direction (radians, image frame).
/// NaN where the CoM shift is zero.
pub fn angle_from_com(field: &ComField) -> Array2<f64> {
    ndarray::Zip::from(&field.x)
        .and(&field.y)
        .map_collect(|&x, &y| {
            if x == 0.0 && y == 0.0 {
                f64::NAN
            } else {
                f64::from(y).atan2(f64::from(x))
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four quadrant domains with known walls: RM-like class 0 (0°) top-left, 4 (180°)
    /// top-right, 2 (90°) bottom-left, 6 (270°) bottom-right; walls at col 9.5 and row 7.5.
    fn four_domains() -> Array2<Class> {
        Array2::from_shape_fn((16, 20), |(r, c)| {
            let k = match (r < 8, c < 10) {
                (true, true) => 0,
                (true, false) => 4,
                (false, true) => 2,
                (false, false) => 6,
            };
            Class::ALL[k]
        })
    }

    #[test]
    fn four_domains_walls_where_they_were_made_and_typed() {
        let mut classes = four_domains();
        // Misclassified specks: not domains, not walls.
        classes[(3, 3)] = Class::ALL[1];
        classes[(12, 15)] = Class::ALL[3];
        let d = Domains::find(&classes, None, DomainSettings::default());
        assert_eq!(d.domains.len(), 4);
        assert_eq!(d.unassigned, 2);
        let class_of = |id: u32| d.domains[id as usize - 1].class.index();
        for w in &d.walls {
            let (a, b) = (class_of(w.domains[0]), class_of(w.domains[1]));
            let pair = [a.min(b), a.max(b)];
            let expected = match pair {
                [0, 4] | [2, 6] => WallKind::Deg180,
                [0, 2] | [4, 6] => WallKind::Deg90,
                other => panic!("unexpected wall between classes {other:?}"),
            };
            assert_eq!(w.kind, expected, "{pair:?}");
            for p in &w.points {
                let on_vertical = (p[1] - 9.5).abs() <= 1.0;
                let on_horizontal = (p[0] - 7.5).abs() <= 1.0;
                assert!(on_vertical || on_horizontal, "wall point {p:?}");
            }
        }
        // The vertical (180°) walls are 8 + 8 edges long, the horizontal (90°) ones 10 + 10.
        assert_eq!(d.wall_lengths(), [16, 20, 0]);
        let fractions: f64 = d.domains.iter().map(|x| x.fraction).sum();
        assert!((fractions - (320.0 - 2.0) / 320.0).abs() < 1e-12);
    }

    #[test]
    fn undetermined_pixels_split_nothing_and_a_one_pixel_gap_is_bridged() {
        let classes = four_domains();
        let mut determined = Array2::from_elem(classes.dim(), true);
        // The whole column next to the vertical wall is undetermined.
        for r in 0..16 {
            determined[(r, 10)] = false;
        }
        let d = Domains::find(&classes, Some(&determined), DomainSettings::default());
        assert_eq!(d.domains.len(), 4);
        assert_eq!(d.unassigned, 16);
        // The vertical walls are still found, at the gap's centre (col 10), within a pixel of
        // where they were made (9.5).
        let vertical: Vec<&Wall> = d
            .walls
            .iter()
            .filter(|w| w.points.iter().all(|p| (p[1] - 10.0).abs() < 1e-9))
            .collect();
        assert_eq!(vertical.len(), 2);
        assert!(vertical
            .iter()
            .all(|w| w.kind == WallKind::Deg180 && w.length_px == 8));
    }

    #[test]
    fn angles_from_scores_and_com() {
        let mut scores = Array3::<f32>::zeros((1, 3, 8));
        scores[(0, 0, 2)] = 1.0; // 90°
        scores[(0, 1, 0)] = 0.5; // halfway between 0° and 90°
        scores[(0, 1, 2)] = 0.5;
        scores[(0, 2, 0)] = 0.5; // opposite directions cancel
        scores[(0, 2, 4)] = 0.5;
        let a = angle_from_scores(&scores);
        assert!((a[(0, 0)] - std::f64::consts::FRAC_PI_2).abs() < 1e-6);
        assert!((a[(0, 1)] - std::f64::consts::FRAC_PI_4).abs() < 1e-6);
        assert!(a[(0, 2)].is_nan());
        let field = ComField {
            x: Array2::from_elem((1, 2), -1.0),
            y: Array2::from_elem((1, 2), 0.0),
        };
        let a = angle_from_com(&field);
        assert!((a[(0, 0)].abs() - std::f64::consts::PI).abs() < 1e-9);
    }
}
