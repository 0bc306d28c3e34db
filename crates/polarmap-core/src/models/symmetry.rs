//! The symmetry of the problem: a perovskite seen along [100] has a square projected lattice,
//! so mirroring or rotating the specimen by the square's 8 symmetries (the dihedral group D4)
//! gives another specimen of the same kind whose polarization is mirrored or rotated with it.
//! The probe (round aperture, defocus) is unchanged by them, so the diffraction pattern is
//! transformed the same way (a Fourier transform commutes with them). The other nuisances
//! (descan, tilt, A-site arrangement) go to values as likely as their own.
//!
//! A model can therefore learn from 8 transformed copies of each pattern, each labelled with
//! the transformed class ([`Symmetry::class`]), and average its scores over the 8 transformed
//! copies of a pattern it classifies ([`symmetrised_scores`]). The crop is centred on the
//! pattern centre to within half a pixel ([`crate::preprocess::crop_origin`]), so a transformed
//! input is centred as well as the original.

use crate::classes::Class;

/// One of the 8 symmetries of the square, acting on a square image (row-major, row 0 at the
/// top) as a transpose followed by row and column reversals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Symmetry {
    transpose: bool,
    flip_rows: bool,
    flip_cols: bool,
}

impl Symmetry {
    pub const IDENTITY: Symmetry = Symmetry {
        transpose: false,
        flip_rows: false,
        flip_cols: false,
    };

    /// The whole group, the identity first.
    pub fn all() -> [Symmetry; 8] {
        std::array::from_fn(|i| Symmetry {
            transpose: i & 4 != 0,
            flip_rows: i & 2 != 0,
            flip_cols: i & 1 != 0,
        })
    }

    /// The image `image` (`size`×`size`) transformed: `out[r][c] = t[r'][c']`, where `t` is the
    /// image or its transpose and `r'`, `c'` are `r`, `c` or reversed.
    pub fn apply(self, image: &[f32], size: usize) -> Vec<f32> {
        let mut out = vec![0.0; size * size];
        self.apply_into(image, size, &mut out);
        out
    }

    /// [`Symmetry::apply`] into `out` (`size`×`size`).
    pub fn apply_into(self, image: &[f32], size: usize, out: &mut [f32]) {
        debug_assert_eq!(image.len(), size * size);
        let last = size.saturating_sub(1);
        for r in 0..size {
            let a = if self.flip_rows { last - r } else { r };
            for c in 0..size {
                let b = if self.flip_cols { last - c } else { c };
                out[r * size + c] = if self.transpose {
                    image[b * size + a]
                } else {
                    image[a * size + b]
                };
            }
        }
    }

    /// Every row of `rows` (`size`×`size` images) transformed.
    pub fn apply_rows(self, rows: ndarray::ArrayView2<f32>, size: usize) -> ndarray::Array2<f32> {
        let mut out = ndarray::Array2::<f32>::zeros(rows.dim());
        for (row, mut moved) in rows.rows().into_iter().zip(out.rows_mut()) {
            let moved = moved
                .as_slice_mut()
                .expect("an owned array's rows are contiguous");
            match row.as_slice() {
                Some(row) => self.apply_into(row, size, moved),
                None => self.apply_into(&row.to_vec(), size, moved),
            }
        }
        out
    }

    /// The class of the transformed pattern of a pattern of class `class`: its direction
    /// transformed in the image frame (x right, y up; a row index runs along −y). A transpose
    /// maps (x, y) to (−y, −x); reversing rows negates y, reversing columns negates x.
    pub fn class(self, class: usize) -> usize {
        let angle = Class::ALL[class % Class::COUNT].angle_deg().to_radians();
        let (mut x, mut y) = (angle.cos(), angle.sin());
        if self.transpose {
            (x, y) = (-y, -x);
        }
        if self.flip_rows {
            y = -y;
        }
        if self.flip_cols {
            x = -x;
        }
        Class::nearest(y.atan2(x)).index()
    }
}

/// Class scores of one pattern averaged over the group: `scores[g]` are the model's scores of
/// the pattern transformed by `Symmetry::all()[g]`, and class `k` of the pattern is class
/// `g.class(k)` of its transformed copy. The average is geometric (the mean log-probability,
/// renormalised): the arithmetic mean of 8 copies that disagree is flatter than the network's
/// own probabilities, and was under-confident on the transfer suite's calibration-fitting
/// conditions (ECE 7.3 % against 2.9 %, docs/transfer.md).
pub fn symmetrised_scores(scores: &[[f32; Class::COUNT]]) -> [f32; Class::COUNT] {
    let group = Symmetry::all();
    let n = scores.len().min(group.len()).max(1) as f64;
    let mean_log: [f64; Class::COUNT] = std::array::from_fn(|k| {
        group
            .iter()
            .zip(scores)
            .map(|(g, s)| (s[g.class(k)].max(f32::MIN_POSITIVE) as f64).ln())
            .sum::<f64>()
            / n
    });
    let max = mean_log.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let exp = mean_log.map(|v| (v - max).exp());
    let total: f64 = exp.iter().sum();
    exp.map(|v| (v / total) as f32)
}

/// The 8 transformed copies of each row of `inputs` (`size`×`size` images), with the classes
/// of `labels` transformed with them: what a symmetrised model's scores are averaged over, so
/// what a fit to labelled patterns (adaptation) must see.
pub fn transformed_copies(
    inputs: &ndarray::Array2<f32>,
    labels: &[usize],
    size: usize,
) -> (ndarray::Array2<f32>, Vec<usize>) {
    let group = Symmetry::all();
    let n = group.len();
    let mut out = ndarray::Array2::<f32>::zeros((inputs.nrows() * n, inputs.ncols()));
    // Row i's copy by group[k] goes to row n·i + k.
    for (k, g) in group.iter().enumerate() {
        out.slice_mut(ndarray::s![k..;n, ..])
            .assign(&g.apply_rows(inputs.view(), size));
    }
    let classes = labels
        .iter()
        .flat_map(|&label| group.iter().map(move |g| g.class(label)))
        .collect();
    (out, classes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `size`×`size` image with one bright pixel `(dx, dy)` from the centre pixel, in the
    /// image frame (y up).
    fn dot(size: usize, dx: isize, dy: isize) -> Vec<f32> {
        let mid = (size / 2) as isize;
        let mut image = vec![0.0; size * size];
        image[((mid - dy) * size as isize + mid + dx) as usize] = 1.0;
        image
    }

    #[test]
    fn each_symmetry_moves_an_offset_the_way_it_maps_its_class() {
        // An odd side keeps the centre pixel fixed, so a dot in class k's direction must land
        // in the direction of the transformed class.
        let size = 9;
        for g in Symmetry::all() {
            for k in 0..Class::COUNT {
                let angle = Class::ALL[k].angle_deg().to_radians();
                let (dx, dy) = ((3.0 * angle.cos()).round(), (3.0 * angle.sin()).round());
                let moved = g.apply(&dot(size, dx as isize, dy as isize), size);
                let j = g.class(k);
                let angle = Class::ALL[j].angle_deg().to_radians();
                let (ex, ey) = ((3.0 * angle.cos()).round(), (3.0 * angle.sin()).round());
                assert_eq!(
                    moved,
                    dot(size, ex as isize, ey as isize),
                    "{g:?} class {k}"
                );
            }
        }
    }

    #[test]
    fn the_group_is_closed_and_its_class_maps_are_distinct_permutations() {
        let maps: Vec<Vec<usize>> = Symmetry::all()
            .iter()
            .map(|g| (0..Class::COUNT).map(|k| g.class(k)).collect())
            .collect();
        for map in &maps {
            let mut sorted = map.clone();
            sorted.sort();
            assert_eq!(sorted, (0..Class::COUNT).collect::<Vec<_>>());
        }
        for (i, a) in maps.iter().enumerate() {
            assert!(maps[i + 1..].iter().all(|b| b != a));
        }
        assert_eq!(maps[0], (0..Class::COUNT).collect::<Vec<_>>());
        // Composition stays in the group: applying two symmetries to an image equals one.
        let size = 5;
        let image: Vec<f32> = (0..size * size).map(|v| v as f32).collect();
        for a in Symmetry::all() {
            for b in Symmetry::all() {
                let twice = b.apply(&a.apply(&image, size), size);
                assert!(Symmetry::all()
                    .iter()
                    .any(|c| c.apply(&image, size) == twice));
            }
        }
    }

    #[test]
    fn averaging_undoes_the_class_permutation() {
        // A model that is exactly equivariant gives the same averaged scores as its own.
        let own: [f32; 8] = [0.5, 0.2, 0.1, 0.05, 0.05, 0.04, 0.03, 0.03];
        let per_copy: Vec<[f32; 8]> = Symmetry::all()
            .iter()
            .map(|g| {
                let mut s = [0.0; 8];
                (0..8).for_each(|k| s[g.class(k)] = own[k]);
                s
            })
            .collect();
        let averaged = symmetrised_scores(&per_copy);
        for k in 0..8 {
            assert!((averaged[k] - own[k]).abs() < 1e-6);
        }
    }

    #[test]
    fn transformed_copies_hold_each_copy_with_its_class() {
        let size = 3;
        let inputs = ndarray::Array2::from_shape_fn((2, 9), |(i, j)| (10 * i + j) as f32);
        let (copies, classes) = transformed_copies(&inputs, &[1, 6], size);
        assert_eq!(copies.nrows(), 16);
        for (i, label) in [1, 6].into_iter().enumerate() {
            let row = inputs.row(i).to_vec();
            for (k, g) in Symmetry::all().into_iter().enumerate() {
                assert_eq!(copies.row(8 * i + k).to_vec(), g.apply(&row, size));
                assert_eq!(classes[8 * i + k], g.class(label));
            }
        }
    }

    /// A network with random weights, its scores averaged over the group or not.
    fn random_net(symmetrise: bool) -> crate::models::nets::NetClassifier {
        use crate::models::nets::{Architecture, Head, NetClassifier, NetSettings, Network};
        use crate::models::{InputSpec, ModelHeader};
        use burn::tensor::Device;
        let size = 16;
        let device = Device::flex();
        let net = Network::initial(Architecture::Conv, Head::Cls, size, 7, &device).unwrap();
        let input = InputSpec {
            size,
            ..InputSpec::paper(None, None)
        };
        let settings = NetSettings {
            architecture: Architecture::Conv,
            head: Head::Cls,
            prototypes: None,
            symmetrise,
        };
        NetClassifier::new(
            ModelHeader::new("burn", "conv", "cls", input),
            settings,
            net,
            device,
        )
    }

    /// For any weights, the averaged scores of a transformed pattern are the pattern's own,
    /// moved to the transformed classes: the group acts on images and on classes alike. Without
    /// the average a random network is not equivariant, so the check can fail.
    #[test]
    fn a_symmetrised_network_is_equivariant_whatever_its_weights() {
        use crate::models::Classifier;
        use rand::{Rng, SeedableRng};
        let size = 16;
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let patterns: Vec<Vec<f32>> = (0..3)
            .map(|_| (0..size * size).map(|_| rng.random::<f32>()).collect())
            .collect();
        let scores = |net: &dyn Classifier, images: &[Vec<f32>]| {
            let flat: Vec<f32> = images.concat();
            let batch = ndarray::Array2::from_shape_vec((images.len(), size * size), flat).unwrap();
            net.predict(batch.view())
                .unwrap()
                .into_iter()
                .map(|p| p.scores)
                .collect::<Vec<_>>()
        };
        for (symmetrise, equivariant) in [(true, true), (false, false)] {
            let net = random_net(symmetrise);
            let own = scores(&net, &patterns);
            let mut worst = 0f32;
            for g in Symmetry::all() {
                let moved: Vec<Vec<f32>> = patterns.iter().map(|p| g.apply(p, size)).collect();
                for (a, b) in own.iter().zip(scores(&net, &moved)) {
                    for k in 0..Class::COUNT {
                        worst = worst.max((a[k] - b[g.class(k)]).abs());
                    }
                }
            }
            assert_eq!(
                worst < 1e-5,
                equivariant,
                "symmetrise {symmetrise}: {worst}"
            );
        }
    }
}
