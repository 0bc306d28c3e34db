//! Crystal builder: pseudo-cubic perovskite ABO3 supercells (default KNN), viewed along [100]pc.
//!
//! Coordinates are (x, y, z) in Å: x = [010]pc to the right in the image, y = [001]pc **up** in the
//! image, z = [100]pc along the beam (depth, 0 at the entrance surface). Unit cell (i, j, k) holds
//! A at (i, j, k + ¼)·a, B at (i + ½, j + ½, k + ¾)·a and O at (i + ½, j + ½, k + ¼)·a (the apical
//! O, on the A–O plane), (i, j + ½, k + ¾)·a and (i + ½, j, k + ¾)·a (on the B–O2 plane). The A–O
//! and B–O2 planes therefore sit in the middle of the two half-cell slices [k, k + ½)·a and
//! [k + ½, k + 1)·a. A-site columns are at the origin, so a scan "starting at an A-site column"
//! starts at (0, 0).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use polarmap_io::classes::Class;
use polarmap_io::{Error, Result};

/// The heaviest element with projected-potential parameters (Kirkland's tables: Z = 1–103).
pub const MAX_Z: u8 = 103;

pub const Z_O: u8 = 8;
pub const Z_NA: u8 = 11;
pub const Z_K: u8 = 19;
pub const Z_NB: u8 = 41;

/// KNN pseudo-cubic lattice constant, Å.
pub const KNN_A: f64 = 3.95;
/// Default Nb off-centre displacement, Å.
pub const DEFAULT_NB_SHIFT: f64 = 0.15;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Atom {
    /// Atomic number.
    pub z: u8,
    /// (x, y, depth) in Å.
    pub pos: [f64; 3],
}

/// Occupation of the A sites.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum ASite {
    /// Every A site holds this element.
    Single(u8),
    /// Each A site holds `first` with probability `fraction_first`, otherwise `second`, drawn
    /// from the builder's seed.
    Random {
        first: u8,
        second: u8,
        fraction_first: f64,
    },
}

impl ASite {
    pub const K: ASite = ASite::Single(Z_K);
    pub const NA: ASite = ASite::Single(Z_NA);
    /// K0.5Na0.5 at random.
    pub const KNA: ASite = ASite::Random {
        first: Z_K,
        second: Z_NA,
        fraction_first: 0.5,
    };

    /// `K`, `Na` or `KNa` (case-insensitive).
    pub fn from_name(name: &str) -> Option<ASite> {
        match name.trim().to_ascii_lowercase().as_str() {
            "k" => Some(ASite::K),
            "na" => Some(ASite::NA),
            "kna" | "nak" | "knn" => Some(ASite::KNA),
            _ => None,
        }
    }
}

/// The three O sites of a unit cell, named by the axis of the B–O–B chain they sit on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OSite {
    /// (½, ½, ¼)·a: between the B of cells k−1 and k along the beam.
    Beam,
    /// (0, ½, ¾)·a: between the B of cells i−1 and i along x.
    X,
    /// (½, 0, ¾)·a: between the B of cells j−1 and j along y.
    Y,
}

/// An oxygen vacancy with the relaxation of the B cations along its B–O–B chain (after the
/// paper's DFT-relaxed defect): the nearest B on the `positive_side` (the neighbour at larger
/// coordinate along the chain axis if true) moves `relax[0]` Å away from the vacancy, the next B
/// on that side `relax[1]` Å, and the nearest B on the opposite side `relax[2]` Å.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Vacancy {
    /// Unit cell (i, j, k) that holds the removed O.
    pub cell: [usize; 3],
    pub site: OSite,
    pub relax: [f64; 3],
    pub positive_side: bool,
}

impl Vacancy {
    /// Where the removed O sat: (x, y, depth) in Å for lattice constant `a`.
    pub fn position(&self, a: f64) -> [f64; 3] {
        let frac = match self.site {
            OSite::Beam => [0.5, 0.5, 0.25],
            OSite::X => [0.0, 0.5, 0.75],
            OSite::Y => [0.5, 0.0, 0.75],
        };
        [0, 1, 2].map(|i| (self.cell[i] as f64 + frac[i]) * a)
    }

    pub fn new(cell: [usize; 3], site: OSite) -> Vacancy {
        Vacancy {
            cell,
            site,
            relax: [0.4, 0.3, 0.1],
            positive_side: true,
        }
    }
}

/// A pseudo-cubic ABO3 perovskite supercell recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Perovskite {
    /// Lattice constant, Å.
    pub a: f64,
    pub a_site: ASite,
    pub b_site: u8,
    pub anion: u8,
    /// Unit cells along x, y and the beam.
    pub cells: [usize; 3],
    /// B-cation displacement (x, y, depth), Å.
    pub b_shift: [f64; 3],
    /// Displacement of all O (x, y, depth), Å (e.g. opposite to `b_shift`).
    pub o_shift: [f64; 3],
    pub vacancy: Option<Vacancy>,
    pub seed: u64,
}

impl Default for Perovskite {
    /// KNN, K/Na 50/50 at random, 2×2×2 cells, no displacement.
    fn default() -> Self {
        Perovskite {
            a: KNN_A,
            a_site: ASite::KNA,
            b_site: Z_NB,
            anion: Z_O,
            cells: [2, 2, 2],
            b_shift: [0.0; 3],
            o_shift: [0.0; 3],
            vacancy: None,
            seed: 0,
        }
    }
}

/// The 12 <110>pc unit directions in (x, y, depth) coordinates.
pub fn directions_110() -> [[f64; 3]; 12] {
    let s = std::f64::consts::FRAC_1_SQRT_2;
    [
        [s, s, 0.0],
        [-s, s, 0.0],
        [-s, -s, 0.0],
        [s, -s, 0.0],
        [s, 0.0, s],
        [-s, 0.0, s],
        [s, 0.0, -s],
        [-s, 0.0, -s],
        [0.0, s, s],
        [0.0, -s, s],
        [0.0, s, -s],
        [0.0, -s, -s],
    ]
}

/// The <110>pc unit direction chosen for a class: in the image plane for the diagonal classes
/// (RU, LU, LD, RD: (±1, ±1, 0)/√2); with a +beam component for the axis classes (RM, MU, LM, MD:
/// e.g. (1, 0, 1)/√2 for RM). Its projection points along the class angle.
pub fn class_direction(class: Class) -> [f64; 3] {
    let t = class.angle_deg().to_radians();
    let (c, s) = (t.cos(), t.sin());
    let clean = |v: f64| if v.abs() < 1e-12 { 0.0 } else { v };
    if class.index() % 2 == 1 {
        // cos, sin of 45° multiples are already ±1/√2.
        [clean(c), clean(s), 0.0]
    } else {
        let h = std::f64::consts::FRAC_1_SQRT_2;
        [clean(c) * h, clean(s) * h, h]
    }
}

/// A Nb displacement of `magnitude` Å along [`class_direction`].
pub fn class_displacement(class: Class, magnitude: f64) -> [f64; 3] {
    class_direction(class).map(|v| v * magnitude)
}

/// A list of atoms in a periodic box.
#[derive(Debug, Clone, PartialEq)]
pub struct Crystal {
    pub atoms: Vec<Atom>,
    /// Box (width x, height y, thickness along the beam), Å. Periodic in x and y.
    pub extent: [f64; 3],
    /// Natural slice thickness (half a unit cell for perovskites), Å.
    pub slice_thickness: f64,
}

impl Perovskite {
    /// KNN with the Nb displaced for `class` by `magnitude` Å.
    pub fn knn(class: Option<Class>, magnitude: f64, cells: [usize; 3]) -> Perovskite {
        Perovskite {
            cells,
            b_shift: class.map_or([0.0; 3], |c| class_displacement(c, magnitude)),
            ..Perovskite::default()
        }
    }

    /// Shifts the O octahedron opposite to the B displacement by `magnitude` Å.
    pub fn with_opposite_o_shift(mut self, magnitude: f64) -> Perovskite {
        let norm = self.b_shift.iter().map(|v| v * v).sum::<f64>().sqrt();
        self.o_shift = if norm > 0.0 {
            self.b_shift.map(|v| -v / norm * magnitude)
        } else {
            [0.0; 3]
        };
        self
    }

    pub fn build(&self) -> Result<Crystal> {
        let [nx, ny, nz] = self.cells;
        if nx == 0 || ny == 0 || nz == 0 {
            return Err(Error::invalid(format!(
                "supercell {nx}×{ny}×{nz} must have at least one cell along each axis"
            )));
        }
        if !(self.a.is_finite() && self.a > 0.0) {
            return Err(Error::invalid(format!(
                "lattice constant must be positive, got {} Å",
                self.a
            )));
        }
        for z in [self.b_site, self.anion] {
            check_z(z)?;
        }
        match self.a_site {
            ASite::Single(z) => check_z(z)?,
            ASite::Random {
                first,
                second,
                fraction_first,
            } => {
                check_z(first)?;
                check_z(second)?;
                if !(0.0..=1.0).contains(&fraction_first) {
                    return Err(Error::invalid("A-site fraction must lie in [0, 1]"));
                }
            }
        }
        if let Some(v) = &self.vacancy {
            if v.cell.iter().zip(&self.cells).any(|(c, n)| c >= n) {
                return Err(Error::invalid(format!(
                    "vacancy cell {:?} lies outside the {nx}×{ny}×{nz} supercell",
                    v.cell
                )));
            }
        }
        let a = self.a;
        let mut rng = StdRng::seed_from_u64(self.seed);
        // B displacements per cell (the vacancy relaxation adds to some).
        let mut b_extra = vec![[0.0f64; 3]; nx * ny * nz];
        let cell_index = |i: usize, j: usize, k: usize| (k * ny + j) * nx + i;
        if let Some(v) = &self.vacancy {
            let (axis, n) = match v.site {
                OSite::X => (0, nx),
                OSite::Y => (1, ny),
                OSite::Beam => (2, nz),
            };
            // The O sits between B of cell c−1 and c along `axis`.
            let c = v.cell[axis] as isize;
            // Neighbours on the positive side: cells c, c+1; on the negative side: c−1, c−2.
            let moves: [(isize, f64, f64); 3] = if v.positive_side {
                [
                    (c, v.relax[0], 1.0),
                    (c + 1, v.relax[1], 1.0),
                    (c - 1, v.relax[2], -1.0),
                ]
            } else {
                [
                    (c - 1, v.relax[0], -1.0),
                    (c - 2, v.relax[1], -1.0),
                    (c, v.relax[2], 1.0),
                ]
            };
            for (cc, amount, dir) in moves {
                if axis == 2 && (cc < 0 || cc >= n as isize) {
                    continue; // no periodic image along the beam
                }
                let cc = cc.rem_euclid(n as isize) as usize;
                let mut cell = v.cell;
                cell[axis] = cc;
                let idx = cell_index(cell[0], cell[1], cell[2]);
                b_extra[idx][axis] += dir * amount;
            }
        }
        let mut atoms = Vec::with_capacity(nx * ny * nz * 5);
        let add = |atoms: &mut Vec<Atom>, z: u8, frac: [f64; 3], cell: [usize; 3], d: [f64; 3]| {
            let mut pos = [0.0; 3];
            for ax in 0..3 {
                pos[ax] = (cell[ax] as f64 + frac[ax]) * a + d[ax];
            }
            atoms.push(Atom { z, pos });
        };
        for k in 0..nz {
            for j in 0..ny {
                for i in 0..nx {
                    let cell = [i, j, k];
                    let a_z = match self.a_site {
                        ASite::Single(z) => z,
                        ASite::Random {
                            first,
                            second,
                            fraction_first,
                        } => {
                            if rng.random::<f64>() < fraction_first {
                                first
                            } else {
                                second
                            }
                        }
                    };
                    add(&mut atoms, a_z, [0.0, 0.0, 0.25], cell, [0.0; 3]);
                    let e = b_extra[cell_index(i, j, k)];
                    let b = [
                        self.b_shift[0] + e[0],
                        self.b_shift[1] + e[1],
                        self.b_shift[2] + e[2],
                    ];
                    add(&mut atoms, self.b_site, [0.5, 0.5, 0.75], cell, b);
                    for (site, frac) in [
                        (OSite::Beam, [0.5, 0.5, 0.25]),
                        (OSite::X, [0.0, 0.5, 0.75]),
                        (OSite::Y, [0.5, 0.0, 0.75]),
                    ] {
                        let removed = self
                            .vacancy
                            .is_some_and(|v| v.cell == cell && v.site == site);
                        if !removed {
                            add(&mut atoms, self.anion, frac, cell, self.o_shift);
                        }
                    }
                }
            }
        }
        let extent = [nx as f64 * a, ny as f64 * a, nz as f64 * a];
        Ok(Crystal {
            atoms,
            extent,
            slice_thickness: a / 2.0,
        })
    }
}

fn check_z(z: u8) -> Result<()> {
    if (1..=MAX_Z).contains(&z) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "atomic number {z} is outside the parametrization (1–{})",
            MAX_Z
        )))
    }
}

impl Crystal {
    /// Atoms sorted into slices of `thickness` Å: slice s holds depths in [s·t, (s+1)·t)
    /// (depths outside the box are clamped into the first or last slice).
    pub fn slices(&self, thickness: f64) -> Result<Vec<Vec<Atom>>> {
        if !(thickness.is_finite() && thickness > 0.0) {
            return Err(Error::invalid(format!(
                "slice thickness must be positive, got {thickness} Å"
            )));
        }
        let n = ((self.extent[2] / thickness) - 1e-9).ceil().max(1.0) as usize;
        let mut out = vec![Vec::new(); n];
        for atom in &self.atoms {
            let s = (atom.pos[2] / thickness).floor().clamp(0.0, (n - 1) as f64) as usize;
            out[s].push(*atom);
        }
        Ok(out)
    }

    /// A frozen-phonon configuration: every atom displaced by an independent Gaussian of
    /// standard deviation `sigma_a(Z)` Å along each axis (Einstein model), from `seed`.
    pub fn thermal_displaced(&self, sigma_a: impl Fn(u8) -> f64, seed: u64) -> Result<Crystal> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut atoms = self.atoms.clone();
        for atom in &mut atoms {
            let s = sigma_a(atom.z);
            if !(s.is_finite() && s >= 0.0) {
                return Err(Error::invalid(format!(
                    "thermal displacement for Z = {} must be finite and ≥ 0, got {s} Å",
                    atom.z
                )));
            }
            if s > 0.0 {
                let normal = Normal::new(0.0, s).expect("finite positive sigma");
                for v in &mut atom.pos {
                    *v += normal.sample(&mut rng);
                }
            }
        }
        Ok(Crystal {
            atoms,
            extent: self.extent,
            slice_thickness: self.slice_thickness,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_directions_project_onto_class_angles() {
        for class in Class::ALL {
            let d = class_direction(class);
            let norm = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
            assert!((norm - 1.0).abs() < 1e-12);
            let angle = d[1].atan2(d[0]);
            assert_eq!(Class::nearest(angle), class);
            assert!(directions_110()
                .iter()
                .any(|v| v.iter().zip(&d).all(|(a, b)| (a - b).abs() < 1e-12)));
            // Diagonal classes in-plane, axis classes with a beam component.
            assert_eq!(d[2] == 0.0, class.index() % 2 == 1);
        }
        let rm = class_displacement(Class::RM, 0.15);
        assert!((rm[0] - 0.15 / 2f64.sqrt()).abs() < 1e-12 && rm[1] == 0.0);
        let ru = class_direction(Class::RU);
        assert!(ru[0] > 0.0 && ru[1] > 0.0, "RU points right and up (y up)");
    }

    #[test]
    fn opposite_o_shift() {
        let p = Perovskite::knn(Some(Class::RU), 0.15, [1, 1, 1]).with_opposite_o_shift(0.05);
        let s = 0.05 * std::f64::consts::FRAC_1_SQRT_2;
        assert!((p.o_shift[0] + s).abs() < 1e-12 && (p.o_shift[1] + s).abs() < 1e-12);
        let c = p.build().unwrap();
        let o = c.atoms.iter().find(|a| a.z == Z_O).unwrap();
        assert!((o.pos[0] - (0.5 * KNN_A - s)).abs() < 1e-12);
    }

    #[test]
    fn knn_cell_counts_and_mix() {
        let p = Perovskite {
            cells: [4, 4, 4],
            seed: 7,
            ..Perovskite::default()
        };
        let c = p.build().unwrap();
        assert_eq!(c.atoms.len(), 64 * 5);
        let k = c.atoms.iter().filter(|a| a.z == Z_K).count();
        let na = c.atoms.iter().filter(|a| a.z == Z_NA).count();
        assert_eq!(k + na, 64);
        assert!(k > 16 && na > 16, "K {k} Na {na}");
        assert_eq!(p.build().unwrap(), c, "same seed, same crystal");
        assert_eq!(c.slices(c.slice_thickness).unwrap().len(), 8);
    }

    #[test]
    fn vacancy_removes_one_o_and_relaxes_the_chain() {
        let mut p = Perovskite::knn(None, 0.0, [4, 1, 1]);
        p.a_site = ASite::K;
        p.vacancy = Some(Vacancy::new([2, 0, 0], OSite::X));
        let c = p.build().unwrap();
        assert_eq!(c.atoms.iter().filter(|a| a.z == Z_O).count(), 4 * 3 - 1);
        let gone = p.vacancy.unwrap().position(KNN_A);
        assert_eq!(gone, [2.0 * KNN_A, 0.5 * KNN_A, 0.75 * KNN_A]);
        assert!(!c.atoms.iter().any(|a| a
            .pos
            .iter()
            .zip(&gone)
            .all(|(u, v)| (u - v).abs() < 1e-9)));
        let nb: Vec<f64> = c
            .atoms
            .iter()
            .filter(|a| a.z == Z_NB)
            .map(|a| a.pos[0])
            .collect();
        let ideal = |i: f64| (i + 0.5) * KNN_A;
        // The vacancy sits at x = 2a, between Nb of cells 1 and 2.
        assert!((nb[2] - ideal(2.0) - 0.4).abs() < 1e-12);
        assert!((nb[3] - ideal(3.0) - 0.3).abs() < 1e-12);
        assert!((nb[1] - ideal(1.0) + 0.1).abs() < 1e-12);
        assert!((nb[0] - ideal(0.0)).abs() < 1e-12);
    }
}
