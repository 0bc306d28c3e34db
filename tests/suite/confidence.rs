//! Confidence that means something: the undetermined outcome on an unpolarised specimen (every
//! shipped model), polarised scans that stay determined, and a calibration fitted on simulated
//! scans, stored in a model file and used by prediction.

use polarmap_core::analysis::PolarizationSignal;
use polarmap_core::classes::Class;
use polarmap_core::models::confidence::{calibrate, Determination};
use polarmap_core::models::{self, DeviceChoice, ModelFile};
use polarmap_core::progress::Progress;
use polarmap_core::scan::OpenOptions;
use polarmap_core::session::Session;
use polarmap_sim::job::Job;
use std::path::{Path, PathBuf};

/// A 16×16 scan over 2×2 cells of 20 nm KNN in the models' 64-px ±15 mrad window, 10⁷
/// electrons per pattern (2.6·10⁹ in all: the counts of a 160×160 scan at 10⁵).
fn simulate(dir: &Path, name: &str, class: Option<Class>) -> PathBuf {
    let mut job = Job::knn(name, class, [2, 2, 50], [16, 16], [2, 2]);
    job.params.detector.pixels = 64;
    job.params.detector.max_mrad = 15.0;
    job.acquisition.dose_per_pattern = Some(1e7);
    job.acquisition.seed = 3;
    let path = dir.join(format!("{name}.npy"));
    job.run_to_npy(&path, false, &Progress::new()).unwrap();
    path
}

fn open(path: &Path) -> Session {
    Session::open(path, &OpenOptions::default(), &Progress::new()).unwrap()
}

#[test]
fn unpolarised_scan_is_undetermined_and_polarised_ones_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let none = open(&simulate(dir.path(), "none", None));
    let polarised: Vec<(Class, Session)> = [Class::RD, Class::MU]
        .into_iter()
        .map(|c| (c, open(&simulate(dir.path(), c.name(), Some(c)))))
        .collect();
    let shipped = models::list_models(&models::shipped_dir());
    assert!(shipped.len() >= 3, "{shipped:?}");
    for file in &shipped {
        let model = models::load(file, DeviceChoice::Cpu).unwrap();
        let e = none
            .evaluate(model.as_ref(), &Progress::new(), |_, _| {})
            .unwrap();
        let signal = e.predictions.signal.expect("the survey finds the disk");
        assert!(
            signal.applicable && !signal.detected,
            "{file:?}: {signal:?}"
        );
        // The test's pattern was summed while the batches were read: it is the plain sum of
        // every frame (integer counts, so the order of the sum changes nothing).
        let scan = none.scan();
        let mut summed = ndarray::Array2::<f64>::zeros(scan.frame_shape());
        for index in 0..scan.n_frames() {
            let frame = scan.frame_f32(index / 16, index % 16).unwrap();
            summed
                .iter_mut()
                .zip(frame)
                .for_each(|(s, v)| *s += f64::from(v));
        }
        assert_eq!(
            Some(signal),
            PolarizationSignal::of_sum(&summed, none.survey())
        );
        assert_eq!(e.predictions.undetermined(), 256, "{file:?}");
        let summary = e.summary(file);
        assert_eq!(summary["majority_class"], serde_json::Value::Null);
        assert!(summary["outcome"]
            .as_str()
            .unwrap()
            .contains("no polarization signal"));
        assert_eq!(summary["undetermined_pixels"], 256);
        for (class, session) in &polarised {
            let e = session
                .evaluate(model.as_ref(), &Progress::new(), |_, _| {})
                .unwrap();
            let signal = e.predictions.signal.unwrap();
            assert!(
                signal.detected && signal.p_value < 1e-6,
                "{class}: {signal:?}"
            );
            let outcome = e.summary(file)["outcome"].as_str().unwrap().to_string();
            assert!(!outcome.contains("no polarization signal"), "{outcome}");
            // With the signal test alone (no probability threshold: the shipped models are not
            // calibrated, and Conv (Proto)'s raw scores stay below 0.5) every pixel counts.
            let signal_only = session.clone().with_determination(Determination {
                min_probability: 0.0,
                ..Determination::default()
            });
            let e = signal_only
                .evaluate(model.as_ref(), &Progress::new(), |_, _| {})
                .unwrap();
            let stats = e.class_map().stats(None);
            assert_eq!(stats.undetermined, 0, "{file:?} {class}: {stats:?}");
            assert!(stats.majority.is_some());
            assert_eq!(e.summary(file)["outcome"], "determined");
        }
    }
    // The same scan, told to ignore the signal test, is classified: the test alone decided.
    let model = models::load(&shipped[0], DeviceChoice::Cpu).unwrap();
    let lenient = none.clone().with_determination(Determination {
        require_signal: false,
        min_probability: 0.0,
        max_ood: f32::INFINITY,
    });
    let e = lenient
        .evaluate(model.as_ref(), &Progress::new(), |_, _| {})
        .unwrap();
    assert_eq!(e.predictions.undetermined(), 0);
}

#[test]
fn calibration_is_fitted_stored_and_used() {
    let dir = tempfile::tempdir().unwrap();
    let scans: Vec<Session> = [Class::RM, Class::LD]
        .into_iter()
        .map(|c| open(&simulate(dir.path(), c.name(), Some(c))))
        .collect();
    // The paper's Conv (Cls) as shipped: uncalibrated (the default model is calibrated).
    let shipped = models::shipped_dir().join("conv-cls.pmm");
    let model = models::load(&shipped, DeviceChoice::Cpu).unwrap();
    assert!(
        model.header().confidence.is_none(),
        "conv-cls ships uncalibrated"
    );
    let fitted = calibrate(model.as_ref(), &scans[..1], &scans[1..], &Progress::new()).unwrap();
    assert_eq!(fitted.fit_before.patterns, 256);
    assert!(fitted.fit_after.nll <= fitted.fit_before.nll);
    assert!(fitted.held_out.as_ref().unwrap().before.patterns == 256);
    let ood = fitted.ood.as_ref().expect("PCA gives embeddings");
    assert!(ood.p99 >= ood.p95 && ood.p95 >= 1.0, "{ood:?}");

    // Stored in the header of a copy; the copy refuses to be overwritten without leave.
    let mut file = ModelFile::read(&shipped).unwrap();
    file.header.confidence = Some(fitted.clone());
    let out = dir.path().join("cal.pmm");
    file.write(&out, false).unwrap();
    assert!(file.write(&out, false).is_err());
    let calibrated = models::load(&out, DeviceChoice::Cpu).unwrap();
    assert_eq!(calibrated.header().confidence.as_ref(), Some(&fitted));

    // Prediction uses it: the same classes, calibrated scores, OOD ≈ 1 on the fitting scan.
    let raw = scans[0]
        .evaluate(model.as_ref(), &Progress::new(), |_, _| {})
        .unwrap();
    let cal = scans[0]
        .evaluate(calibrated.as_ref(), &Progress::new(), |_, _| {})
        .unwrap();
    assert_eq!(raw.predictions.classes, cal.predictions.classes);
    assert!(!raw.predictions.calibrated && cal.predictions.calibrated);
    assert!(raw.predictions.ood.is_none());
    let ood = cal.predictions.ood.as_ref().unwrap();
    let mut sorted: Vec<f32> = ood.iter().copied().collect();
    sorted.sort_by(f32::total_cmp);
    assert!(
        (sorted[128] - 1.0).abs() < 0.05,
        "median OOD {}",
        sorted[128]
    );
    let scaling = fitted.scaling;
    for (r, c) in [(0, 0), (7, 9), (15, 15)] {
        let raw_scores: [f32; 8] = std::array::from_fn(|k| raw.predictions.scores[(r, c, k)]);
        let expected = scaling.apply(&raw_scores);
        for (k, e) in expected.iter().enumerate() {
            assert!((cal.predictions.scores[(r, c, k)] - e).abs() < 1e-6);
        }
    }
    // The CSV carries the determined mask and the OOD score.
    let csv = dir.path().join("p.csv");
    polarmap_core::export::write_classes_csv(
        &csv,
        &cal.class_map(),
        Some(&cal.predictions.scores),
        cal.predictions.ood.as_ref(),
        false,
    )
    .unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    let header = text.lines().next().unwrap();
    assert!(header.ends_with(",score_RD,determined,ood"), "{header}");
    assert_eq!(text.lines().count(), 257);
}
