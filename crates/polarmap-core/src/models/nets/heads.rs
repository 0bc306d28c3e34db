//! The three heads — classification (Cls), regression (Reg) and prototype (Proto) — in one
//! place: their output width, training loss, and decoding into class scores.

use crate::classes::Class;
use crate::models::Prediction;
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, softmax};
use serde::{Deserialize, Serialize};

/// Width of the prototype head's embedding.
pub const EMBEDDING: usize = 128;
/// Width of the circular soft target (in classes).
pub const PROTO_SIGMA: f64 = 1.25;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Head {
    /// Linear → 8 logits, cross-entropy.
    Cls,
    /// Linear → 2, tanh, MSE against the class unit vector; decoded by angle.
    Reg,
    /// Linear → 128-d embedding, circular soft-target prototype loss; nearest prototype.
    Proto,
}

impl Head {
    pub const ALL: [Head; 3] = [Head::Cls, Head::Reg, Head::Proto];

    pub fn name(self) -> &'static str {
        match self {
            Head::Cls => "cls",
            Head::Reg => "reg",
            Head::Proto => "proto",
        }
    }

    pub fn from_name(name: &str) -> Option<Head> {
        Self::ALL.into_iter().find(|h| h.name() == name)
    }

    /// Training loss of a batch of head outputs.
    pub fn loss(self, outputs: Tensor<2>, labels: &[usize]) -> Tensor<1> {
        match self {
            Head::Cls => cross_entropy(outputs, labels),
            Head::Reg => regression(outputs, labels),
            Head::Proto => prototype(outputs, labels),
        }
    }

    /// Class and scores of one pattern's head output (prototypes for the prototype head).
    pub fn decode(self, output: &[f32], prototypes: &[Vec<f32>]) -> (Class, [f32; Class::COUNT]) {
        match self {
            Head::Cls => {
                let max = output.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                let exp: Vec<f32> = output.iter().map(|v| (v - max).exp()).collect();
                let total: f32 = exp.iter().sum();
                let scores = std::array::from_fn(|k| exp[k] / total);
                (Prediction::from_scores(scores, None).class, scores)
            }
            Head::Reg => regression_scores([output[0], output[1]]),
            Head::Proto => prototype_scores(output, prototypes),
        }
    }

    /// Width of the head's linear layer.
    pub fn outputs(self) -> usize {
        match self {
            Head::Cls => Class::COUNT,
            Head::Reg => 2,
            Head::Proto => EMBEDDING,
        }
    }
}

/// Circular distance between class indices (0..=4).
fn circular(a: usize, b: usize) -> usize {
    let d = a.abs_diff(b);
    d.min(Class::COUNT - d)
}

fn one_hot(labels: &[usize], device: &Device) -> Tensor<2> {
    let mut values = vec![0f32; labels.len() * Class::COUNT];
    for (i, &y) in labels.iter().enumerate() {
        values[i * Class::COUNT + y] = 1.0;
    }
    Tensor::from_data(
        TensorData::new(values, [labels.len(), Class::COUNT]),
        device,
    )
}

/// Cross-entropy of logits `[B, 8]` against class indices.
pub fn cross_entropy(logits: Tensor<2>, labels: &[usize]) -> Tensor<1> {
    let target = one_hot(labels, &logits.device());
    let n = labels.len() as f64;
    (log_softmax(logits, 1) * target).sum().neg().div_scalar(n)
}

/// Unit vector of each class direction (cos θk, sin θk), θk = k·45°.
fn class_vectors(labels: &[usize], device: &Device) -> Tensor<2> {
    let values: Vec<f32> = labels
        .iter()
        .flat_map(|&y| {
            let t = Class::ALL[y].angle_deg().to_radians();
            [t.cos() as f32, t.sin() as f32]
        })
        .collect();
    Tensor::from_data(TensorData::new(values, [labels.len(), 2]), device)
}

/// Mean squared error of the tanh outputs `[B, 2]` against the class unit vectors.
pub fn regression(outputs: Tensor<2>, labels: &[usize]) -> Tensor<1> {
    let target = class_vectors(labels, &outputs.device());
    (outputs - target).powi_scalar(2).mean()
}

/// Soft circular target w_k ∝ exp(−d_circ(y, k)² / 2σ²), restricted to the classes `present`.
fn soft_targets(labels: &[usize], present: &[bool; Class::COUNT]) -> Vec<f32> {
    labels
        .iter()
        .flat_map(|&y| {
            let w: Vec<f64> = (0..Class::COUNT)
                .map(|k| {
                    let d = circular(y, k) as f64;
                    if present[k] {
                        (-d * d / (2.0 * PROTO_SIGMA * PROTO_SIGMA)).exp()
                    } else {
                        0.0
                    }
                })
                .collect();
            let total: f64 = w.iter().sum();
            w.into_iter().map(move |v| (v / total) as f32)
        })
        .collect()
}

/// Squared-free Euclidean distances `[B, P]` between embeddings `[B, D]` and prototypes `[P, D]`.
pub fn distances(embeddings: Tensor<2>, prototypes: Tensor<2>) -> Tensor<2> {
    let e2 = embeddings.clone().powi_scalar(2).sum_dim(1); // [B, 1]
    let p2 = prototypes.clone().powi_scalar(2).sum_dim(1).transpose(); // [1, P]
    let cross = embeddings.matmul(prototypes.transpose()); // [B, P]
    (e2 + p2 - cross.mul_scalar(2.0)).clamp_min(1e-12).sqrt()
}

/// The paper's prototype loss: per-batch class means are the prototypes; log-probabilities
/// are log-softmax of negative distances to them; the loss is KL(soft circular target ‖ them).
pub fn prototype(embeddings: Tensor<2>, labels: &[usize]) -> Tensor<1> {
    let device = embeddings.device();
    let mut counts = [0usize; Class::COUNT];
    labels.iter().for_each(|&y| counts[y] += 1);
    let present = counts.map(|c| c > 0);
    // prototypes = (one-hotᵀ · E) / counts; absent classes get a zero row, masked below.
    let inv: Vec<f32> = counts
        .iter()
        .map(|&c| if c > 0 { 1.0 / c as f32 } else { 0.0 })
        .collect();
    let inv = Tensor::<1>::from_data(TensorData::new(inv, [Class::COUNT]), &device);
    let protos = one_hot(labels, &device)
        .transpose()
        .matmul(embeddings.clone())
        .mul(inv.unsqueeze_dim::<2>(1));
    let mask: Vec<f32> = present
        .iter()
        .map(|&p| if p { 0.0 } else { -1e9 })
        .collect();
    let mask = Tensor::<1>::from_data(TensorData::new(mask, [Class::COUNT]), &device);
    let logits = distances(embeddings, protos).neg() + mask.unsqueeze_dim::<2>(0);
    let log_p = log_softmax(logits, 1);
    let target = soft_targets(labels, &present);
    let log_t: Vec<f32> = target
        .iter()
        .map(|&t| if t > 0.0 { t.ln() } else { 0.0 })
        .collect();
    let shape = [labels.len(), Class::COUNT];
    let target = Tensor::<2>::from_data(TensorData::new(target, shape), &device);
    let log_t = Tensor::<2>::from_data(TensorData::new(log_t, shape), &device);
    (target * (log_t - log_p))
        .sum()
        .div_scalar(labels.len() as f64)
}

/// Class scores from classification logits: softmax probabilities.
pub fn class_probabilities(logits: Tensor<2>) -> Tensor<2> {
    softmax(logits, 1)
}

/// Class from a regression output: the direction atan2(y, x) bucketed into 45° sectors
/// centred on the classes; scores a softmax of 10·cos(θ − θk), a smooth circular vote.
pub fn regression_scores(xy: [f32; 2]) -> (Class, [f32; Class::COUNT]) {
    let angle = (xy[1] as f64).atan2(xy[0] as f64);
    let class = Class::nearest(angle);
    let logits = Class::ALL.map(|k| 10.0 * (angle - k.angle_deg().to_radians()).cos());
    (class, softmax_array(logits))
}

/// Prototype head at inference: class = prototype of highest cosine similarity (the paper's
/// rule); scores = softmax of 10·cosine, so that the highest score is always the class given.
/// (Scores from the training loss's Euclidean distances disagreed with the cosine class on
/// some patterns, which no calibration of a score can mend: measured in docs/models.md.)
pub fn prototype_scores(
    embedding: &[f32],
    prototypes: &[Vec<f32>],
) -> (Class, [f32; Class::COUNT]) {
    let norm = |v: &[f32]| {
        v.iter()
            .map(|x| (*x as f64).powi(2))
            .sum::<f64>()
            .sqrt()
            .max(1e-12)
    };
    let en = norm(embedding);
    let mut logits = [0f64; Class::COUNT];
    for (k, p) in prototypes.iter().enumerate() {
        let dot: f64 = embedding
            .iter()
            .zip(p)
            .map(|(a, b)| *a as f64 * *b as f64)
            .sum();
        logits[k] = 10.0 * dot / (en * norm(p));
    }
    let best = (0..Class::COUNT).fold(0, |b, k| if logits[k] > logits[b] { k } else { b });
    (Class::ALL[best], softmax_array(logits))
}

fn softmax_array(logits: [f64; Class::COUNT]) -> [f32; Class::COUNT] {
    let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let exp = logits.map(|l| (l - max).exp());
    let total: f64 = exp.iter().sum();
    exp.map(|e| (e / total) as f32)
}

/// Class means of embeddings (a zero vector for a class with no pattern).
pub fn class_means(embeddings: &[Vec<f32>], labels: &[usize]) -> Vec<Vec<f32>> {
    let width = embeddings.first().map_or(0, Vec::len);
    let mut sums = vec![vec![0f64; width]; Class::COUNT];
    let mut counts = [0usize; Class::COUNT];
    for (e, &l) in embeddings.iter().zip(labels) {
        counts[l] += 1;
        sums[l].iter_mut().zip(e).for_each(|(s, v)| *s += *v as f64);
    }
    sums.into_iter()
        .zip(counts)
        .map(|(s, n)| {
            s.into_iter()
                .map(|v| (v / n.max(1) as f64) as f32)
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_targets_peak_at_the_label_and_are_circular() {
        let t = soft_targets(&[0], &[true; 8]);
        assert!((t.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(t[0] > t[1] && t[1] > t[2]);
        assert!(
            (t[1] - t[7]).abs() < 1e-7,
            "neighbours on both sides weigh the same"
        );
        assert!((t[3] - t[5]).abs() < 1e-7);
    }

    #[test]
    fn regression_decodes_angles_into_their_sector() {
        for k in Class::ALL {
            for offset in [-22.0f64, 0.0, 22.0] {
                let t = (k.angle_deg() + offset).to_radians();
                let (c, scores) = regression_scores([t.cos() as f32, t.sin() as f32]);
                assert_eq!(c, k, "angle {offset} from {k}");
                assert_eq!(Prediction::argmax(&scores), k.index());
            }
        }
    }

    #[test]
    fn prototype_scores_peak_at_the_cosine_class() {
        // The embedding is nearest in angle to prototype 2 but nearest in Euclidean distance to
        // prototype 0 (a short vector): the class and the highest score both follow the angle.
        let mut prototypes = vec![vec![0.0f32, 0.0]; Class::COUNT];
        prototypes[0] = vec![0.3, 0.3];
        prototypes[2] = vec![10.0, 1.0];
        for (k, p) in prototypes.iter_mut().enumerate().skip(3) {
            *p = vec![-(k as f32), 1.0];
        }
        let (class, scores) = prototype_scores(&[1.0, 0.1], &prototypes);
        assert_eq!(class, Class::ALL[2]);
        assert_eq!(Prediction::argmax(&scores), 2);
        assert!((scores.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }

    struct Prediction;
    impl Prediction {
        fn argmax(s: &[f32; 8]) -> usize {
            (0..8).fold(0, |b, k| if s[k] > s[b] { k } else { b })
        }
    }

    #[test]
    fn prototype_loss_is_lower_when_embeddings_cluster_by_class() {
        let device = Device::flex();
        let labels = [0usize, 0, 4, 4];
        let tight =
            Tensor::<2>::from_floats([[1.0, 0.0], [1.1, 0.0], [-1.0, 0.0], [-1.1, 0.0]], &device);
        let mixed =
            Tensor::<2>::from_floats([[1.0, 0.0], [-1.0, 0.0], [1.1, 0.0], [-1.1, 0.0]], &device);
        let lt: f32 = prototype(tight, &labels).into_scalar();
        let lm: f32 = prototype(mixed, &labels).into_scalar();
        assert!(lt < lm, "clustered {lt} vs mixed {lm}");
        assert!(lt >= 0.0);
    }

    #[test]
    fn cross_entropy_matches_a_hand_computation() {
        let device = Device::flex();
        let logits = Tensor::<2>::from_floats([[0.0f32; 8]], &device);
        let l: f32 = cross_entropy(logits, &[3]).into_scalar();
        assert!((l - (8f32).ln()).abs() < 1e-5);
    }
}
