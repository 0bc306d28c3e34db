//! Class maps and what users read off them: class distributions, region statistics and the
//! majority class, and candidate defects — clusters of pixels whose class disagrees with their
//! surroundings and with the same lattice site in other unit cells.
//!
//! The paper found classification errors periodic with the lattice (patterns between atomic
//! columns carry little polarization information). Comparing each pixel with the same site in
//! the other cells removes that periodic part; what remains is not periodic: defects.

use crate::analysis::ComField;
use crate::classes::Class;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// Per-pixel classes over a scan, with optional per-pixel confidence in [0, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct ClassMap {
    pub classes: Array2<Class>,
    pub confidence: Option<Array2<f32>>,
    /// Pixels whose class counts (`models::confidence::Determination`); all when None.
    pub determined: Option<Array2<bool>>,
}

/// An area of the scan, in scan pixels (row, col).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Region {
    /// Rows `row0..row1` and columns `col0..col1` (half-open; clamped to the scan).
    Rect {
        row0: usize,
        col0: usize,
        row1: usize,
        col1: usize,
    },
    /// A closed polygon of (row, col) vertices; a pixel belongs to it if its centre is inside.
    Polygon { vertices: Vec<[f64; 2]> },
    /// Single pixels, (row, col) each (scattered labels; those outside the scan are ignored).
    Pixels { pixels: Vec<[usize; 2]> },
}

impl Region {
    pub fn contains(&self, row: usize, col: usize) -> bool {
        match self {
            Region::Rect {
                row0,
                col0,
                row1,
                col1,
            } => (*row0..*row1).contains(&row) && (*col0..*col1).contains(&col),
            Region::Polygon { vertices } => point_in_polygon(vertices, row as f64, col as f64),
            Region::Pixels { pixels } => pixels.contains(&[row, col]),
        }
    }

    /// Pixels of a `shape` scan inside the region, row-major.
    pub fn pixels(&self, shape: (usize, usize)) -> Vec<(usize, usize)> {
        let (rows, cols) = shape;
        if let Region::Pixels { pixels } = self {
            let mut inside: Vec<(usize, usize)> = pixels
                .iter()
                .filter(|[r, c]| *r < rows && *c < cols)
                .map(|&[r, c]| (r, c))
                .collect();
            inside.sort_unstable();
            inside.dedup();
            return inside;
        }
        (0..rows)
            .flat_map(|r| (0..cols).map(move |c| (r, c)))
            .filter(|&(r, c)| self.contains(r, c))
            .collect()
    }
}

/// The regions of a regions file: the app's regions export (File ▸ Export ▸ Regions) or a
/// region-labels file (docs/formats.md); both list `"regions": [{"region": {...}, ...}, ...]`.
pub fn read_regions(path: &std::path::Path) -> crate::Result<Vec<Region>> {
    #[derive(Deserialize)]
    struct Entry {
        region: Region,
    }
    #[derive(Deserialize)]
    struct File {
        regions: Vec<Entry>,
    }
    let text = std::fs::read_to_string(path).map_err(|e| crate::Error::io(path, e))?;
    let file: File = serde_json::from_str(&text).map_err(|e| {
        crate::Error::format(
            path,
            format!("not a regions file (\"regions\": [{{\"region\": ...}}]): {e}"),
        )
    })?;
    Ok(file.regions.into_iter().map(|e| e.region).collect())
}

/// Even-odd rule on (row, col) coordinates.
fn point_in_polygon(vertices: &[[f64; 2]], row: f64, col: f64) -> bool {
    let n = vertices.len();
    if n < 3 {
        return false;
    }
    let mut inside = false;
    let mut j = n - 1;
    for i in 0..n {
        let ([ri, ci], [rj, cj]) = (vertices[i], vertices[j]);
        if (ri > row) != (rj > row) && col < (cj - ci) * (row - ri) / (rj - ri) + ci {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// What a region (or the whole scan) holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionStats {
    pub pixels: usize,
    /// Determined pixels per class, in class order.
    pub counts: [usize; Class::COUNT],
    /// The most frequent class among determined pixels; ties go to the lower class index. None
    /// for an empty region or one with no determined pixel.
    pub majority: Option<Class>,
    pub mean_confidence: Option<f64>,
    /// Pixels left out of `counts` and `majority` as undetermined.
    pub undetermined: usize,
}

/// The least mean resultant length ([`Coherence::resultant`]) of the determined pixels'
/// directions for their majority to stand as the polarization direction: below it the
/// directions cancel more than an even split between two classes 135° apart (0.38) does.
pub const MIN_COHERENCE: f64 = 0.3;
/// The largest Rayleigh-test chance probability for the majority to stand as a direction.
pub const COHERENCE_P_VALUE: f64 = 0.01;

/// Rayleigh test of n unit vectors whose sum is `length` long: the chance of a sum at least
/// this long from directions drawn at random (Zar's approximation).
pub fn rayleigh_p_value(n: usize, length: f64) -> f64 {
    let n = n as f64;
    let root = (1.0 + 4.0 * n + 4.0 * (n * n - length * length))
        .max(0.0)
        .sqrt();
    (root - (1.0 + 2.0 * n)).exp().min(1.0)
}

/// How far a region's determined pixels agree on one polarization direction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Coherence {
    /// Mean resultant length of the pixels' class directions (unit vectors): 1 when all
    /// point one way, 0 when they cancel (opposite domains in equal measure, or directions
    /// at random, as on an unpolarised specimen).
    pub resultant: f64,
    /// Rayleigh test: the chance of a resultant this long from as many directions drawn at
    /// random (Zar's approximation, good from a handful of pixels on).
    pub p_value: f64,
}

impl RegionStats {
    /// Fraction of the determined pixels per class.
    pub fn fractions(&self) -> [f64; Class::COUNT] {
        let n = (self.pixels - self.undetermined).max(1) as f64;
        self.counts.map(|c| c as f64 / n)
    }

    /// The determined pixels' [`Coherence`]; None without determined pixels.
    pub fn coherence(&self) -> Option<Coherence> {
        let n: usize = self.counts.iter().sum();
        if n == 0 {
            return None;
        }
        let (mut x, mut y) = (0.0, 0.0);
        for (class, &count) in Class::ALL.iter().zip(&self.counts) {
            let angle = class.angle_deg().to_radians();
            x += count as f64 * angle.cos();
            y += count as f64 * angle.sin();
        }
        let length = x.hypot(y);
        Some(Coherence {
            resultant: length / n as f64,
            p_value: rayleigh_p_value(n, length),
        })
    }

    /// The [`direction`](Self::direction)'s fraction of the determined pixels.
    pub fn direction_fraction(&self) -> Option<f64> {
        self.direction().map(|m| self.fractions()[m.index()])
    }

    /// The majority as the region's polarization direction: only when the determined pixels
    /// agree on one ([`MIN_COHERENCE`], [`COHERENCE_P_VALUE`]). None for pixels whose
    /// directions cancel or are too few to tell from chance, where the count majority alone
    /// would name a direction the data do not hold.
    pub fn direction(&self) -> Option<Class> {
        let a = self.coherence()?;
        (a.resultant >= MIN_COHERENCE && a.p_value < COHERENCE_P_VALUE)
            .then_some(self.majority)
            .flatten()
    }
}

impl ClassMap {
    pub fn new(classes: Array2<Class>) -> ClassMap {
        ClassMap {
            classes,
            confidence: None,
            determined: None,
        }
    }

    pub fn dim(&self) -> (usize, usize) {
        self.classes.dim()
    }

    /// Statistics over the pixels of `region` (the whole map when None).
    pub fn stats(&self, region: Option<&Region>) -> RegionStats {
        let pixels: Vec<(usize, usize)> = match region {
            Some(r) => r.pixels(self.dim()),
            None => self.classes.indexed_iter().map(|(ix, _)| ix).collect(),
        };
        self.stats_of(&pixels)
    }

    /// Statistics over the first `n` pixels in row-major order (a map still being filled in).
    pub fn stats_of_first(&self, n: usize) -> RegionStats {
        let pixels: Vec<(usize, usize)> = self
            .classes
            .indexed_iter()
            .take(n)
            .map(|(ix, _)| ix)
            .collect();
        self.stats_of(&pixels)
    }

    /// Statistics over the given pixels.
    pub fn stats_of(&self, pixels: &[(usize, usize)]) -> RegionStats {
        let mut counts = [0usize; Class::COUNT];
        let mut undetermined = 0;
        for &ix in pixels {
            if self.determined.as_ref().is_none_or(|d| d[ix]) {
                counts[self.classes[ix].index()] += 1;
            } else {
                undetermined += 1;
            }
        }
        let majority = majority_of(&counts);
        let mean_confidence = self.confidence.as_ref().and_then(|conf| {
            (!pixels.is_empty()).then(|| {
                pixels.iter().map(|&ix| conf[ix] as f64).sum::<f64>() / pixels.len() as f64
            })
        });
        RegionStats {
            pixels: pixels.len(),
            counts,
            majority,
            mean_confidence,
            undetermined,
        }
    }
}

/// Fraction of pixels where two class maps of the same shape agree (a model's accuracy against
/// ground truth); None when the shapes differ or the maps are empty.
pub fn agreement(truth: &Array2<Class>, other: &Array2<Class>) -> Option<f64> {
    if truth.dim() != other.dim() || truth.is_empty() {
        return None;
    }
    let right = truth.iter().zip(other).filter(|(a, b)| a == b).count();
    Some(right as f64 / truth.len() as f64)
}

/// The most frequent class of per-class `counts`; ties go to the lower class index; None when
/// every count is 0.
pub fn majority_of(counts: &[usize; Class::COUNT]) -> Option<Class> {
    let (best, &n) = counts
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))?;
    (n > 0).then(|| Class::ALL[best])
}

/// Steps between classes around the circle of 8 directions (0 to 4).
pub fn circular_distance(a: Class, b: Class) -> usize {
    let d = a.index().abs_diff(b.index());
    d.min(Class::COUNT - d)
}

/// Settings of the defect search.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DefectSearch {
    /// Half-width of the neighbourhood window, in scan pixels.
    pub neighbourhood: usize,
    /// Unit-cell period in scan pixels (rows, cols), when the scan covers several cells: pixels
    /// are then also compared with the same lattice site in the other cells.
    pub lattice_period: Option<[usize; 2]>,
    /// Pixels whose anomaly score (0 to 1) is at least this join clusters.
    pub threshold: f64,
    /// Clusters smaller than this many pixels are dropped.
    pub min_pixels: usize,
}

impl Default for DefectSearch {
    fn default() -> Self {
        DefectSearch {
            neighbourhood: 2,
            lattice_period: None,
            threshold: 0.5,
            min_pixels: 3,
        }
    }
}

/// A candidate defect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DefectCluster {
    pub center_row: f64,
    pub center_col: f64,
    pub pixels: usize,
    /// Sum of the anomaly scores of its pixels: larger and more anomalous clusters rank higher.
    pub score: f64,
    /// The class most of the cluster was given.
    pub class: Class,
}

/// Per-pixel anomaly in [0, 1]: how far (in circular class steps, /4) a pixel's class is from
/// the majority of its neighbourhood, and — with a lattice period — from the majority at the same
/// lattice site over all cells. With a period the lower of the two is used, so a pixel counts
/// only if it is unusual both locally and for its site: periodic errors are not defects.
pub fn anomaly_scores(map: &ClassMap, search: &DefectSearch) -> Array2<f64> {
    let (rows, cols) = map.dim();
    let k = search.neighbourhood as isize;
    let local = Array2::from_shape_fn((rows, cols), |(r, c)| {
        let mut counts = [0usize; Class::COUNT];
        for dr in -k..=k {
            for dc in -k..=k {
                let (rr, cc) = (r as isize + dr, c as isize + dc);
                if (dr, dc) != (0, 0)
                    && rr >= 0
                    && cc >= 0
                    && (rr as usize) < rows
                    && (cc as usize) < cols
                {
                    counts[map.classes[(rr as usize, cc as usize)].index()] += 1;
                }
            }
        }
        majority_of(&counts).map_or(0.0, |m| {
            circular_distance(map.classes[(r, c)], m) as f64 / 4.0
        })
    });
    let Some([pr, pc]) = search.lattice_period.filter(|p| p[0] > 0 && p[1] > 0) else {
        return local;
    };
    let mut site_counts = vec![[0usize; Class::COUNT]; pr * pc];
    for ((r, c), class) in map.classes.indexed_iter() {
        site_counts[(r % pr) * pc + c % pc][class.index()] += 1;
    }
    let site_majority: Vec<Option<Class>> = site_counts.iter().map(majority_of).collect();
    Array2::from_shape_fn((rows, cols), |(r, c)| {
        let periodic = site_majority[(r % pr) * pc + c % pc].map_or(0.0, |m| {
            circular_distance(map.classes[(r, c)], m) as f64 / 4.0
        });
        local[(r, c)].min(periodic)
    })
}

/// Per-pixel anomaly in [0, 1] from the CoM field, independent of any classifier: the length of
/// each pattern's CoM vector minus the mean CoM at the same lattice site over all cells (without
/// a lattice period: minus the mean of its neighbourhood), averaged over the neighbourhood window
/// and scaled so that the largest is 1. The periodic part of the field is the lattice and its
/// polarization; what is left is not periodic: the columns a defect displaced.
pub fn com_anomaly_scores(com: &ComField, search: &DefectSearch) -> Array2<f64> {
    let (rows, cols) = com.dim();
    let x = com.x.mapv(f64::from);
    let y = com.y.mapv(f64::from);
    let k = search.neighbourhood;
    let residual = match search.lattice_period.filter(|p| p[0] > 0 && p[1] > 0) {
        Some([pr, pc]) => {
            let site = |r: usize, c: usize| (r % pr) * pc + c % pc;
            let mut sums = vec![[0.0f64; 3]; pr * pc];
            for ((r, c), &vx) in x.indexed_iter() {
                let s = &mut sums[site(r, c)];
                s[0] += vx;
                s[1] += y[(r, c)];
                s[2] += 1.0;
            }
            Array2::from_shape_fn((rows, cols), |(r, c)| {
                let [sx, sy, n] = sums[site(r, c)];
                (x[(r, c)] - sx / n).hypot(y[(r, c)] - sy / n)
            })
        }
        None => {
            let (mx, my) = (box_mean(&x, k), box_mean(&y, k));
            Array2::from_shape_fn((rows, cols), |ix| (x[ix] - mx[ix]).hypot(y[ix] - my[ix]))
        }
    };
    let smooth = box_mean(&residual, k);
    let max = smooth.fold(0.0f64, |m, &v| m.max(v));
    // A residual at rounding level (a periodic field) is no evidence: it is not scaled up to 1.
    let rms =
        (x.iter().chain(y.iter()).map(|v| v * v).sum::<f64>() / (2 * x.len()).max(1) as f64).sqrt();
    if max > 1e-6 * rms {
        smooth / max
    } else {
        Array2::zeros((rows, cols))
    }
}

/// Both kinds of evidence at once: the geometric mean of two score maps in [0, 1], high only
/// where both are.
pub fn joint_scores(a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
    ndarray::Zip::from(a)
        .and(b)
        .map_collect(|&p, &q| (p * q).sqrt())
}

/// Mean over the (2k+1)² window around each pixel, the window clipped at the borders.
fn box_mean(a: &Array2<f64>, k: usize) -> Array2<f64> {
    let (rows, cols) = a.dim();
    Array2::from_shape_fn((rows, cols), |(r, c)| {
        let rs = r.saturating_sub(k)..(r + k + 1).min(rows);
        let cs = c.saturating_sub(k)..(c + k + 1).min(cols);
        let window = a.slice(ndarray::s![rs, cs]);
        window.sum() / window.len() as f64
    })
}

/// Candidate defects from the class map, highest score first (see [`anomaly_scores`]).
pub fn find_defects(map: &ClassMap, search: &DefectSearch) -> Vec<DefectCluster> {
    defect_clusters(&anomaly_scores(map, search), map, search)
}

/// Candidate defects from any score map in [0, 1], highest score first: 8-connected clusters of
/// pixels whose score is at least the threshold, each named by the class most of it was given.
pub fn defect_clusters(
    scores: &Array2<f64>,
    map: &ClassMap,
    search: &DefectSearch,
) -> Vec<DefectCluster> {
    let (rows, cols) = scores.dim();
    let mut seen = Array2::from_elem((rows, cols), false);
    let mut clusters = Vec::new();
    for start in scores.indexed_iter().map(|(ix, _)| ix) {
        if seen[start] || scores[start] < search.threshold {
            continue;
        }
        seen[start] = true;
        let mut stack = vec![start];
        let mut members = Vec::new();
        while let Some((r, c)) = stack.pop() {
            members.push((r, c));
            for dr in -1isize..=1 {
                for dc in -1isize..=1 {
                    let (rr, cc) = (r as isize + dr, c as isize + dc);
                    if rr < 0 || cc < 0 || rr as usize >= rows || cc as usize >= cols {
                        continue;
                    }
                    let n = (rr as usize, cc as usize);
                    if !seen[n] && scores[n] >= search.threshold {
                        seen[n] = true;
                        stack.push(n);
                    }
                }
            }
        }
        if members.len() < search.min_pixels {
            continue;
        }
        let weight: f64 = members.iter().map(|&ix| scores[ix]).sum();
        let center_row = members
            .iter()
            .map(|&(r, c)| r as f64 * scores[(r, c)])
            .sum::<f64>()
            / weight;
        let center_col = members
            .iter()
            .map(|&(r, c)| c as f64 * scores[(r, c)])
            .sum::<f64>()
            / weight;
        let mut counts = [0usize; Class::COUNT];
        for &ix in &members {
            counts[map.classes[ix].index()] += 1;
        }
        clusters.push(DefectCluster {
            center_row,
            center_col,
            pixels: members.len(),
            score: weight,
            class: majority_of(&counts).expect("a cluster has pixels"),
        });
    }
    clusters.sort_by(|a, b| b.score.total_cmp(&a.score));
    clusters
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counted(pairs: &[(Class, usize)]) -> RegionStats {
        let mut counts = [0usize; Class::COUNT];
        for &(c, n) in pairs {
            counts[c.index()] += n;
        }
        let n = counts.iter().sum();
        RegionStats {
            pixels: n,
            counts,
            majority: majority_of(&counts),
            mean_confidence: None,
            undetermined: 0,
        }
    }

    #[test]
    fn a_majority_is_a_direction_only_when_the_pixels_agree_on_one() {
        // One class throughout: resultant 1; 4 pixels pass the Rayleigh test, 3 do not.
        let all = counted(&[(Class::RU, 10)]);
        let a = all.coherence().unwrap();
        assert!((a.resultant - 1.0).abs() < 1e-12);
        assert_eq!(all.direction(), Some(Class::RU));
        assert_eq!(counted(&[(Class::RM, 4)]).direction(), Some(Class::RM));
        let three = counted(&[(Class::RM, 3)]);
        assert!((0.02..0.05).contains(&three.coherence().unwrap().p_value));
        assert_eq!((three.majority, three.direction()), (Some(Class::RM), None));
        // Opposite domains in equal measure: a count majority, no direction.
        let opposite = counted(&[(Class::RM, 50), (Class::LM, 50)]);
        assert!(opposite.coherence().unwrap().resultant < 1e-12);
        assert_eq!(
            (opposite.majority, opposite.direction()),
            (Some(Class::RM), None)
        );
        // Neighbouring classes agree (resultant cos 22.5° = 0.92).
        let neighbours = counted(&[(Class::RM, 30), (Class::RU, 20)]);
        assert_eq!(neighbours.direction(), Some(Class::RM));
        // Zar's table: n = 10 at the 5 % level needs z = nR² = 2.910, i.e. R = 0.539.
        let p = rayleigh_p_value(10, 10.0 * (2.910f64 / 10.0).sqrt());
        assert!((p - 0.05).abs() < 0.003, "{p}");
        // A weak bias over many pixels is significant but too short to be a direction.
        let biased = counted(&[(Class::MU, 600), (Class::MD, 400)]);
        let a = biased.coherence().unwrap();
        assert!(a.p_value < 1e-6 && a.resultant < MIN_COHERENCE);
        assert_eq!(biased.direction(), None);
        assert_eq!(counted(&[]).coherence(), None);
    }

    #[test]
    fn stats_count_classes_and_pick_the_majority() {
        let classes = Array2::from_shape_fn((4, 5), |(r, c)| {
            if c < 3 || r == 0 {
                Class::RD
            } else {
                Class::RM
            }
        });
        let mut map = ClassMap::new(classes);
        map.confidence = Some(Array2::from_elem((4, 5), 0.5));
        let all = map.stats(None);
        assert_eq!(all.pixels, 20);
        assert_eq!(all.counts[Class::RD.index()], 14);
        assert_eq!(all.counts[Class::RM.index()], 6);
        assert_eq!(all.majority, Some(Class::RD));
        assert_eq!(all.mean_confidence, Some(0.5));
        assert!((all.fractions().iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let right = Region::Rect {
            row0: 1,
            col0: 3,
            row1: 4,
            col1: 5,
        };
        let s = map.stats(Some(&right));
        assert_eq!((s.pixels, s.majority), (6, Some(Class::RM)));
        let empty = Region::Rect {
            row0: 2,
            col0: 2,
            row1: 2,
            col1: 9,
        };
        assert_eq!(map.stats(Some(&empty)).majority, None);
    }

    #[test]
    fn pixel_lists_keep_pixels_inside_the_scan_once_in_row_major_order() {
        let region = Region::Pixels {
            pixels: vec![[2, 1], [0, 3], [2, 1], [9, 0], [0, 7]],
        };
        assert_eq!(region.pixels((4, 5)), vec![(0, 3), (2, 1)]);
        assert!(region.contains(2, 1) && !region.contains(1, 2));
        let json = serde_json::to_string(&region).unwrap();
        assert!(json.starts_with(r#"{"kind":"pixels""#), "{json}");
        assert_eq!(serde_json::from_str::<Region>(&json).unwrap(), region);
    }

    #[test]
    fn polygon_selects_pixel_centres_inside() {
        // A triangle with vertices at (0,0), (0,4), (4,0): pixels with r + c < 4.
        let tri = Region::Polygon {
            vertices: vec![[-0.5, -0.5], [-0.5, 4.5], [4.5, -0.5]],
        };
        let px = tri.pixels((5, 5));
        assert!(px.contains(&(0, 0)) && px.contains(&(1, 2)) && px.contains(&(3, 0)));
        assert!(!px.contains(&(3, 3)) && !px.contains(&(4, 4)));
        assert_eq!(px.len(), 10); // 1 + 2 + 3 + 4 centres strictly inside
    }

    #[test]
    fn circular_distance_wraps() {
        assert_eq!(circular_distance(Class::RM, Class::RD), 1);
        assert_eq!(circular_distance(Class::RM, Class::LM), 4);
        assert_eq!(circular_distance(Class::RU, Class::MD), 3);
    }

    /// RD everywhere, with a periodic error (every 6×6 cell has LU at its site (3, 3)) and a
    /// defect: a 3×3 patch of MU at rows 20–22, cols 30–32.
    fn periodic_map_with_defect() -> ClassMap {
        ClassMap::new(Array2::from_shape_fn((48, 48), |(r, c)| {
            if (20..23).contains(&r) && (30..33).contains(&c) {
                Class::MU
            } else if r % 6 == 3 && c % 6 == 3 {
                Class::LU
            } else {
                Class::RD
            }
        }))
    }

    #[test]
    fn lattice_comparison_removes_periodic_errors_and_finds_the_defect() {
        let map = periodic_map_with_defect();
        let with_lattice = DefectSearch {
            lattice_period: Some([6, 6]),
            min_pixels: 1,
            ..Default::default()
        };
        let found = find_defects(&map, &with_lattice);
        assert_eq!(found.len(), 1, "{found:?}");
        let top = &found[0];
        assert!(
            (top.center_row - 21.0).abs() < 0.5 && (top.center_col - 31.0).abs() < 0.5,
            "{top:?}"
        );
        assert_eq!(top.class, Class::MU);
        // Without the lattice, every periodic error is a candidate too.
        let local_only = DefectSearch {
            min_pixels: 1,
            ..Default::default()
        };
        assert!(find_defects(&map, &local_only).len() > 50);
    }

    #[test]
    fn a_uniform_map_has_no_defects() {
        let map = ClassMap::new(Array2::from_elem((16, 16), Class::LD));
        assert!(find_defects(&map, &DefectSearch::default()).is_empty());
        assert!(anomaly_scores(&map, &DefectSearch::default())
            .iter()
            .all(|&s| s == 0.0));
    }
}
