//! Domains and walls on the demo: a simulated two-domain mosaic (RM in columns 0–15, RD in
//! 16–31), so the wall was made at column 15.5 and its type is known.

use polarmap_core::classes::Class;
use polarmap_core::domains::{DomainSettings, Domains, WallKind};
use polarmap_core::maps::circular_distance;
use polarmap_core::models::{self, DeviceChoice};
use polarmap_core::session::Session;
use polarmap_core::Progress;
use std::path::Path;

fn demo() -> Session {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.npy");
    Session::open(&path, &Default::default(), &Progress::new()).unwrap()
}

/// The wall between the RM and the RD domain: its kind and the median column of its points.
fn rm_rd_wall(domains: &Domains) -> (WallKind, f64, usize) {
    let class = |id: u32| domains.domains[id as usize - 1].class;
    let wall = domains
        .walls
        .iter()
        .filter(|w| {
            let pair = [class(w.domains[0]), class(w.domains[1])];
            pair.contains(&Class::RM) && pair.contains(&Class::RD)
        })
        .max_by_key(|w| w.length_px)
        .expect("an RM–RD wall");
    let mut cols: Vec<f64> = wall.points.iter().map(|p| p[1]).collect();
    cols.sort_by(f64::total_cmp);
    (wall.kind, cols[cols.len() / 2], wall.length_px)
}

#[test]
fn the_demo_wall_is_found_where_it_was_made_and_typed() {
    let session = demo();
    let truth = session.labels().unwrap().expect("the demo has labels");
    let expected_kind = match circular_distance(Class::RM, Class::RD) {
        4 => WallKind::Deg180,
        2 => WallKind::Deg90,
        _ => WallKind::Other,
    };
    // On the ground truth: exactly one wall, straight down column 15.5, 32 edges long.
    let d = Domains::find(&truth, None, DomainSettings::default());
    assert_eq!(d.domains.len(), 2);
    assert_eq!(d.walls.len(), 1);
    let (kind, col, length) = rm_rd_wall(&d);
    assert_eq!((kind, col, length), (expected_kind, 15.5, 32));

    // On the default model's map: the wall within one scan pixel of where it was made.
    let model = models::load(
        &models::shipped_dir().join(models::DEFAULT_MODEL),
        DeviceChoice::Cpu,
    )
    .unwrap();
    let evaluation = session
        .evaluate(&*model, &Progress::new(), |_, _| {})
        .unwrap();
    let map = evaluation.class_map();
    let d = Domains::find(&map.classes, None, DomainSettings::default());
    let (kind, col, _) = rm_rd_wall(&d);
    assert_eq!(kind, expected_kind);
    assert!((col - 15.5).abs() <= 1.0, "median wall column {col}");
}

/// Made walls (the `mosaic.walls` a mosaic's sidecar lists) against found ones: every made wall
/// has a found wall between domains of its two classes, of its kind, every point within `tol`
/// scan pixels of the made line; returns the total length of the walls matching none.
fn check_walls(made: &serde_json::Value, d: &Domains, tol: f64) -> usize {
    let class = |id: u32| d.domains[id as usize - 1].class;
    let mut matched = vec![false; d.walls.len()];
    for m in made.as_array().unwrap() {
        let pair: Vec<Class> = m["classes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| Class::from_name(c.as_str().unwrap()).unwrap())
            .collect();
        let kind = match circular_distance(pair[0], pair[1]) {
            4 => WallKind::Deg180,
            2 => WallKind::Deg90,
            _ => WallKind::Other,
        };
        let vertical = m["orientation"] == "vertical";
        let at = m[if vertical { "col" } else { "row" }].as_f64().unwrap();
        let mut found = 0;
        for (k, w) in d.walls.iter().enumerate() {
            let (a, b) = (class(w.domains[0]), class(w.domains[1]));
            if !(pair.contains(&a) && pair.contains(&b)) {
                continue;
            }
            matched[k] = true;
            assert_eq!(w.kind, kind, "{m}");
            for p in &w.points {
                let off = if vertical { p[1] - at } else { p[0] - at };
                assert!(off.abs() <= tol, "{m}: point {p:?}");
            }
            found += w.length_px;
        }
        assert!(found > 0, "made wall not found: {m}");
    }
    d.walls
        .iter()
        .zip(&matched)
        .filter(|(_, &m)| !m)
        .map(|(w, _)| w.length_px)
        .sum()
}

#[test]
fn a_simulated_four_domain_mosaic_has_its_walls_in_its_labels() {
    // A tiny four-domain mosaic from the simulator (12x12 positions, 16 px detector): the
    // ground-truth map's walls are exactly the ones the sidecar says were made, full length.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("four.npy");
    let mut job = polarmap_sim::Job::knn("four", None, [1, 1, 6], [12, 12], [1, 1]);
    job.params.detector.pixels = 16;
    job.params.detector.max_mrad = 30.0;
    job.params.sampling_a = 0.1;
    let layout = [vec![Class::RU, Class::LD], vec![Class::RD, Class::LU]];
    polarmap_sim::job::write_mosaic(&path, &job, &layout, false, &Progress::new()).unwrap();
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path.with_extension("meta.json")).unwrap())
            .unwrap();
    let made = &meta["mosaic"]["walls"];
    assert_eq!(made.as_array().unwrap().len(), 4);
    let session = Session::open(&path, &Default::default(), &Progress::new()).unwrap();
    assert_eq!(session.scan().shape(), [12, 12, 16, 16]);
    let truth = session.labels().unwrap().expect("the mosaic has labels");
    let d = Domains::find(&truth, None, DomainSettings::default());
    assert_eq!(d.domains.len(), 4);
    assert_eq!(check_walls(made, &d, 0.0), 0);
    // Two 180° walls (RU–LD, RD–LU) and two 90° (RU–RD, LD–LU), 6 edges each.
    assert_eq!(d.wall_lengths(), [12, 12, 0]);
    // Four quadrants polarised four ways cancel: a count majority, but no net direction.
    let stats = polarmap_core::maps::ClassMap::new(truth.clone()).stats(None);
    assert!(stats.majority.is_some());
    assert!(stats.coherence().unwrap().resultant < 1e-9);
    assert_eq!(stats.direction(), None);
}

#[test]
fn walls_of_a_predicted_four_domain_map_lie_within_a_pixel_of_the_made_ones() {
    // The conv-cls model's class map of a 32x32 four-domain mosaic (76 % of pixels right),
    // cached in tests/data/domains (how it was made: the JSON's "source"): every made wall is
    // found, typed right, every point within one scan pixel; islands of misclassified pixels
    // add "other" walls that match no made wall (10 edges).
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/domains");
    let made: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(data.join("four_mosaic_walls.json")).unwrap(),
    )
    .unwrap();
    let scan = polarmap_core::open(data.join("four_conv_cls_classes.npy")).unwrap();
    let values = scan.frame_f32(0, 0).unwrap();
    let classes =
        ndarray::Array2::from_shape_fn((32, 32), |(r, c)| Class::ALL[values[r * 32 + c] as usize]);
    let d = Domains::find(&classes, None, DomainSettings::default());
    let spurious = check_walls(&made["mosaic"]["walls"], &d, 1.0);
    assert_eq!(spurious, 10);
}

#[test]
fn predict_writes_the_domains_and_walls_it_reports() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.npy");
    let dir = tempfile::tempdir().unwrap();
    let out = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let (ok, stdout, stderr) = crate::common::polarmap(&[
        "predict",
        demo.to_str().unwrap(),
        "--device",
        "cpu",
        "--json",
        "--domains-json",
        &out("d.json"),
        "--domains-csv",
        &out("d.csv"),
        "--walls-csv",
        &out("w.csv"),
        "--walls-png",
        &out("w.png"),
    ]);
    assert!(ok, "{stderr}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let d = Domains::read_json(Path::new(&out("d.json"))).unwrap();
    // The file holds what --json summarises, points included.
    assert_eq!(
        summary["domains"]["domains"].as_array().unwrap().len(),
        d.domains.len()
    );
    assert_eq!(
        summary["domains"]["walls"].as_array().unwrap().len(),
        d.walls.len()
    );
    let (kind, col, _) = rm_rd_wall(&d);
    assert_eq!(kind, WallKind::Other);
    assert!((col - 15.5).abs() <= 1.0, "median wall column {col}");
    let points: usize = d.walls.iter().map(|w| w.points.len()).sum();
    let lines = std::fs::read_to_string(out("w.csv"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(lines, points + 1);
    let lines = std::fs::read_to_string(out("d.csv"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(lines, d.domains.len() + 1);
    let png = image::open(out("w.png")).unwrap();
    assert_eq!((png.width(), png.height()), (32 * 4, 32 * 4));
}
