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
use crate::error::{Error, Result};
use crate::export::check_writable;
use crate::maps::circular_distance;
use ndarray::{Array2, Array3};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

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

    /// The JSON `predict --json` reports: domains, walls without their points, wall length per
    /// kind.
    pub fn summary(&self) -> serde_json::Value {
        let [deg180, deg90, other] = self.wall_lengths();
        serde_json::json!({
            "domains": self.domains,
            "walls": self.walls.iter().map(|w| serde_json::json!({
                "domains": w.domains,
                "kind": w.kind.name(),
                "angle_deg": w.angle_deg,
                "length_px": w.length_px,
            })).collect::<Vec<_>>(),
            "wall_length_px": {"180°": deg180, "90°": deg90, "other": other},
            "unassigned_pixels": self.unassigned,
        })
    }

    /// Writes everything, wall points included, as JSON (`domains`, `walls`, `unassigned`;
    /// [`Domains::read_json`] reads it back, without the per-pixel labels).
    pub fn write_json(&self, path: &Path, overwrite: bool) -> Result<()> {
        check_writable(path, overwrite)?;
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::invalid(format!("{}: {e}", path.display())))?;
        std::fs::write(path, text).map_err(|e| Error::io(path, e))
    }

    /// Reads what [`Domains::write_json`] wrote; `labels` is empty (0×0).
    pub fn read_json(path: &Path) -> Result<Domains> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| Error::format(path, format!("is not a domains JSON file: {e}")))
    }

    /// Writes one line per domain: `id,class,pixels,fraction,centroid_row,centroid_col`.
    pub fn write_domains_csv(&self, path: &Path, overwrite: bool) -> Result<()> {
        write_csv(path, overwrite, |out| {
            writeln!(out, "id,class,pixels,fraction,centroid_row,centroid_col")?;
            for d in &self.domains {
                writeln!(
                    out,
                    "{},{},{},{},{},{}",
                    d.id,
                    d.class.name(),
                    d.pixels,
                    d.fraction,
                    d.centroid[0],
                    d.centroid[1]
                )?;
            }
            Ok(())
        })
    }

    /// Writes one line per wall point (pixel-edge midpoint, scan-pixel coordinates):
    /// `wall,domain_a,domain_b,class_a,class_b,kind,angle_deg,length_px,row,col`; `wall` counts
    /// from 1 in the order of [`Domains::walls`].
    pub fn write_walls_csv(&self, path: &Path, overwrite: bool) -> Result<()> {
        let class = |id: u32| self.domains[id as usize - 1].class.name();
        write_csv(path, overwrite, |out| {
            writeln!(
                out,
                "wall,domain_a,domain_b,class_a,class_b,kind,angle_deg,length_px,row,col"
            )?;
            for (k, w) in self.walls.iter().enumerate() {
                let [a, b] = w.domains;
                for p in &w.points {
                    writeln!(
                        out,
                        "{},{a},{b},{},{},{},{},{},{},{}",
                        k + 1,
                        class(a),
                        class(b),
                        w.kind.name(),
                        w.angle_deg,
                        w.length_px,
                        p[0],
                        p[1]
                    )?;
                }
            }
            Ok(())
        })
    }

    /// The walls drawn over a view: `base` holds `rows × cols` row-major colours (a class map,
    /// a CoM map, a virtual image…), each enlarged to `scale × scale` (at least 1); every wall
    /// edge becomes a line along the boundary between its two pixels, 2 px wide from scale 4
    /// up (else 1 px, on the first pixel's side), in [`wall_colour`]. A wall bridged across a
    /// one-pixel gap (a point at a pixel centre) is drawn as a cross through that pixel.
    /// Returns (width, height, pixels).
    pub fn overlay(
        &self,
        base: &[[u8; 3]],
        rows: usize,
        cols: usize,
        scale: usize,
    ) -> (usize, usize, Vec<[u8; 3]>) {
        assert_eq!(base.len(), rows * cols, "base colours must cover the scan");
        let s = scale.max(1);
        let (width, height) = (cols * s, rows * s);
        let mut img: Vec<[u8; 3]> = (0..width * height)
            .map(|i| base[(i / width / s) * cols + (i % width) / s])
            .collect();
        let lw = if s >= 4 { 2 } else { 1 };
        let mut line = |x0: usize, x1: usize, y0: usize, y1: usize, colour: [u8; 3]| {
            for y in y0..y1.min(height) {
                for x in x0..x1.min(width) {
                    img[y * width + x] = colour;
                }
            }
        };
        for w in &self.walls {
            let colour = wall_colour(w.kind);
            for p in &w.points {
                let (pr, pc) = (p[0], p[1]);
                let (r, c) = (pr.floor() as usize, pc.floor() as usize);
                let (r_half, c_half) = (pr.fract() != 0.0, pc.fract() != 0.0);
                if c_half {
                    // Between columns c and c + 1 (boundary x = (c + 1)·s), along row r.
                    let x = (c + 1) * s - 1;
                    line(x, x + lw, r * s, (r + 1) * s, colour);
                } else if r_half {
                    let y = (r + 1) * s - 1;
                    line(c * s, (c + 1) * s, y, y + lw, colour);
                } else {
                    let (xm, ym) = (c * s + s / 2, r * s + s / 2);
                    line(
                        xm.saturating_sub(lw / 2),
                        xm + lw.div_ceil(2),
                        r * s,
                        (r + 1) * s,
                        colour,
                    );
                    line(
                        c * s,
                        (c + 1) * s,
                        ym.saturating_sub(lw / 2),
                        ym + lw.div_ceil(2),
                        colour,
                    );
                }
            }
        }
        (width, height, img)
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

/// The colour of a wall of `kind` in [`Domains::overlay`]: white for 180°, black for 90°, mid
/// grey for other walls (none of them a class colour of the wheel).
pub fn wall_colour(kind: WallKind) -> [u8; 3] {
    match kind {
        WallKind::Deg180 => [255, 255, 255],
        WallKind::Deg90 => [0, 0, 0],
        WallKind::Other => [128, 128, 128],
    }
}

/// Creates `path` (refusing to overwrite unless asked) and writes it with `body`.
fn write_csv(
    path: &Path,
    overwrite: bool,
    body: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    check_writable(path, overwrite)?;
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut out = std::io::BufWriter::new(file);
    body(&mut out)
        .and_then(|()| out.flush())
        .map_err(|e| Error::io(path, e))
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
    fn json_and_csv_round_trip() {
        let mut classes = four_domains();
        classes[(3, 3)] = Class::ALL[1];
        let d = Domains::find(&classes, None, DomainSettings::default());
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("domains.json");
        d.write_json(&json, false).unwrap();
        let back = Domains::read_json(&json).unwrap();
        assert_eq!(
            (&back.domains, &back.walls, back.unassigned),
            (&d.domains, &d.walls, d.unassigned)
        );
        assert!(d.write_json(&json, false).is_err(), "no silent overwrite");

        let csv = dir.path().join("domains.csv");
        d.write_domains_csv(&csv, false).unwrap();
        let text = std::fs::read_to_string(&csv).unwrap();
        let rows: Vec<Vec<&str>> = text
            .lines()
            .skip(1)
            .map(|l| l.split(',').collect())
            .collect();
        assert_eq!(rows.len(), d.domains.len());
        for (row, dom) in rows.iter().zip(&d.domains) {
            assert_eq!(row[0].parse::<u32>().unwrap(), dom.id);
            assert_eq!(Class::from_name(row[1]), Some(dom.class));
            assert_eq!(row[2].parse::<usize>().unwrap(), dom.pixels);
            assert_eq!(row[3].parse::<f64>().unwrap(), dom.fraction);
            assert_eq!(row[4].parse::<f64>().unwrap(), dom.centroid[0]);
            assert_eq!(row[5].parse::<f64>().unwrap(), dom.centroid[1]);
        }

        let csv = dir.path().join("walls.csv");
        d.write_walls_csv(&csv, false).unwrap();
        let text = std::fs::read_to_string(&csv).unwrap();
        let mut walls: Vec<Wall> = Vec::new();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let k: usize = f[0].parse().unwrap();
            if walls.len() < k {
                let kind = [WallKind::Deg180, WallKind::Deg90, WallKind::Other]
                    .into_iter()
                    .find(|w| w.name() == f[5])
                    .unwrap();
                walls.push(Wall {
                    domains: [f[1].parse().unwrap(), f[2].parse().unwrap()],
                    kind,
                    angle_deg: f[6].parse().unwrap(),
                    length_px: f[7].parse().unwrap(),
                    points: Vec::new(),
                });
                let class_of = |id: u32| d.domains[id as usize - 1].class.name();
                assert_eq!(
                    (f[3], f[4]),
                    (
                        class_of(walls[k - 1].domains[0]),
                        class_of(walls[k - 1].domains[1])
                    )
                );
            }
            walls[k - 1]
                .points
                .push([f[8].parse().unwrap(), f[9].parse().unwrap()]);
        }
        assert_eq!(walls, d.walls);
    }

    #[test]
    fn the_overlay_draws_walls_on_the_pixel_boundaries() {
        // Vertical 180° walls between columns 9 and 10, horizontal 90° walls between rows 7 and
        // 8; at scale 8 the boundaries are x = 80 and y = 64, drawn 2 px wide (79–80, 63–64).
        let classes = four_domains();
        let d = Domains::find(&classes, None, DomainSettings::default());
        let base: Vec<[u8; 3]> = classes
            .iter()
            .map(|&c| crate::colour::class_colour(c))
            .collect();
        let (w, h, img) = d.overlay(&base, 16, 20, 8);
        assert_eq!((w, h), (160, 128));
        let (white, black) = (wall_colour(WallKind::Deg180), wall_colour(WallKind::Deg90));
        let mut wall_pixels = 0;
        for y in 0..h {
            for x in 0..w {
                let (on_v, on_h) = ((79..=80).contains(&x), (63..=64).contains(&y));
                let got = img[y * w + x];
                match (on_v, on_h) {
                    (true, false) => assert_eq!(got, white, "({x}, {y})"),
                    (false, true) => assert_eq!(got, black, "({x}, {y})"),
                    (true, true) => assert!(got == white || got == black),
                    (false, false) => assert_eq!(got, base[(y / 8) * 20 + x / 8], "({x}, {y})"),
                }
                wall_pixels += usize::from(on_v || on_h);
            }
        }
        assert_eq!(wall_pixels, 2 * 128 + 2 * 160 - 4);
        // Scale 1: the wall lies on the left/upper pixel of each edge.
        let (w, _, img) = d.overlay(&base, 16, 20, 1);
        assert_eq!(img[2 * w + 9], white);
        assert_eq!(img[7 * w + 2], black);
        assert_eq!(img[2 * w + 10], base[2 * 20 + 10]);
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
