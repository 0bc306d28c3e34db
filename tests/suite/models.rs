//! Classifiers: PCA + kNN and the burn networks learn separable data, survive a save/load round
//! trip, resume from checkpoints, and reject corrupt model files with an error naming them.

use ndarray::Array2;
use polarmap_core::classes::Class;
use polarmap_core::models::file::ModelFile;
use polarmap_core::models::nets::{Architecture, Head};
use polarmap_core::models::train::{self, LabelledInputs, ModelKind, Preprocessing, TrainConfig};
use polarmap_core::models::{self, DeviceChoice, InputSpec};
use polarmap_core::Progress;
use rand::{Rng, SeedableRng};

/// Patterns like CBED disks pushed toward each class direction: a bright disk of radius
/// `size`/4 shifted by 1.5 px along θk, with noise. Separable by design.
fn disks(per_class: usize, size: usize, seed: u64) -> LabelledInputs {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut values = Vec::new();
    let mut labels = Vec::new();
    for _ in 0..per_class {
        for class in Class::ALL {
            let t = class.angle_deg().to_radians();
            let mid = (size as f64 - 1.0) / 2.0;
            // y up: a positive sin moves the disk toward row 0
            let (cr, cc) = (mid - 1.5 * t.sin(), mid + 1.5 * t.cos());
            for r in 0..size {
                for c in 0..size {
                    let d = ((r as f64 - cr).powi(2) + (c as f64 - cc).powi(2)).sqrt();
                    let v = (size as f64 / 4.0 - d).clamp(0.0, 1.0) + rng.random_range(0.0..0.1);
                    values.push(v as f32);
                }
            }
            labels.push(class.index());
        }
    }
    LabelledInputs {
        inputs: Array2::from_shape_vec((labels.len(), size * size), values).unwrap(),
        scans: vec![0; labels.len()],
        labels,
        spec: InputSpec::paper(Some(0.5), Some(size as f64 / 4.0)),
    }
    .with_size(size)
}

trait WithSize {
    fn with_size(self, size: usize) -> Self;
}
impl WithSize for LabelledInputs {
    fn with_size(mut self, size: usize) -> Self {
        self.spec.size = size;
        self
    }
}

/// Trains on the CPU without checkpoint, progress or callback.
fn fit(data: &LabelledInputs, config: &TrainConfig) -> polarmap_core::Result<train::Trained> {
    train::train(
        data,
        config,
        DeviceChoice::Cpu,
        None,
        &Progress::new(),
        &mut |_| {},
    )
}

fn quick_config(model: ModelKind, epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 32,
        learning_rate: 2e-3,
        input_size: 16,
        ..TrainConfig::paper(model)
    }
}

#[test]
fn pca_knn_fits_augmented_copies_when_asked_and_still_learns() {
    let data = disks(40, 16, 1);
    let config = |preprocessing| TrainConfig {
        input_size: 16,
        preprocessing,
        ..TrainConfig::paper(ModelKind::PcaKnn)
    };
    let plain = fit(&data, &config(Preprocessing::None)).unwrap();
    let augmented = fit(&data, &config(Preprocessing::Augment)).unwrap();
    let again = fit(&data, &config(Preprocessing::Augment)).unwrap();
    // Augmentation changes the fitted components and neighbours, reproducibly (the disks are
    // too easy for the votes to differ, so the saved models are compared)...
    let dir = tempfile::tempdir().unwrap();
    let bytes = |t: &train::Trained, name: &str| {
        let path = dir.path().join(name);
        t.model.save(&path, false).unwrap();
        std::fs::read(path).unwrap()
    };
    assert_ne!(
        bytes(&plain, "plain.pmm"),
        bytes(&augmented, "augmented.pmm")
    );
    assert_eq!(bytes(&augmented, "a.pmm"), bytes(&again, "b.pmm"));
    // ...and the shifts are still learned.
    assert!(augmented.test_accuracy > 0.8, "{}", augmented.test_accuracy);
}

#[test]
fn pca_knn_learns_disk_shifts_and_round_trips() {
    let data = disks(40, 16, 1);
    let config = TrainConfig {
        input_size: 16,
        ..TrainConfig::paper(ModelKind::PcaKnn)
    };
    let trained = fit(&data, &config).unwrap();
    assert!(
        trained.test_accuracy > 0.95,
        "test accuracy {}",
        trained.test_accuracy
    );
    let fresh = disks(10, 16, 2);
    let before = trained.model.predict(fresh.inputs.view()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pca.pmm");
    trained.model.save(&path, false).unwrap();
    assert!(
        trained.model.save(&path, false).is_err(),
        "never overwrites without asking"
    );
    let loaded = models::load(&path, DeviceChoice::Cpu).unwrap();
    assert_eq!(loaded.display_name(), "PCA");
    let after = loaded.predict(fresh.inputs.view()).unwrap();
    assert_eq!(before, after);
    let right = after
        .iter()
        .zip(&fresh.labels)
        .filter(|(p, &l)| p.class.index() == l)
        .count();
    assert!(right as f64 / fresh.labels.len() as f64 > 0.95);
    for p in &after {
        assert!(
            (p.scores.iter().sum::<f32>() - 1.0).abs() < 1e-5,
            "vote fractions sum to 1"
        );
    }
}

fn net_learns(head: Head) {
    let data = disks(48, 16, 3);
    let model = ModelKind::Net {
        architecture: Architecture::Conv,
        head,
    };
    let trained = fit(&data, &quick_config(model, 6)).unwrap();
    assert!(
        trained.test_accuracy > 0.9,
        "{head:?}: test accuracy {}",
        trained.test_accuracy
    );
    let first = trained.history.first().unwrap();
    let last = trained.history.last().unwrap();
    assert!(
        last.train_loss < first.train_loss,
        "{head:?}: loss fell {first:?} → {last:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.pmm");
    trained.model.save(&path, false).unwrap();
    let loaded = models::load(&path, DeviceChoice::Cpu).unwrap();
    let fresh = disks(6, 16, 4);
    let a = trained.model.predict(fresh.inputs.view()).unwrap();
    let b = loaded.predict(fresh.inputs.view()).unwrap();
    let same = a.iter().zip(&b).filter(|(x, y)| x.class == y.class).count();
    assert!(
        same as f64 >= 0.98 * a.len() as f64,
        "half-precision weights keep the classes ({same}/{})",
        a.len()
    );
    for (x, y) in a.iter().zip(&b) {
        for k in 0..8 {
            assert!(
                (x.scores[k] - y.scores[k]).abs() < 0.02,
                "scores within f16 rounding"
            );
        }
    }
    // The prototype head's embedding, else the encoder's 512 features (for the OOD score).
    let width = if head == Head::Proto { 128 } else { 512 };
    assert_eq!(b[0].embedding.as_ref().map(Vec::len), Some(width));
}

#[test]
fn conv_classification_head_learns() {
    net_learns(Head::Cls);
}

#[test]
fn conv_prototype_head_learns() {
    net_learns(Head::Proto);
}

#[test]
fn conv_regression_head_learns() {
    net_learns(Head::Reg);
}

#[test]
fn interrupted_training_resumes_from_its_checkpoint() {
    // burn's parallel CPU sums are ordered by rayon's work stealing, so two identical runs can
    // differ in the last bits and drift apart over training; one thread orders them the same.
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(resume_equals_an_uninterrupted_run);
}

fn resume_equals_an_uninterrupted_run() {
    let data = disks(16, 16, 5);
    let model = ModelKind::Net {
        architecture: Architecture::Conv,
        head: Head::Cls,
    };
    let config = quick_config(model, 2);
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("run.checkpoint");
    // Interrupt after the first epoch (as Ctrl-C would).
    let progress = Progress::new();
    let mut first = Vec::new();
    let err = train::train(
        &data,
        &config,
        DeviceChoice::Cpu,
        Some(&ckpt),
        &progress,
        &mut |m| {
            first.push(*m);
            progress.cancel();
        },
    );
    assert!(matches!(err, Err(polarmap_core::Error::Cancelled)));
    assert_eq!(first.len(), 1);
    // Other settings do not resume this run.
    let other = TrainConfig {
        seed: 1,
        ..config.clone()
    };
    let e = train::train(
        &data,
        &other,
        DeviceChoice::Cpu,
        Some(&ckpt),
        &Progress::new(),
        &mut |_| {},
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("other training settings"), "{e}");
    // The same command picks up at epoch 2 and keeps epoch 1's record.
    let mut seen = Vec::new();
    let resumed = train::train(
        &data,
        &config,
        DeviceChoice::Cpu,
        Some(&ckpt),
        &Progress::new(),
        &mut |m| seen.push(m.epoch),
    )
    .unwrap();
    assert_eq!(seen, vec![2]);
    assert_eq!(resumed.history.len(), 2);
    assert_eq!(resumed.history[0], first[0]);
    // ...and continues as the uninterrupted run does (same shuffles, same weights).
    let straight = fit(&data, &config).unwrap();
    for (a, b) in straight.history.iter().zip(&resumed.history) {
        assert!((a.train_loss - b.train_loss).abs() < 1e-4, "{a:?} vs {b:?}");
        assert!((a.val_loss - b.val_loss).abs() < 1e-4, "{a:?} vs {b:?}");
    }
    // A run can be finished where it stands: a budget of the epochs done trains nothing more.
    let mut more = Vec::new();
    let finished = train::train(
        &data,
        &quick_config(model, 2),
        DeviceChoice::Cpu,
        Some(&ckpt),
        &Progress::new(),
        &mut |m| more.push(m.epoch),
    )
    .unwrap();
    assert!(more.is_empty());
    assert_eq!(finished.history, resumed.history);
}

#[test]
fn cancelled_training_stops_with_cancelled() {
    let data = disks(16, 16, 6);
    let progress = Progress::new();
    progress.cancel();
    let model = ModelKind::Net {
        architecture: Architecture::Conv,
        head: Head::Cls,
    };
    let err = train::train(
        &data,
        &quick_config(model, 1),
        DeviceChoice::Cpu,
        None,
        &progress,
        &mut |_| {},
    )
    .err()
    .unwrap();
    assert!(matches!(err, polarmap_core::Error::Cancelled), "{err}");
}

#[test]
fn vgg16_and_resnet50_encoders_run_forward_and_backward() {
    for architecture in [Architecture::Vgg16, Architecture::Resnet50] {
        let data = disks(3, 32, 7);
        let model = ModelKind::Net {
            architecture,
            head: Head::Cls,
        };
        let config = TrainConfig {
            input_size: 32,
            batch_size: 8,
            ..quick_config(model, 1)
        };
        let trained = fit(&data, &config).unwrap();
        assert_eq!(trained.history.len(), 1);
        assert!(trained.history[0].train_loss.is_finite());
    }
}

#[test]
fn corrupt_model_files_are_errors_naming_the_file() {
    let data = disks(16, 16, 8);
    let model = ModelKind::Net {
        architecture: Architecture::Conv,
        head: Head::Proto,
    };
    let trained = fit(&data, &quick_config(model, 1)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.pmm");
    trained.model.save(&good, false).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let file = ModelFile::read(&good).unwrap();
    let bad = dir.path().join("bad.pmm");
    let payload_start = bytes.len() - file.payload.len();
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    for trial in 0..40 {
        let mut b = bytes.clone();
        match trial % 4 {
            0 => b.truncate(rng.random_range(0..bytes.len())),
            1 => {
                let at = rng.random_range(payload_start..b.len());
                b[at] ^= 0xff;
            }
            2 => {
                let at = rng.random_range(0..payload_start);
                b[at] = rng.random();
            }
            _ => b[payload_start..payload_start + 64].fill(0xAB),
        }
        std::fs::write(&bad, &b).unwrap();
        // Never a panic; an error names the file (a flipped weight byte may still load).
        if let Err(e) = models::load(&bad, DeviceChoice::Cpu) {
            assert!(e.to_string().contains("bad.pmm"), "{e}");
        }
    }
    std::fs::write(&bad, b"not a model").unwrap();
    let e = models::load(&bad, DeviceChoice::Cpu).err().unwrap();
    assert!(
        e.to_string().contains("bad.pmm") && e.to_string().contains("not a polarmap model"),
        "{e}"
    );
}

#[test]
fn model_kinds_are_the_papers_ten_rows() {
    let all = ModelKind::all();
    assert_eq!(all.len(), 10);
    for kind in all {
        assert_eq!(ModelKind::from_name(&kind.name()), Some(kind));
    }
}

/// PyTorch weights (the paper's CNN with an RGB first convolution, saved by PyTorch) start a
/// network that computes what PyTorch computed on the same grey input.
#[test]
fn pytorch_weights_import_and_match_pytorch() {
    use burn::tensor::{Device, Tensor, TensorData};
    use polarmap_core::models::nets::{import::load_pytorch, Network};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pytorch");
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("paper-cnn-reference.json")).unwrap(),
    )
    .unwrap();
    let floats = |key: &str| -> Vec<f32> {
        reference[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect()
    };
    let (input, expected) = (floats("input"), floats("features"));
    assert_eq!((input.len(), expected.len()), (2 * 16 * 16, 2 * 512));
    let device = Device::flex();
    let net = Network::new(Architecture::Conv, Head::Cls, 16, &device);
    let (net, imported) = load_pytorch(net, &dir.join("paper-cnn-rgb16.pth")).unwrap();
    assert_eq!(imported.applied.len(), 8, "{imported:?}");
    assert!(
        imported.unused.iter().any(|k| k.contains("classifier")),
        "{imported:?}"
    );
    assert!(
        imported.missing.iter().all(|k| k.starts_with("head")),
        "{imported:?}"
    );
    let x = Tensor::<4>::from_data(TensorData::new(input, [2, 1, 16, 16]), &device);
    let got: Vec<f32> = net
        .encoder
        .forward(x)
        .into_data()
        .try_into_vec_as::<f32>()
        .unwrap();
    let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(scale > 0.0);
    for (g, e) in got.iter().zip(expected.iter()) {
        assert!((g - e).abs() < 1e-4 * scale.max(1.0), "{g} vs {e}");
    }
    // Something that is not a PyTorch file is an error naming it.
    let bogus = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(bogus.path(), b"not a pickle").unwrap();
    let net = Network::new(Architecture::Conv, Head::Cls, 16, &device);
    let e = load_pytorch(net, bogus.path()).err().unwrap().to_string();
    assert!(e.contains(&bogus.path().display().to_string()), "{e}");
}

/// Every model shipped in models/ loads, has a card, and classifies the demo scan (recorded at
/// another camera length than the training data) into valid score vectors.
/// A stated specimen tilt moves the models' crop by the tilt angle in the image frame (x right =
/// columns, y up = minus rows) at the detector's sampling, and needs that sampling.
#[test]
fn a_stated_tilt_moves_the_crop_by_the_tilt_angle() {
    let demo = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo.npy"));
    let open = |calibration: polarmap_core::Calibration| {
        let options = polarmap_core::scan::OpenOptions {
            calibration,
            ..Default::default()
        };
        polarmap_core::Session::open(demo, &options, &Progress::new()).unwrap()
    };
    let spec = InputSpec::paper(Some(1.25), None);
    let geometry = |s: &polarmap_core::Session| spec.geometry(s.scan(), s.survey());
    let plain = geometry(&open(Default::default())).unwrap();
    assert_eq!(plain.scale, 1.0);
    // The demo's sidecar says 1.25 mrad/px: 2.5 mrad right and 5 mrad up are 2 columns right
    // and 4 rows up.
    let tilted = open(polarmap_core::Calibration {
        tilt_mrad: Some([2.5, 5.0]),
        ..Default::default()
    });
    let moved = geometry(&tilted).unwrap();
    assert!(
        (moved.center[0] - (plain.center[0] - 4.0)).abs() < 1e-9,
        "{moved:?}"
    );
    assert!(
        (moved.center[1] - (plain.center[1] + 2.0)).abs() < 1e-9,
        "{moved:?}"
    );
    assert_eq!(moved.scale, plain.scale);
    // Without the detector's sampling a tilt in mrad cannot be placed.
    let mut uncalibrated = tilted.scan().calibration;
    uncalibrated.mrad_per_px = None;
    let bare = tilted.with_calibration(uncalibrated);
    let err = geometry(&bare).unwrap_err().to_string();
    assert!(err.contains("demo.npy") && err.contains("mrad/px"), "{err}");
    // Tilts no crop could follow are refused when stated.
    for bad in [[f64::NAN, 0.0], [25.0, 0.0]] {
        let c = polarmap_core::Calibration {
            tilt_mrad: Some(bad),
            ..Default::default()
        };
        assert!(c.validate().is_err(), "{bad:?}");
    }
}

/// A stand-in classifier that reads a pattern best when its input is centred on a dark dip: its
/// confidence is one minus the (min-max normalised) brightness at the input's centre.
struct DarkCentre(models::ModelHeader);

impl models::Classifier for DarkCentre {
    fn header(&self) -> &models::ModelHeader {
        &self.0
    }
    fn predict(
        &self,
        batch: ndarray::ArrayView2<f32>,
    ) -> polarmap_core::Result<Vec<models::Prediction>> {
        let size = self.0.input.size;
        let c = size / 2;
        Ok(batch
            .rows()
            .into_iter()
            .map(|row| {
                let centre = [(c - 1, c - 1), (c - 1, c), (c, c - 1), (c, c)]
                    .iter()
                    .map(|&(r, k)| row[r * size + k])
                    .sum::<f32>()
                    / 4.0;
                let p = 0.125 + 0.875 * (1.0 - centre).clamp(0.0, 1.0);
                let mut scores = [(1.0 - p) / 7.0; Class::COUNT];
                scores[0] = p;
                models::Prediction::from_scores(scores, None)
            })
            .collect())
    }
    fn save(&self, _: &std::path::Path, _: bool) -> polarmap_core::Result<()> {
        Err(polarmap_core::Error::invalid("a stand-in is not saved"))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The tilt search moves the crop to where the model reads best, in the image frame (x right =
/// columns, y up = minus rows), to the refined grid's 1 mrad, when the model is unsure of the
/// scan as it is; a model that follows the tilt
/// searches on every calibrated scan, a stated tilt replaces the search, and an uncalibrated
/// scan is refused by the search itself.
#[test]
fn the_tilt_search_finds_where_the_model_reads_best() {
    use polarmap_core::models::tilt::TiltSearch;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dip.npy");
    // 2×2 identical patterns: a bright dome (the BF disk) with a dark dip 3 px up, 5 px right.
    let (n, dip) = (64usize, [31.5 - 3.0, 31.5 + 5.0]);
    let mut bytes =
        polarmap_core::scan::npy::header_bytes(polarmap_core::scan::DType::F32, &[2, 2, n, n]);
    for _ in 0..4 {
        for i in 0..n * n {
            let (y, x) = ((i / n) as f64, (i % n) as f64);
            let r2 = (y - 31.5).powi(2) + (x - 31.5).powi(2);
            let dome = if r2 < 28.0 * 28.0 {
                100.0 + 50.0 * (1.0 - r2 / 784.0)
            } else {
                1.0
            };
            let d2 = (y - dip[0]).powi(2) + (x - dip[1]).powi(2);
            let v = dome * (1.0 - 0.9 * (-d2 / 4.5).exp());
            bytes.extend((v as f32).to_le_bytes());
        }
    }
    std::fs::write(&path, bytes).unwrap();
    let options =
        |mrad_per_px: Option<f64>, tilt_mrad: Option<[f64; 2]>| polarmap_core::scan::OpenOptions {
            calibration: polarmap_core::Calibration {
                mrad_per_px,
                tilt_mrad,
                ..Default::default()
            },
            ..Default::default()
        };
    let open = |o| polarmap_core::Session::open(&path, &o, &Progress::new()).unwrap();
    let mut header =
        models::ModelHeader::new("toy", "toy", "toy", InputSpec::paper(Some(1.0), None));
    header.input.size = 16;
    let model = DarkCentre(header.clone());
    let session = open(options(Some(1.0), None));
    let base = model
        .0
        .input
        .geometry(session.scan(), session.survey())
        .unwrap();
    // Where the dip is from the unmoved crop's centre, in mrad (1 mrad per pixel).
    let expected = [dip[1] - base.center[1], base.center[0] - dip[0]];
    let found = TiltSearch::default()
        .run(session.scan(), session.survey(), &model, &Progress::new())
        .unwrap();
    for k in 0..2 {
        assert!(
            (found.tilt_mrad[k] - expected[k]).abs() <= 0.75,
            "{found:?} vs {expected:?}"
        );
    }
    assert!(
        found.searched && found.confidence > found.untilted_confidence + 0.3,
        "{found:?}"
    );
    // A scan the model already reads confidently is left as it is.
    let sure = TiltSearch {
        below_confidence: found.untilted_confidence,
        ..TiltSearch::default()
    }
    .run(session.scan(), session.survey(), &model, &Progress::new())
    .unwrap();
    assert!(!sure.searched && sure.tilt_mrad == [0.0, 0.0] && sure.candidates == 1);
    // 49 candidates on the 2-mrad grid within 8 mrad, then up to 8 around the best (those
    // within 8 mrad too); all 4 frames.
    assert!((50..=57).contains(&found.candidates), "{found:?}");
    assert_eq!(found.frames, 4);
    // A model that follows the tilt searches by itself; a stated tilt is used as stated.
    header.input.find_tilt = true;
    let follows = DarkCentre(header);
    let p = session
        .predict(&follows, &Progress::new(), |_, _| {})
        .unwrap();
    assert_eq!(p.tilt_search.map(|t| t.tilt_mrad), Some(found.tilt_mrad));
    let stated = open(options(Some(1.0), Some([1.0, 0.0])));
    let p = stated
        .predict(&follows, &Progress::new(), |_, _| {})
        .unwrap();
    assert!(p.tilt_search.is_none());
    assert!(
        (p.input.center[1] - (base.center[1] + 1.0)).abs() < 1e-9,
        "{:?}",
        p.input
    );
    // Without the detector's sampling a model that follows the tilt reads the crop unmoved,
    // and the search itself says why it cannot run.
    let bare = open(options(None, None));
    let p = bare.predict(&follows, &Progress::new(), |_, _| {}).unwrap();
    assert!(p.tilt_search.is_none());
    let err = TiltSearch::default()
        .run(bare.scan(), bare.survey(), &follows, &Progress::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("dip.npy") && err.contains("mrad/px"), "{err}");
}

#[test]
fn every_shipped_model_loads_and_classifies_the_demo() {
    let shipped = models::list_models(&models::shipped_dir());
    assert!(shipped.len() >= 3, "{shipped:?}");
    let demo = polarmap_core::Session::open(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo.npy")),
        &Default::default(),
        &Progress::new(),
    )
    .unwrap();
    for path in shipped {
        let model = models::load(&path, DeviceChoice::Cpu).unwrap();
        let card = models::card::ModelCard::read(&models::card::ModelCard::path_for(&path))
            .unwrap_or_else(|e| panic!("{path:?} has no readable card: {e}"));
        // Each card says where its model is right and where wrong on the transfer suite.
        let transfer = card
            .transfer()
            .unwrap_or_else(|| panic!("{path:?}: no transfer"));
        assert!(
            !transfer.right.is_empty()
                && (!transfer.wrong.is_empty() || !transfer.partly.is_empty()),
            "{path:?}"
        );
        let p = demo
            .predict(model.as_ref(), &Progress::new(), |_, _| {})
            .unwrap();
        assert_eq!(p.classes.len(), demo.scan().n_frames(), "{path:?}");
        for row in p.scores.lanes(ndarray::Axis(2)) {
            let sum: f32 = row.iter().sum();
            assert!(
                (sum - 1.0).abs() < 1e-3 && row.iter().all(|s| s.is_finite()),
                "{path:?}"
            );
        }
    }
}
