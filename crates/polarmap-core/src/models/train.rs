//! Training on labelled scans: the paper's recipe (80/10/10 split, batch 128, Adam lr 2e-4 with
//! weight decay 1e-4, up to 20 epochs, early stopping after 5 epochs without validation-loss
//! improvement) with its three preprocessing configurations. Networks train on burn's autodiff
//! over the chosen device; PCA + kNN fits on the train+validation part (90/10). Each epoch
//! reports metrics to a callback, writes a checkpoint, and a run resumes from it.

use super::file::{ModelFile, ModelHeader};
use super::input::{prepare_batch, InputSpec};
use super::nets::{rows_of, to_tensor, Architecture, Head, NetClassifier, NetSettings, Network};
use super::pca_knn::PcaKnn;
use super::symmetry::Symmetry;
use super::{Classifier, DeviceChoice};
use crate::classes::Class;
use crate::error::{Error, Result};
use crate::preprocess::{magnitude_filter, Augmentation};
use crate::progress::Progress;
use crate::session::Session;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::{Bytes, DType};
use ndarray::{Array2, ArrayView2, Axis};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What the train / validation / test split holds out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Split {
    /// Patterns, drawn per class (the paper's): validation and test patterns come from the
    /// training scans, so they measure how well a model knows those scans.
    #[default]
    Patterns,
    /// Whole scans, drawn per class: validation and test scans are never trained on. Where each
    /// scan is its own acquisition (a domain-randomised set: one nuisance draw per scan), this
    /// is the split that can see a model recognising scans instead of polarization.
    Scans,
}

impl Split {
    pub const ALL: [Split; 2] = [Split::Patterns, Split::Scans];

    pub fn name(self) -> &'static str {
        match self {
            Split::Patterns => "patterns",
            Split::Scans => "scans",
        }
    }
}

/// The paper's preprocessing configurations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preprocessing {
    /// Crop + normalise only.
    None,
    /// Plus augmentation (blur, brightness/contrast, noise).
    Augment,
    /// Plus augmentation and the CoM-magnitude filter.
    AugmentFilter,
}

impl Preprocessing {
    pub const ALL: [Preprocessing; 3] = [Self::None, Self::Augment, Self::AugmentFilter];

    pub fn name(self) -> &'static str {
        match self {
            Preprocessing::None => "none",
            Preprocessing::Augment => "augment",
            Preprocessing::AugmentFilter => "augment-filter",
        }
    }
    pub fn augments(self) -> bool {
        self != Preprocessing::None
    }
    pub fn filters(self) -> bool {
        self == Preprocessing::AugmentFilter
    }
}

/// What to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum ModelKind {
    PcaKnn,
    Net {
        architecture: Architecture,
        head: Head,
    },
}

impl ModelKind {
    /// "pca", "conv-cls", "resnet50-proto", ...
    pub fn name(self) -> String {
        match self {
            ModelKind::PcaKnn => "pca".into(),
            ModelKind::Net { architecture, head } => {
                format!("{}-{}", architecture.name(), head.name())
            }
        }
    }

    pub fn from_name(name: &str) -> Option<ModelKind> {
        if name == "pca" || name == "pca-knn" {
            return Some(ModelKind::PcaKnn);
        }
        let (a, h) = name.split_once('-')?;
        Some(ModelKind::Net {
            architecture: Architecture::from_name(a)?,
            head: Head::from_name(h)?,
        })
    }

    /// The paper's ten rows: PCA and every encoder × head.
    pub fn all() -> Vec<ModelKind> {
        let mut all = vec![ModelKind::PcaKnn];
        for architecture in Architecture::ALL {
            for head in Head::ALL {
                all.push(ModelKind::Net { architecture, head });
            }
        }
        all
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub model: ModelKind,
    pub preprocessing: Preprocessing,
    pub seed: u64,
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    /// Epochs without validation-loss improvement before stopping.
    pub patience: usize,
    /// At most this many patterns per class (seeded random subset); all when None.
    pub max_per_class: Option<usize>,
    /// Input side in pixels (the paper: 64).
    pub input_size: usize,
    /// Detector pixels averaged into one input pixel per side: 2 shows the same angular window
    /// as `2 * input_size` detector pixels at a quarter of the cost (the paper: 1).
    #[serde(default = "one")]
    pub input_binning: usize,
    /// Weights the network starts from instead of a random initialisation: PyTorch's (e.g.
    /// torchvision's), or a polarmap model file (`.pmm`) of the same network, whose input the
    /// run then keeps (fine-tuning).
    #[serde(default)]
    pub init_weights: Option<PathBuf>,
    pub k: usize,
    pub pca_components: usize,
    /// What validation and test hold out.
    #[serde(default)]
    pub split: Split,
    /// Train on patterns transformed by a random one of the square lattice's 8 symmetries
    /// (the label transformed with them), and average the trained network's scores over the 8
    /// ([`super::symmetry`]). Off in the paper's recipe and in older configurations.
    #[serde(default)]
    pub symmetry: bool,
}

impl TrainConfig {
    /// The paper's recipe for `model`.
    pub fn paper(model: ModelKind) -> TrainConfig {
        TrainConfig {
            model,
            preprocessing: Preprocessing::None,
            seed: 888,
            epochs: 20,
            batch_size: 128,
            learning_rate: 2e-4,
            weight_decay: 1e-4,
            patience: 5,
            max_per_class: None,
            input_size: crate::preprocess::PAPER_CROP,
            input_binning: 1,
            init_weights: None,
            k: 5,
            pca_components: 20,
            split: Split::Patterns,
            symmetry: false,
        }
    }
}

fn one() -> usize {
    1
}

impl TrainConfig {
    /// This configuration seeing a `window`-pixel detector window with `binning`×`binning`
    /// detector pixels averaged into each input pixel: inputs of `window / binning` pixels.
    pub fn with_window(self, window: usize, binning: usize) -> TrainConfig {
        let binning = binning.max(1);
        TrainConfig {
            input_size: window / binning,
            input_binning: binning,
            ..self
        }
    }

    /// The training augmentation this configuration asks for, scaled to its input binning.
    fn augmentation(&self) -> Option<Augmentation> {
        self.preprocessing
            .augments()
            .then(|| Augmentation::for_input_binning(self.input_binning))
    }
}

/// Parses an `--input-binning` value: 1, 2 or 4.
pub fn parse_binning(value: &str) -> std::result::Result<usize, String> {
    match value {
        "1" => Ok(1),
        "2" => Ok(2),
        "4" => Ok(4),
        _ => Err(format!("input binning must be 1, 2 or 4, not {value}")),
    }
}

/// Labelled model inputs from one or more scans.
#[derive(Debug, Clone)]
pub struct LabelledInputs {
    pub inputs: Array2<f32>,
    pub labels: Vec<usize>,
    /// The scan each row comes from (an index into the scans read).
    pub scans: Vec<usize>,
    pub spec: InputSpec,
}

impl LabelledInputs {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Replaces every input by an augmented copy (seeded, so a run is reproducible).
    fn augment(&mut self, augmentation: &Augmentation, seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed ^ 0xA6A6_0000);
        let size = self.spec.size;
        for mut row in self.inputs.rows_mut() {
            let mut image = row.to_vec();
            augmentation.apply(&mut image, [size, size], &mut rng);
            row.assign(&ndarray::ArrayView1::from(&image[..]));
        }
    }

    fn select(&self, rows: &[usize]) -> LabelledInputs {
        LabelledInputs {
            inputs: self.inputs.select(Axis(0), rows),
            labels: rows.iter().map(|&r| self.labels[r]).collect(),
            scans: rows.iter().map(|&r| self.scans[r]).collect(),
            spec: self.spec.clone(),
        }
    }
}

/// Reads labelled scans (labels from their sidecars) into the model inputs `config` asks for
/// (size, binning, magnitude filter, at most `max_per_class` per class over all the scans, drawn
/// with its seed). The input's angular scale is the finest detector sampling among the scans
/// (the longest camera length), so that every scan that covers it at its own sampling covers
/// the window whatever the order of the scans; the others are brought to it. Without a
/// calibration the first scan's BF disk sets the scale.
pub fn load_labelled(
    paths: &[PathBuf],
    config: &TrainConfig,
    progress: &Progress,
) -> Result<LabelledInputs> {
    let size = config.input_size;
    let binning = config.input_binning.max(1);
    let mut sources = Vec::with_capacity(paths.len());
    for path in paths {
        sources.push(LabelledSource::open(path, config, progress)?);
    }
    let first = sources
        .first()
        .ok_or_else(|| Error::invalid("no training scans given"))?;
    let finest = sources
        .iter()
        .map(|s| s.session.scan().calibration.mrad_per_px)
        .try_fold(f64::INFINITY, |m, x| x.map(|x| m.min(x)));
    let spec = match base_model(config)? {
        // Continuing a trained network: its weights expect its own input scale.
        Some((file, _)) => file.header.input,
        None => InputSpec {
            size,
            ..InputSpec::paper(
                finest.map(|m| m * binning as f64),
                first
                    .session
                    .survey()
                    .bf_disk
                    .as_ref()
                    .ok()
                    .map(|d| d.radius_px / binning as f64),
            )
        },
    };
    if binning > 1 && spec.mrad_per_px.is_none() && spec.disk_radius_px.is_none() {
        return Err(Error::format(
            &first.path,
            "input binning needs the detector calibration (mrad/px) or a visible BF disk",
        ));
    }
    for source in &mut sources {
        source.geometry = Some(spec.geometry(source.session.scan(), source.session.survey())?);
    }
    let keep = subset_per_class(&sources, config.max_per_class, config.seed);
    let mut rows: Vec<Array2<f32>> = Vec::new();
    let mut labels = Vec::new();
    let mut scans = Vec::new();
    for (k, (source, keep)) in sources.iter().zip(&keep).enumerate() {
        progress.start(
            &format!("reading {}", source.path.display()),
            keep.len() as u64,
        );
        rows.push(prepare_batch(
            source.session.scan(),
            keep,
            source.geometry.as_ref().expect("set above"),
            size,
            Some(progress),
            None,
        )?);
        labels.extend(keep.iter().map(|&i| source.label(i)));
        scans.extend(std::iter::repeat_n(k, keep.len()));
    }
    let views: Vec<ArrayView2<f32>> = rows.iter().map(|r| r.view()).collect();
    let inputs = ndarray::concatenate(Axis(0), &views)
        .map_err(|e| Error::invalid(format!("training inputs: {e}")))?;
    Ok(LabelledInputs {
        inputs,
        labels,
        scans,
        spec,
    })
}

/// The polarmap model a run continues from, when `init_weights` names a model file (`.pmm`)
/// rather than PyTorch weights: fine-tuning keeps the model's input (size, angular scale,
/// centring), so the training scans are read as the model reads a scan.
fn base_model(config: &TrainConfig) -> Result<Option<(ModelFile, NetSettings)>> {
    let Some(path) = &config.init_weights else {
        return Ok(None);
    };
    if path.extension().is_none_or(|e| e != super::file::EXTENSION) {
        return Ok(None);
    }
    let file = ModelFile::read(path)?;
    if file.header.backend != super::nets::BACKEND {
        return Err(Error::format(
            path,
            format!(
                "is a {} model; only a network's weights can start a training run",
                file.header.display_name()
            ),
        ));
    }
    let settings: NetSettings = serde_json::from_value(file.header.settings.clone())
        .map_err(|e| Error::format(path, format!("network settings are not valid: {e}")))?;
    if file.header.input.size != config.input_size {
        return Err(Error::format(
            path,
            format!(
                "takes {0}x{0} inputs; this run makes {1}x{1}",
                file.header.input.size, config.input_size
            ),
        ));
    }
    Ok(Some((file, settings)))
}

/// One labelled training scan, surveyed, with the patterns that may be trained on.
struct LabelledSource {
    path: PathBuf,
    session: Session,
    truth: Array2<Class>,
    /// How the scan maps onto the input, once the input's scale is known.
    geometry: Option<super::InputGeometry>,
    /// Pattern indices that passed the magnitude filter (all when it is off), ascending.
    candidates: Vec<usize>,
}

impl LabelledSource {
    /// Opens and surveys `path`.
    fn open(path: &Path, config: &TrainConfig, progress: &Progress) -> Result<LabelledSource> {
        let session = Session::open(path, &Default::default(), progress)?;
        let truth = session.labels()?.ok_or_else(|| {
            Error::format(
                path,
                "has no labels (a sidecar NAME.meta.json with \"labels\")",
            )
        })?;
        let all: Vec<usize> = (0..session.scan().n_frames()).collect();
        let candidates = if config.preprocessing.filters() {
            // The session's CoM field (descan removed), row-major like the pattern indices.
            let magnitudes = session.com_field(progress)?.magnitude();
            let flags = magnitude_filter(magnitudes.as_slice().expect("standard layout"));
            all.into_iter().filter(|&i| flags[i]).collect()
        } else {
            all
        };
        Ok(LabelledSource {
            path: path.to_path_buf(),
            session,
            truth,
            geometry: None,
            candidates,
        })
    }

    fn label(&self, pattern: usize) -> usize {
        self.truth.as_slice().expect("standard layout")[pattern].index()
    }
}

/// Which candidates of each source to train on: all, or at most `max_per_class` per class over
/// all the sources together, a seeded random draw (so several scans of one class share its
/// quota). Each source's list is ascending.
fn subset_per_class(
    sources: &[LabelledSource],
    max_per_class: Option<usize>,
    seed: u64,
) -> Vec<Vec<usize>> {
    let Some(max) = max_per_class else {
        return sources.iter().map(|s| s.candidates.clone()).collect();
    };
    let mut pool: Vec<(usize, usize)> = sources
        .iter()
        .enumerate()
        .flat_map(|(s, source)| source.candidates.iter().map(move |&i| (s, i)))
        .collect();
    pool.shuffle(&mut StdRng::seed_from_u64(seed ^ 0x5eed));
    let mut counts = [0usize; Class::COUNT];
    let mut keep = vec![Vec::new(); sources.len()];
    for (s, i) in pool {
        let count = &mut counts[sources[s].label(i)];
        *count += 1;
        if *count <= max {
            keep[s].push(i);
        }
    }
    keep.iter_mut().for_each(|k| k.sort_unstable());
    keep
}

/// Train / validation / test row indices of `data` (80/10/10; without validation 90/0/10),
/// holding out what `by` says, drawn per class so that every split holds every class;
/// shuffled with the seed.
pub fn split(
    data: &LabelledInputs,
    by: Split,
    seed: u64,
    validation: bool,
) -> Result<[Vec<usize>; 3]> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut parts: [Vec<usize>; 3] = Default::default();
    match by {
        Split::Patterns => {
            for class in 0..Class::COUNT {
                let rows: Vec<usize> = (0..data.len())
                    .filter(|&i| data.labels[i] == class)
                    .collect();
                deal(rows, validation, 0, &mut rng, &mut parts);
            }
        }
        Split::Scans => {
            // A scan goes whole to one part, with the class most of its rows have.
            let n_scans = data.scans.iter().max().map_or(0, |&m| m + 1);
            let mut counts = vec![[0usize; Class::COUNT]; n_scans];
            for (&scan, &label) in data.scans.iter().zip(&data.labels) {
                counts[scan][label] += 1;
            }
            let majority = |c: &[usize; Class::COUNT]| (0..Class::COUNT).max_by_key(|&k| c[k]);
            let need = if validation { 3 } else { 2 };
            let mut part_of = vec![0usize; n_scans];
            for class in 0..Class::COUNT {
                let scans: Vec<usize> = (0..n_scans)
                    .filter(|&s| counts[s].iter().sum::<usize>() > 0)
                    .filter(|&s| majority(&counts[s]) == Some(class))
                    .collect();
                if scans.is_empty() {
                    continue;
                }
                if scans.len() < need {
                    return Err(Error::invalid(format!(
                        "a split by scans needs at least {need} scans of each class; {} has {}",
                        Class::ALL[class],
                        scans.len()
                    )));
                }
                let mut held: [Vec<usize>; 3] = Default::default();
                deal(scans, validation, 1, &mut rng, &mut held);
                for (part, scans) in held.iter().enumerate() {
                    scans.iter().for_each(|&s| part_of[s] = part);
                }
            }
            for (row, &scan) in data.scans.iter().enumerate() {
                parts[part_of[scan]].push(row);
            }
        }
    }
    for part in &mut parts {
        part.shuffle(&mut rng);
    }
    Ok(parts)
}

/// Deals shuffled `items` into train / validation / test: a tenth (rounded, and at least
/// `min_held`) to test and, with `validation`, as many to validation; the rest to train.
fn deal(
    mut items: Vec<usize>,
    validation: bool,
    min_held: usize,
    rng: &mut StdRng,
    parts: &mut [Vec<usize>; 3],
) {
    items.shuffle(rng);
    let n = items.len();
    let n_test = ((n as f64 * 0.1).round() as usize).max(min_held);
    let n_val = if validation { n_test } else { 0 };
    parts[2].extend(items.drain(n - n_test..));
    parts[1].extend(items.drain(n - n_test - n_val..));
    parts[0].extend(items);
}

/// One epoch's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_accuracy: f64,
    pub val_loss: f64,
    pub val_accuracy: f64,
    pub seconds: f64,
}

impl std::fmt::Display for EpochMetrics {
    /// One progress line: "epoch  3: train loss 2.0714 acc 0.151 | val loss 2.0478 acc 0.174 | 124.3 s".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "epoch {:>2}: train loss {:.4} acc {:.3} | val loss {:.4} acc {:.3} | {:.1} s",
            self.epoch,
            self.train_loss,
            self.train_accuracy,
            self.val_loss,
            self.val_accuracy,
            self.seconds
        )
    }
}

/// What a training run produced.
pub struct Trained {
    pub model: Box<dyn Classifier>,
    pub history: Vec<EpochMetrics>,
    /// Accuracy on the held-out test split.
    pub test_accuracy: f64,
    pub test_patterns: usize,
    pub train_patterns: usize,
    /// The epoch whose weights were kept (best validation loss).
    pub best_epoch: Option<usize>,
    pub stopped_early: bool,
}

/// Where `model` trains with `device`: "cpu" for PCA + kNN (linfa runs on the CPU), else what
/// the device choice resolves to. For reports and model cards.
pub fn device_name(model: ModelKind, device: DeviceChoice) -> &'static str {
    match model {
        ModelKind::PcaKnn => "cpu",
        ModelKind::Net { .. } => device.resolved_name(),
    }
}

/// Fraction of `predictions` equal to `labels`.
pub fn accuracy(model: &dyn Classifier, data: &LabelledInputs, batch: usize) -> Result<f64> {
    let mut right = 0usize;
    for (rows, labels) in data
        .inputs
        .axis_chunks_iter(Axis(0), batch.max(1))
        .zip(data.labels.chunks(batch.max(1)))
    {
        let p = model.predict(rows)?;
        right += p
            .iter()
            .zip(labels)
            .filter(|(p, &l)| p.class.index() == l)
            .count();
    }
    Ok(right as f64 / data.len().max(1) as f64)
}

/// Trains `config.model` on `data`. Networks checkpoint into `checkpoint` (when given) after
/// every epoch and resume from it.
pub fn train(
    data: &LabelledInputs,
    config: &TrainConfig,
    device: DeviceChoice,
    checkpoint: Option<&Path>,
    progress: &Progress,
    on_epoch: &mut dyn FnMut(&EpochMetrics),
) -> Result<Trained> {
    if data.len() < 20 {
        return Err(Error::invalid(format!(
            "{} labelled patterns are too few to split 80/10/10",
            data.len()
        )));
    }
    let training = serde_json::json!({"config": config, "patterns": data.len()});
    match config.model {
        ModelKind::PcaKnn => {
            let [train_rows, _, test_rows] = split(data, config.split, config.seed, false)?;
            let mut train = data.select(&train_rows);
            if let Some(augmentation) = config.augmentation() {
                // PCA sees its training set once: each pattern is fitted as one augmented copy.
                train.augment(&augmentation, config.seed);
            }
            let test = data.select(&test_rows);
            let mut model = PcaKnn::fit(
                train.inputs.view(),
                &train.labels,
                data.spec.clone(),
                config.k,
                config.pca_components,
                progress,
            )?;
            model.set_training(training);
            let test_accuracy = accuracy(&model, &test, 512)?;
            Ok(Trained {
                model: Box::new(model),
                history: Vec::new(),
                test_accuracy,
                test_patterns: test.len(),
                train_patterns: train.len(),
                best_epoch: None,
                stopped_early: false,
            })
        }
        ModelKind::Net { architecture, head } => {
            let mut header = ModelHeader::new(
                super::nets::BACKEND,
                architecture.name(),
                head.name(),
                data.spec.clone(),
            );
            header.training = training;
            train_net(
                data,
                config,
                architecture,
                head,
                header,
                device,
                checkpoint,
                progress,
                on_epoch,
            )
        }
    }
}

/// What a checkpoint holds besides weights and optimizer state.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CheckpointState {
    config: TrainConfig,
    epochs_done: usize,
    best_val_loss: f64,
    best_epoch: Option<usize>,
    history: Vec<EpochMetrics>,
}

#[allow(clippy::too_many_arguments)]
fn train_net(
    data: &LabelledInputs,
    config: &TrainConfig,
    architecture: Architecture,
    head: Head,
    header: ModelHeader,
    device_choice: DeviceChoice,
    checkpoint: Option<&Path>,
    progress: &Progress,
    on_epoch: &mut dyn FnMut(&EpochMetrics),
) -> Result<Trained> {
    let size = data.spec.size;
    let device = device_choice.device()?;
    let autodiff = device.clone().autodiff();
    let [train_rows, val_rows, test_rows] = split(data, config.split, config.seed, true)?;
    let (train, val, test) = (
        data.select(&train_rows),
        data.select(&val_rows),
        data.select(&test_rows),
    );

    if size < architecture.min_size() {
        return Err(Error::invalid(format!(
            "{} takes inputs of at least {}x{} pixels, not {size}x{size}",
            architecture.name(),
            architecture.min_size(),
            architecture.min_size()
        )));
    }
    // Drawn on the CPU backend whatever the device: a GPU run starts where a CPU run does.
    // Nothing else in training draws from burn's generator, and seeding it here (outside the
    // lock of `Network::initial`) reset another thread's draw: a test training beside another
    // got other initial weights.
    let mut net = Network::initial(architecture, head, size, config.seed, &autodiff)?;
    if let Some(weights) = &config.init_weights {
        net = match base_model(config)? {
            Some((file, settings)) => {
                if (settings.architecture, settings.head) != (architecture, head) {
                    return Err(Error::invalid(format!(
                        "{} is a {} network with a {} head; this run trains {} with {}",
                        weights.display(),
                        settings.architecture.name(),
                        settings.head.name(),
                        architecture.name(),
                        head.name()
                    )));
                }
                Network::from_bytes(architecture, head, size, &autodiff, weights, &file.payload)?
            }
            None => super::nets::import::load_pytorch(net, weights)?.0,
        };
    }
    let mut optim: ModuleOptimizer = AdamConfig::new()
        .with_weight_decay(Some(WeightDecayConfig::new(config.weight_decay as f32)))
        .init();
    let mut state = CheckpointState {
        config: config.clone(),
        epochs_done: 0,
        best_val_loss: f64::INFINITY,
        best_epoch: None,
        history: Vec::new(),
    };
    let mut best: Option<Vec<u8>> = None;
    if let Some(dir) = checkpoint {
        if let Some((s, weights, opt, best_weights)) = read_checkpoint(dir, config)? {
            net = net.with_bytes(dir, &weights)?;
            optim = optim
                .from_bytes(Bytes::from_bytes_vec(opt))
                .map_err(|e| Error::format(dir, format!("optimizer state: {e}")))?;
            best = best_weights;
            state = s;
        }
    }
    let augmentation = config.augmentation();
    let mut stopped_early = false;
    while state.epochs_done < config.epochs {
        let since_best = state.best_epoch.map(|b| state.epochs_done - b);
        if since_best.is_some_and(|n| n >= config.patience) {
            stopped_early = true;
            break;
        }
        let started = std::time::Instant::now();
        let epoch = state.epochs_done + 1;
        // One generator per epoch: a resumed run shuffles and augments as an uninterrupted one.
        let mut rng = StdRng::seed_from_u64(config.seed.wrapping_add(epoch as u64));
        let mut order: Vec<usize> = (0..train.len()).collect();
        order.shuffle(&mut rng);
        progress.start(
            &format!("epoch {epoch}/{}", config.epochs),
            train.len() as u64,
        );
        let (mut loss_sum, mut right) = (0f64, 0usize);
        for batch in order.chunks(config.batch_size) {
            progress.check()?;
            let (inputs, labels) = batch_tensor(
                &train,
                batch,
                augmentation.as_ref(),
                config.symmetry,
                &mut rng,
                &autodiff,
            );
            let outputs = net.forward(inputs, head, size);
            let loss = head.loss(outputs.clone(), &labels);
            loss_sum += loss.clone().into_scalar::<f32>() as f64 * batch.len() as f64;
            right += correct(head, &rows_of(outputs.detach())?, &labels);
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optim.step(config.learning_rate, net, grads);
            progress.advance(batch.len() as u64);
        }
        let (val_loss, val_accuracy) = evaluate(&net.valid(), head, &val, &device)?;
        let metrics = EpochMetrics {
            epoch,
            train_loss: loss_sum / train.len() as f64,
            train_accuracy: right as f64 / train.len() as f64,
            val_loss,
            val_accuracy,
            seconds: started.elapsed().as_secs_f64(),
        };
        state.history.push(metrics);
        state.epochs_done = epoch;
        if val_loss < state.best_val_loss {
            state.best_val_loss = val_loss;
            state.best_epoch = Some(epoch);
            best = Some(net.valid().to_bytes(DType::F32)?);
        }
        if let Some(dir) = checkpoint {
            write_checkpoint(dir, &state, &net, &optim, best.as_deref())?;
        }
        on_epoch(&metrics);
    }
    let weights = match best {
        Some(w) => w,
        None => net.valid().to_bytes(DType::F32)?,
    };
    let network = Network::from_bytes(
        architecture,
        head,
        size,
        &device,
        Path::new("best weights"),
        &weights,
    )?;
    let prototypes = (head == Head::Proto)
        .then(|| class_prototypes(&network, &val, &device))
        .transpose()?;
    let model = NetClassifier::new(
        header,
        NetSettings {
            architecture,
            head,
            prototypes,
            symmetrise: config.symmetry,
        },
        network,
        device,
    );
    let test_accuracy = accuracy(&model, &test, 512)?;
    Ok(Trained {
        model: Box::new(model),
        history: state.history,
        test_accuracy,
        test_patterns: test.len(),
        train_patterns: train.len(),
        best_epoch: state.best_epoch,
        stopped_early,
    })
}

/// A batch of rows as a tensor (augmented copies when training asks for it, each transformed by
/// a random lattice symmetry with `symmetry`) and its labels.
fn batch_tensor(
    data: &LabelledInputs,
    rows: &[usize],
    augmentation: Option<&Augmentation>,
    symmetry: bool,
    rng: &mut StdRng,
    device: &Device,
) -> (Tensor<2>, Vec<usize>) {
    let size = data.spec.size;
    let len = size * size;
    let mut values = Vec::with_capacity(rows.len() * len);
    let mut labels = Vec::with_capacity(rows.len());
    for &r in rows {
        let mut image = data.inputs.row(r).to_vec();
        if let Some(a) = augmentation {
            a.apply(&mut image, [size, size], rng);
        }
        let mut label = data.labels[r];
        if symmetry {
            let g = Symmetry::all()[rng.random_range(0..8)];
            image = g.apply(&image, size);
            label = g.class(label);
        }
        values.extend_from_slice(&image);
        labels.push(label);
    }
    (
        Tensor::from_data(TensorData::new(values, [rows.len(), len]), device),
        labels,
    )
}

/// How many head outputs decode to their label; the prototype head is judged against the
/// class means of the same outputs, as its loss is.
fn correct(head: Head, outputs: &[Vec<f32>], labels: &[usize]) -> usize {
    let prototypes = if head == Head::Proto {
        super::nets::heads::class_means(outputs, labels)
    } else {
        Vec::new()
    };
    outputs
        .iter()
        .zip(labels)
        .filter(|(out, &label)| head.decode(out, &prototypes).0.index() == label)
        .count()
}

/// Mean loss and accuracy over `data` (evaluation mode).
fn evaluate(
    net: &Network,
    head: Head,
    data: &LabelledInputs,
    device: &Device,
) -> Result<(f64, f64)> {
    let size = data.spec.size;
    let (mut loss_sum, mut right) = (0f64, 0usize);
    let mut outputs = Vec::with_capacity(data.len());
    for (rows, labels) in data
        .inputs
        .axis_chunks_iter(Axis(0), 512)
        .zip(data.labels.chunks(512))
    {
        let out = net.forward(to_tensor(rows, device), head, size);
        loss_sum +=
            head.loss(out.clone(), labels).into_scalar::<f32>() as f64 * labels.len() as f64;
        outputs.extend(rows_of(out)?);
    }
    right += correct(head, &outputs, &data.labels);
    let n = data.len().max(1) as f64;
    Ok((loss_sum / n, right as f64 / n))
}

/// The prototype head's class prototypes: validation-set class means of the embeddings.
fn class_prototypes(net: &Network, val: &LabelledInputs, device: &Device) -> Result<Vec<Vec<f32>>> {
    let mut embeddings = Vec::with_capacity(val.len());
    for rows in val.inputs.axis_chunks_iter(Axis(0), 512) {
        embeddings.extend(rows_of(net.forward(
            to_tensor(rows, device),
            Head::Proto,
            val.spec.size,
        ))?);
    }
    let mut counts = [0usize; Class::COUNT];
    val.labels.iter().for_each(|&l| counts[l] += 1);
    if let Some(missing) = (0..Class::COUNT).find(|&k| counts[k] == 0) {
        return Err(Error::invalid(format!(
            "the validation split has no {} pattern, so the prototype head has no {0} prototype",
            Class::ALL[missing]
        )));
    }
    Ok(super::nets::heads::class_means(&embeddings, &val.labels))
}

const CKPT_STATE: &str = "state.json";
const CKPT_WEIGHTS: &str = "weights.bpk";
const CKPT_OPTIM: &str = "optimizer.bpk";
const CKPT_BEST: &str = "best.bpk";

type Checkpoint = (CheckpointState, Vec<u8>, Vec<u8>, Option<Vec<u8>>);

fn read_checkpoint(dir: &Path, config: &TrainConfig) -> Result<Option<Checkpoint>> {
    let state_path = dir.join(CKPT_STATE);
    if !state_path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&state_path).map_err(|e| Error::io(&state_path, e))?;
    let state: CheckpointState = serde_json::from_str(&text)
        .map_err(|e| Error::format(&state_path, format!("not a polarmap checkpoint: {e}")))?;
    // The epoch budget may change between runs (extend a run, or stop it where it is); any other
    // setting would make the resumed run a different experiment.
    let same_run = TrainConfig {
        epochs: config.epochs,
        ..state.config.clone()
    } == *config;
    if !same_run {
        return Err(Error::format(
            &state_path,
            "the checkpoint was made with other training settings; remove it or train with the same settings",
        ));
    }
    let mut state = state;
    state.config.epochs = config.epochs;
    let read = |name: &str| {
        let p = dir.join(name);
        std::fs::read(&p).map_err(|e| Error::io(&p, e))
    };
    let best = if dir.join(CKPT_BEST).exists() {
        Some(read(CKPT_BEST)?)
    } else {
        None
    };
    Ok(Some((state, read(CKPT_WEIGHTS)?, read(CKPT_OPTIM)?, best)))
}

fn write_checkpoint(
    dir: &Path,
    state: &CheckpointState,
    net: &Network,
    optim: &ModuleOptimizer,
    best: Option<&[u8]>,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        let tmp = dir.join(format!("{name}.partial"));
        std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &p).map_err(|e| Error::io(&p, e))
    };
    write(CKPT_WEIGHTS, &net.valid().to_bytes(DType::F32)?)?;
    let opt = optim
        .into_bytes()
        .map_err(|e| Error::invalid(format!("optimizer state: {e}")))?;
    write(CKPT_OPTIM, &opt)?;
    if let Some(b) = best {
        write(CKPT_BEST, b)?;
    }
    // The state goes last: a checkpoint is complete once its state names the epoch.
    write(
        CKPT_STATE,
        serde_json::to_string_pretty(state)
            .expect("serialises")
            .as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `scans` scans per class of `per_scan` rows each, labelled by class.
    fn rows(scans: usize, per_scan: usize) -> LabelledInputs {
        let n = scans * Class::COUNT * per_scan;
        LabelledInputs {
            inputs: Array2::zeros((n, 4)),
            labels: (0..n).map(|r| (r / per_scan) % Class::COUNT).collect(),
            scans: (0..n).map(|r| r / per_scan).collect(),
            spec: InputSpec::paper(None, None),
        }
    }

    #[test]
    fn a_split_by_scans_never_shares_a_scan_between_parts() {
        let data = rows(12, 5);
        let parts = split(&data, Split::Scans, 3, true).unwrap();
        let scans_of = |p: &[usize]| {
            p.iter()
                .map(|&r| data.scans[r])
                .collect::<std::collections::HashSet<_>>()
        };
        let [train, val, test] = [0, 1, 2].map(|k| scans_of(&parts[k]));
        assert!(train.is_disjoint(&val) && train.is_disjoint(&test) && val.is_disjoint(&test));
        // Every row once; a tenth of each class's 12 scans (1) held out for each of val and test.
        assert_eq!(parts.iter().map(Vec::len).sum::<usize>(), data.len());
        assert_eq!((val.len(), test.len()), (8, 8));
        for part in [&parts[1], &parts[2]] {
            let mut classes: Vec<usize> = part.iter().map(|&r| data.labels[r]).collect();
            classes.sort_unstable();
            classes.dedup();
            assert_eq!(classes.len(), Class::COUNT);
        }
        // The pattern split shares every scan.
        let parts = split(&data, Split::Patterns, 3, true).unwrap();
        assert!(!scans_of(&parts[0]).is_disjoint(&scans_of(&parts[2])));
    }

    #[test]
    fn a_split_by_scans_refuses_too_few_scans_per_class() {
        let e = split(&rows(2, 5), Split::Scans, 3, true).unwrap_err();
        assert!(e.to_string().contains("at least 3 scans"), "{e}");
        assert!(split(&rows(2, 5), Split::Scans, 3, false).is_ok());
    }
}
