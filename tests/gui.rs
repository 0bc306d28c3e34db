//! The desktop app driven headless through egui_kittest: real widgets, real pointer and key
//! events, real background jobs; no window, no GPU.
#![cfg(feature = "gui")]

use eframe::egui::{self, Key, Modifiers, Pos2, Rect};
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use polarmap::gui::{demo_path, PolarmapApp, Startup};
use polarmap::maps::ClassMap;
use polarmap::Class;
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

/// The demo's ground truth, read independently of the app.
fn demo_truth() -> ClassMap {
    let labels =
        polarmap::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo_labels.npy"))
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
    let truth = demo_truth();
    let dims = truth.dim();
    assert_eq!(dims, (32, 32));
    let view = harness.get_by_label("class map").rect();
    for (row, col) in [(5usize, 24usize), (20, 3)] {
        click_at(&mut harness, pixel_pos(view, dims, row as f32, col as f32));
        settle(&mut harness);
        assert_eq!(harness.state().linked.selected, Some([row, col]));
        let class = truth.classes[(row, col)];
        harness.get_by_label(&format!("Pixel ({row}, {col}) — class {class}"));
    }
    // The pattern of that pixel was read and is on screen.
    assert_eq!(harness.state().inspector.shown_pixel(), Some([20, 3]));

    // Arrow keys move the selection (with the pointer off the views).
    harness.remove_cursor();
    harness.step();
    harness.key_press(Key::ArrowRight);
    harness.key_press(Key::ArrowDown);
    settle(&mut harness);
    assert_eq!(harness.state().linked.selected, Some([21, 4]));
    let class = truth.classes[(21, 4)];
    harness.get_by_label(&format!("Pixel (21, 4) — class {class}"));
}

#[test]
fn a_dragged_rectangle_reports_the_librarys_majority() {
    let mut harness = app_on(Some(demo_path()));
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

    let regions = &harness.state().regions.entries;
    assert_eq!(regions.len(), 1);
    let region = regions[0].region.clone();
    assert_eq!(
        region,
        polarmap::maps::Region::Rect {
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
    harness.get_by_label("remove").click();
    harness.run();
    assert!(harness.state().regions.entries.is_empty());
}

#[test]
fn export_writes_the_class_map_png_and_never_overwrites_unasked() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("classes.png");
    let mut harness = app_on(Some(demo_path()));
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
        .type_text(&out.display().to_string());
    harness.run();
    harness.get_by_label("Save").click();
    settle(&mut harness);

    let image = image::open(&out).expect("the PNG was written").to_rgb8();
    assert_eq!(image.dimensions(), (32, 32));
    let truth = demo_truth();
    for ((r, c), &class) in truth.classes.indexed_iter() {
        assert_eq!(
            image.get_pixel(c as u32, r as u32).0,
            polarmap::colour::class_colour(class),
            "pixel ({r}, {c})"
        );
    }
    let written = std::fs::metadata(&out).unwrap().modified().unwrap();

    // Saving again asks first; Cancel leaves the file alone.
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
        .type_text(&out.display().to_string());
    harness.run();
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
    let data = harness.state().data.as_ref().expect("the demo stays open");
    assert!(data.path.ends_with("demo.npy"));
    harness.get_by_label("Dismiss").click();
    harness.run();
    assert!(harness.state().errors.is_empty());
    assert!(harness.query_by_label_contains("corrupt.npy").is_none());

    // A missing file at start-up is an error in the window too, not a crash.
    let harness = app_on(Some(dir.path().join("missing.npy")));
    harness.get_by_label_contains("missing.npy");
    assert!(harness.state().data.is_none());
}
