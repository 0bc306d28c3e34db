//! `polarmap train` and `polarmap predict` end to end on small simulated scans: a model file and
//! its card are written, predictions come back as PNG, CSV and JSON, and bad input is an error.

use crate::common::polarmap;
use std::path::{Path, PathBuf};

/// One small labelled scan per class (2×2×10 cells, 8×8 positions, 64-px detector).
fn simulate_classes(dir: &Path) -> Vec<PathBuf> {
    ["RM", "RU", "MU", "LU", "LM", "LD", "MD", "RD"]
        .iter()
        .map(|class| {
            let out = dir.join(format!("{class}.npy"));
            let (ok, _, err) = polarmap(&[
                "simulate",
                "--class",
                class,
                "--cells",
                "2x2x10",
                "--scan",
                "8x8",
                "--scan-cells",
                "2x2",
                "--detector",
                "64",
                "--max-mrad",
                "40",
                "--sampling",
                "0.1",
                "--out",
                out.to_str().unwrap(),
            ]);
            assert!(ok, "{err}");
            out
        })
        .collect()
}

#[test]
fn train_then_predict_writes_model_card_and_maps() {
    let dir = tempfile::tempdir().unwrap();
    let scans = simulate_classes(dir.path());
    let scan_args: Vec<&str> = scans.iter().map(|p| p.to_str().unwrap()).collect();
    for (model, extra) in [
        ("pca", vec![]),
        (
            "conv-cls",
            vec![
                "--epochs",
                "2",
                "--batch-size",
                "32",
                "--device",
                "cpu",
                "--input-binning",
                "2",
            ],
        ),
    ] {
        let out = dir.path().join(format!("{model}.pmm"));
        let mut args = vec!["train", "--model", model, "--out", out.to_str().unwrap()];
        args.extend(&scan_args);
        args.extend(extra.iter());
        let (ok, stdout, err) = polarmap(&args);
        assert!(ok, "{model}: {err}");
        assert!(stdout.contains("test-split accuracy"), "{stdout}");
        assert!(out.exists());
        let card: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(format!("{model}.card.json"))).unwrap(),
        )
        .unwrap();
        assert!(card["command"].as_str().unwrap().contains("train"));
        assert!(card["metrics"]["test_split"]["accuracy"].as_f64().is_some());
        if model == "conv-cls" {
            // Binned 2×: the paper's 64-px window as 32×32 inputs, each spanning 2 detector pixels.
            let input = &card["input"];
            assert_eq!(input["size"], 32, "{card}");
            let trained_at = input["mrad_per_px"].as_f64().unwrap();
            assert!((trained_at - 2.0 * 80.0 / 64.0).abs() < 1e-3, "{card}");
        }
        assert!(
            !out.with_extension("checkpoint").exists(),
            "the checkpoint is removed when done"
        );
        // A second run refuses to overwrite.
        let (ok, _, err) = polarmap(&args);
        assert!(!ok && err.contains("already exists"), "{err}");

        let png = dir.path().join(format!("{model}.png"));
        let csv = dir.path().join(format!("{model}.csv"));
        let (ok, stdout, err) = polarmap(&[
            "predict",
            scan_args[0],
            "--model",
            out.to_str().unwrap(),
            "--json",
            "--png",
            png.to_str().unwrap(),
            "--csv",
            csv.to_str().unwrap(),
            "--device",
            "cpu",
        ]);
        assert!(ok, "{err}");
        let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let majority = summary["majority_class"].as_str().unwrap();
        assert!(["RM", "RU", "MU", "LU", "LM", "LD", "MD", "RD"].contains(&majority));
        let total: f64 = summary["distribution"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_f64().unwrap())
            .sum();
        assert!((total - 1.0).abs() < 1e-9);
        assert!(summary["mean_confidence"].as_f64().unwrap() > 0.0);
        assert!(summary["model"].as_str().is_some());
        let image = image::open(&png).unwrap();
        assert_eq!((image.width(), image.height()), (8, 8));
        let rows = std::fs::read_to_string(&csv).unwrap();
        assert_eq!(rows.lines().count(), 65);
        // The one prediction CSV layout (the GUI writes the same).
        assert!(rows.starts_with("row,col,class,index,score_RM,"));
    }
    // PCA + kNN on its own training scans recovers the class of the scan.
    let (ok, stdout, _) = polarmap(&[
        "predict",
        scan_args[0],
        "--model",
        dir.path().join("pca.pmm").to_str().unwrap(),
        "--json",
    ]);
    assert!(ok);
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["majority_class"], "RM");
    assert_eq!(summary["labelled_majority_class"], "RM");
}

#[test]
fn bad_model_files_and_unlabelled_training_scans_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.pmm");
    std::fs::write(&bad, b"POLARMAP-MODEL\n\x05\x00\x00\x00{oops").unwrap();
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo.npy");
    let (ok, _, err) = polarmap(&["predict", demo, "--model", bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("bad.pmm"), "{err}");
    // A scan without labels cannot be trained on.
    let raw = dir.path().join("raw.npy");
    std::fs::copy(demo, &raw).unwrap();
    let (ok, _, err) = polarmap(&[
        "train",
        raw.to_str().unwrap(),
        "--model",
        "pca",
        "--out",
        dir.path().join("m.pmm").to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("raw.npy") && err.contains("labels"), "{err}");
}

#[test]
fn shipped_default_model_maps_the_demo_domains() {
    // The demo is RM on the left half and RD on the right, recorded at 1.25 mrad/px while the
    // shipped models were trained at 0.469 mrad/px: the input is resampled to the model's scale.
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo.npy");
    let (ok, stdout, err) = polarmap(&["predict", demo, "--json", "--device", "cpu"]);
    assert!(ok, "{err}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let accuracy = summary["accuracy_vs_labels"].as_f64().unwrap();
    assert!(accuracy > 0.55, "pixel accuracy on the demo {accuracy}");
    let d = &summary["distribution"];
    let domains = d["RM"].as_f64().unwrap() + d["RD"].as_f64().unwrap();
    assert!(domains > 0.6, "RM + RD fraction {domains}");
}

#[test]
fn max_per_class_is_a_quota_per_class_over_all_scans() {
    use polarmap_core::models::train::{load_labelled, ModelKind, TrainConfig};
    let dir = tempfile::tempdir().unwrap();
    let scans = simulate_classes(dir.path());
    // A second RD crystal: the same scan under another name (its sidecar labels it RD too).
    let rd = dir.path().join("RD.npy");
    let rd2 = dir.path().join("RD2.npy");
    std::fs::copy(&rd, &rd2).unwrap();
    std::fs::copy(
        dir.path().join("RD.meta.json"),
        dir.path().join("RD2.meta.json"),
    )
    .unwrap();
    let ld = scans
        .iter()
        .find(|p| p.ends_with("LD.npy"))
        .unwrap()
        .clone();
    let config = TrainConfig {
        max_per_class: Some(40),
        ..TrainConfig::paper(ModelKind::PcaKnn)
    };
    let progress = polarmap_core::progress::Progress::new();
    let data = load_labelled(&[rd.clone(), rd2.clone(), ld.clone()], &config, &progress).unwrap();
    let count = |class: usize| data.labels.iter().filter(|&&l| l == class).count();
    let (rd_index, ld_index) = (
        polarmap_core::classes::Class::RD.index(),
        polarmap_core::classes::Class::LD.index(),
    );
    // 40 RD over both files (64 + 64 available), not 40 from each.
    assert_eq!((count(rd_index), count(ld_index)), (40, 40));
    assert_eq!(data.len(), 80);
    // The draw is seeded: the same call gives the same patterns.
    let again = load_labelled(&[rd.clone(), rd2.clone(), ld.clone()], &config, &progress).unwrap();
    assert_eq!(again.inputs, data.inputs);
    // Without a quota every pattern of every scan is used.
    let all = TrainConfig {
        max_per_class: None,
        ..config
    };
    assert_eq!(
        load_labelled(&[rd, rd2, ld], &all, &progress)
            .unwrap()
            .len(),
        3 * 64
    );
}

/// Scans at other camera lengths are brought to the finest sampling among them, whatever
/// their order (the first scan used to fix the input, so a coarse first scan set a window the
/// finer ones could not cover); each row records its scan.
#[test]
fn training_inputs_take_the_finest_calibration_whatever_the_order() {
    use polarmap_core::models::train::{load_labelled, ModelKind, TrainConfig};
    let dir = tempfile::tempdir().unwrap();
    simulate_classes(dir.path());
    let fine = dir.path().join("RD.npy");
    let coarse = dir.path().join("RD-coarse.npy");
    std::fs::copy(&fine, &coarse).unwrap();
    let mut meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fine.with_extension("meta.json")).unwrap())
            .unwrap();
    let mrad = meta["mrad_per_px"].as_f64().unwrap();
    meta["mrad_per_px"] = (1.25 * mrad).into();
    std::fs::write(coarse.with_extension("meta.json"), meta.to_string()).unwrap();
    let config = TrainConfig {
        input_size: 16,
        ..TrainConfig::paper(ModelKind::PcaKnn)
    };
    let progress = polarmap_core::progress::Progress::new();
    let a = load_labelled(&[coarse.clone(), fine.clone()], &config, &progress).unwrap();
    let b = load_labelled(&[fine, coarse], &config, &progress).unwrap();
    for data in [&a, &b] {
        let spec = data.spec.mrad_per_px.unwrap();
        assert!((spec - mrad).abs() < 1e-12, "{spec} vs {mrad}");
    }
    // The fine scan's rows are the same in both orders; the coarse scan's differ from them.
    let n = a.len() / 2;
    let rows = |d: &polarmap_core::models::train::LabelledInputs, s: std::ops::Range<usize>| {
        d.inputs.slice(ndarray::s![s, ..]).to_owned()
    };
    assert_eq!(rows(&a, n..2 * n), rows(&b, 0..n));
    assert_eq!(rows(&a, 0..n), rows(&b, n..2 * n));
    assert_ne!(rows(&a, 0..n), rows(&a, n..2 * n));
    assert_eq!(a.scans[..n], vec![0; n][..]);
    assert_eq!(a.scans[n..], vec![1; n][..]);
}

#[test]
fn fine_tuning_continues_a_model_at_its_own_input() {
    use polarmap_core::models::{self, DeviceChoice};
    let dir = tempfile::tempdir().unwrap();
    let scans = simulate_classes(dir.path());
    let base = dir.path().join("base.pmm");
    let train = |extra: &[&str], out: &Path| {
        let mut args = vec!["train"];
        args.extend(scans.iter().map(|p| p.to_str().unwrap()));
        args.extend([
            "--epochs",
            "1",
            "--device",
            "cpu",
            "--no-checkpoint",
            "--out",
            out.to_str().unwrap(),
        ]);
        args.extend(extra);
        polarmap(&args)
    };
    let (ok, _, err) = train(&["--model", "conv-cls", "--input-binning", "4"], &base);
    assert!(ok, "{err}");
    // The scans now say their pixels are 1.25 times coarser: a run from scratch would take that
    // scale, a run continuing `base` keeps base's.
    for scan in &scans {
        let meta = scan.with_extension("meta.json");
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&meta).unwrap()).unwrap();
        v["mrad_per_px"] = (1.25 * v["mrad_per_px"].as_f64().unwrap()).into();
        std::fs::write(&meta, v.to_string()).unwrap();
    }
    let tuned = dir.path().join("tuned.pmm");
    let init = ["--init-weights", base.to_str().unwrap()];
    let (ok, _, err) = train(
        &[
            &[
                "--model",
                "conv-cls",
                "--input-binning",
                "4",
                "--lr",
                "1e-12",
            ][..],
            &init[..],
        ]
        .concat(),
        &tuned,
    );
    assert!(ok, "{err}");
    let header = |p: &Path| models::file::ModelFile::read(p).unwrap().header;
    assert_eq!(header(&tuned).input, header(&base).input);
    // With a negligible learning rate the continued network is the base network.
    let session = polarmap_core::Session::open(
        &scans[0],
        &Default::default(),
        &polarmap_core::progress::Progress::new(),
    )
    .unwrap();
    let scores = |p: &Path| {
        let model = models::load(p, DeviceChoice::Cpu).unwrap();
        session
            .predict(
                model.as_ref(),
                &polarmap_core::progress::Progress::new(),
                |_, _| {},
            )
            .unwrap()
            .scores
    };
    let (a, b) = (scores(&base), scores(&tuned));
    let largest = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(largest < 2e-3, "scores moved by {largest}");
    // Another head, another input size or a model that is no network: clear errors.
    for (extra, expected) in [
        (
            &["--model", "conv-proto", "--input-binning", "4"][..],
            "cls head",
        ),
        (
            &["--model", "conv-cls", "--input-binning", "2"][..],
            "16x16 inputs",
        ),
    ] {
        let (ok, _, err) = train(&[extra, &init[..]].concat(), &dir.path().join("x.pmm"));
        assert!(!ok && err.contains(expected), "{err}");
    }
    let pca = dir.path().join("pca.pmm");
    let (ok, _, err) = train(&["--model", "pca", "--input-binning", "4"], &pca);
    assert!(ok, "{err}");
    let (ok, _, err) = train(
        &[
            "--model",
            "conv-cls",
            "--input-binning",
            "4",
            "--init-weights",
            pca.to_str().unwrap(),
        ],
        &dir.path().join("x.pmm"),
    );
    assert!(!ok && err.contains("PCA model"), "{err}");
}
