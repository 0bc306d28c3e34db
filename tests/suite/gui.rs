//! The desktop app driven headless through egui_kittest: real widgets, real pointer and key
//! events, real background jobs; no window, no GPU.
#![cfg(feature = "gui")]

use eframe::egui::{self, Key, Modifiers, Pos2, Rect};
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use polarmap::gui::data::SourceKind;
use polarmap::gui::{demo_path, PolarmapApp, Startup};
use polarmap_core::maps::ClassMap;
use polarmap_core::Class;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn app_on(path: Option<PathBuf>) -> Harness<'static, PolarmapApp> {
    let mut harness = Harness::builder()
        .with_size([1500.0, 950.0])
        .build_eframe(move |cc| {
            PolarmapApp::new(
                cc,
                Startup {
                    path,
                    persist: false,
                },
            )
        });
    settle(&mut harness);
    harness
}

/// Steps frames until no background job runs (and the UI has caught up with their answers).
fn settle(harness: &mut Harness<'static, PolarmapApp>) {
    let start = Instant::now();
    loop {
        harness.step();
        if !harness.state().is_busy() {
            harness.step();
            harness.step();
            if !harness.state().is_busy() {
                break;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "background jobs did not finish"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    harness.run();
}

/// Shows the scan's ground truth in the class view (the model's map is shown by default).
fn show_truth(harness: &mut Harness<'static, PolarmapApp>) {
    harness.get_by_label("ground truth").click();
    settle(harness);
    let data = harness.state().state.data.as_ref().unwrap();
    assert_eq!(data.classes().unwrap().kind, SourceKind::Truth);
}

/// The shipped default model's predictions over a scan, from the library alone.
fn library_predictions(path: &Path) -> polarmap_core::models::ScanPredictions {
    let progress = polarmap_core::progress::Progress::new();
    let session = polarmap_core::Session::open(path, &Default::default(), &progress).unwrap();
    let model = polarmap_core::models::load(
        &polarmap_core::models::shipped_dir().join(polarmap_core::models::DEFAULT_MODEL),
        polarmap_core::models::DeviceChoice::Cpu,
    )
    .unwrap();
    session
        .predict(model.as_ref(), &progress, |_, _| {})
        .unwrap()
}

/// Scrolls the right-hand panel (inspector, model, regions, defects) to its end.
fn scroll_side_panel_down(harness: &mut Harness<'static, PolarmapApp>) {
    harness.hover_at(Pos2::new(1300.0, 400.0));
    harness.step();
    harness.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Point,
        delta: egui::vec2(0.0, -5000.0),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Unknown,
        modifiers: Modifiers::NONE,
    });
    // The scroll animates over a few frames.
    harness.run_steps(10);
}

/// The demo's ground truth, read independently of the app.
fn demo_truth() -> ClassMap {
    let labels =
        polarmap_core::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo_labels.npy"))
            .expect("demo labels open");
    let [rows, cols] = labels.frame_shape();
    let values = labels.frame_f32(0, 0).unwrap();
    ClassMap::new(
        ndarray::Array2::from_shape_vec(
            (rows, cols),
            values
                .iter()
                .map(|&v| Class::from_index(v as usize).unwrap())
                .collect(),
        )
        .unwrap(),
    )
}

/// Screen position of the centre of scan pixel (row, col) on a view showing the whole scan.
fn pixel_pos(view: Rect, dims: (usize, usize), row: f32, col: f32) -> Pos2 {
    let (rows, cols) = (dims.0 as f32, dims.1 as f32);
    let scale = (view.width() / cols).min(view.height() / rows);
    let origin = view.center() - egui::vec2(cols, rows) * scale / 2.0;
    origin + egui::vec2(col + 0.5, row + 0.5) * scale
}

fn click_at(harness: &mut Harness<'static, PolarmapApp>, pos: Pos2) {
    harness.hover_at(pos);
    harness.step();
    harness.drag_at(pos);
    harness.step();
    harness.event(egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed: false,
        modifiers: Modifiers::NONE,
    });
    harness.step();
}

fn drag(harness: &mut Harness<'static, PolarmapApp>, from: Pos2, to: Pos2) {
    harness.hover_at(from);
    harness.step();
    harness.drag_at(from);
    harness.step();
    for i in 1..=5 {
        harness.hover_at(from + (to - from) * (i as f32 / 5.0));
        harness.step();
    }
    harness.drop_at(to);
    harness.step();
}

#[test]
fn clicking_a_pixel_shows_its_class_in_the_inspector_and_arrows_move_it() {
    let mut harness = app_on(Some(demo_path()));
    show_truth(&mut harness);
    let truth = demo_truth();
    let dims = truth.dim();
    assert_eq!(dims, (32, 32));
    let view = harness.get_by_label("class map").rect();
    for (row, col) in [(5usize, 24usize), (20, 3)] {
        click_at(&mut harness, pixel_pos(view, dims, row as f32, col as f32));
        settle(&mut harness);
        assert_eq!(harness.state().state.linked.selected, Some([row, col]));
        let class = truth.classes[(row, col)];
        harness.get_by_label(&format!("Pixel ({row}, {col}) — class {class}"));
    }
    // The pattern of that pixel was read and is on screen.
    assert_eq!(harness.state().views.inspector.shown_pixel(), Some([20, 3]));

    // Arrow keys move the selection (with the pointer off the views).
    harness.remove_cursor();
    harness.step();
    harness.key_press(Key::ArrowRight);
    harness.key_press(Key::ArrowDown);
    settle(&mut harness);
    assert_eq!(harness.state().state.linked.selected, Some([21, 4]));
    let class = truth.classes[(21, 4)];
    harness.get_by_label(&format!("Pixel (21, 4) — class {class}"));
}

#[test]
fn a_dragged_rectangle_reports_the_librarys_majority() {
    let mut harness = app_on(Some(demo_path()));
    show_truth(&mut harness);
    let truth = demo_truth();
    let dims = truth.dim();
    harness.get_by_label("Rectangle").click();
    harness.run();
    let view = harness.get_by_label("virtual image").rect();
    // From the top-left corner of pixel (2, 10) to the bottom-right corner of pixel (19, 27):
    // more RD (columns 16..) than RM.
    let from = pixel_pos(view, dims, 1.5, 9.5);
    let to = pixel_pos(view, dims, 19.5, 27.5);
    drag(&mut harness, from, to);
    settle(&mut harness);

    let regions = &harness.state().state.regions.entries;
    assert_eq!(regions.len(), 1);
    let region = regions[0].region.clone();
    assert_eq!(
        region,
        polarmap_core::maps::Region::Rect {
            row0: 2,
            col0: 10,
            row1: 20,
            col1: 28
        }
    );
    let expected = truth.stats(Some(&region));
    let majority = expected.majority.expect("the region has pixels");
    assert_eq!(majority, Class::RD);
    let shown = format!(
        "Region 1: majority {majority}, {} px ({:.0} %)",
        expected.pixels,
        100.0 * expected.fractions()[majority.index()]
    );
    harness.get_by_label(&shown);
    assert_eq!(regions[0].stats.as_ref(), Some(&expected));

    // Removing it empties the list.
    harness.get_by_label("remove").scroll_to_me();
    harness.run();
    harness.get_by_label("remove").click();
    harness.run();
    assert!(harness.state().state.regions.entries.is_empty());
}

/// Opens File ▸ Export… and types `path` into the export path.
fn export_to(harness: &mut Harness<'static, PolarmapApp>, path: &Path) {
    harness.get_by_label("File").click();
    harness.run();
    harness.get_by_label("Export…").click();
    harness.run();
    let field = harness.get_by_label("Export path");
    field.focus();
    harness.run();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    harness
        .get_by_label("Export path")
        .type_text(&path.display().to_string());
    harness.run();
}

#[test]
fn export_writes_a_class_map_figure_remembers_its_folder_and_never_overwrites_unasked() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("classes.png");
    let mut harness = app_on(Some(demo_path()));
    show_truth(&mut harness);
    harness.get_by_label("File").click();
    harness.run();
    harness.get_by_label("Export…").click();
    harness.run();
    // A figure is the default; choose the class map alone.
    harness
        .get_by_role_and_label(egui::accesskit::Role::ComboBox, "view")
        .click();
    harness.run();
    harness
        .get_by_role_and_label(egui::accesskit::Role::Button, "class map")
        .click();
    harness.run();
    export_to(&mut harness, &out);
    harness.get_by_label("Save").click();
    settle(&mut harness);

    // 85 mm at 300 DPI, not a 32-pixel image; each scan pixel a square of its class colour
    // where the figure's layout puts the panel.
    let image = image::open(&out).expect("the PNG was written").to_rgb8();
    assert_eq!(image.width(), (85.0f64 / 25.4 * 300.0).round() as u32);
    let truth = demo_truth();
    let settings = harness.state().dialogs.export.settings.clone();
    assert_eq!(settings.figure.view, polarmap_core::figure::View::Classes);
    let data = polarmap_core::figure::FigureData {
        classes: Some(("ground truth", &truth)),
        scan_step_a: harness
            .state()
            .state
            .data
            .as_ref()
            .unwrap()
            .calibration
            .scan_step_a,
        ..Default::default()
    };
    let layout = polarmap_core::figure::Figure::new(&data, &settings.figure).unwrap();
    assert_eq!(image.height(), layout.drawing.height);
    let panel = layout.panels[0];
    let k = panel.scale as u32;
    assert!(k >= 20, "{k}");
    for ((r, c), &class) in truth.classes.indexed_iter() {
        let (x, y) = (panel.x as u32 + c as u32 * k, panel.y as u32 + r as u32 * k);
        for (dx, dy) in [(0, 0), (k - 1, k - 1)] {
            assert_eq!(
                image.get_pixel(x + dx, y + dy).0,
                polarmap_core::colour::class_colour(class),
                "pixel ({r}, {c})"
            );
        }
    }
    // The folder is remembered: the next export starts there.
    assert_eq!(settings.folder.as_deref(), Some(dir.path()));
    harness.get_by_label("File").click();
    harness.run();
    harness.get_by_label("Export…").click();
    harness.run();
    let suggested = PathBuf::from(&harness.state().dialogs.export.path);
    assert_eq!(suggested.parent(), Some(dir.path()));
    assert_eq!(suggested.extension().unwrap(), "png");
    let written = std::fs::metadata(&out).unwrap().modified().unwrap();

    // Saving again asks first; Cancel leaves the file alone.
    export_to(&mut harness, &out);
    harness.get_by_label("Save").click();
    harness.run();
    harness.get_by_label_contains("already exists. Replace it?");
    harness.get_by_label("Cancel").click();
    settle(&mut harness);
    assert_eq!(
        std::fs::metadata(&out).unwrap().modified().unwrap(),
        written
    );
}

#[derive(Debug)]
struct Dropped(PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

#[test]
fn a_corrupt_file_gives_an_error_in_the_window_and_the_app_keeps_running() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("corrupt.npy");
    std::fs::write(&bad, b"\x93NUMPY\x01\x00\x20\x00{'descr': '<u2', garbage").unwrap();
    let mut harness = app_on(Some(demo_path()));
    harness
        .input_mut()
        .dropped_files
        .push(std::sync::Arc::new(Dropped(bad.clone())));
    settle(&mut harness);
    harness.get_by_label_contains("corrupt.npy");
    // The demo is still open and still answers.
    let data = harness
        .state()
        .state
        .data
        .as_ref()
        .expect("the demo stays open");
    assert!(data.path.ends_with("demo.npy"));
    harness.get_by_label("Dismiss").click();
    harness.run();
    assert!(harness.state().state.errors.is_empty());
    assert!(harness.query_by_label_contains("corrupt.npy").is_none());

    // A missing file at start-up is an error in the window too, not a crash.
    let harness = app_on(Some(dir.path().join("missing.npy")));
    harness.get_by_label_contains("missing.npy");
    assert!(harness.state().state.data.is_none());
}

#[test]
fn a_lasso_region_reports_the_librarys_majority() {
    let mut harness = app_on(Some(demo_path()));
    show_truth(&mut harness);
    let truth = demo_truth();
    let dims = truth.dim();
    harness.get_by_label("Lasso").click();
    harness.run();
    let view = harness
        .get_by_role_and_label(egui::accesskit::Role::Image, "CoM field")
        .rect();
    // A triangle over both domains, mostly on the RM side.
    let path = [(4.0, 2.0), (28.0, 2.0), (16.0, 20.0), (4.0, 2.0)];
    let points: Vec<Pos2> = path
        .iter()
        .map(|&(r, c)| pixel_pos(view, dims, r, c))
        .collect();
    harness.hover_at(points[0]);
    harness.step();
    harness.drag_at(points[0]);
    harness.step();
    for pair in points.windows(2) {
        for i in 1..=8 {
            harness.hover_at(pair[0] + (pair[1] - pair[0]) * (i as f32 / 8.0));
            harness.step();
        }
    }
    harness.drop_at(points[3]);
    harness.step();
    settle(&mut harness);

    let entry = &harness.state().state.regions.entries[0];
    assert!(matches!(
        entry.region,
        polarmap_core::maps::Region::Polygon { .. }
    ));
    let expected = truth.stats(Some(&entry.region));
    assert!(expected.pixels > 50, "{expected:?}");
    assert_eq!(entry.stats.as_ref(), Some(&expected));
    let majority = expected.majority.unwrap();
    assert_eq!(majority, Class::RM);
    harness.get_by_label_contains(&format!(
        "Region 1: majority {majority}, {} px",
        expected.pixels
    ));
}

/// A 24×24 scan whose sidecar labels are RD everywhere except a 3×3 MU patch at rows 10–12,
/// columns 15–17 (a candidate defect).
fn scan_with_defect(dir: &Path) -> PathBuf {
    let (rows, cols, det) = (24usize, 24usize, 16usize);
    let mut frames = Vec::with_capacity(rows * cols * det * det);
    for i in 0..rows * cols {
        for p in 0..det * det {
            let (y, x) = ((p / det) as f32 - 7.5, (p % det) as f32 - 7.5);
            let disk = if x.hypot(y) < 4.0 { 100.0 } else { 1.0 };
            frames.push(disk + (i % 5) as f32);
        }
    }
    let scan = dir.join("patch.npy");
    polarmap_core::export::write_npy_f32(&scan, &[rows, cols, det, det], &frames, false).unwrap();
    let labels: Vec<f32> = (0..rows * cols)
        .map(|i| {
            let (r, c) = (i / cols, i % cols);
            let class = if (10..13).contains(&r) && (15..18).contains(&c) {
                Class::MU
            } else {
                Class::RD
            };
            class.index() as f32
        })
        .collect();
    polarmap_core::export::write_npy_f32(
        &dir.join("patch_labels.npy"),
        &[rows, cols],
        &labels,
        false,
    )
    .unwrap();
    std::fs::write(
        dir.join("patch.meta.json"),
        r#"{"scan_step_a": 0.5, "labels": "patch_labels.npy"}"#,
    )
    .unwrap();
    scan
}

#[test]
fn candidate_defects_are_listed_and_a_click_zooms_to_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = app_on(Some(scan_with_defect(dir.path())));
    show_truth(&mut harness);
    let state = harness.state();
    assert_eq!(state.state.linked.dims, (24, 24));
    let found = &state.state.defects.found;
    assert_eq!(found.len(), 1, "{found:?}");
    let d = found[0].clone();
    assert_eq!(d.class, Class::MU);
    assert!((d.center_row - 11.0).abs() < 0.5 && (d.center_col - 16.0).abs() < 0.5);
    let text = format!(
        "#1 at ({:.1}, {:.1}): {} px, MU, score {:.2}",
        d.center_row, d.center_col, d.pixels, d.score
    );
    scroll_side_panel_down(&mut harness);
    harness.get_by_label(&text).click();
    settle(&mut harness);
    let linked = &harness.state().state.linked;
    assert_eq!(linked.selected, Some([11, 16]));
    assert!(linked.transform.zoom > 1.0);
    // A threshold above every anomaly score empties the list.
    harness.state_mut().views.defects.search.threshold = 1.0;
    settle(&mut harness);
    harness.get_by_label("No candidate defects at this threshold.");
}

#[test]
fn opening_the_demo_runs_the_default_model_and_shows_its_map() {
    let harness = app_on(Some(demo_path()));
    let expected = library_predictions(&demo_path());
    let data = harness.state().state.data.as_ref().unwrap();
    let shown = data.classes().expect("a class map is on screen");
    assert_eq!(shown.kind, SourceKind::Model);
    assert!(shown.is_complete());
    assert_eq!(shown.map.classes, expected.classes);
    assert_eq!(shown.scores.as_ref(), Some(&expected.scores));
    // The model differs from the ground truth somewhere (else this test could not tell them
    // apart), and its agreement with it is reported.
    let truth = demo_truth();
    assert_ne!(expected.classes, truth.classes);
    let accuracy = polarmap_core::maps::agreement(&truth.classes, &expected.classes).unwrap();
    assert_eq!(shown.accuracy, Some(accuracy));
    harness.get_by_label(&format!(
        "agrees with the ground truth on {:.1} % of pixels",
        100.0 * accuracy
    ));
    harness.get_by_label(&format!("source: {} (pca-knn.pmm)", expected.model));
    // The model panel lists the shipped model, selected, with its card.
    assert!(harness
        .state()
        .views
        .model
        .selected
        .as_ref()
        .unwrap()
        .ends_with("pca-knn.pmm"));
    harness.get_by_label("pca-knn.pmm");
    let card = polarmap_core::models::card::ModelCard::read(
        &polarmap_core::models::shipped_dir().join("pca-knn.card.json"),
    )
    .unwrap();
    harness.get_by_label(&format!(
        "{:.1} % accuracy",
        100.0 * card.test_accuracy().unwrap()
    ));
    harness.get_by_label(&card.command);
    // Ground truth stays selectable.
    assert!(data.truth.is_some());
}

#[test]
fn clicking_a_pixel_shows_the_models_class_scores_and_crop() {
    let mut harness = app_on(Some(demo_path()));
    let expected = library_predictions(&demo_path());
    let truth = demo_truth();
    let dims = truth.dim();
    // One pixel where the model disagrees with the ground truth, one where it agrees.
    let wrong = expected
        .classes
        .indexed_iter()
        .find(|&(ix, &c)| c != truth.classes[ix])
        .map(|(ix, _)| ix)
        .unwrap();
    let right = expected
        .classes
        .indexed_iter()
        .find(|&(ix, &c)| c == truth.classes[ix] && ix.1 > 2)
        .map(|(ix, _)| ix)
        .unwrap();
    let view = harness.get_by_label("class map").rect();
    for (row, col) in [wrong, right] {
        click_at(&mut harness, pixel_pos(view, dims, row as f32, col as f32));
        settle(&mut harness);
        assert_eq!(harness.state().state.linked.selected, Some([row, col]));
        let class = expected.classes[(row, col)];
        harness.get_by_label(&format!("Pixel ({row}, {col}) — class {class}"));
        harness.get_by_label(&format!("ground truth: {}", truth.classes[(row, col)]));
        let data = harness.state().state.data.as_ref().unwrap();
        let scores = data
            .prediction
            .as_ref()
            .unwrap()
            .scores_at([row, col])
            .unwrap();
        for (k, s) in scores.iter().enumerate() {
            assert_eq!(*s, expected.scores[(row, col, k)]);
        }
        harness.get_by_label(&format!("Class scores of {} (pca-knn.pmm)", expected.model));
    }
    // The crop box is the one the library used.
    let data = harness.state().state.data.as_ref().unwrap();
    let (geometry, size) = data.prediction.as_ref().unwrap().input.unwrap();
    assert_eq!(geometry.frame_shape, expected.input.frame_shape);
    assert_eq!(geometry.scale, expected.input.scale);
    for k in 0..2 {
        // The survey sums in parallel: the last bits may differ between runs.
        assert!((geometry.center[k] - expected.input.center[k]).abs() < 1e-9);
    }
    assert_eq!(size, 64);
}

#[test]
fn a_corrupt_model_file_gives_an_error_in_the_window_and_the_app_keeps_running() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("corrupt.pmm");
    std::fs::write(&bad, b"PMM\x00 this is not a model file").unwrap();
    let mut harness = app_on(Some(demo_path()));
    assert!(harness.state().state.errors.is_empty());
    harness.get_by_label("Model path").scroll_to_me();
    harness.run();
    let field = harness.get_by_label("Model path");
    field.focus();
    harness.run();
    harness
        .get_by_label("Model path")
        .type_text(&bad.display().to_string());
    harness.run();
    harness.get_by_label("Use").click();
    settle(&mut harness);
    let state = harness.state();
    assert_eq!(state.state.errors.len(), 1, "{:?}", state.state.errors);
    assert!(
        state.state.errors[0].contains("corrupt.pmm"),
        "{:?}",
        state.state.errors
    );
    harness.get_by_label_contains("Error: inference with corrupt.pmm");
    // The scan stays open and the app keeps answering: another model runs fine.
    assert!(harness.state().state.data.is_some());
    harness.get_by_label("pca-knn.pmm").scroll_to_me();
    harness.run();
    harness.get_by_label("pca-knn.pmm").click();
    settle(&mut harness);
    let data = harness.state().state.data.as_ref().unwrap();
    let p = data.prediction.as_ref().unwrap();
    assert!(p.is_complete() && p.source.contains("pca-knn.pmm"));
}

#[test]
fn the_train_dialog_trains_on_a_labelled_scan_and_lists_the_new_model() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tiny.pmm");
    let mut harness = app_on(Some(demo_path()));
    harness.get_by_label("Models").click();
    harness.run();
    harness.get_by_label("Train…").click();
    harness.run();
    harness.get_by_label("Add the open scan").click();
    harness.run();
    assert_eq!(harness.state().dialogs.train.scans, vec![demo_path()]);
    // A small run: 60 patterns per class (the demo has RM and RD).
    harness.state_mut().dialogs.train.max_per_class = 60;
    harness.get_by_label("2×").click();
    harness.run();
    assert_eq!(harness.state().dialogs.train.input_binning, 2);
    let field = harness.get_by_label("Model file");
    field.focus();
    harness.run();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    harness
        .get_by_label("Model file")
        .type_text(&out.display().to_string());
    harness.run();
    harness.get_by_label("Train").click();
    settle(&mut harness);
    assert!(
        harness.state().state.errors.is_empty(),
        "{:?}",
        harness.state().state.errors
    );
    assert!(out.exists());
    let card = polarmap_core::models::card::ModelCard::read(
        &polarmap_core::models::card::ModelCard::path_for(&out),
    )
    .unwrap();
    let accuracy = card.test_accuracy().unwrap();
    assert!(
        card.command.contains("--max-per-class 60") && card.command.contains("--input-binning 2"),
        "{}",
        card.command
    );
    assert_eq!(card.input["size"], 32, "{:?}", card.input);
    harness.get_by_label(&format!(
        "Trained tiny.pmm: test-split accuracy {:.1} %",
        100.0 * accuracy
    ));
    // The new model is listed in the model panel and runs on the scan when clicked.
    assert!(harness.state().views.model.models.contains(&out));
    harness.get_by_label("tiny.pmm").scroll_to_me();
    harness.run();
    harness.get_by_label("tiny.pmm").click();
    settle(&mut harness);
    let data = harness.state().state.data.as_ref().unwrap();
    let p = data.prediction.as_ref().unwrap();
    assert!(
        p.is_complete() && p.source.contains("tiny.pmm"),
        "{}",
        p.source
    );

    // Training again into the same file asks first; keeping it leaves the file alone.
    let written = std::fs::metadata(&out).unwrap().modified().unwrap();
    harness.get_by_label("Train").click();
    harness.run();
    harness.get_by_label_contains("already exists. Replace it?");
    harness.get_by_label("Keep it").click();
    settle(&mut harness);
    assert_eq!(
        std::fs::metadata(&out).unwrap().modified().unwrap(),
        written
    );
}

#[test]
fn the_simulate_dialog_writes_a_labelled_scan_and_opens_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = app_on(Some(demo_path()));
    settle(&mut harness);
    harness.get_by_label("Models").click();
    harness.run();
    harness.get_by_label("Simulate…").click();
    harness.run();
    // The quick preset (one small RD scan) into a fresh folder.
    harness.state_mut().dialogs.simulate.preset = "quick".into();
    harness.state_mut().dialogs.simulate.dir = dir.path().display().to_string();
    harness.run();
    harness.get_by_label("Simulate").click();
    settle(&mut harness);
    assert!(
        harness.state().state.errors.is_empty(),
        "{:?}",
        harness.state().state.errors
    );
    let written: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "npy"))
        .collect();
    assert_eq!(written.len(), 1, "{written:?}");
    // The new scan is open, with its labels, and offered to the training dialog.
    let data = harness.state().state.data.as_ref().unwrap();
    assert_eq!(data.path, written[0]);
    let scan = polarmap_core::scan::open(&written[0]).unwrap();
    assert_eq!(scan.scan_shape(), [16, 16]);
    assert!(scan.labels.is_some());
    assert!(harness.state().dialogs.train.scans.contains(&written[0]));
}

/// eframe's storage, in memory.
#[derive(Default)]
struct Memory(std::collections::HashMap<String, String>);

impl eframe::Storage for Memory {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

#[test]
fn the_views_toggles_are_kept_between_runs() {
    let mut harness = app_on(Some(demo_path()));
    // Toggles of three views, changed through their widgets.
    harness.get_by_label("BF").click();
    harness.get_by_label("arrows").click();
    harness.get_by_label("follow pointer").click();
    settle(&mut harness);
    let views = &harness.state().views;
    assert_eq!(
        views.virtual_image.kind,
        polarmap::gui::views::virtual_image::VirtualKind::Bf
    );
    assert!(!views.com.arrows && !views.inspector.follow_hover);
    let export = &mut harness.state_mut().dialogs.export.settings;
    export.figure.dpi = 600.0;
    export.format = polarmap_core::figure::Format::Svg;
    export.folder = Some(std::env::temp_dir());
    let export = export.clone();
    let mut storage = Memory::default();
    harness.state().save_to(&mut storage);

    // The next run starts with them, and with nothing that was only cached.
    let mut next = Harness::builder()
        .with_size([1500.0, 950.0])
        .build_eframe(move |cc| {
            let startup = Startup {
                path: Some(demo_path()),
                persist: false,
            };
            PolarmapApp::with_storage(cc, startup, Some(&storage as &dyn eframe::Storage))
        });
    settle(&mut next);
    let views = &next.state().views;
    assert_eq!(
        views.virtual_image.kind,
        polarmap::gui::views::virtual_image::VirtualKind::Bf
    );
    assert!(!views.com.arrows && !views.inspector.follow_hover);
    assert!(views.com.descan_removed && views.inspector.log_scale);
    // So does the export dialog, with the folder of the last export.
    assert_eq!(next.state().dialogs.export.settings, export);
    // The demo was opened, so it is the most recent file.
    assert_eq!(next.state().state.settings.recent, vec![demo_path()]);
}

#[test]
fn a_failed_open_that_was_replaced_does_not_hide_the_open_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("corrupt.npy");
    std::fs::write(&bad, b"\x93NUMPY\x01\x00\x20\x00{'descr': '<u2', garbage").unwrap();
    let mut harness = app_on(None);
    // Two requests in one frame: the first is replaced by the second, but still fails.
    harness.state_mut().open(bad);
    harness.state_mut().open(demo_path());
    let start = Instant::now();
    while harness.state().state.data.is_none() {
        // Until the demo is on screen, the window says it is being opened.
        let opening = harness
            .state()
            .state
            .opening
            .as_ref()
            .map(|o| o.path.clone());
        assert_eq!(opening, Some(demo_path()));
        harness.step();
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the demo did not open"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    settle(&mut harness);
    // The replaced job's failure is reported all the same (it may come last).
    while harness.state().state.errors.is_empty() {
        harness.step();
        assert!(start.elapsed() < Duration::from_secs(60), "no error shown");
        std::thread::sleep(Duration::from_millis(1));
    }
    harness.run();
    assert!(harness.state().state.opening.is_none());
    assert!(harness
        .state()
        .state
        .data
        .as_ref()
        .unwrap()
        .path
        .ends_with("demo.npy"));
    harness.get_by_label_contains("corrupt.npy");
}

#[test]
fn labelling_a_region_and_adapting_the_model_moves_the_map_to_the_label() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = app_on(Some(demo_path()));
    let dims = (32, 32);
    let before = {
        let data = harness.state().state.data.as_ref().unwrap();
        data.prediction.as_ref().unwrap().map.classes.clone()
    };
    let lm_share = |map: &ndarray::Array2<Class>| {
        let part = map.slice(ndarray::s![.., 8..16]);
        part.iter().filter(|&&c| c == Class::LM).count() as f64 / part.len() as f64
    };
    assert!(
        lm_share(&before) < 0.05,
        "the default model sees no LM there"
    );
    // A rectangle over columns 0-7 of the RM domain, then "this is LM".
    harness.get_by_label("Rectangle").click();
    harness.run();
    let view = harness.get_by_label("virtual image").rect();
    drag(
        &mut harness,
        pixel_pos(view, dims, -0.5, -0.5),
        pixel_pos(view, dims, 31.5, 7.5),
    );
    settle(&mut harness);
    assert_eq!(harness.state().state.regions.entries.len(), 1);
    harness.get_by_label("class of Region 1").scroll_to_me();
    harness.run();
    harness.get_by_label("class of Region 1").click();
    harness.run();
    // The popup's entry (the class view's legend says "LM" too, further left).
    let entry = harness
        .get_all_by_label("LM")
        .max_by(|a, b| a.rect().left().total_cmp(&b.rect().left()))
        .unwrap();
    entry.click();
    harness.run();
    assert_eq!(
        harness.state().state.regions.entries[0].label,
        Some(Class::LM)
    );
    harness.get_by_label("Adapt model").click();
    settle(&mut harness);
    assert!(
        harness.state().state.errors.is_empty(),
        "{:?}",
        harness.state().state.errors
    );
    let data = harness.state().state.data.as_ref().unwrap();
    let adapted = data.prediction.as_ref().unwrap();
    assert!(
        adapted.is_complete() && adapted.source.contains("adapted to 256 labelled px"),
        "{}",
        adapted.source
    );
    // The unlabelled half of the domain followed the label.
    let after = lm_share(&adapted.map.classes);
    assert!(after > 0.5, "LM share of columns 8-15: {after}");
    // Save the adapted model: written with its card and listed with the models.
    let out = dir.path().join("adapted.pmm");
    harness.state_mut().views.regions.save_path = out.display().to_string();
    harness.get_by_label("Save adapted model…").scroll_to_me();
    harness.run();
    harness.get_by_label("Save adapted model…").click();
    settle(&mut harness);
    assert!(out.exists(), "{:?}", harness.state().state.errors);
    let card = polarmap_core::models::card::ModelCard::read(
        &polarmap_core::models::card::ModelCard::path_for(&out),
    )
    .unwrap();
    let adaptation = card.adaptation.unwrap();
    assert_eq!(adaptation.labelled_pixels["LM"], 256);
    assert!(adaptation.source_scan.ends_with("demo.npy"));
    assert!(harness.state().views.model.models.contains(&out));
    // Saving again asks before replacing.
    harness.get_by_label("Save adapted model…").click();
    harness.run();
    harness.get_by_label("adapted.pmm exists.");
}
