//! PCA + kNN (the paper's classical baseline): flatten the input, standardise each feature,
//! project on 20 principal components (linfa-reduction), vote among the k = 5 nearest training
//! patterns (linfa-nn k-d tree). Scores are the vote fractions; the embedding is the pattern's
//! principal components.
//!
//! Payload (little-endian f32 unless said): feature means [F], feature standard deviations [F],
//! components [C×F], training embeddings [N×C], training labels u8 [N].

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
    pub train_points: usize,
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
        if f != file.header.input.len() || c == 0 || c > f || s.k == 0 || n < s.k {
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
                    votes[self.labels[*i] as usize] += 1.0;
                }
                let total = found.len().max(1) as f32;
                // The principal components are the model's embedding (for the OOD score).
                Ok(Prediction::from_scores(
                    votes.map(|v| v / total),
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
