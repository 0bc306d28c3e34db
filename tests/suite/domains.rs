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
