//! The transfer suite: its scans carry the conditions the manifest names (checked in the
//! written files, not in the job definitions), and its report aggregates what the library's
//! Session predicts.

use polarmap_bench::transfer::{self, Found};
use polarmap_core::classes::Class;
use polarmap_core::models::{self, DeviceChoice};
use polarmap_core::scan::Sidecar;
use polarmap_core::{Progress, Session};
use std::path::{Path, PathBuf};

fn meta(dir: &Path, name: &str) -> Sidecar {
    Sidecar::read(&dir.join(format!("{name}.meta.json"))).unwrap()
}

fn frames(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let scan = polarmap_core::open(path).unwrap();
    let [r, c] = scan.scan_shape();
    let [dr, dc] = scan.frame_shape();
    let mut out = Vec::new();
    for i in 0..r {
        for j in 0..c {
            out.extend(scan.frame_f32(i, j).unwrap());
        }
    }
    (vec![r, c, dr, dc], out)
}

#[test]
fn a_tiny_suite_holds_the_conditions_its_manifest_names() {
    let dir = tempfile::tempdir().unwrap();
    let only: Vec<String> = [
        "reference-RD-s201",
        "dose-5e3-RD",
        "camera-1.3-RD",
        "unpolarised-s211",
    ]
    .map(String::from)
    .to_vec();
    let entries = transfer::make(dir.path(), 2, &only, &Progress::new(), |_, _, _, _| {}).unwrap();
    assert_eq!(entries.len(), 4);
    assert!(entries.iter().all(|e| e.seconds.is_some()));
    // A second make simulates nothing.
    let again = transfer::make(dir.path(), 2, &only, &Progress::new(), |_, _, _, _| {}).unwrap();
    assert!(again.iter().all(|e| e.seconds.is_none()));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["scans"].as_array().unwrap().len(), 4);
    for e in manifest["scans"].as_array().unwrap() {
        // The time of the first make is kept.
        assert!(e["seconds"].as_f64().unwrap() > 0.0, "{e}");
    }

    let reference = meta(dir.path(), "reference-RD-s201");
    assert_eq!(reference.labels_text.as_deref(), Some("RD"));
    assert_eq!(reference.extra["transfer"]["condition"], "reference");
    assert_eq!(reference.extra["simulation"]["seed"], 201);
    assert!((reference.calibration.mrad_per_px.unwrap() - 0.46875).abs() < 1e-12);
    // Disjoint from the training presets' crystals.
    for name in polarmap_sim::job::PRESETS {
        for job in polarmap_sim::job::preset(name).unwrap() {
            assert!(!transfer::SUITE_SEEDS.contains(&job.crystal.seed), "{name}");
        }
    }

    // Dose: integer counts summing to about 5e3 × the fraction on the detector.
    let (shape, ideal) = frames(&dir.path().join("reference-RD-s201.npy"));
    let (dshape, dosed) = frames(&dir.path().join("dose-5e3-RD-s201.npy"));
    assert_eq!(shape, dshape);
    assert!(dosed.iter().all(|v| v.fract() == 0.0 && *v >= 0.0));
    let per = shape[2] * shape[3];
    let total: f32 = dosed[..per].iter().sum();
    let expected: f32 = ideal[..per].iter().sum::<f32>() * 5e3;
    assert!(
        (total - expected).abs() < 5.0 * expected.sqrt() + 0.05 * expected,
        "{total} vs {expected}"
    );
    assert_eq!(
        meta(dir.path(), "dose-5e3-RD-s201").extra["simulation"]["acquisition"]["dose_per_pattern"],
        5e3
    );
    // Made from the reference's ideal patterns: identical to simulating the job again.
    let job = transfer::scans(2)
        .into_iter()
        .find(|s| s.job.name == "dose-5e3-RD-s201")
        .unwrap()
        .job;
    let direct = dir.path().join("direct.npy");
    job.run_to_npy(&direct, false, &Progress::new()).unwrap();
    assert_eq!(frames(&direct).1, dosed);
    assert_eq!(
        Sidecar::read(&dir.path().join("direct.meta.json"))
            .unwrap()
            .extra["simulation"],
        meta(dir.path(), "dose-5e3-RD-s201").extra["simulation"]
    );
    std::fs::remove_file(&direct).unwrap();
    std::fs::remove_file(dir.path().join("direct.meta.json")).unwrap();

    // Camera length: 1.3× the angle per pixel, recorded in the calibration; the disk shrinks in
    // pixels by the same factor.
    let camera = meta(dir.path(), "camera-1.3-RD-s201");
    assert!((camera.calibration.mrad_per_px.unwrap() - 1.3 * 0.46875).abs() < 1e-9);
    // The BF disk's area in pixels (mean pattern above a tenth of its maximum: the disk edge
    // is steep, the dark field far below) shrinks by 1.3².
    let area = |p: &Path| {
        let (shape, data) = frames(p);
        let per = shape[2] * shape[3];
        let mut mean = vec![0f32; per];
        for f in data.chunks(per) {
            mean.iter_mut().zip(f).for_each(|(m, v)| *m += v);
        }
        let max = mean.iter().copied().fold(0f32, f32::max);
        mean.iter().filter(|&&v| v > 0.1 * max).count() as f64
    };
    let ratio = (area(&dir.path().join("reference-RD-s201.npy"))
        / area(&dir.path().join("camera-1.3-RD-s201.npy")))
    .sqrt();
    assert!((ratio - 1.3).abs() < 0.08, "disk radius ratio {ratio}");

    // Unpolarised: no labels, no displacement.
    let u = meta(dir.path(), "unpolarised-s211");
    assert!(u.labels_text.is_none());
    assert_eq!(
        u.extra["simulation"]["displacement_a"],
        serde_json::json!([0.0, 0.0, 0.0])
    );
    assert_eq!(u.extra["transfer"]["class"], serde_json::Value::Null);

    let found = transfer::find(dir.path()).unwrap();
    assert_eq!(found.len(), 4);
    assert_eq!(
        found.iter().filter(|f| f.class == Some(Class::RD)).count(),
        3
    );
}

/// The report's numbers for a known case: one simulated scan written three times, labelled RD,
/// labelled LU and unlabelled, so the accuracies must be the model's own RD and LU fractions on
/// it, computed here through Session.
#[test]
fn the_report_aggregates_what_the_session_predicts() {
    let dir = tempfile::tempdir().unwrap();
    let made = dir.path().join("made");
    transfer::make(
        &made,
        4,
        &["reference-RD-s201".into()],
        &Progress::new(),
        |_, _, _, _| {},
    )
    .unwrap();
    let source = made.join("reference-RD-s201.npy");
    let suite = dir.path().join("suite");
    std::fs::create_dir_all(&suite).unwrap();
    let mut sidecar = Sidecar::read(&made.join("reference-RD-s201.meta.json")).unwrap();
    for (name, label) in [("a-RD", Some("RD")), ("a-LU", Some("LU")), ("u", None)] {
        std::fs::copy(&source, suite.join(format!("{name}.npy"))).unwrap();
        sidecar.labels_text = label.map(String::from);
        let condition = if label.is_some() {
            "known"
        } else {
            "unpolarised"
        };
        sidecar.extra.insert(
            "transfer".into(),
            serde_json::json!({"condition": condition, "changed": "test", "class": label,
                               "seed": 1, "simulator": "polarmap", "nuisances": []}),
        );
        sidecar
            .write(&suite.join(format!("{name}.meta.json")))
            .unwrap();
    }
    let model_path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "models", "pca-knn.pmm"]
        .iter()
        .collect();
    let model = models::load(&model_path, DeviceChoice::Cpu).unwrap();
    let session = Session::open(&source, &Default::default(), &Progress::new()).unwrap();
    let p = session
        .predict(model.as_ref(), &Progress::new(), |_, _| {})
        .unwrap();
    let n = p.classes.len() as f64;
    let frac = |c: Class| p.classes.iter().filter(|&&k| k == c).count() as f64 / n;
    let (rd, lu) = (frac(Class::RD), frac(Class::LU));

    let (results, found) = transfer::run(
        &[model_path],
        &suite,
        DeviceChoice::Cpu,
        &Progress::new(),
        &mut |_| {},
    )
    .unwrap();
    let rows = transfer::condition_rows(&results[0], &found);
    let known = rows.iter().find(|r| r.condition == "known").unwrap();
    assert_eq!((known.scans, known.labelled), (2, 2));
    assert!((known.accuracy_mean.unwrap() - (rd + lu) / 2.0).abs() < 1e-12);
    assert!((known.accuracy_std.unwrap() - (rd - lu).abs() / 2.0).abs() < 1e-12);
    assert!((known.accuracy_min.unwrap() - rd.min(lu)).abs() < 1e-12);
    let majority = results[0]
        .scans
        .iter()
        .find(|s| s.scan == "u")
        .unwrap()
        .majority;
    let right = [Class::RD, Class::LU]
        .iter()
        .filter(|&&c| majority == Some(c))
        .count();
    assert_eq!(known.majority_right, right);
    let u = rows.iter().find(|r| r.condition == "unpolarised").unwrap();
    assert_eq!((u.scans, u.labelled, u.majority_right), (1, 0, 0));
    let unlabelled = results[0].scans.iter().find(|s| s.scan == "u").unwrap();
    assert!((unlabelled.distribution[Class::RD.index()] - rd).abs() < 1e-12);
    assert_eq!(unlabelled.accuracy, None);

    let out = dir.path().join("out");
    let files = transfer::write_report(&results, &found, &out).unwrap();
    let md = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        md.contains(&format!(
            "| polarmap | known | test | {right}/2 | {:.1} ± {:.1} |",
            100.0 * (rd + lu) / 2.0,
            100.0 * (rd - lu).abs() / 2.0
        )),
        "{md}"
    );
    assert!(md.contains("| u |"), "{md}");
    let csv = std::fs::read_to_string(&files[1]).unwrap();
    assert_eq!(csv.lines().count(), 4);

    // A scan whose labels disagree with its transfer tag is refused.
    let mut bad = Sidecar::read(&suite.join("a-RD.meta.json")).unwrap();
    bad.extra.insert(
        "transfer".into(),
        serde_json::json!({"condition": "x", "class": "MU"}),
    );
    bad.write(&suite.join("a-RD.meta.json")).unwrap();
    let found = transfer::find(&suite).unwrap();
    let f: &Found = found.iter().find(|f| f.name == "a-RD").unwrap();
    assert!(transfer::evaluate_scan(model.as_ref(), f, &Progress::new()).is_err());
}
