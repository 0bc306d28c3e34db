//! PCA + kNN (the paper's classical baseline): flatten the input, standardise each feature,
//! project on 20 principal components (linfa-reduction), vote among the k = 5 nearest training
//! patterns (linfa-nn k-d tree). Scores are the vote fractions; the embedding is the pattern's
//! principal components.
//!
//! Payload (little-endian f32 unless said): feature means [F], feature standard deviations [F],
//! components [C×F], reference embeddings [N×C], reference labels u8 [N]. The last `adapted`
//! references are a user's labelled patterns ([`super::adapt`]); their votes weigh
//! `adapted_weight` (files without these settings have none).

use super::file::{ModelFile, ModelHeader};
use super::input::InputSpec;
use super::{Classifier, Prediction};
use crate::classes::Class;
use crate::error::{Error, Result};
use crate::progress::Progress;
use linfa::traits::Fit;
use linfa::DatasetBase;
use linfa_nn::distance::L2Dist;
use linfa_nn::{KdTree, NearestNeighbour, NearestNeighbourIndex};
use linfa_reduction::Pca;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const BACKEND: &str = "pca-knn";

/// Header settings of a PCA + kNN model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PcaKnnSettings {
    pub k: usize,
    pub components: usize,
    pub features: usize,
    /// Reference points, the adapted ones included.
    pub train_points: usize,
    /// How many of the reference points (the last ones) a user labelled on their scan.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub adapted: usize,
    /// The vote of an adapted reference point (a training point's is 1).
    #[serde(default = "unit_weight", skip_serializing_if = "is_unit")]
    pub adapted_weight: f32,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn unit_weight() -> f32 {
    1.0
}

fn is_unit(w: &f32) -> bool {
    *w == 1.0
}

self_cell::self_cell!(
    /// Training embeddings and the k-d tree that borrows them.
    struct Neighbours {
        owner: ndarray16::Array2<f32>,
        #[covariant]
        dependent: Index,
    }
);
type Index<'a> = Box<dyn NearestNeighbourIndex<f32> + Send + Sync + 'a>;

pub struct PcaKnn {
    header: ModelHeader,
    settings: PcaKnnSettings,
    mean: Array1<f32>,
    std: Array1<f32>,
    /// `[C, F]`
    components: Array2<f32>,
    labels: Vec<u8>,
    neighbours: Neighbours,
}

impl PcaKnn {
    /// Fits on `inputs` (one row per pattern) with class indices `labels`.
    pub fn fit(
        inputs: ArrayView2<f32>,
        labels: &[usize],
        input: InputSpec,
        k: usize,
        components: usize,
        progress: &Progress,
    ) -> Result<PcaKnn> {
        let (n, features) = inputs.dim();
        if n != labels.len() || n <= k || features != input.len() {
            return Err(Error::invalid(format!(
                "PCA + kNN needs more than k = {k} patterns of {} values with a label each \
                 (got {n} patterns of {features}, {} labels)",
                input.len(),
                labels.len()
            )));
        }
        progress.start("standardising features", 1);
        let mean = inputs.mean_axis(Axis(0)).expect("n > 0");
        let std = inputs
            .std_axis(Axis(0), 0.0)
            .mapv(|s| if s > 1e-12 { s } else { 1.0 });
        // linfa-reduction fits f64 only: one standardised f64 copy (F·N·8 bytes).
        let mut x = vec![0f64; n * features];
        x.par_chunks_mut(features)
            .zip(inputs.axis_iter(Axis(0)).into_par_iter())
            .for_each(|(row, src)| {
                for ((o, v), (m, s)) in row.iter_mut().zip(src).zip(mean.iter().zip(&std)) {
                    *o = ((v - m) / s) as f64;
                }
            });
        let x = ndarray16::Array2::from_shape_vec((n, features), x).expect("n × features values");
        progress.check()?;
        progress.start("fitting PCA", 1);
        let pca = Pca::params(components)
            .fit(&DatasetBase::from(x))
            .map_err(|e| Error::invalid(format!("PCA failed: {e}")))?;
        let comps = pca.components(); // [C, F]
        let components =
            Array2::from_shape_fn((components, features), |(c, f)| comps[[c, f]] as f32);
        progress.check()?;
        let labels: Vec<u8> = labels.iter().map(|&l| l as u8).collect();
        let settings = PcaKnnSettings {
            k,
            components: components.nrows(),
            features,
            train_points: n,
            adapted: 0,
            adapted_weight: 1.0,
        };
        progress.start("projecting training patterns", 1);
        let embeddings = project(inputs, &mean, &std, &components);
        PcaKnn::assemble(
            ModelHeader::new(BACKEND, "pca", "knn", input),
            settings,
            mean,
            std,
            components,
            labels,
            embeddings,
        )
    }

    fn assemble(
        mut header: ModelHeader,
        settings: PcaKnnSettings,
        mean: Array1<f32>,
        std: Array1<f32>,
        components: Array2<f32>,
        labels: Vec<u8>,
        embeddings: Array2<f32>,
    ) -> Result<PcaKnn> {
        header.settings = serde_json::to_value(settings).expect("settings serialise");
        let neighbours = Neighbours::try_new(to16(&embeddings), build_index)?;
        Ok(PcaKnn {
            header,
            settings,
            mean,
            std,
            components,
            labels,
            neighbours,
        })
    }

    /// Standardises and projects rows onto the principal components: `[N, C]`.
    pub fn project(&self, inputs: ArrayView2<f32>) -> Array2<f32> {
        project(inputs, &self.mean, &self.std, &self.components)
    }

    /// Records how the model was made (stored in the model file's header).
    pub fn set_training(&mut self, training: serde_json::Value) {
        self.header.training = training;
    }

    pub fn settings(&self) -> PcaKnnSettings {
        self.settings
    }

    pub fn from_file(path: &Path, file: ModelFile) -> Result<PcaKnn> {
        let bad = |m: String| Error::format(path, m);
        let s: PcaKnnSettings = serde_json::from_value(file.header.settings.clone())
            .map_err(|e| bad(format!("PCA + kNN settings are not valid: {e}")))?;
        let (f, c, n) = (s.features, s.components, s.train_points);
        let weight_ok = s.adapted_weight.is_finite() && s.adapted_weight > 0.0;
        if f != file.header.input.len()
            || c == 0
            || c > f
            || s.k == 0
            || n < s.k
            || s.adapted > n
            || !weight_ok
        {
            return Err(bad(format!("inconsistent PCA + kNN settings {s:?}")));
        }
        let floats = f
            .checked_mul(2 + c)
            .and_then(|v| v.checked_add(n.checked_mul(c)?))
            .ok_or_else(|| bad("PCA + kNN sizes overflow".into()))?;
        let expected = floats.checked_mul(4).and_then(|b| b.checked_add(n));
        if expected != Some(file.payload.len()) {
            return Err(bad(format!(
                "PCA + kNN weights are {} bytes, expected {expected:?} for {s:?}",
                file.payload.len()
            )));
        }
        let (float_bytes, label_bytes) = file.payload.split_at(floats * 4);
        let values: Vec<f32> = float_bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect();
        if values.iter().any(|v| !v.is_finite()) {
            return Err(bad("PCA + kNN weights hold NaN or infinite values".into()));
        }
        if label_bytes.iter().any(|&l| l as usize >= Class::COUNT) {
            return Err(bad("PCA + kNN training labels are not class indices".into()));
        }
        let (mean, rest) = values.split_at(f);
        let (std, rest) = rest.split_at(f);
        let (components, embeddings) = rest.split_at(c * f);
        PcaKnn::assemble(
            file.header,
            s,
            Array1::from_vec(mean.to_vec()),
            Array1::from_vec(std.to_vec()),
            Array2::from_shape_vec((c, f), components.to_vec()).expect("sizes checked"),
            label_bytes.to_vec(),
            Array2::from_shape_vec((n, c), embeddings.to_vec()).expect("sizes checked"),
        )
        .map_err(|e| bad(e.to_string()))
    }

    /// A copy whose reference set also holds `inputs` (one row per pattern, the model's input)
    /// labelled `labels`, each voting with `weight`: a user's labelled patterns of their own
    /// scan ([`super::adapt`]). `header` describes the copy.
    pub fn with_references(
        &self,
        inputs: ArrayView2<f32>,
        labels: &[Class],
        weight: f32,
        header: ModelHeader,
    ) -> Result<PcaKnn> {
        if inputs.nrows() != labels.len() || inputs.ncols() != self.settings.features {
            return Err(Error::invalid(format!(
                "{} labels for {} patterns of {} values (the model takes {})",
                labels.len(),
                inputs.nrows(),
                inputs.ncols(),
                self.settings.features
            )));
        }
        if !(weight.is_finite() && weight > 0.0) {
            return Err(Error::invalid(format!(
                "the vote of a labelled pattern must be positive, got {weight}"
            )));
        }
        let added = self.project(inputs);
        let embeddings = ndarray::concatenate(Axis(0), &[self.embeddings().view(), added.view()])
            .map_err(|e| Error::invalid(format!("reference embeddings: {e}")))?;
        let mut all_labels = self.labels.clone();
        all_labels.extend(labels.iter().map(|c| c.index() as u8));
        let settings = PcaKnnSettings {
            train_points: all_labels.len(),
            adapted: self.settings.adapted + labels.len(),
            adapted_weight: weight,
            ..self.settings
        };
        PcaKnn::assemble(
            header,
            settings,
            self.mean.clone(),
            self.std.clone(),
            self.components.clone(),
            all_labels,
            embeddings,
        )
    }

    /// The reference embeddings `[N, C]`.
    fn embeddings(&self) -> Array2<f32> {
        let e = self.neighbours.borrow_owner();
        Array2::from_shape_vec(e.dim(), e.iter().copied().collect()).expect("same shape")
    }

    /// The vote of reference point `i`.
    fn vote(&self, i: usize) -> f32 {
        let first_adapted = self.labels.len() - self.settings.adapted;
        if i >= first_adapted {
            self.settings.adapted_weight
        } else {
            1.0
        }
    }

    fn payload(&self) -> Vec<u8> {
        let embeddings = self.neighbours.borrow_owner();
        let floats = self
            .mean
            .iter()
            .chain(&self.std)
            .chain(&self.components)
            .chain(embeddings.iter());
        let mut out: Vec<u8> = floats.flat_map(|v| v.to_le_bytes()).collect();
        out.extend_from_slice(&self.labels);
        out
    }
}

fn to16(a: &Array2<f32>) -> ndarray16::Array2<f32> {
    let (r, c) = a.dim();
    ndarray16::Array2::from_shape_vec((r, c), a.iter().copied().collect()).expect("same shape")
}

fn project(
    inputs: ArrayView2<f32>,
    mean: &Array1<f32>,
    std: &Array1<f32>,
    components: &Array2<f32>,
) -> Array2<f32> {
    let standardised = (&inputs - &mean.view().insert_axis(Axis(0))) / std;
    standardised.dot(&components.t())
}

fn build_index(points: &ndarray16::Array2<f32>) -> Result<Index<'_>> {
    KdTree
        .from_batch(points, L2Dist)
        .map_err(|e| Error::invalid(format!("kNN index: {e}")))
}

impl std::fmt::Debug for PcaKnn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcaKnn")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Classifier for PcaKnn {
    fn header(&self) -> &ModelHeader {
        &self.header
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn predict(&self, batch: ArrayView2<f32>) -> Result<Vec<Prediction>> {
        if batch.ncols() != self.settings.features {
            return Err(Error::invalid(format!(
                "PCA + kNN takes {} values per pattern, got {}",
                self.settings.features,
                batch.ncols()
            )));
        }
        let projected = self.project(batch);
        let index = self.neighbours.borrow_dependent();
        projected
            .axis_iter(Axis(0))
            .into_par_iter()
            .map(|row| {
                let point =
                    ndarray16::ArrayView1::from(row.as_slice().expect("rows are contiguous"));
                let found = index
                    .k_nearest(point, self.settings.k)
                    .map_err(|e| Error::invalid(format!("kNN query: {e}")))?;
                let mut votes = [0f32; Class::COUNT];
                for (_, i) in &found {
                    votes[self.labels[*i] as usize] += self.vote(*i);
                }
                let total: f32 = votes.iter().sum();
                // The principal components are the model's embedding (for the OOD score).
                Ok(Prediction::from_scores(
                    votes.map(|v| v / total.max(f32::MIN_POSITIVE)),
                    Some(row.to_vec()),
                ))
            })
            .collect()
    }

    fn save(&self, path: &Path, overwrite: bool) -> Result<()> {
        ModelFile {
            header: self.header.clone(),
            payload: self.payload(),
        }
        .write(path, overwrite)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::input::InputSpec;

    /// 2×2 inputs: class RM lights value 0, class RD value 1 (with a little spread).
    fn toy() -> PcaKnn {
        let rows: Vec<[f32; 4]> = (0..40)
            .map(|i| {
                let e = 0.01 * (i / 2) as f32;
                if i % 2 == 0 {
                    [1.0 + e, e, 0.0, 0.0]
                } else {
                    [e, 1.0 + e, 0.0, 0.0]
                }
            })
            .collect();
        let inputs = Array2::from_shape_fn((40, 4), |(i, j)| rows[i][j]);
        let labels: Vec<usize> = (0..40).map(|i| if i % 2 == 0 { 0 } else { 7 }).collect();
        let spec = InputSpec {
            size: 2,
            ..InputSpec::paper(None, None)
        };
        PcaKnn::fit(inputs.view(), &labels, spec, 5, 2, &Progress::new()).unwrap()
    }

    #[test]
    fn labelled_references_outvote_the_training_points_near_them() {
        let model = toy();
        // The user's scan: RM patterns that look like RD to the trained model.
        let scan =
            Array2::from_shape_fn((10, 4), |(i, j)| [0.3 + 0.005 * i as f32, 0.7, 0.2, 0.2][j]);
        let before = model.predict(scan.view()).unwrap();
        assert!(before.iter().all(|p| p.class == Class::RD));
        let labelled = scan.slice(ndarray::s![..2, ..]);
        let header = model.header().clone();
        let adapted = model
            .with_references(labelled, &[Class::RM; 2], 5.0, header)
            .unwrap();
        assert_eq!(adapted.settings().adapted, 2);
        assert_eq!(adapted.settings().train_points, 42);
        let after = adapted.predict(scan.view()).unwrap();
        for p in &after {
            assert_eq!(p.class, Class::RM);
            // Two references of weight 5 against three training votes of 1.
            assert!((p.scores[0] - 10.0 / 13.0).abs() < 1e-6, "{:?}", p.scores);
        }
        // The training data's own RD patterns are still RD.
        let rd = Array2::from_shape_fn((1, 4), |(_, j)| [0.0, 1.0, 0.0, 0.0][j]);
        assert_eq!(adapted.predict(rd.view()).unwrap()[0].class, Class::RD);
        // The references and their weight survive the file.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("adapted.pmm");
        adapted.save(&path, false).unwrap();
        let back = crate::models::load(&path, crate::models::DeviceChoice::Cpu).unwrap();
        assert_eq!(back.predict(scan.view()).unwrap(), after);
        // The unadapted model's file has no adaptation settings: older readers see nothing new.
        model.save(&dir.path().join("plain.pmm"), false).unwrap();
        let plain = ModelFile::read(&dir.path().join("plain.pmm")).unwrap();
        assert!(plain.header.settings.get("adapted").is_none());
        assert!(plain.header.adaptation.is_none());
    }
}
