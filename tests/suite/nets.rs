//! Every network row is real: VGG16 and ResNet50 with each head train, save (half precision),
//! load and predict through the public path (TrainJob → models::load → Session::predict);
//! torchvision's weights land where torchvision has them (checked against PyTorch's own output);
//! the GPU path (burn-wgpu) trains and predicts as the CPU backend does, on Mesa's lavapipe where
//! there is no GPU; `--device auto` without an adapter falls back to the CPU and says so.

use burn::module::Module;
use burn::nn::LinearConfig;
use burn::tensor::{Device, Tensor, TensorData};
use polarmap_core::classes::Class;
use polarmap_core::models::device::{Placement, NO_ADAPTER};
use polarmap_core::models::file::ModelFile;
use polarmap_core::models::job::TrainJob;
use polarmap_core::models::nets::encoders::{ResNet50Encoder, Vgg16Encoder, FEATURES};
use polarmap_core::models::nets::import::load_pytorch;
use polarmap_core::models::nets::{Architecture, Encoder, Head, Network};
use polarmap_core::models::train::{ModelKind, TrainConfig};
use polarmap_core::models::{self, Classifier, DeviceChoice};
use polarmap_core::{Progress, Session};
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Detector side of the test scans.
const DETECTOR: usize = 40;

/// One labelled scan per class (`.npy` + `.meta.json`), `rows`×`cols` patterns each: a BF disk
/// of radius 8 px whose half toward the class direction is brighter, with noise. The class is in
/// the disk's shape, not its position, so it survives the per-scan centring of the input.
fn write_scans(dir: &Path, rows: usize, cols: usize, seed: u64) -> Vec<PathBuf> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mid = (DETECTOR as f64 - 1.0) / 2.0;
    Class::ALL
        .iter()
        .map(|class| {
            let t = class.angle_deg().to_radians();
            let mut values = Vec::with_capacity(rows * cols * DETECTOR * DETECTOR);
            for _ in 0..rows * cols {
                for r in 0..DETECTOR {
                    for c in 0..DETECTOR {
                        // y up: row offsets count downwards.
                        let (x, y) = (c as f64 - mid, mid - r as f64);
                        let inside = (8.0 - (x * x + y * y).sqrt()).clamp(0.0, 1.0);
                        let lobe = if x * t.cos() + y * t.sin() > 0.0 {
                            1.0
                        } else {
                            0.4
                        };
                        let v = 100.0 * inside * lobe + rng.random_range(0.0..10.0);
                        values.push(v as f32);
                    }
                }
            }
            let path = dir.join(format!("{}.npy", class.name()));
            polarmap_core::write::write_npy_f32(
                &path,
                &[rows, cols, DETECTOR, DETECTOR],
                &values,
                false,
            )
            .unwrap();
            let meta = serde_json::json!({"mrad_per_px": 1.0, "labels": class.name()});
            std::fs::write(path.with_extension("meta.json"), meta.to_string()).unwrap();
            path
        })
        .collect()
}

fn tiny_config(model: ModelKind, size: usize, epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 16,
        learning_rate: 1e-3,
        input_size: size,
        ..TrainConfig::paper(model)
    }
}

/// Largest difference between two score arrays.
fn max_diff(a: &ndarray::Array3<f32>, b: &ndarray::Array3<f32>) -> f32 {
    assert_eq!(a.dim(), b.dim());
    a.iter()
        .zip(b.iter())
        .fold(0f32, |m, (x, y)| m.max((x - y).abs()))
}

fn predict(session: &Session, model: &dyn Classifier) -> polarmap_core::models::ScanPredictions {
    session.predict(model, &Progress::new(), |_, _| {}).unwrap()
}

/// Trains `architecture` with every head on the CPU through [`TrainJob`], and checks what was
/// written: a half-precision model file and its card, which loads and predicts a scan as the
/// trained model did.
fn every_head_end_to_end(architecture: Architecture) {
    let dir = tempfile::tempdir().unwrap();
    // 6 patterns per class: 4 train, 1 validation (the prototype head needs every class there),
    // 1 test.
    let scans = write_scans(dir.path(), 2, 3, 11);
    let session = Session::open(&scans[2], &Default::default(), &Progress::new()).unwrap();
    let size = 32;
    let device = Device::flex();
    for head in Head::ALL {
        let started = Instant::now();
        let model = ModelKind::Net { architecture, head };
        let out = dir.path().join(format!("{}.pmm", model.name()));
        let job = TrainJob::new(
            scans.clone(),
            tiny_config(model, size, 1),
            DeviceChoice::Cpu,
            out.clone(),
        );
        let files = job
            .run(&Progress::new(), &mut |_| {}, &mut |_| {})
            .unwrap_or_else(|e| panic!("{}: {e}", model.name()));
        assert_eq!(files.trained.history.len(), 1);
        let loss = files.trained.history[0].train_loss;
        assert!(loss.is_finite(), "{}: loss {loss}", model.name());
        assert!(files.card.exists() && out.exists());

        // Half precision: two bytes a parameter (plus the burnpack's small index).
        let params = Network::new(architecture, head, size, &device).num_params();
        let payload = ModelFile::read(&out).unwrap().payload.len();
        assert!(
            payload >= 2 * params && payload < 2 * params + 64 * 1024,
            "{}: {payload} bytes for {params} parameters",
            model.name()
        );

        let loaded = models::load(&out, DeviceChoice::Cpu).unwrap();
        assert_eq!(loaded.header().architecture, architecture.name());
        assert_eq!(loaded.header().head, head.name());
        // The trained model, still in memory after it was saved (saving once turned its
        // BatchNorm statistics to f16 in place), and the loaded one.
        let before = predict(&session, files.trained.model.as_ref());
        let after = predict(&session, loaded.as_ref());
        assert_eq!(after.classes.dim(), (2, 3));
        for row in after.scores.lanes(ndarray::Axis(2)) {
            let sum: f32 = row.iter().sum();
            assert!(
                (sum - 1.0).abs() < 1e-3 && row.iter().all(|s| s.is_finite() && *s >= 0.0),
                "{}: scores {row}",
                model.name()
            );
        }
        // f16 weights: the scores move by rounding only.
        let diff = max_diff(&before.scores, &after.scores);
        assert!(
            diff < 0.02,
            "{}: f16 round trip moved scores by {diff}",
            model.name()
        );
        eprintln!(
            "{}: trained, saved ({:.1} MB), loaded, predicted in {:.1} s; f16 score change {diff:.1e}",
            model.name(),
            payload as f64 / 1e6,
            started.elapsed().as_secs_f64()
        );
    }
}

#[test]
fn vgg16_every_head_trains_saves_loads_and_predicts() {
    every_head_end_to_end(Architecture::Vgg16);
}

#[test]
fn resnet50_every_head_trains_saves_loads_and_predicts() {
    every_head_end_to_end(Architecture::Resnet50);
}

/// A network whose encoder is `encoder` (a width-reduced one), with a classification head.
fn network(encoder: Encoder, device: &Device) -> Network {
    Network {
        encoder,
        head: LinearConfig::new(FEATURES, Class::COUNT).init(device),
    }
}

/// The torchvision fixture `name` (made by scripts/make_torchvision_fixture.py): imports its
/// state dict into `net`, runs the backbone on the fixture's input and compares with PyTorch's
/// features. Tolerance: 1e-4 of the largest feature (f32 sums in another order; measured
/// differences are ~1e-7 of it).
fn import_matches_pytorch(name: &str, net: Network, applied: usize) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pytorch");
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap())
            .unwrap();
    let floats = |key: &str| -> Vec<f32> {
        reference[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect()
    };
    let shape = |key: &str| -> Vec<usize> {
        reference[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect()
    };
    let (input, expected) = (floats("input"), floats("features"));
    let (in_shape, out_shape) = (shape("input_shape"), shape("features_shape"));

    let (net, imported) = load_pytorch(net, &dir.join(format!("{name}.pth"))).unwrap();
    assert_eq!(imported.applied.len(), applied, "{name}: {imported:?}");
    assert!(
        imported
            .missing
            .iter()
            .all(|k| k.starts_with("encoder.projection") || k.starts_with("head")),
        "{name}: only the projection and the head are polarmap's own: {:?}",
        imported.missing
    );
    let x = Tensor::<4>::from_data(
        TensorData::new(input, [in_shape[0], in_shape[1], in_shape[2], in_shape[3]]),
        &Device::flex(),
    );
    let y = net.encoder.backbone(x);
    assert_eq!(y.dims().to_vec(), out_shape, "{name}");
    let got: Vec<f32> = y.into_data().try_into_vec_as::<f32>().unwrap();
    let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(scale > 0.0);
    let worst = got
        .iter()
        .zip(&expected)
        .fold(0f32, |m, (g, e)| m.max((g - e).abs()));
    assert!(
        worst <= 1e-4 * scale,
        "{name}: differs from PyTorch by {worst} (largest feature {scale})"
    );
    eprintln!("{name}: largest difference from PyTorch {worst:.1e} of features up to {scale:.3}");
}

#[test]
fn torchvision_vgg16_weights_land_at_torchvisions_layer_indices() {
    let device = Device::flex();
    let net = network(
        Encoder::Vgg16(Vgg16Encoder::with_width(8, &device)),
        &device,
    );
    // 13 convs, weight and bias each (torchvision's features.0, .2, .5, ..., .28); the
    // classifier is left out.
    import_matches_pytorch("torchvision-vgg16-w8", net, 26);
}

#[test]
fn torchvision_resnet50_weights_land_at_torchvisions_layer_names() {
    let device = Device::flex();
    let net = network(
        Encoder::Resnet50(ResNet50Encoder::with_width(8, &device)),
        &device,
    );
    // conv1 + bn1 (4), 16 bottlenecks × (3 convs + 3 BNs × 4), 4 downsamples × (conv + BN × 4).
    import_matches_pytorch("torchvision-resnet50-w8", net, 1 + 4 + 16 * 15 + 4 * 5);
}

/// Trains one tiny Conv (Cls) model on the CPU backend and one on a wgpu adapter (lavapipe on a
/// machine without a GPU: CI installs it), from the same initial weights, and compares what
/// they learned and predict. Without any wgpu adapter it fails, saying why, where
/// `POLARMAP_REQUIRE_WGPU=1` (CI, which installs lavapipe); elsewhere it says it did not run.
#[test]
fn wgpu_trains_and_predicts_as_the_cpu_backend_does() {
    let gpu = match DeviceChoice::Gpu.resolve() {
        Ok(gpu) => gpu,
        Err(e) => {
            let why = format!(
                "the GPU (burn-wgpu) path needs a wgpu adapter, and none was found: {e}\n\
                 Install Mesa's lavapipe (Debian: apt-get install mesa-vulkan-drivers libvulkan1)."
            );
            if std::env::var_os("POLARMAP_REQUIRE_WGPU").is_some_and(|v| v == "1") {
                panic!("{why}");
            }
            eprintln!("NOT RUN: {why}");
            return;
        }
    };
    eprintln!("wgpu device: {}", gpu.description);
    assert!(matches!(gpu.placement, Placement::Wgpu(_)));

    let dir = tempfile::tempdir().unwrap();
    let scans = write_scans(dir.path(), 2, 4, 12);
    let session = Session::open(&scans[5], &Default::default(), &Progress::new()).unwrap();
    let model = ModelKind::Net {
        architecture: Architecture::Conv,
        head: Head::Cls,
    };
    let mut trained = Vec::new();
    for device in [DeviceChoice::Cpu, DeviceChoice::Gpu] {
        let started = Instant::now();
        let out = dir.path().join(format!("conv-{}.pmm", device.name()));
        let config = TrainConfig {
            learning_rate: 3e-3,
            ..tiny_config(model, 16, 4)
        };
        let files = TrainJob::new(scans.clone(), config, device, out)
            .run(&Progress::new(), &mut |_| {}, &mut |_| {})
            .unwrap();
        eprintln!(
            "conv-cls on {}: trained in {:.1} s, losses {:?}",
            device.name(),
            started.elapsed().as_secs_f64(),
            files
                .trained
                .history
                .iter()
                .map(|m| m.train_loss)
                .collect::<Vec<_>>()
        );
        trained.push(files);
    }
    let (cpu, gpu) = (&trained[0], &trained[1]);
    let card = |path: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let device = |path: &Path| card(path)["metrics"]["test_split"]["device"].clone();
    assert_eq!(device(&cpu.card), "cpu");
    assert_eq!(device(&gpu.card), "gpu");
    let (first, last) = (&cpu.trained.history[0], &cpu.trained.history[3]);
    assert!(
        last.train_loss < first.train_loss - 0.05,
        "the runs compared learned something: {first:?} → {last:?}"
    );
    // Same data, same shuffles, same initial weights: the losses agree to rounding.
    for (a, b) in cpu.trained.history.iter().zip(&gpu.trained.history) {
        let rel = (a.train_loss - b.train_loss).abs() / a.train_loss.abs().max(1e-6);
        assert!(rel < 1e-3, "epoch {}: train loss {a:?} vs {b:?}", a.epoch);
        let rel = (a.val_loss - b.val_loss).abs() / a.val_loss.abs().max(1e-6);
        assert!(
            rel < 1e-3,
            "epoch {}: validation loss {a:?} vs {b:?}",
            a.epoch
        );
    }
    // One model file, run by both backends: the same forward pass.
    let on_cpu = predict(
        &session,
        models::load(&cpu.model, DeviceChoice::Cpu)
            .unwrap()
            .as_ref(),
    );
    let on_gpu = predict(
        &session,
        models::load(&cpu.model, DeviceChoice::Gpu)
            .unwrap()
            .as_ref(),
    );
    let forward = max_diff(&on_cpu.scores, &on_gpu.scores);
    assert!(
        forward < 1e-4,
        "one model, CPU vs wgpu scores differ by {forward}"
    );
    assert_eq!(on_cpu.classes, on_gpu.classes);
    // The model trained on wgpu against the one trained on the CPU.
    let gpu_trained = predict(
        &session,
        models::load(&gpu.model, DeviceChoice::Gpu)
            .unwrap()
            .as_ref(),
    );
    let training = max_diff(&on_cpu.scores, &gpu_trained.scores);
    assert!(
        training < 1e-2,
        "CPU- vs wgpu-trained scores differ by {training}"
    );
    eprintln!(
        "largest score difference: same model CPU vs wgpu {forward:.1e}; \
         CPU-trained vs wgpu-trained {training:.1e}"
    );
}

/// The child half of [`auto_falls_back_to_the_cpu_without_adapters`], run in a process whose
/// Vulkan and EGL drivers are hidden.
#[test]
#[ignore = "run by auto_falls_back_to_the_cpu_without_adapters in a child process"]
fn child_without_adapters() {
    let auto = DeviceChoice::Auto.resolve().unwrap();
    let Placement::Cpu { note: Some(note) } = &auto.placement else {
        panic!("auto did not fall back to the CPU: {auto:?}");
    };
    assert!(note.contains("no GPU adapter found"), "{note}");
    assert!(
        auto.description.starts_with("cpu (no GPU adapter found"),
        "{}",
        auto.description
    );
    assert_eq!(DeviceChoice::Auto.resolved_name(), "cpu");
    // The parent hid every driver: `gpu` has nothing to run on and says what to install.
    assert!(
        models::device::adapters().is_empty(),
        "the drivers were hidden, yet wgpu found {:?}",
        models::device::adapters()
    );
    let e = DeviceChoice::Gpu.resolve().unwrap_err().to_string();
    assert!(e.contains(NO_ADAPTER), "{e}");
    println!("CHILD-RAN adapters {:?}", models::device::adapters());
}

/// `--device auto` where wgpu finds no adapter (the Vulkan loader and EGL pointed at no driver):
/// the CPU backend, with a note on stderr and in the device's description.
#[test]
fn auto_falls_back_to_the_cpu_without_adapters() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "nets::child_without_adapters",
            "--ignored",
            "--nocapture",
        ])
        .env("VK_ICD_FILENAMES", "/nonexistent/icd.json")
        .env("VK_DRIVER_FILES", "/nonexistent/icd.json")
        .env("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent/egl.json")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("CHILD-RAN"),
        "the child test did not run: {stdout}"
    );
    assert!(
        stderr.contains("--device auto: no GPU adapter found"),
        "no fallback message on stderr: {stderr}"
    );
}
