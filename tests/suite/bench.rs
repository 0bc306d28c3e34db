//! `polarmap bench` on tiny synthetic labelled scans: the tables hold the accuracies that
//! predict_scan gives independently, a second run trains and evaluates nothing, the Markdown and
//! CSV tables have their header and mark the best, and the defect study measures the distance
//! from a planted cluster to the recorded vacancy.

use ndarray::Array2;
use polarmap_bench::defects::{locate, DefectTruth};
use polarmap_bench::protocol::Inputs;
use polarmap_bench::tables::{self, mean_std, Cell, Row, Table};
use polarmap_bench::{self as bench, datasets, Plan};
use polarmap_core::analysis::ComField;
use polarmap_core::classes::Class;
use polarmap_core::maps::ClassMap;
use polarmap_core::models::train::{ModelKind, Preprocessing, TrainConfig};
use polarmap_core::models::{self, DeviceChoice};
use polarmap_core::Progress;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};

const SCAN: usize = 8;
const DET: usize = 24;

/// A labelled scan of `SCAN`×`SCAN` patterns of `DET`×`DET` pixels: a bright disk (radius 5)
/// shifted 1.5 px toward each pixel's class direction, with noise. `label(r, c)` gives the class;
/// the sidecar holds the class name, or a per-pixel label file when the classes differ.
fn write_scan(path: &Path, seed: u64, label: impl Fn(usize, usize) -> Class) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut data = Vec::with_capacity(SCAN * SCAN * DET * DET);
    let mid = (DET as f64 - 1.0) / 2.0;
    for r in 0..SCAN {
        for c in 0..SCAN {
            let t = label(r, c).angle_deg().to_radians();
            let (cr, cc) = (mid - 1.5 * t.sin(), mid + 1.5 * t.cos());
            for y in 0..DET {
                for x in 0..DET {
                    let d = ((y as f64 - cr).powi(2) + (x as f64 - cc).powi(2)).sqrt();
                    data.push(((5.0 - d).clamp(0.0, 1.0) + rng.random_range(0.0..0.1)) as f32);
                }
            }
        }
    }
    polarmap_core::export::write_npy_f32(path, &[SCAN, SCAN, DET, DET], &data, false).unwrap();
    let classes: Vec<Class> = (0..SCAN * SCAN)
        .map(|i| label(i / SCAN, i % SCAN))
        .collect();
    let labels = if classes.iter().all(|&c| c == classes[0]) {
        classes[0].name().to_string()
    } else {
        let stem = path.file_stem().unwrap().to_str().unwrap();
        let file = path.with_file_name(format!("{stem}_labels.npy"));
        let values: Vec<f32> = classes.iter().map(|c| c.index() as f32).collect();
        polarmap_core::export::write_npy_f32(&file, &[SCAN, SCAN], &values, false).unwrap();
        file.file_name().unwrap().to_str().unwrap().to_string()
    };
    let meta = serde_json::json!({
        "energy_kv": 200.0, "convergence_mrad": 24.0, "mrad_per_px": 0.5, "labels": labels,
    });
    std::fs::write(path.with_extension("meta.json"), meta.to_string()).unwrap();
}

/// Eight training scans (one class each) in `dir/train`, two test scans in `dir/tests`: one RD
/// everywhere, one half RM (left) and half LM (right).
fn write_data(dir: &Path) -> (PathBuf, PathBuf) {
    let (train, tests) = (dir.join("train"), dir.join("tests"));
    std::fs::create_dir_all(&train).unwrap();
    std::fs::create_dir_all(&tests).unwrap();
    for class in Class::ALL {
        write_scan(
            &train.join(format!("train-{class}.npy")),
            class.index() as u64,
            |_, _| class,
        );
    }
    write_scan(&tests.join("t-RD.npy"), 100, |_, _| Class::RD);
    write_scan(&tests.join("t-mixed.npy"), 101, |_, c| {
        if c < SCAN / 2 {
            Class::RM
        } else {
            Class::LM
        }
    });
    (train, tests)
}

/// PCA and Conv (Cls) × no preprocessing × seeds 1 and 2, sized to train in moments.
fn tiny_plan() -> Plan {
    Plan {
        models: vec![ModelKind::PcaKnn, ModelKind::from_name("conv-cls").unwrap()],
        configs: vec![Preprocessing::None],
        seeds: vec![1, 2],
        training: TrainConfig {
            epochs: 2,
            batch_size: 32,
            learning_rate: 2e-3,
            input_size: 16,
            ..TrainConfig::paper(ModelKind::PcaKnn)
        },
    }
}

fn inputs(train: &Path, tests: &Path) -> Inputs {
    let tests = datasets::expand(&[tests.to_path_buf()]).unwrap();
    Inputs {
        train: datasets::expand(&[train.to_path_buf()]).unwrap(),
        tests: datasets::test_sets(&tests).unwrap(),
        defects: Vec::new(),
    }
}

fn run(plan: &Plan, inputs: &Inputs, out: &Path) -> bench::BenchResults {
    bench::run(
        plan,
        inputs,
        out,
        DeviceChoice::Cpu,
        &Progress::new(),
        &mut |_| {},
    )
    .unwrap()
}

/// Accuracy of the model file at `model` on the labelled scan at `scan`, computed here.
fn independent_accuracy(model: &Path, scan: &Path) -> f64 {
    let model = models::load(model, DeviceChoice::Cpu).unwrap();
    let session =
        polarmap_core::Session::open(scan, &Default::default(), &Progress::new()).unwrap();
    let truth = session.labels().unwrap().expect("a labelled scan");
    let p = session
        .predict(model.as_ref(), &Progress::new(), |_, _| {})
        .unwrap();
    let right = p.classes.iter().zip(&truth).filter(|(a, b)| a == b).count();
    right as f64 / truth.len() as f64
}

#[test]
fn tables_hold_the_accuracies_predict_scan_gives() {
    let dir = tempfile::tempdir().unwrap();
    let (train, tests) = write_data(dir.path());
    let out = dir.path().join("out");
    let plan = tiny_plan();
    let inputs = inputs(&train, &tests);
    assert_eq!(
        inputs
            .tests
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>(),
        ["t-RD", "t-mixed"]
    );
    let results = run(&plan, &inputs, &out);
    assert_eq!(results.work.trained, 4);
    assert_eq!(results.work.evaluated, 8);
    let written = bench::write_outputs(&results, &out).unwrap();
    for name in [
        "table-none.md",
        "table-none.csv",
        "tables.md",
        "results.json",
        "maps-t-RD.png",
        "distribution-t-mixed.png",
    ] {
        assert!(written.contains(&out.join(name)), "{name} written");
        assert!(out.join(name).exists());
    }
    let csv = std::fs::read_to_string(out.join("table-none.csv")).unwrap();
    let markdown = std::fs::read_to_string(out.join("table-none.md")).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(json["runs"].as_array().unwrap().len(), 4);

    for (model, display) in [("pca", "PCA"), ("conv-cls", "Conv (Cls)")] {
        for set in &inputs.tests {
            let accuracies: Vec<f64> = plan
                .seeds
                .iter()
                .map(|seed| {
                    let file = out
                        .join("runs/none")
                        .join(model)
                        .join(format!("seed-{seed}/model.pmm"));
                    independent_accuracy(&file, &set.path)
                })
                .collect();
            let (mean, std) = mean_std(&accuracies);
            // The CSV line of this cell.
            let prefix = format!("none,\"{display}\",{},", set.name);
            let prefix = if display == "PCA" {
                format!("none,PCA,{},", set.name)
            } else {
                prefix
            };
            let line = csv
                .lines()
                .find(|l| l.starts_with(&prefix))
                .unwrap_or_else(|| panic!("no line {prefix} in\n{csv}"));
            let fields: Vec<&str> = line[prefix.len()..].split(',').collect();
            let (m, s): (f64, f64) = (fields[0].parse().unwrap(), fields[1].parse().unwrap());
            assert!(
                (m - mean).abs() < 1e-6,
                "{model} {}: {m} vs {mean}",
                set.name
            );
            assert!((s - std).abs() < 1e-6, "{model} {}: {s} vs {std}", set.name);
            assert_eq!(fields[2], "2", "two seeds");
            // The Markdown row shows the same numbers in percent.
            let text = format!("{:.1} ± {:.1}", 100.0 * mean, 100.0 * std);
            let row = markdown
                .lines()
                .find(|l| l.starts_with(&format!("| {display} |")))
                .unwrap();
            assert!(row.contains(&text), "{row} lacks {text}");
        }
    }
}

#[test]
fn a_second_run_reuses_every_cached_result() {
    let dir = tempfile::tempdir().unwrap();
    let (train, tests) = write_data(dir.path());
    let out = dir.path().join("out");
    let plan = tiny_plan();
    let inputs = inputs(&train, &tests);
    let first = run(&plan, &inputs, &out);
    let models: Vec<PathBuf> = plan
        .runs()
        .iter()
        .map(|k| bench::cache::RunDir::new(&out, k).model())
        .collect();
    let mtimes: Vec<_> = models
        .iter()
        .map(|m| std::fs::metadata(m).unwrap().modified().unwrap())
        .collect();
    let second = run(&plan, &inputs, &out);
    assert_eq!(
        second.work,
        bench::Work {
            trained: 0,
            models_cached: 4,
            evaluated: 0,
            results_cached: 8
        }
    );
    for (m, t) in models.iter().zip(&mtimes) {
        assert_eq!(std::fs::metadata(m).unwrap().modified().unwrap(), *t);
    }
    let table = |r: &bench::BenchResults| tables::tables(r)[0].markdown();
    assert_eq!(table(&first), table(&second));
    // One lost result is evaluated again, nothing is retrained.
    let key = plan.runs()[1];
    std::fs::remove_file(bench::cache::RunDir::new(&out, &key).test_result("t-mixed")).unwrap();
    let third = run(&plan, &inputs, &out);
    assert_eq!((third.work.trained, third.work.evaluated), (0, 1));
    assert_eq!(table(&first), table(&third));
    // A bench with other training settings refuses the folder instead of mixing results.
    let mut other = plan.clone();
    other.training.epochs = 3;
    let err = bench::run(
        &other,
        &inputs,
        &out,
        DeviceChoice::Cpu,
        &Progress::new(),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("other settings"), "{err}");
}

fn cell(mean: f64, majority: Class, truth: Class) -> Option<Cell> {
    Some(Cell {
        mean,
        std: 0.01,
        seeds: 2,
        majority: Some(majority),
        truth: Some(truth),
    })
}

#[test]
fn table_layout_has_a_header_and_marks_the_best_and_the_majority() {
    let table = Table {
        config: Preprocessing::Augment,
        columns: vec![tables::TEST_SPLIT.into(), "A".into(), "B".into()],
        rows: vec![
            Row {
                model: "PCA".into(),
                cells: vec![
                    cell(0.9, Class::RM, Class::RM),
                    cell(0.5, Class::RD, Class::RD),
                    cell(0.2, Class::RM, Class::LU),
                ],
            },
            Row {
                model: "Conv (Cls)".into(),
                cells: vec![
                    cell(0.8, Class::RM, Class::RM),
                    cell(0.7, Class::RD, Class::RD),
                    None,
                ],
            },
        ],
    };
    let md = table.markdown();
    let lines: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
    assert_eq!(lines[0], "| model | test split | A | B |");
    assert_eq!(lines[1], "|---|---|---|---|");
    assert_eq!(
        lines[2],
        "| PCA | **90.0 ± 1.0** RM ✓ | 50.0 ± 1.0 RD ✓ | **20.0 ± 1.0** RM ✗ |"
    );
    assert_eq!(
        lines[3],
        "| Conv (Cls) | 80.0 ± 1.0 RM ✓ | **70.0 ± 1.0** RD ✓ | – |"
    );
    assert!(md.contains("Preprocessing: augment"));
    let csv = table.csv();
    let mut csv_lines = csv.lines();
    assert_eq!(
        csv_lines.next().unwrap(),
        "config,model,column,mean,std,seeds,majority,truth,majority_right,best"
    );
    assert!(csv.contains("augment,PCA,B,0.200000,0.010000,2,RM,LU,0,1\n"));
    assert!(csv.contains("augment,\"Conv (Cls)\",A,0.700000,0.010000,2,RD,RD,1,1\n"));
    assert!(csv.contains("augment,PCA,A,0.500000,0.010000,2,RD,RD,1,0\n"));
}

#[test]
fn the_defect_distance_is_measured_from_the_top_cluster_to_the_vacancy() {
    // RD everywhere over 4×4 cells of 16 px, a periodic error at one site per cell, and a 3×3
    // MU cluster centred on (41, 22).
    let map = ClassMap::new(Array2::from_shape_fn((64, 64), |(r, c)| {
        if (40..43).contains(&r) && (21..24).contains(&c) {
            Class::MU
        } else if r % 16 == 5 && c % 16 == 9 {
            Class::LU
        } else {
            Class::RD
        }
    }));
    let truth = DefectTruth {
        position: [44.0, 26.0],
        step_a: [0.25, 0.25],
        lattice_a: 4.0,
        period_px: Some([16, 16]),
        wrap_px: Some([64.0, 64.0]),
    };
    let found = locate("planted", &map, None, &truth).class_map;
    assert_eq!(found.clusters, 1, "{found:?}");
    let top = found.top.as_ref().unwrap();
    assert!((top.center_row - 41.0).abs() < 1e-9 && (top.center_col - 22.0).abs() < 1e-9);
    // 3 and 4 pixels: 5 px = 1.25 Å = 0.3125 cells = 0.125 nm.
    assert!((found.distance_px.unwrap() - 5.0).abs() < 1e-9);
    assert!((found.distance_cells.unwrap() - 0.3125).abs() < 1e-9);
    assert!((found.distance_nm.unwrap() - 0.125).abs() < 1e-9);
    // A random point of a periodic 16-cell square lies on average 0.3826 sides (1.53 cells) away.
    let chance = locate("planted", &map, None, &truth).chance_cells;
    assert!((chance - 0.3826 * 4.0).abs() < 0.01, "{chance}");
    // Minimum image: a vacancy recorded near the opposite edge is 5 px away across it.
    let across = DefectTruth {
        position: [41.0 + 64.0 - 5.0, 22.0],
        ..truth.clone()
    };
    let d = locate("planted", &map, None, &across)
        .class_map
        .distance_px
        .unwrap();
    assert!((d - 5.0).abs() < 1e-9, "{d}");
    // No cluster, no distance.
    let clean = ClassMap::new(Array2::from_elem((64, 64), Class::RD));
    let none = locate("clean", &clean, None, &truth).class_map;
    assert_eq!((none.clusters, none.distance_cells), (0, None));
}

#[test]
fn the_com_field_finds_what_is_not_periodic_and_agrees_with_the_class_map() {
    // A CoM field periodic with the 16-px lattice (strong, and different at every site) plus a
    // small non-periodic bump of displaced columns around (41, 22); the class map has a periodic
    // error, a 3×3 MU cluster at the bump and a larger decoy (a checkerboard of errors) far away.
    let truth = DefectTruth {
        position: [41.0, 22.0],
        step_a: [0.25, 0.25],
        lattice_a: 4.0,
        period_px: Some([16, 16]),
        wrap_px: Some([64.0, 64.0]),
    };
    let bump = |r: usize, c: usize| {
        let d2 = (r as f64 - 41.0).powi(2) + (c as f64 - 22.0).powi(2);
        0.3 * (-d2 / 8.0).exp()
    };
    let com = ComField {
        x: Array2::from_shape_fn((64, 64), |(r, c)| {
            ((2.0 * std::f64::consts::PI * (c % 16) as f64 / 16.0).sin() + bump(r, c)) as f32
        }),
        y: Array2::from_shape_fn((64, 64), |(r, _)| {
            (2.0 * std::f64::consts::PI * (r % 16) as f64 / 16.0).cos() as f32
        }),
    };
    let map = ClassMap::new(Array2::from_shape_fn((64, 64), |(r, c)| {
        if (40..43).contains(&r) && (21..24).contains(&c) {
            Class::MU
        } else if ((6..14).contains(&r) && (46..54).contains(&c) && (r + c) % 2 == 0)
            || (r % 16 == 5 && c % 16 == 9)
        {
            Class::LU
        } else {
            Class::RD
        }
    }));
    let found = locate("planted", &map, Some(&com), &truth);
    // The class map alone ranks the larger decoy first; the CoM field, alone or with the map,
    // points at the bump.
    assert!(found.class_map.distance_cells.unwrap() > 2.0, "{found:?}");
    let by_com = found.com.as_ref().unwrap();
    let joint = found.joint.as_ref().unwrap();
    assert!(by_com.distance_px.unwrap() < 1.0, "{by_com:?}");
    assert!(joint.distance_px.unwrap() < 1.5, "{joint:?}");
    // A purely periodic field has nothing to report.
    let periodic = ComField {
        x: Array2::from_shape_fn((64, 64), |(_, c)| (c % 16) as f32 * 0.1),
        y: com.y.clone(),
    };
    let scores = polarmap_core::maps::com_anomaly_scores(&periodic, &truth.search());
    assert!(scores.iter().all(|&s| s == 0.0), "{scores:?}");
}

#[test]
fn the_vacancy_site_is_read_from_a_simulated_scans_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("defect.npy");
    let job = &polarmap_sim::job::preset("paper-defect").unwrap()[0];
    let sidecar = job.sidecar(100, 197.5);
    sidecar.write(&path.with_extension("meta.json")).unwrap();
    let truth = DefectTruth::of_scan(&path, [128, 128]).unwrap();
    let expected = job.defect_scan_position().unwrap();
    assert_eq!(truth.position, expected);
    assert_eq!(truth.period_px, Some([32, 32]));
    assert_eq!(truth.wrap_px, Some([128.0, 128.0]));
    assert!((truth.lattice_a - 3.95).abs() < 1e-12);
    // A scan without a defect record is an error naming the file.
    let plain = dir.path().join("plain.npy");
    polarmap_sim::job::preset("quick").unwrap()[0]
        .sidecar(10, 39.5)
        .write(&plain.with_extension("meta.json"))
        .unwrap();
    let err = DefectTruth::of_scan(&plain, [16, 16]).unwrap_err();
    assert!(err.to_string().contains("plain"), "{err}");
}

#[test]
fn the_command_line_runs_a_selected_subset_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let (train, tests) = write_data(dir.path());
    let out = dir.path().join("out");
    let bench = || {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_polarmap"))
            .args(["bench", "--train"])
            .arg(&train)
            .arg("--tests")
            .arg(&tests)
            .args(["--models", "pca", "--configs", "none", "--seeds", "5,6"])
            .args(["--input-size", "16"])
            .args(["--device", "cpu", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        assert!(o.status.success(), "{}", text(&o.stderr));
        (text(&o.stdout), text(&o.stderr))
    };
    let (stdout, stderr) = bench();
    assert!(
        stdout.contains("| model | test split | t-RD | t-mixed |"),
        "{stdout}"
    );
    assert!(stdout.contains("| PCA |"), "{stdout}");
    assert!(stderr.contains("trained 2, cached 0"), "{stderr}");
    assert!(out.join("runs/none/pca/seed-6/test-t-mixed.json").exists());
    assert!(out.join("maps-t-mixed.png").exists());
    let (again, stderr) = bench();
    assert!(stderr.contains("trained 0, cached 2"), "{stderr}");
    assert_eq!(stdout, again);
}
