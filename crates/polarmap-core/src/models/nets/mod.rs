//! The paper's neural models on burn: an encoder ([`encoders`]) and one of three heads
//! (classification, regression, prototype), run on a GPU (wgpu) or the CPU (Flex), saved as a
//! model file with half-precision weights.

pub mod encoders;
pub mod heads;
pub mod kernels;

pub mod import;

pub use encoders::{Architecture, Encoder};
pub use heads::Head;

use super::file::{ModelFile, ModelHeader};
use super::symmetry::{symmetrised_scores, Symmetry};
use super::{Classifier, DeviceChoice, Prediction};
use crate::classes::Class;
use crate::error::{Error, Result};
use burn::module::{ModuleMapper, Param};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::store::{DTypePolicy, ModuleRecord};
use burn::tensor::{Bytes, DType};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const BACKEND: &str = "burn";

/// Encoder + head.
#[derive(Module, Debug)]
pub struct Network {
    pub encoder: Encoder,
    pub head: Linear,
}

/// burn's CPU backend has one random generator per process, which every thread draws from, and
/// burn draws a parameter's initial value lazily, at its first use (loading weights reads a
/// parameter's dtype, which is a use). Every draw is made under this lock, so that a seeded start
/// is not drawn into by another thread between the seed and the last weight.
static CPU_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    CPU_RNG.lock().unwrap_or_else(|e| e.into_inner())
}

impl Network {
    /// A randomly initialised network (burn's generator: seed it for a reproducible one, or use
    /// [`Network::initial`]). Its weights are drawn here, under the lock, not at first use.
    pub fn new(architecture: Architecture, head: Head, size: usize, device: &Device) -> Network {
        struct Draw;
        impl ModuleMapper for Draw {
            fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
                p.map(|t| t)
            }
        }
        let _rng = rng_lock();
        Self::build(architecture, head, size, device).map(&mut Draw)
    }

    /// A network with the weights saved by [`Network::to_bytes`]; `path` names them in errors.
    pub fn from_bytes(
        architecture: Architecture,
        head: Head,
        size: usize,
        device: &Device,
        path: &Path,
        bytes: &[u8],
    ) -> Result<Network> {
        // Loading reads each parameter's dtype, which draws its (discarded) initial value.
        let _rng = rng_lock();
        Self::build(architecture, head, size, device).with_bytes(path, bytes)
    }

    fn build(architecture: Architecture, head: Head, size: usize, device: &Device) -> Network {
        Network {
            encoder: Encoder::new(architecture, size, device),
            head: LinearConfig::new(encoders::FEATURES, head.outputs()).init(device),
        }
    }

    /// The initial weights of a training run with `seed`, on `device`. They are drawn on the CPU
    /// backend whatever the device, so one seed gives one start on every device (a GPU run then
    /// differs from a CPU run by rounding only), and whatever other threads draw.
    pub fn initial(
        architecture: Architecture,
        head: Head,
        size: usize,
        seed: u64,
        device: &Device,
    ) -> Result<Network> {
        let start = {
            let _rng = rng_lock();
            let cpu = Device::flex();
            cpu.seed(seed);
            Self::build(architecture, head, size, &cpu).to_bytes(DType::F32)?
        };
        Self::from_bytes(
            architecture,
            head,
            size,
            device,
            Path::new("initial weights"),
            &start,
        )
    }

    /// Raw head outputs for a `[B, S·S]` batch of inputs: logits, tanh'd vectors or embeddings.
    pub fn forward(&self, inputs: Tensor<2>, head: Head, size: usize) -> Tensor<2> {
        let [batch, _] = inputs.dims();
        let x = inputs.reshape([batch, 1, size, size]);
        let out = self.head.forward(self.encoder.forward(x));
        match head {
            Head::Reg => out.tanh(),
            Head::Cls | Head::Proto => out,
        }
    }

    /// The encoder's features `[B, 512]` and the raw head outputs of a batch (the features are
    /// the embedding the OOD score of the Cls and Reg heads is measured on).
    pub fn forward_features(
        &self,
        inputs: Tensor<2>,
        head: Head,
        size: usize,
    ) -> (Tensor<2>, Tensor<2>) {
        let [batch, _] = inputs.dims();
        let features = self.encoder.forward(inputs.reshape([batch, 1, size, size]));
        let out = self.head.forward(features.clone());
        let out = match head {
            Head::Reg => out.tanh(),
            Head::Cls | Head::Proto => out,
        };
        (features, out)
    }

    /// The weights as burnpack bytes, in `dtype` (model files: F16, which halves them;
    /// checkpoints: F32, so that a resumed run continues exactly).
    pub fn to_bytes(&self, dtype: DType) -> Result<Vec<u8>> {
        struct Cast(DType);
        impl ModuleMapper for Cast {
            fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
                let dtype = self.0;
                p.map(|t| t.cast(dtype))
            }
        }
        // `valid()`, not `clone()`: a clone shares BatchNorm's running statistics (a
        // `RunningState` is mapped in place), so casting a clone would turn this network's own
        // statistics to `dtype`; `valid()` gives them fresh storage.
        let bytes = self
            .valid()
            .map(&mut Cast(dtype))
            .into_record()
            .into_bytes()
            .map_err(|e| Error::invalid(format!("cannot encode the weights: {e}")))?;
        Ok(bytes.to_vec())
    }

    /// Loads weights saved by [`Network::to_bytes`] into this network (one whose weights are
    /// drawn: [`Network::from_bytes`] builds and loads under the generator's lock).
    pub fn with_bytes(self, path: &Path, bytes: &[u8]) -> Result<Network> {
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes.to_vec()))
            .map_err(|e| Error::format(path, format!("the weights are not readable: {e}")))?
            .with_dtype_policy(DTypePolicy::CastToModule);
        self.try_load_record(record).map_err(|e| {
            Error::format(
                path,
                format!("the weights do not fit the architecture in the header: {e}"),
            )
        })
    }
}

/// What the burn backend stores in the header's `settings`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NetSettings {
    pub architecture: Architecture,
    pub head: Head,
    /// Class prototypes (validation-set class means of the embeddings), prototype head only.
    #[serde(default)]
    pub prototypes: Option<Vec<Vec<f32>>>,
    /// Scores averaged over the 8 symmetries of the square lattice ([`super::symmetry`]):
    /// 8 passes per pattern. Off in older files.
    #[serde(default)]
    pub symmetrise: bool,
}

/// A trained network behind the [`Classifier`] trait.
#[derive(Debug)]
pub struct NetClassifier {
    header: ModelHeader,
    settings: NetSettings,
    network: Network,
    device: Device,
}

impl NetClassifier {
    pub fn new(
        header: ModelHeader,
        settings: NetSettings,
        network: Network,
        device: Device,
    ) -> Self {
        let mut header = header;
        header.settings = serde_json::to_value(&settings).expect("settings serialise");
        NetClassifier {
            header,
            settings,
            network: network.valid(),
            device,
        }
    }

    pub fn from_file(path: &Path, file: ModelFile, device: DeviceChoice) -> Result<NetClassifier> {
        let settings: NetSettings = serde_json::from_value(file.header.settings.clone())
            .map_err(|e| Error::format(path, format!("network settings are not valid: {e}")))?;
        if settings.head == Head::Proto {
            let ok = settings.prototypes.as_ref().is_some_and(|p| {
                p.len() == Class::COUNT && p.iter().all(|v| v.len() == heads::EMBEDDING)
            });
            if !ok {
                return Err(Error::format(
                    path,
                    "the prototype model has no valid prototypes",
                ));
            }
        }
        let size = file.header.input.size;
        if size < settings.architecture.min_size() {
            return Err(Error::format(
                path,
                format!(
                    "input size {size} is too small for {} (at least {})",
                    settings.architecture.name(),
                    settings.architecture.min_size()
                ),
            ));
        }
        let device = device.device()?;
        let network = Network::from_bytes(
            settings.architecture,
            settings.head,
            size,
            &device,
            path,
            &file.payload,
        )?;
        Ok(NetClassifier::new(file.header, settings, network, device))
    }

    pub fn network(&self) -> &Network {
        &self.network
    }

    pub fn head(&self) -> Head {
        self.settings.head
    }

    /// Whether the scores are averaged over the lattice's symmetries.
    pub fn symmetrised(&self) -> bool {
        self.settings.symmetrise
    }

    /// The class prototypes (prototype head only).
    pub fn prototypes(&self) -> Option<&[Vec<f32>]> {
        self.settings.prototypes.as_deref()
    }

    /// A copy with other class prototypes (prototype head), described by `header`.
    pub fn with_prototypes(&self, prototypes: Vec<Vec<f32>>, header: ModelHeader) -> Result<Self> {
        let ok = prototypes.len() == Class::COUNT
            && prototypes
                .iter()
                .all(|p| p.len() == heads::EMBEDDING && p.iter().all(|v| v.is_finite()));
        if self.settings.head != Head::Proto || !ok {
            return Err(Error::invalid(format!(
                "{} finite prototypes of {} values are needed by a prototype head",
                Class::COUNT,
                heads::EMBEDDING
            )));
        }
        let settings = NetSettings {
            prototypes: Some(prototypes),
            ..self.settings.clone()
        };
        Ok(NetClassifier::new(
            header,
            settings,
            self.network.clone(),
            self.device.clone(),
        ))
    }

    /// The encoder's features (the head's inputs, [`encoders::FEATURES`] each) of a batch.
    pub fn features(&self, batch: ArrayView2<f32>) -> Result<Vec<Vec<f32>>> {
        let size = self.checked_size(batch)?;
        if batch.nrows() == 0 {
            return Ok(Vec::new());
        }
        let [n, _] = [batch.nrows(), batch.ncols()];
        let x = to_tensor(batch, &self.device).reshape([n, 1, size, size]);
        rows_of(self.network.encoder.forward(x))
    }

    /// The head's linear layer: weights `[FEATURES × outputs]` row-major, and biases.
    pub fn head_weights(&self) -> Result<(Vec<f32>, Vec<f32>)> {
        let read = |t: Tensor<1>| {
            t.into_data()
                .try_into_vec_as::<f32>()
                .map_err(|e| Error::invalid(format!("reading the head's weights: {e:?}")))
        };
        let weight = self.network.head.weight.val();
        let [rows, cols] = weight.dims();
        let weight = read(weight.reshape([rows * cols]))?;
        let bias = match &self.network.head.bias {
            Some(b) => read(b.val())?,
            None => vec![0.0; cols],
        };
        Ok((weight, bias))
    }

    /// A copy whose head has these weights (the layout of [`Self::head_weights`]), described
    /// by `header`.
    pub fn with_head_weights(
        &self,
        weight: &[f32],
        bias: &[f32],
        header: ModelHeader,
    ) -> Result<Self> {
        let [rows, cols] = self.network.head.weight.dims();
        if weight.len() != rows * cols || bias.len() != cols {
            return Err(Error::invalid(format!(
                "the head takes {rows}x{cols} weights and {cols} biases, got {} and {}",
                weight.len(),
                bias.len()
            )));
        }
        let mut network = self.network.clone();
        network.head.weight = Param::from_tensor(Tensor::from_data(
            TensorData::new(weight.to_vec(), [rows, cols]),
            &self.device,
        ));
        network.head.bias = Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(bias.to_vec(), [cols]),
            &self.device,
        )));
        Ok(NetClassifier::new(
            header,
            self.settings.clone(),
            network,
            self.device.clone(),
        ))
    }

    /// The input side, checked against the rows of `batch`.
    fn checked_size(&self, batch: ArrayView2<f32>) -> Result<usize> {
        let size = self.header.input.size;
        if batch.ncols() != size * size {
            return Err(Error::invalid(format!(
                "the model takes {size}x{size} inputs, got rows of {} values",
                batch.ncols()
            )));
        }
        Ok(size)
    }

    /// Raw head outputs of a batch, as rows.
    pub fn outputs(&self, batch: ArrayView2<f32>) -> Result<Vec<Vec<f32>>> {
        let (n, len) = batch.dim();
        let size = self.header.input.size;
        if len != size * size {
            return Err(Error::invalid(format!(
                "the model takes {size}x{size} inputs, got rows of {len} values"
            )));
        }
        if n == 0 {
            return Ok(Vec::new());
        }
        let out = self
            .network
            .forward(to_tensor(batch, &self.device), self.settings.head, size);
        rows_of(out)
    }
}

/// Rows of model inputs as a `[B, W]` tensor on `device`.
pub(crate) fn to_tensor(rows: ArrayView2<f32>, device: &Device) -> Tensor<2> {
    let shape = [rows.nrows(), rows.ncols()];
    Tensor::from_data(
        TensorData::new(rows.iter().copied().collect::<Vec<f32>>(), shape),
        device,
    )
}

/// A `[B, W]` tensor read back as rows.
pub(crate) fn rows_of(t: Tensor<2>) -> Result<Vec<Vec<f32>>> {
    let [_, width] = t.dims();
    let flat: Vec<f32> = t
        .into_data()
        .try_into_vec_as::<f32>()
        .map_err(|e| Error::invalid(format!("reading the network output: {e:?}")))?;
    Ok(flat.chunks(width.max(1)).map(<[f32]>::to_vec).collect())
}

impl Classifier for NetClassifier {
    fn header(&self) -> &ModelHeader {
        &self.header
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    /// Embeddings: the prototype head's own embedding, else the encoder's features.
    fn predict(&self, batch: ArrayView2<f32>) -> Result<Vec<Prediction>> {
        let size = self.header.input.size;
        if batch.ncols() != size * size {
            return Err(Error::invalid(format!(
                "the model takes {size}x{size} inputs, got rows of {} values",
                batch.ncols()
            )));
        }
        if batch.nrows() == 0 {
            return Ok(Vec::new());
        }
        let head = self.settings.head;
        let (features, outputs) =
            self.network
                .forward_features(to_tensor(batch, &self.device), head, size);
        let features = if head == Head::Proto {
            None
        } else {
            Some(rows_of(features)?)
        };
        let prototypes = self.settings.prototypes.as_deref().unwrap_or_default();
        let outputs = rows_of(outputs)?;
        let mut scores: Vec<[f32; Class::COUNT]> = outputs
            .iter()
            .map(|out| head.decode(out, prototypes).1)
            .collect();
        if self.settings.symmetrise {
            // The identity's scores are above; the other 7 copies, one batch each.
            let mut per_copy: Vec<Vec<[f32; Class::COUNT]>> =
                scores.iter().map(|s| vec![*s]).collect();
            for g in &Symmetry::all()[1..] {
                let copy = g.apply_rows(batch, size);
                let out = self
                    .network
                    .forward(to_tensor(copy.view(), &self.device), head, size);
                for (i, out) in rows_of(out)?.iter().enumerate() {
                    per_copy[i].push(head.decode(out, prototypes).1);
                }
            }
            scores = per_copy.iter().map(|s| symmetrised_scores(s)).collect();
        }
        Ok(outputs
            .into_iter()
            .zip(scores)
            .enumerate()
            .map(|(i, (out, scores))| {
                let embedding = match &features {
                    Some(f) => f[i].clone(),
                    None => out,
                };
                Prediction {
                    class: Prediction::from_scores(scores, None).class,
                    scores,
                    embedding: Some(embedding),
                }
            })
            .collect())
    }

    fn save(&self, path: &Path, overwrite: bool) -> Result<()> {
        ModelFile {
            header: self.header.clone(),
            payload: self.network.to_bytes(DType::F16)?,
        }
        .write(path, overwrite)
    }
}
