//! Adaptation to the user's scan (`models::adapt`, `polarmap predict --adapt`) on the demo scan
//! (left half an RM domain, right half RD): labelled pixels move the map of every shipped model
//! towards the labels, an adapted model saves and loads with its record, and bad labels are
//! errors.

use crate::common::polarmap;
use polarmap_core::classes::Class;
use polarmap_core::maps::Region;
use polarmap_core::models::adapt::{self, AdaptMethod, AdaptOptions, LabelledRegion, RegionLabels};
use polarmap_core::models::card::ModelCard;
use polarmap_core::models::{self, Classifier, DeviceChoice};
use polarmap_core::progress::Progress;
use polarmap_core::session::Session;
use std::path::{Path, PathBuf};

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.npy")
}

fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(name)
}

fn classes(session: &Session, model: &dyn Classifier) -> ndarray::Array2<Class> {
    session
        .predict(model, &Progress::new(), |_, _| {})
        .unwrap()
        .classes
}

/// Fraction of the pixels of columns `cols` that are `class`.
fn share(map: &ndarray::Array2<Class>, cols: std::ops::Range<usize>, class: Class) -> f64 {
    let part = map.slice(ndarray::s![.., cols]);
    part.iter().filter(|&&c| c == class).count() as f64 / part.len() as f64
}

#[test]
fn labelling_half_a_domain_moves_the_rest_of_it_to_the_label_for_every_shipped_model() {
    let session = Session::open(&demo(), &Default::default(), &Progress::new()).unwrap();
    // "This is LM": columns 0-7 of the RM domain (columns 0-15), a class no model predicts
    // there, so the map is wrong against these labels everywhere.
    let labels = RegionLabels {
        scan: None,
        regions: vec![LabelledRegion {
            class: Class::LM,
            region: Region::Rect {
                row0: 0,
                col0: 0,
                row1: 32,
                col1: 8,
            },
        }],
    }
    .pixels([32, 32])
    .unwrap();
    assert_eq!(labels.len(), 256);
    for (file, method) in [
        ("pca-knn.pmm", AdaptMethod::KnnReferences),
        ("conv-proto.pmm", AdaptMethod::Prototypes),
        ("conv-cls.pmm", AdaptMethod::LastLayer),
    ] {
        let path = shipped(file);
        let base = models::load(&path, DeviceChoice::Cpu).unwrap();
        let before = classes(&session, base.as_ref());
        let adapted = adapt::adapt(
            base.as_ref(),
            Some(&path),
            &session,
            &labels,
            &AdaptOptions::default(),
            &Progress::new(),
        )
        .unwrap();
        let record = adapted.header().adaptation.clone().unwrap();
        assert_eq!(record.method, method);
        assert_eq!(record.labelled_pixels["LM"], 256);
        assert!(record.source_scan.ends_with("demo.npy"));
        let after = classes(&session, adapted.as_ref());
        let (lm_before, lm_after) = (
            share(&before, 8..16, Class::LM),
            share(&after, 8..16, Class::LM),
        );
        // The unlabelled half of the domain follows the labels ...
        assert!(lm_before < 0.05, "{file}: LM {lm_before} before");
        assert!(lm_after > 0.5, "{file}: LM {lm_before} -> {lm_after}");
        // ... as the labelled pixels themselves do.
        assert!(share(&after, 0..8, Class::LM) > 0.5, "{file}");
    }
}

#[test]
fn a_few_true_labels_do_not_make_the_unlabelled_pixels_worse() {
    let session = Session::open(&demo(), &Default::default(), &Progress::new()).unwrap();
    let truth = session.labels().unwrap().unwrap();
    // Every 10th pixel (10 %), labelled with its true class.
    let labels: Vec<(usize, Class)> = truth
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 10 == 3)
        .map(|(i, &c)| (i, c))
        .collect();
    for file in ["pca-knn.pmm", "conv-proto.pmm", "conv-cls.pmm"] {
        let path = shipped(file);
        let base = models::load(&path, DeviceChoice::Cpu).unwrap();
        let adapted = adapt::adapt(
            base.as_ref(),
            Some(&path),
            &session,
            &labels,
            &AdaptOptions::default(),
            &Progress::new(),
        )
        .unwrap();
        let split = |m: &dyn Classifier| {
            adapt::split_accuracy(&truth, &classes(&session, m), &labels).unwrap()
        };
        let (before, after) = (split(base.as_ref()), split(adapted.as_ref()));
        assert_eq!(after.labelled_pixels, labels.len());
        let (b, a) = (before.unlabelled.unwrap(), after.unlabelled.unwrap());
        assert!(a >= b, "{file}: unlabelled accuracy {b} -> {a}");
    }
}

#[test]
fn predict_adapts_saves_the_model_with_its_card_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let labels = dir.path().join("labels.json");
    std::fs::write(
        &labels,
        r#"{"scan": "demo.npy", "regions": [
            {"class": "RD", "region": {"kind": "rect", "row0": 0, "col0": 16, "row1": 32, "col1": 24}},
            {"class": "RM", "region": {"kind": "pixels", "pixels": [[0, 0], [5, 3], [20, 9]]}}
        ]}"#,
    )
    .unwrap();
    let out = dir.path().join("adapted.pmm");
    let demo = demo();
    let model = shipped("conv-proto.pmm");
    let args = [
        "predict",
        demo.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--device",
        "cpu",
        "--adapt",
        labels.to_str().unwrap(),
        "--save-adapted",
        out.to_str().unwrap(),
        "--json",
    ];
    let (ok, stdout, err) = polarmap(&args);
    assert!(ok, "{err}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let adaptation = &summary["adaptation"];
    assert_eq!(adaptation["method"], "prototypes");
    assert_eq!(adaptation["labelled_pixels"]["RD"], 256);
    assert_eq!(adaptation["labelled_pixels"]["RM"], 3);
    let accuracy = &adaptation["accuracy"];
    assert_eq!(accuracy["after"]["labelled_pixels"], 259);
    assert_eq!(accuracy["after"]["unlabelled_pixels"], 1024 - 259);
    // The labelled pixels agree with their labels more than before.
    let (before, after) = (
        accuracy["before"]["labelled"].as_f64().unwrap(),
        accuracy["after"]["labelled"].as_f64().unwrap(),
    );
    assert!(after > before, "{before} -> {after}");
    // The saved model is the adapted one: it predicts what the summary reported.
    let saved = models::load(&out, DeviceChoice::Cpu).unwrap();
    let record = saved.header().adaptation.clone().unwrap();
    assert_eq!(record.method, AdaptMethod::Prototypes);
    assert_eq!(record.base_model, "Conv (Proto)");
    assert!(record.base_model_file.unwrap().ends_with("conv-proto.pmm"));
    let card = ModelCard::read(&ModelCard::path_for(&out)).unwrap();
    assert_eq!(card.adaptation.unwrap().labelled_pixels["RD"], 256);
    assert!(card.command.contains("--adapt"), "{}", card.command);
    assert!(card.metrics["adapted_scan"]["after"]["unlabelled"].is_number());
    let session = Session::open(&demo, &Default::default(), &Progress::new()).unwrap();
    let truth = session.labels().unwrap().unwrap();
    let reloaded = polarmap_core::maps::agreement(&truth, &classes(&session, saved.as_ref()));
    assert!(
        (reloaded.unwrap() - summary["accuracy_vs_labels"].as_f64().unwrap()).abs() < 1e-9,
        "the reloaded model predicts as the adapted one did"
    );
    // Once written, the model is not replaced without --overwrite.
    let (ok, _, err) = polarmap(&args);
    assert!(!ok && err.contains("already exists"), "{err}");
    let mut again = args.to_vec();
    again.push("--overwrite");
    let (ok, _, err) = polarmap(&again);
    assert!(ok, "{err}");
}

#[test]
fn bad_labels_are_errors_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let demo = demo();
    for (text, expected) in [
        (
            r#"{"regions": [{"class": "XY", "region": {"kind": "pixels", "pixels": [[0, 0]]}}]}"#,
            "labels.json",
        ),
        (
            r#"{"regions": [{"class": "RD", "region": {"kind": "rect", "row0": 40, "col0": 0, "row1": 50, "col1": 4}}]}"#,
            "holds no pixel",
        ),
        (r#"{"regions": []}"#, "no labelled pixels"),
    ] {
        let labels = dir.path().join("labels.json");
        std::fs::write(&labels, text).unwrap();
        let (ok, _, err) = polarmap(&[
            "predict",
            demo.to_str().unwrap(),
            "--adapt",
            labels.to_str().unwrap(),
        ]);
        assert!(!ok && err.contains(expected), "{text}: {err}");
    }
    // --save-adapted needs --adapt.
    let (ok, _, err) = polarmap(&["predict", demo.to_str().unwrap(), "--save-adapted", "x.pmm"]);
    assert!(!ok && err.contains("--adapt"), "{err}");
}
