//! The desktop app driven headless through egui_kittest: real widgets, real pointer and key
//! events, real background jobs; no window, no GPU.
#![cfg(feature = "gui")]

use eframe::egui::{self, Key, Modifiers, Pos2, Rect};
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use polarmap::gui::data::SourceKind;
use polarmap::gui::layout::Pane;
use polarmap::gui::{demo_path, PolarmapApp, Startup};
use polarmap_core::maps::ClassMap;
use polarmap_core::Class;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn app_on(path: Option<PathBuf>) -> Harness<'static, PolarmapApp> {
    app_sized(path, [1500.0, 950.0])
}

fn app_sized(path: Option<PathBuf>, size: [f32; 2]) -> Harness<'static, PolarmapApp> {
    app_built(path, size, false)
}

/// The app with egui's wgpu painter behind it, so that `render` gives the window's pixels;
/// None (saying why) where no wgpu adapter is found, a failure where POLARMAP_REQUIRE_WGPU=1
/// (CI installs Mesa's lavapipe).
fn app_rendered(path: Option<PathBuf>, size: [f32; 2]) -> Option<Harness<'static, PolarmapApp>> {
    // Looked for once per test process: every rendering test asks the same question.
    static ADAPTER: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let adapter = ADAPTER.get_or_init(|| {
        let found = polarmap_core::models::DeviceChoice::Gpu.resolve();
        found.map(|_| ()).map_err(|e| e.to_string())
    });
    if let Err(e) = adapter {
        let why = format!("rendering the window needs a wgpu adapter, and none was found: {e}");
        if std::env::var_os("POLARMAP_REQUIRE_WGPU").is_some_and(|v| v == "1") {
            panic!("{why}");
        }
        eprintln!("NOT RUN: {why}");
        return None;
    }
    Some(app_built(path, size, true))
}

fn app_built(path: Option<PathBuf>, size: [f32; 2], render: bool) -> Harness<'static, PolarmapApp> {
    let builder = Harness::builder()
        .with_size(size)
        // A toast fades for a while (simulated time): `run` waits it out.
        .with_max_steps(1000);
    let builder = if render { builder.wgpu() } else { builder };
    let mut harness = builder.build_eframe(move |cc| {
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
    library_predictions_with(path, &Default::default())
}

/// [`library_predictions`] of the scan opened with `options` (e.g. a calibration override).
fn library_predictions_with(
    path: &Path,
    options: &polarmap_core::scan::OpenOptions,
) -> polarmap_core::models::ScanPredictions {
    let progress = polarmap_core::progress::Progress::new();
    let session = polarmap_core::Session::open(path, options, &progress).unwrap();
    let model = polarmap_core::models::load(
        &polarmap_core::models::shipped_dir().join(polarmap_core::models::DEFAULT_MODEL),
        polarmap_core::models::DeviceChoice::Cpu,
    )
    .unwrap();
    session
        .predict(model.as_ref(), &progress, |_, _| {})
        .unwrap()
}

/// The errors logged so far.
fn errors(harness: &Harness<'static, PolarmapApp>) -> Vec<String> {
    let log = &harness.state().state.log;
    log.iter()
        .filter(|e| e.level == polarmap::gui::state::Level::Error)
        .map(|e| e.message.clone())
        .collect()
}

/// Brings a pane to the front of its tabs (as View > Panes does).
fn show_pane(harness: &mut Harness<'static, PolarmapApp>, pane: Pane) {
    harness.state_mut().layout.show(pane);
    harness.run();
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
        harness.get_by_label(&format!("Pixel (row {row}, col {col}) — class {class}"));
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
    harness.get_by_label(&format!("Pixel (row 21, col 4) — class {class}"));
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
            .calibration()
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

    // PDF: chosen in the dialog, the name follows (in the folder being edited); a one-page
    // vector file of the figure's width.
    export_to(&mut harness, &dir.path().join("any.png"));
    harness.get_by_label("PDF").click();
    harness.run();
    let pdf = PathBuf::from(&harness.state().dialogs.export.path);
    assert_eq!(pdf.parent(), Some(dir.path()));
    assert_eq!(pdf.extension().unwrap(), "pdf");
    harness.get_by_label("Save").click();
    settle(&mut harness);
    let bytes = std::fs::read(&pdf).expect("the PDF was written");
    let width = crate::common::pdf_page_width_pt(&bytes);
    // The figure is a whole number of pixels at its DPI: that width, in points.
    let expected = settings.figure.width_px() as f64 / settings.figure.dpi * 72.0;
    // (The SVG it is converted from gives its size in mm to two decimals: ±0.015 pt.)
    assert!((width - expected).abs() < 0.02, "{width} pt, {expected} pt");
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
    // The Log pane keeps it until cleared (it was also a toast, which fades).
    let log = &harness.state().state.log;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].level, polarmap::gui::state::Level::Error);
    harness.get_by_label("Clear log").click();
    harness.run();
    assert!(harness.state().state.log.is_empty());
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
    show_pane(&mut harness, Pane::Defects);
    harness.get_by_label(&text).scroll_to_me();
    harness.run();
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
    let mut harness = app_on(Some(demo_path()));
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
    harness.get_by_label(&format!(
        "source: {} ({})",
        expected.model,
        polarmap_core::models::DEFAULT_MODEL
    ));
    // The legend has a row for each class on the map (determined pixels) and names the absent
    // ones on one line.
    let present = |c: &Class| {
        expected
            .classes
            .iter()
            .zip(expected.determined.iter())
            .any(|(k, &determined)| determined && k == c)
    };
    let absent: Vec<&str> = Class::ALL
        .into_iter()
        .filter(|c| !present(c))
        .map(|c| c.name())
        .collect();
    assert!(
        !absent.is_empty() && absent.len() < Class::COUNT,
        "{absent:?}"
    );
    harness.get_by_label(&format!("absent: {}", absent.join(", ")));
    // The model panel lists the shipped model, selected, with its card.
    assert!(harness
        .state()
        .views
        .model
        .selected
        .as_ref()
        .unwrap()
        .ends_with(polarmap_core::models::DEFAULT_MODEL));
    show_pane(&mut harness, Pane::Model);
    harness.get_by_label(polarmap_core::models::DEFAULT_MODEL);
    let card = polarmap_core::models::card::ModelCard::read(
        &polarmap_core::models::card::ModelCard::path_for(
            &polarmap_core::models::shipped_dir().join(polarmap_core::models::DEFAULT_MODEL),
        ),
    )
    .unwrap();
    harness.get_by_label(&format!(
        "{:.1} % accuracy",
        100.0 * card.test_accuracy().unwrap()
    ));
    harness.get_by_label(&card.command);
    // Where the model is known to fail, from the card's transfer-suite results.
    let transfer = card
        .transfer()
        .expect("the shipped cards record the transfer suite");
    assert!(!transfer.wrong.is_empty() || !transfer.partly.is_empty());
    for (what, conditions) in [
        ("partly right on", &transfer.partly),
        ("wrong on", &transfer.wrong),
    ] {
        if !conditions.is_empty() {
            harness.get_by_label(&format!("{what} {}", conditions.join(", ")));
        }
    }
    // Ground truth stays selectable.
    assert!(harness.state().state.data.as_ref().unwrap().truth.is_some());
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
        harness.get_by_label(&format!("Pixel (row {row}, col {col}) — class {class}"));
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
        harness.get_by_label(&format!(
            "Class scores of {} ({})",
            expected.model,
            polarmap_core::models::DEFAULT_MODEL
        ));
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
    let header = polarmap_core::models::file::ModelFile::read(
        &polarmap_core::models::shipped_dir().join(polarmap_core::models::DEFAULT_MODEL),
    )
    .unwrap()
    .header;
    assert_eq!(size, header.input.size);
}

#[test]
fn a_corrupt_model_file_gives_an_error_in_the_window_and_the_app_keeps_running() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("corrupt.pmm");
    std::fs::write(&bad, b"PMM\x00 this is not a model file").unwrap();
    let mut harness = app_on(Some(demo_path()));
    assert!(harness.state().state.log.is_empty());
    show_pane(&mut harness, Pane::Model);
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
    let log = &state.state.log;
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(log[0].message.contains("corrupt.pmm"), "{log:?}");
    harness.get_by_label_contains("error: inference with corrupt.pmm");
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
    assert!(errors(&harness).is_empty(), "{:?}", errors(&harness));
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
    show_pane(&mut harness, Pane::Model);
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
    assert!(errors(&harness).is_empty(), "{:?}", errors(&harness));
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
    while harness.state().state.log.is_empty() {
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
    assert!(errors(&harness).is_empty(), "{:?}", errors(&harness));
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
    assert!(out.exists(), "{:?}", errors(&harness));
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

/// The rectangle of the one widget labelled `label`, asserted to lie inside `within`.
fn inside(harness: &Harness<'static, PolarmapApp>, label: &str, within: Rect, what: &str) -> Rect {
    let rect = harness.get_by_label(label).rect();
    assert!(
        within.expand(0.5).contains_rect(rect),
        "{what}: {label:?} at {rect:?} is not inside {within:?}"
    );
    rect
}

/// The rectangle of the image view labelled `label`, asserted to lie inside `within`.
fn image_inside(
    harness: &Harness<'static, PolarmapApp>,
    label: &str,
    within: Rect,
    what: &str,
) -> Rect {
    let rect = harness
        .get_by_role_and_label(egui::accesskit::Role::Image, label)
        .rect();
    assert!(
        within.expand(0.5).contains_rect(rect),
        "{what}: image {label:?} at {rect:?} is not inside {within:?}"
    );
    rect
}

/// At 1100×700, 1280×720, 1600×900 and 2560×1440 the window's parts fit: every pane lies inside the
/// window and no two overlap; the class map's key lines (source, agreement with its number,
/// majority) and toggles, the inspector's pixel line and the three images lie inside their
/// panes, none overlapping another; the status bar is one line inside the window. At the last
/// three sizes the rendered window is compared with its snapshot in `tests/snapshots/` (made
/// with `UPDATE_SNAPSHOTS=1` and looked at): a change in what is drawn fails the test.
#[test]
fn the_layout_fits_the_window_at_common_sizes() {
    let expected = library_predictions(&demo_path());
    let truth = demo_truth();
    let accuracy = polarmap_core::maps::agreement(&truth.classes, &expected.classes).unwrap();
    for size in [
        [1100.0, 700.0],
        [1280.0, 720.0],
        [1600.0, 900.0],
        [2560.0, 1440.0],
    ] {
        let rendered = size[0] >= 1280.0;
        let harness = match rendered {
            true => app_rendered(Some(demo_path()), size),
            false => None,
        }
        .unwrap_or_else(|| app_sized(Some(demo_path()), size));
        let window = Rect::from_min_size(Pos2::ZERO, size.into());
        let layout = &harness.state().layout;
        let panes: Vec<(Pane, Rect)> = [
            Pane::VirtualImage,
            Pane::Com,
            Pane::Classes,
            Pane::Inspector,
            Pane::Regions,
            Pane::Log,
        ]
        .into_iter()
        .map(|p| {
            (
                p,
                layout.rect(p).unwrap_or_else(|| panic!("{p:?} not shown")),
            )
        })
        .collect();
        for (i, (p, r)) in panes.iter().enumerate() {
            assert!(window.contains_rect(*r), "{size:?}: {p:?} at {r:?}");
            for (q, s) in &panes[i + 1..] {
                assert!(
                    !r.shrink(0.5).intersects(s.shrink(0.5)),
                    "{size:?}: {p:?} {r:?} overlaps {q:?} {s:?}"
                );
            }
        }
        let pane = |p: Pane| panes.iter().find(|(q, _)| *q == p).unwrap().1;
        let what = format!("{size:?}");

        // The class map: its numbers and toggles are inside its pane and apart.
        let classes = pane(Pane::Classes);
        let mut lines = vec![
            inside(
                &harness,
                &format!(
                    "agrees with the ground truth on {:.1} % of pixels",
                    100.0 * accuracy
                ),
                classes,
                &what,
            ),
            inside(
                &harness,
                &format!(
                    "source: {} ({})",
                    expected.model,
                    polarmap_core::models::DEFAULT_MODEL
                ),
                classes,
                &what,
            ),
            inside(&harness, "confidence", classes, &what),
            inside(&harness, "defects", classes, &what),
            inside(&harness, "ground truth", classes, &what),
        ];
        let majority = harness
            .get_by_label_contains("majority of the scan:")
            .rect();
        assert!(
            classes.contains_rect(majority),
            "{what}: majority at {majority:?}"
        );
        lines.push(majority);
        let image = image_inside(&harness, "class map", classes, &what);
        for (i, a) in lines.iter().enumerate() {
            for b in lines[i + 1..].iter().chain([&image]) {
                assert!(
                    !a.shrink(0.5).intersects(b.shrink(0.5)),
                    "{what}: {a:?} overlaps {b:?}"
                );
            }
        }
        // The images are whole squares' worth of space, at least 150 points on a side.
        for (label, p) in [
            ("class map", Pane::Classes),
            ("virtual image", Pane::VirtualImage),
            ("CoM field", Pane::Com),
        ] {
            let r = image_inside(&harness, label, pane(p), &what);
            assert!(
                r.width().min(r.height()) >= 150.0,
                "{what}: {label} is {r:?}"
            );
        }

        // The inspector names the selected pixel (the centre one at start) as (row, col).
        let class = expected.classes[(16, 16)];
        inside(
            &harness,
            &format!("Pixel (row 16, col 16) — class {class}"),
            pane(Pane::Inspector),
            &what,
        );

        // The status bar: one line, inside the window, below the panes.
        let file = harness
            .get_by_label_contains("demo.npy — 32×32 scan")
            .rect();
        let memory = harness.get_by_label_contains("memory ").rect();
        assert!(
            window.contains_rect(file) && window.contains_rect(memory),
            "{what}"
        );
        assert!(
            (file.center().y - memory.center().y).abs() < 1.0,
            "{what}: the status bar wraps"
        );
        assert!(file.top() >= panes.iter().map(|(_, r)| r.bottom()).fold(0.0, f32::max) - 0.5);

        if rendered {
            let mut harness = harness;
            snapshot(&mut harness, &format!("layout-{}x{}", size[0], size[1]));
        }
    }
}

/// Compares the window rendered by `app_rendered` with `tests/snapshots/NAME.png`
/// (egui_kittest: a pixel fails past the default colour distance, 0.6). Up to 0.05 % of the
/// pixels may fail: the status bar's memory figure changes from run to run. A harness that
/// cannot render (no adapter, not required) skips the comparison, saying so.
fn snapshot(harness: &mut Harness<'static, PolarmapApp>, name: &str) {
    match harness.render() {
        Ok(image) => {
            let allowed = (image.width() * image.height()) as usize / 2000;
            let options = egui_kittest::SnapshotOptions::new().max_failed_pixels(allowed);
            egui_kittest::try_image_snapshot_options(&image, name, &options)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        Err(e) if std::env::var_os("POLARMAP_REQUIRE_WGPU").is_some_and(|v| v == "1") => {
            panic!("{name}: the window did not render: {e}")
        }
        Err(e) => eprintln!("NOT COMPARED: {name}: the window did not render: {e}"),
    }
}

/// A reader's warning (a sidecar outvoted by the 4-D array's own scan shape) reaches the Log
/// pane as a warning, and the scan opens with the array's shape; errors and warnings no longer
/// stack up as banners above the views.
#[test]
fn a_readers_warning_is_logged_and_the_scan_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scan.npy");
    let mut bytes =
        polarmap_core::scan::npy::header_bytes(polarmap_core::DType::U16, &[4, 6, 16, 16]);
    for i in 0..4 * 6 * 256u32 {
        bytes.extend(((i % 256) as u16 + 1).to_le_bytes());
    }
    std::fs::write(&path, bytes).unwrap();
    std::fs::write(
        dir.path().join("scan.meta.json"),
        r#"{"scan_shape": [6, 4]}"#,
    )
    .unwrap();
    let harness = app_on(Some(path));
    assert_eq!(harness.state().state.linked.dims, (4, 6));
    let log = &harness.state().state.log;
    let warnings: Vec<_> = log
        .iter()
        .filter(|e| e.level == polarmap::gui::state::Level::Warning)
        .collect();
    assert_eq!(warnings.len(), 1, "{log:?}");
    assert!(warnings[0].message.contains("[6, 4]"), "{:?}", warnings[0]);
    let node = harness.get_by_label_contains("warning: ");
    assert_eq!(
        harness.get_by_label_contains("using the array's").rect(),
        node.rect()
    );
    let log_pane = harness
        .state()
        .layout
        .rect(Pane::Log)
        .expect("the log is shown");
    assert!(log_pane.contains_rect(node.rect()));
}

/// Drags a rectangle from the top-left corner of pixel `a` to the bottom-right corner of pixel
/// `b` (row, col) on the virtual image, with the Rectangle tool.
fn drag_rect(harness: &mut Harness<'static, PolarmapApp>, a: (f32, f32), b: (f32, f32)) {
    harness.get_by_label("Rectangle").click();
    harness.run();
    let dims = harness.state().state.linked.dims;
    let view = harness
        .get_by_role_and_label(egui::accesskit::Role::Image, "virtual image")
        .rect();
    let from = pixel_pos(view, dims, a.0 - 0.5, a.1 - 0.5);
    let to = pixel_pos(view, dims, b.0 + 0.5, b.1 + 0.5);
    drag(harness, from, to);
    settle(harness);
}

/// A model run that stopped early leaves a partial map, and every number of it says so: the
/// class view's note and majority, the status bar, the region list and the region table; a
/// region's statistics cover its pixels filled in only.
#[test]
fn a_partial_map_is_labelled_partial_everywhere() {
    let mut harness = app_on(Some(demo_path()));
    // The model's map as a cancelled run leaves it: the first 400 of 1024 pixels filled in.
    {
        let data = harness.state_mut().state.data.as_mut().unwrap();
        let full = data.prediction.as_ref().unwrap().clone();
        let partial = polarmap::gui::data::ClassSource::partial(
            SourceKind::Model,
            full.source.clone(),
            full.map.clone(),
            full.scores.clone(),
            400,
        );
        data.prediction = Some(std::sync::Arc::new(partial));
        data.prediction_stopped = Some("cancelled");
    }
    settle(&mut harness);
    let note = "partial (400 of 1024 pixels; cancelled)";
    let classes = harness.state().layout.rect(Pane::Classes).unwrap();
    assert!(classes.contains_rect(harness.get_by_label(note).rect()));
    harness.get_by_label_contains(&format!("majority of the {note} map: "));
    harness.get_by_label(&format!("class map {note}"));

    // A region over filled and unfilled pixels: its statistics are of the filled ones.
    drag_rect(&mut harness, (2.0, 10.0), (19.0, 27.0));
    let map = harness
        .state()
        .state
        .data
        .as_ref()
        .unwrap()
        .prediction
        .as_ref()
        .unwrap()
        .map
        .clone();
    let filled: Vec<(usize, usize)> = (2..20)
        .flat_map(|r| (10..28).map(move |c| (r, c)))
        .filter(|&(r, c)| r * 32 + c < 400)
        .collect();
    // Rows 2–11 whole (10 × 18) and row 12 up to column 15 (6).
    assert_eq!(filled.len(), 186);
    let expected = map.stats_of(&filled);
    let entry = &harness.state().state.regions.entries[0];
    assert_eq!(entry.stats.as_ref(), Some(&expected));
    assert_eq!(entry.partial, Some((400, 1024)));
    let majority = expected.majority.unwrap();
    harness.get_by_label(&format!(
        "Region 1: majority {majority}, 186 px ({:.0} %) — of a partial map (400 of 1024 pixels)",
        100.0 * expected.fractions()[majority.index()]
    ));
    // The table was brought to the front when the region was drawn, with the same note.
    harness.get_by_label(
        "statistics of a partial map (400 of 1024 pixels; cancelled): its pixels filled in only",
    );
}

/// Regions carry their number (drawn at their centroid on every view, listed in the table);
/// the table sorts by a column when its heading is clicked, and exports CSV through the
/// library's writer without replacing a file unasked.
#[test]
fn the_region_table_sorts_and_exports_csv() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = app_on(Some(demo_path()));
    show_truth(&mut harness);
    let truth = demo_truth();
    drag_rect(&mut harness, (2.0, 10.0), (19.0, 27.0));
    drag_rect(&mut harness, (20.0, 2.0), (25.0, 5.0));
    let entries = harness.state().state.regions.entries.clone();
    assert_eq!(entries.iter().map(|e| e.id).collect::<Vec<_>>(), [1, 2]);
    // The numbers sit at the mean pixel of each region.
    assert_eq!(entries[0].centroid, Some([10.5, 18.5]));
    assert_eq!(entries[1].centroid, Some([22.5, 3.5]));
    let expected: Vec<_> = entries
        .iter()
        .map(|e| truth.stats(Some(&e.region)))
        .collect();
    assert_eq!(expected[0].pixels, 18 * 18);
    assert_eq!(expected[1].pixels, 6 * 4);

    // Sorting by pixels: the small region first, then (clicked again) last.
    harness.get_by_label("pixels").click();
    harness.run();
    let order = |h: &Harness<'static, PolarmapApp>| {
        let s = h.state();
        s.views
            .region_table
            .sorted(&s.state.regions.entries)
            .iter()
            .map(|e| e.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(order(&harness), [2, 1]);
    // On screen too: the row of region 2 is above that of region 1 (its pixel count, also its
    // determined count, is on it).
    let row_of = |n: usize| {
        harness
            .query_all_by_label(&n.to_string())
            .next()
            .unwrap()
            .rect()
    };
    let (small, large) = (row_of(expected[1].pixels), row_of(expected[0].pixels));
    assert!(small.top() < large.top(), "{small:?} {large:?}");
    harness.get_by_label("pixels ^").click();
    harness.run();
    assert_eq!(order(&harness), [1, 2]);

    // Export: the file holds the library's statistics of both regions.
    let out = dir.path().join("regions.csv");
    let field = harness.get_by_label("CSV path");
    field.focus();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    harness
        .get_by_label("CSV path")
        .type_text(&out.display().to_string());
    harness.run();
    harness.get_by_label("Export CSV").click();
    settle(&mut harness);
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], polarmap_core::region_table::csv_header());
    assert_eq!(lines.len(), 3, "{text}");
    for (i, e) in entries.iter().enumerate() {
        let row = polarmap_core::region_table::RegionRow {
            number: e.id,
            stats: expected[i].clone(),
            partial: None,
        };
        assert!(
            lines.contains(&polarmap_core::region_table::csv_line(&row).as_str()),
            "{text}"
        );
    }
    // Again: it asks, and "Keep it" leaves the file alone.
    std::fs::write(&out, "mine").unwrap();
    harness.get_by_label("Export CSV").click();
    harness.run();
    harness.get_by_label("regions.csv exists.");
    harness.get_by_label("Keep it").click();
    settle(&mut harness);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "mine");
}

/// The polygon tool says how a polygon closes; Esc abandons one being drawn, and clicking the
/// first vertex closes the next one into a region.
#[test]
fn the_polygon_tool_says_how_it_closes_and_esc_cancels() {
    let mut harness = app_on(Some(demo_path()));
    harness.get_by_label("Polygon").click();
    harness.run();
    harness.get_by_label(
        "click to add vertices, double-click or click the first vertex to close, Esc cancels",
    );
    let dims = harness.state().state.linked.dims;
    let view = harness
        .get_by_role_and_label(egui::accesskit::Role::Image, "virtual image")
        .rect();
    let at = |r: f32, c: f32| pixel_pos(view, dims, r, c);
    for (r, c) in [(4.0, 4.0), (4.0, 20.0)] {
        click_at(&mut harness, at(r, c));
        // Far enough apart in time not to be a double click.
        std::thread::sleep(Duration::from_millis(400));
    }
    assert_eq!(harness.state().state.linked.drawing.len(), 2);
    harness.key_press(Key::Escape);
    harness.run();
    assert!(harness.state().state.linked.drawing.is_empty());
    assert!(harness.state().state.regions.entries.is_empty());

    for (r, c) in [(4.0, 4.0), (4.0, 20.0), (20.0, 12.0), (4.0, 4.0)] {
        click_at(&mut harness, at(r, c));
        std::thread::sleep(Duration::from_millis(400));
    }
    settle(&mut harness);
    let entries = &harness.state().state.regions.entries;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].id, 1);
    let polarmap_core::maps::Region::Polygon { vertices } = &entries[0].region else {
        panic!("a polygon: {:?}", entries[0].region);
    };
    assert_eq!(vertices.len(), 3);
}

/// A calibration whose rotation differs from the one the CoM was computed in marks the CoM
/// view stale; "Re-run" runs the pass again in the new rotation and the marker goes.
#[test]
fn a_rotation_edit_marks_the_com_stale_until_it_is_rerun() {
    let mut harness = app_on(Some(demo_path()));
    let marker = "stale — re-run: the calibration's rotation changed";
    assert!(harness.query_by_label(marker).is_none());
    let before = {
        let d = harness.state().state.data.as_ref().unwrap();
        d.analysis.as_ref().unwrap().com_raw.clone()
    };
    // The edit itself, without the re-run the Calibration dialog's Apply would start.
    let mut calibration = *harness.state().state.data.as_ref().unwrap().calibration();
    calibration.scan_rotation_deg = Some(90.0);
    harness.state_mut().state.set_calibration(calibration);
    harness.run();
    let com = harness.state().layout.rect(Pane::Com).unwrap();
    assert!(com.contains_rect(harness.get_by_label(marker).rect()));
    harness.get_by_label("Re-run").click();
    settle(&mut harness);
    assert!(harness.query_by_label(marker).is_none());
    let d = harness.state().state.data.as_ref().unwrap();
    let analysis = d.analysis.as_ref().unwrap();
    assert_eq!(analysis.rotation.0, Some(90.0));
    // The same vectors, turned: at every pixel the length stays; the longest one moved.
    let after = &analysis.com_raw;
    let len = |f: &polarmap_core::analysis::ComField, ix: (usize, usize)| f.x[ix].hypot(f.y[ix]);
    let mut longest = (0, 0);
    for (ix, _) in before.x.indexed_iter() {
        let (a, b) = (len(&before, ix), len(after, ix));
        assert!((a - b).abs() <= 1e-3 * a.max(1e-3), "{ix:?}: {a} then {b}");
        if a > len(&before, longest) {
            longest = ix;
        }
    }
    let moved = (after.x[longest] - before.x[longest]).hypot(after.y[longest] - before.y[longest]);
    assert!(moved > 0.5 * len(&before, longest), "{longest:?}");
}

/// "Save to sidecar" in the calibration dialog writes the edited calibration beside the scan,
/// asking first when a sidecar is there; one polarmap did not write is kept as `.bak`.
#[test]
fn the_calibration_is_saved_to_the_sidecar_only_when_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scan.npy");
    let mut bytes =
        polarmap_core::scan::npy::header_bytes(polarmap_core::DType::U16, &[4, 4, 16, 16]);
    for i in 0..16 * 256u32 {
        bytes.extend(((i % 256) as u16 + 1).to_le_bytes());
    }
    std::fs::write(&path, bytes).unwrap();
    let sidecar = dir.path().join("scan.meta.json");
    let foreign = r#"{"energy_kv": 200, "operator": "ana"}"#;
    std::fs::write(&sidecar, foreign).unwrap();
    let mut harness = app_on(Some(path));
    harness.get_by_label("Dataset").click();
    harness.run();
    harness.get_by_label("Calibration…").click();
    harness.run();
    let field = harness.get_by_label("scan rotation (°, counter-clockwise)");
    field.focus();
    harness.run();
    harness
        .get_by_label("scan rotation (°, counter-clockwise)")
        .type_text("30");
    harness.run();
    harness.get_by_label("Save to sidecar").click();
    harness.run();
    harness.get_by_label_contains("scan.meta.json exists. Replace it?");
    harness.get_by_label("Keep it").click();
    settle(&mut harness);
    assert_eq!(std::fs::read_to_string(&sidecar).unwrap(), foreign);

    harness.get_by_label("Save to sidecar").click();
    harness.run();
    harness.get_by_label("Replace").click();
    settle(&mut harness);
    // (The shipped model cannot take these tiny patterns; that error is not the sidecar's.)
    let errors = errors(&harness);
    assert!(
        !errors.iter().any(|e| e.contains("meta.json")),
        "{errors:?}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("scan.meta.json.bak")).unwrap(),
        foreign
    );
    let saved = polarmap_core::scan::Sidecar::read(&sidecar).unwrap();
    assert_eq!(saved.calibration.scan_rotation_deg, Some(30.0));
    assert_eq!(saved.calibration.energy_kv, Some(200.0));
    assert_eq!(saved.extra["operator"], "ana");
    assert!(saved.written_by_polarmap());
    // The app uses it too.
    let data = harness.state().state.data.as_ref().unwrap();
    assert_eq!(data.calibration().scan_rotation_deg, Some(30.0));
}

/// A specimen tilt stated in the Calibration dialog re-runs the model with its crop moved: the
/// map becomes the library's on the scan opened with that tilt, the lines above the map say the
/// crop was moved, and a tilt changed since the map was made is named in the stale notice.
#[test]
fn a_stated_tilt_reruns_the_model_with_the_crop_moved() {
    let mut harness = app_on(Some(demo_path()));
    let before = {
        let d = harness.state().state.data.as_ref().unwrap();
        d.prediction
            .as_ref()
            .unwrap()
            .input
            .as_ref()
            .unwrap()
            .0
            .center
    };
    harness.get_by_label("Dataset").click();
    harness.run();
    harness.get_by_label("Calibration…").click();
    harness.run();
    for (label, value) in [
        ("specimen tilt x (mrad, right), when known", "2.5"),
        ("specimen tilt y (mrad, up), when known", "-1.25"),
    ] {
        harness.get_by_label(label).focus();
        harness.run();
        harness.get_by_label(label).type_text(value);
        harness.run();
    }
    harness.get_by_label("Apply").click();
    settle(&mut harness);

    let options = polarmap_core::scan::OpenOptions {
        calibration: polarmap_core::Calibration {
            tilt_mrad: Some([2.5, -1.25]),
            ..Default::default()
        },
        ..Default::default()
    };
    let expected = library_predictions_with(&demo_path(), &options);
    let d = harness.state().state.data.as_ref().unwrap();
    assert_eq!(d.calibration().tilt_mrad, Some([2.5, -1.25]));
    let shown = d.prediction.as_ref().unwrap();
    assert!(shown.is_complete() && !d.classes_are_stale());
    assert_eq!(shown.tilt_mrad, Some([2.5, -1.25]));
    // 1.25 mrad/px: 2 columns right and 1 row down of where the crop was.
    let centre = shown.input.as_ref().unwrap().0.center;
    assert_eq!(centre, expected.input.center);
    assert!(
        (centre[0] - before[0] - 1.0).abs() < 1e-9 && (centre[1] - before[1] - 2.0).abs() < 1e-9
    );
    assert_eq!(shown.map.classes, expected.classes);
    let classes = harness.state().layout.rect(Pane::Classes).unwrap();
    let line = harness.get_by_label("crop moved by the stated tilt 2.5, -1.25 mrad");
    assert!(classes.contains_rect(line.rect()));

    let marker = "stale — the stated tilt changed since this map was made";
    assert!(harness.query_by_label(marker).is_none());
    let mut calibration = *d.calibration();
    calibration.tilt_mrad = None;
    harness.state_mut().state.set_calibration(calibration);
    harness.run();
    assert!(classes.contains_rect(harness.get_by_label(marker).rect()));
}

/// Editing the detector sampling (mrad/px) in the Calibration dialog re-runs the model at the
/// new input scale: the map becomes the library's on the scan opened with that calibration.
/// An edit not yet re-run marks the class map stale, and its "Re-run" clears the mark.
#[test]
fn a_detector_calibration_edit_reruns_the_model_at_the_new_scale() {
    let mut harness = app_on(Some(demo_path()));
    let scale_before = {
        let d = harness.state().state.data.as_ref().unwrap();
        d.prediction
            .as_ref()
            .unwrap()
            .input
            .as_ref()
            .unwrap()
            .0
            .scale
    };
    harness.get_by_label("Dataset").click();
    harness.run();
    harness.get_by_label("Calibration…").click();
    harness.run();
    let field = harness.get_by_label("detector sampling (mrad/px)");
    field.focus();
    harness.run();
    // The field holds the file's "1.25": erase it.
    for _ in 0..6 {
        harness.key_press(egui::Key::Backspace);
        harness.run();
    }
    harness
        .get_by_label("detector sampling (mrad/px)")
        .type_text("1.4");
    harness.run();
    harness.get_by_label("Apply").click();
    settle(&mut harness);

    let options = polarmap_core::scan::OpenOptions {
        calibration: polarmap_core::Calibration {
            mrad_per_px: Some(1.4),
            ..Default::default()
        },
        ..Default::default()
    };
    let expected = library_predictions_with(&demo_path(), &options);
    let d = harness.state().state.data.as_ref().unwrap();
    assert_eq!(d.calibration().mrad_per_px, Some(1.4));
    let shown = d.prediction.as_ref().unwrap();
    assert!(shown.is_complete() && !d.classes_are_stale());
    assert_eq!(shown.mrad_per_px, Some(1.4));
    let scale = shown.input.as_ref().unwrap().0.scale;
    assert!(
        (scale - scale_before * 1.25 / 1.4).abs() < 1e-9,
        "{scale_before} → {scale}"
    );
    assert_eq!(shown.map.classes, expected.classes);
    assert_eq!(shown.scores.as_ref(), Some(&expected.scores));

    // An edit that has not been re-run: the class map says so until "Re-run".
    let marker = "stale — the detector calibration (mrad/px) changed since this map was made";
    assert!(harness.query_by_label(marker).is_none());
    let mut calibration = *d.calibration();
    calibration.mrad_per_px = Some(1.25);
    harness.state_mut().state.set_calibration(calibration);
    harness.run();
    let classes = harness.state().layout.rect(Pane::Classes).unwrap();
    assert!(classes.contains_rect(harness.get_by_label(marker).rect()));
    harness.get_by_label("Re-run").click();
    settle(&mut harness);
    assert!(harness.query_by_label(marker).is_none());
    let d = harness.state().state.data.as_ref().unwrap();
    let shown = d.prediction.as_ref().unwrap();
    assert_eq!(shown.input.as_ref().unwrap().0.scale, scale_before);
    assert_eq!(shown.map.classes, library_predictions(&demo_path()).classes);
}

/// Sums over every pattern the pixels whose position, relative to `center` (row, col) in the
/// image frame (x right, y up), satisfies `inside(dx, dy)`: a virtual detector computed
/// directly from the frames, independent of the library's pass.
fn sum_detector(
    scan: &polarmap_core::Scan,
    center: [f64; 2],
    inside: impl Fn(f64, f64) -> bool,
) -> ndarray::Array2<f64> {
    let [rows, cols] = scan.scan_shape();
    let [det_rows, det_cols] = scan.frame_shape();
    ndarray::Array2::from_shape_fn((rows, cols), |(r, c)| {
        let frame = scan.frame_f32(r, c).unwrap();
        let mut sum = 0.0;
        for dr in 0..det_rows {
            for dc in 0..det_cols {
                let (dx, dy) = (dc as f64 - center[1], -(dr as f64 - center[0]));
                if inside(dx, dy) {
                    sum += f64::from(frame[dr * det_cols + dc]);
                }
            }
        }
        sum
    })
}

/// The virtual image view offers iCoM, iDPC and a custom detector: iCoM and iDPC are the
/// library's integrations of this pass's CoM and quadrants, and a sector typed in the view is
/// summed in its own pass to the values a direct sum over the frames gives.
#[test]
fn the_virtual_view_shows_icom_idpc_and_a_custom_sector() {
    use polarmap::gui::views::virtual_image::{AnnulusForm, VirtualKind};
    use polarmap_core::analysis::{icom, idpc, Descan, Plane, ScanRotation, VirtualDetector};
    let mut harness = app_on(Some(demo_path()));
    harness.get_by_label("iDPC").click();
    harness.run();
    assert_eq!(harness.state().views.virtual_image.kind, VirtualKind::IDpc);
    assert!(harness
        .query_by_label_contains("BF disk r ≤")
        .is_some_and(|n| n.rect().width() > 0.0));
    let (scan, geometry, analysis) = {
        let d = harness.state().state.data.as_ref().unwrap();
        (d.scan().clone(), d.geometry, d.analysis.clone().unwrap())
    };
    // iCoM: the library's integration of the field on screen.
    let expected = icom(&analysis.com_descan);
    for (a, b) in analysis.icom.iter().zip(expected.iter()) {
        assert!((f64::from(*a) - b).abs() <= 1e-5 * b.abs().max(1.0));
    }
    // iDPC: quadrants summed directly from the frames, integrated by the library.
    let r = geometry.bf_radius;
    let center = [geometry.center_row, geometry.center_col];
    let quadrant = |k: f64| {
        sum_detector(&scan, center, move |dx, dy| {
            let angle = dy.atan2(dx).to_degrees().rem_euclid(360.0);
            dx.hypot(dy) <= r && (angle - 90.0 * k).rem_euclid(360.0) < 90.0
        })
        .mapv(|v| v as f32)
    };
    let q = [quadrant(0.0), quadrant(1.0), quadrant(2.0), quadrant(3.0)];
    // The view removes the descan plane from the DPC signal as from the CoM (the plane's own
    // parameters are fitted to the signal; only the kind of descan is read).
    let plane = Descan::Plane {
        row: Plane::constant(0.0),
        col: Plane::constant(0.0),
    };
    let direct = idpc(
        [&q[0], &q[1], &q[2], &q[3]],
        &plane,
        ScanRotation::default(),
    );
    let scale = direct.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(scale > 0.0);
    for (a, b) in analysis.idpc.iter().zip(direct.iter()) {
        assert!((f64::from(*a) - b).abs() <= 1e-3 * scale, "{a} vs {b}");
    }

    // A custom sector: 2–6 px, 0–90°, typed into the view and computed.
    harness.get_by_label("Custom").click();
    harness.run();
    harness.state_mut().views.virtual_image.annulus = AnnulusForm {
        inner: 2.0,
        outer: 6.0,
        mrad: false,
        sector: true,
        from: 0.0,
        to: 90.0,
    };
    harness.run();
    harness.get_by_label("Compute").click();
    settle(&mut harness);
    let d = harness.state().state.data.as_ref().unwrap();
    let custom = d.custom.as_ref().expect("the custom detector's image");
    assert_eq!(
        custom.detector,
        VirtualDetector::Annulus {
            inner: 2.0,
            outer: 6.0,
            sector: Some([0.0, 90.0])
        }
    );
    assert!(harness
        .query_by_label_contains("annulus 2–6 px, sector 0–90°")
        .is_some());
    let direct = sum_detector(&scan, center, |dx, dy| {
        let (d, angle) = (dx.hypot(dy), dy.atan2(dx).to_degrees().rem_euclid(360.0));
        (2.0..=6.0).contains(&d) && angle < 90.0
    });
    for (a, b) in custom.values.iter().zip(direct.iter()) {
        assert!(
            (f64::from(*a) - b).abs() <= 1e-4 * b.abs().max(1.0),
            "{a} vs {b}"
        );
    }
    assert!(errors(&harness).is_empty(), "{:?}", errors(&harness));
}

/// The Domains pane lists the demo's two domains (RM left, RD right) and the wall made
/// between them at col 15.5, draws it on the views when asked, and exports the library's files,
/// asking before it replaces one.
#[test]
fn the_domains_pane_lists_the_demos_wall_and_exports_it() {
    use polarmap::gui::views::domains::DomainFile;
    let mut harness = app_on(Some(demo_path()));
    show_truth(&mut harness);
    show_pane(&mut harness, Pane::Domains);
    assert!(harness
        .query_by_label_contains("2 domains, 1 walls")
        .is_some());
    let domains = {
        let d = harness.state().state.data.as_ref().unwrap();
        d.classes().unwrap().domains.clone().unwrap()
    };
    // The mosaic's truth: RM on columns 0-15, RD on 16-31, one wall between, 32 edges long.
    let classes: Vec<Class> = domains.domains.iter().map(|d| d.class).collect();
    assert_eq!(classes, [Class::RM, Class::RD]);
    assert_eq!(domains.domains[0].pixels, 32 * 16);
    assert_eq!(domains.walls.len(), 1);
    let wall = &domains.walls[0];
    assert_eq!(wall.length_px, 32);
    // RM and RD lie 45° apart: not a wall KNN forms, so "other".
    assert_eq!((wall.angle_deg, wall.kind.name()), (45.0, "other"));
    assert!(
        wall.points.iter().all(|p| p[1] == 15.5),
        "{:?}",
        wall.points
    );
    assert!(harness
        .query_by_label(&format!("{} px", wall.length_px))
        .is_some());

    assert!(!harness.state().views.domains.show_walls);
    harness.get_by_label("Show walls on the views").click();
    harness.run();
    assert!(harness.state().views.domains.show_walls);

    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("demo");
    harness.state_mut().views.domains.prefix = prefix.display().to_string();
    harness.run();
    for file in DomainFile::ALL {
        harness.get_by_label(file.button()).click();
        settle(&mut harness);
        assert!(
            file.path(&prefix.display().to_string()).exists(),
            "{file:?}"
        );
    }
    let csv =
        std::fs::read_to_string(DomainFile::WallsCsv.path(&prefix.display().to_string())).unwrap();
    // One line per wall edge: the header and 32 edges, all at col 15.5.
    assert_eq!(csv.lines().count(), 33, "{csv}");
    assert!(
        csv.lines()
            .skip(1)
            .all(|l| l.starts_with("1,1,2,RM,RD,other,45,32,") && l.ends_with(",15.5")),
        "{csv}"
    );
    let back = polarmap_core::domains::Domains::read_json(
        &DomainFile::Json.path(&prefix.display().to_string()),
    )
    .unwrap();
    assert_eq!(back.walls.len(), 1);
    // The overlay: 8× the scan, the wall's colour on the boundary between cols 15 and 16.
    let png = image::open(DomainFile::OverlayPng.path(&prefix.display().to_string()))
        .unwrap()
        .to_rgb8();
    assert_eq!(png.dimensions(), (32 * 8, 32 * 8));
    let colour = polarmap_core::domains::wall_colour(wall.kind);
    assert_eq!(png.get_pixel(16 * 8 - 1, 100).0, colour);
    assert_ne!(png.get_pixel(4 * 8, 100).0, colour);

    // An existing file is replaced only after the user confirms.
    let json = DomainFile::Json.path(&prefix.display().to_string());
    std::fs::write(&json, "mine").unwrap();
    harness.get_by_label("JSON").click();
    settle(&mut harness);
    assert!(harness
        .query_by_label("demo-domains.json exists.")
        .is_some());
    harness.get_by_label("Keep it").click();
    settle(&mut harness);
    assert_eq!(std::fs::read_to_string(&json).unwrap(), "mine");
    harness.get_by_label("JSON").click();
    harness.run();
    harness.get_by_label("Replace").click();
    settle(&mut harness);
    assert!(polarmap_core::domains::Domains::read_json(&json).is_ok());
    assert!(errors(&harness).is_empty(), "{:?}", errors(&harness));
}

/// A polygon clicked on the mean pattern becomes a mask detector: its virtual image (the same
/// task as the typed detectors) equals the direct sum of the pixels inside over every frame.
#[test]
fn a_mask_drawn_on_the_mean_pattern_gives_its_virtual_image() {
    use polarmap::gui::views::inspector::MaskTool;
    use polarmap_core::analysis::VirtualDetector;
    let mut harness = app_on(Some(demo_path()));
    let view = harness.get_by_label("class map").rect();
    click_at(&mut harness, pixel_pos(view, (32, 32), 16.0, 16.0));
    settle(&mut harness);
    harness.get_by_label("mean pattern").click();
    harness.run();
    harness.get_by_label("polygon mask").click();
    harness.run();
    assert_eq!(harness.state().views.inspector.mask.tool, MaskTool::Polygon);
    let (scan, [det_rows, det_cols]) = {
        let d = harness.state().state.data.as_ref().unwrap();
        (d.scan().clone(), d.scan().frame_shape())
    };
    let rect = harness.get_by_label("diffraction pattern").rect();
    let s = rect.width() / det_cols as f32;
    // A square with corners between pixels: rows and cols 10..=29 are inside (400 pixels).
    for [r, c] in [[9.5f32, 9.5], [9.5, 29.5], [29.5, 29.5], [29.5, 9.5]] {
        click_at(
            &mut harness,
            rect.min + egui::vec2((c + 0.5) * s, (r + 0.5) * s),
        );
    }
    harness.run();
    assert_eq!(harness.state().views.inspector.mask.vertices.len(), 4);
    harness.get_by_label("Compute mask").click();
    settle(&mut harness);
    let d = harness.state().state.data.as_ref().unwrap();
    let custom = d.custom.as_ref().expect("the mask's image");
    let VirtualDetector::Mask { rows, cols, pixels } = &custom.detector else {
        panic!("not a mask: {:?}", custom.detector);
    };
    assert_eq!([*rows, *cols], [det_rows, det_cols]);
    let inside = |r: usize, c: usize| (10..=29).contains(&r) && (10..=29).contains(&c);
    for (i, &p) in pixels.iter().enumerate() {
        assert_eq!(p, inside(i / cols, i % cols), "detector pixel {i}");
    }
    assert_eq!(custom.label, "mask: polygon of 4 vertices, 400 px");
    assert_eq!(
        harness.state().views.virtual_image.kind,
        polarmap::gui::views::virtual_image::VirtualKind::Custom
    );
    // Relative to centre (0, 0): row = -dy, col = dx.
    let direct = sum_detector(&scan, [0.0, 0.0], |dx, dy| {
        inside((-dy).round() as usize, dx.round() as usize)
    });
    for (a, b) in custom.values.iter().zip(direct.iter()) {
        assert!(
            (f64::from(*a) - b).abs() <= 1e-4 * b.abs().max(1.0),
            "{a} vs {b}"
        );
    }
    assert!(errors(&harness).is_empty(), "{:?}", errors(&harness));
}

/// A stack that does not say its scan shape opens as one row, and the app asks for rows × cols
/// (most square factorisation first) and opens it again with the shape chosen.
#[test]
fn a_file_without_a_scan_shape_asks_for_one_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stack.npy");
    let frames = 12;
    let data: Vec<f32> = (0..frames * 64).map(|i| (i % 64) as f32).collect();
    polarmap_core::write::write_npy_f32(&path, &[frames, 8, 8], &data, false).unwrap();
    let mut harness = app_on(Some(path.clone()));
    assert_eq!(
        harness
            .state()
            .state
            .data
            .as_ref()
            .unwrap()
            .scan()
            .scan_shape(),
        [1, 12]
    );
    assert!(harness
        .query_by_label_contains("does not say its scan shape: its 12 frames")
        .is_some());
    let dialog = &harness.state().dialogs.scan_shape;
    assert_eq!((dialog.rows, dialog.cols), (3, 4));
    for shape in ["3 × 4", "2 × 6", "1 × 12"] {
        assert!(harness.query_by_label(shape).is_some(), "{shape}");
    }
    harness.get_by_label("2 × 6").click();
    harness.run();
    harness.get_by_label("Reopen").click();
    settle(&mut harness);
    let data = harness.state().state.data.as_ref().unwrap();
    assert_eq!(data.scan().scan_shape(), [2, 6]);
    assert!(data.scan().shape_given());
    assert!(harness.state().dialogs.scan_shape.asking.is_none());
    assert!(harness.query_by_label("Reopen").is_none());
}

/// The README's screenshots, rendered by egui's wgpu painter (lavapipe where there is no GPU):
/// the demo at 1600×900 as it opens, with axes in nm on the views and in mrad on the pattern
/// (`docs/img/gui.png`); then with the iDPC image in the virtual view, the default model's class
/// map and its domain walls drawn on every view (`docs/img/gui-idpc-walls.png`). Run it to
/// remake both: `cargo test --test suite gui::readme_screenshot -- --ignored`.
#[test]
#[ignore = "writes docs/img/gui*.png; needs a Vulkan adapter (lavapipe at least)"]
fn readme_screenshot() {
    use polarmap::gui::views::axes::Units;
    let mut harness = app_rendered(Some(demo_path()), [1600.0, 900.0])
        .expect("a wgpu adapter (lavapipe at least) to render with");
    harness.state_mut().views.scan_axes = Units::Nanometre;
    harness.state_mut().views.inspector.axes = Units::Mrad;
    settle(&mut harness);
    let image = harness.render().expect("a wgpu adapter renders the window");
    image
        .save(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/img/gui.png"))
        .unwrap();
    harness.state_mut().views.scan_axes = Units::Off;
    harness.state_mut().views.inspector.axes = Units::Off;
    harness.get_by_label("iDPC").click();
    settle(&mut harness);
    show_pane(&mut harness, Pane::Domains);
    harness.get_by_label("Show walls on the views").click();
    settle(&mut harness);
    let image = harness.render().expect("a wgpu adapter renders the window");
    assert_eq!(image.dimensions(), (1600, 900));
    let distinct: std::collections::HashSet<_> = image.pixels().map(|p| p.0).collect();
    assert!(distinct.len() > 1000, "{} colours", distinct.len());
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/img/gui-idpc-walls.png");
    image.save(&out).unwrap();
}

/// The scan views' axes follow the units chosen in the tool bar (nm from the scan step) and the
/// pattern's those chosen in the inspector (1/Å from the sampling and beam energy); a scan
/// whose calibration lacks what the units need says so instead of drawing wrong axes.
#[test]
fn axes_in_physical_units_follow_the_chosen_units_and_the_calibration() {
    use polarmap::gui::views::axes::Units;
    let Some(mut harness) = app_rendered(Some(demo_path()), [1600.0, 900.0]) else {
        return;
    };
    assert_eq!(harness.state().state.linked.axis, None);
    harness.get_by_label("scan axes").click();
    harness.run();
    harness.get_by_label("nm").click();
    harness.run();
    harness.get_by_label("pattern axes").click();
    harness.run();
    harness.get_by_label("1/Å").click();
    settle(&mut harness);
    let axis = harness.state().state.linked.axis.expect("scan axes in nm");
    assert_eq!(axis.unit, "nm");
    assert!((axis.per_px - 0.049_375).abs() < 1e-12, "{}", axis.per_px);
    assert_eq!(harness.state().views.inspector.axes, Units::InverseAngstrom);
    assert!(harness.query_by_label_contains("axes need").is_none());
    // Drawn: the views differ from the same window without axes.
    let with = harness.render().expect("a wgpu adapter renders the window");
    if let Ok(dir) = std::env::var("POLARMAP_SNAPSHOT_DIR") {
        with.save(Path::new(&dir).join("axes.png")).unwrap();
    }
    harness.state_mut().views.scan_axes = Units::Off;
    harness.state_mut().views.inspector.axes = Units::Off;
    harness.run();
    let without = harness.render().unwrap();
    let changed = with
        .pixels()
        .zip(without.pixels())
        .filter(|(a, b)| a != b)
        .count();
    assert!(changed > 500, "{changed} pixels changed");

    // Without an energy there is no 1/Å: the inspector says what is missing.
    let mut calibration = *harness.state().state.data.as_ref().unwrap().calibration();
    calibration.energy_kv = None;
    harness.state_mut().state.set_calibration(calibration);
    harness.state_mut().views.inspector.axes = Units::InverseAngstrom;
    harness.run();
    harness.get_by_label("axes need the detector sampling and beam energy (Dataset > Calibration)");
}
