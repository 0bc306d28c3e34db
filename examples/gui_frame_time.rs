//! Responsiveness of the desktop app while background work runs: drives the real app headless
//! (egui_kittest, no window) and times every UI frame while the pattern pass runs again and
//! again on a synthetic scan. The UI thread's work per frame (layout, job polling, texture
//! updates) must stay well under 16 ms.
//!
//! With `--predict`, the background work is inference instead: the shipped default model runs
//! again and again over a 128×128 scan (the 32×32 demo tiled 4×4, with its calibration), the
//! class map filling in batch by batch, and frames are timed while it runs.
//!
//! With `--click`, it measures click-to-pixels latency instead: a click on a pixel of the virtual
//! image (a real pointer event through egui) until the frame that draws that pixel's pattern in
//! the inspector, over 60 clicks with the app idle and 60 while the default model runs over the
//! scan (the tiled demo, as for `--predict`).
//!
//! ```sh
//! cargo run --release --example gui_frame_time            # 64×64 scan of 128×128 patterns
//! cargo run --release --example gui_frame_time -- scan.npy
//! cargo run --release --example gui_frame_time -- --predict
//! cargo run --release --example gui_frame_time -- --click
//! ```

use eframe::egui;
use egui_kittest::Harness;
use polarmap::gui::{PolarmapApp, Startup};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let click = args.iter().any(|a| a == "--click");
    let predict = click || args.iter().any(|a| a == "--predict");
    let given = args.iter().find(|a| !a.starts_with("--"));
    let path = match (given, predict) {
        (Some(p), _) => PathBuf::from(p),
        (None, true) => tiled_demo(&dir.path().join("demo-tiled.npy"), 4)?,
        (None, false) => synthetic_scan(&dir.path().join("synthetic.npy"), [64, 64, 128, 128])?,
    };
    println!("scan: {}", path.display());
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1500.0, 950.0))
        .build_eframe(move |cc| {
            PolarmapApp::new(
                cc,
                Startup {
                    path: Some(path),
                    persist: false,
                },
            )
        });
    // Let it open and finish the first pass; time until the dataset and its virtual image are
    // on screen (the harness was built, and the open job started, just before `start`).
    let start = Instant::now();
    let (mut opened, mut image) = (None, None);
    let mut frames = Vec::new();
    while (harness.state().is_busy() || image.is_none())
        && start.elapsed() < Duration::from_secs(120)
    {
        let frame = Instant::now();
        harness.step();
        frames.push(frame.elapsed());
        let data = harness.state().state.data.as_ref();
        if opened.is_none() && data.is_some() {
            opened = Some(start.elapsed());
        }
        if image.is_none() && data.is_some_and(|d| d.analysis.is_some()) {
            image = Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let longest = frames.iter().max().copied().unwrap_or_default();
    println!(
        "opened after {:.3} s, virtual image on screen after {:.3} s (longest frame meanwhile {:.2} ms)",
        opened.unwrap_or_default().as_secs_f64(),
        image.unwrap_or_default().as_secs_f64(),
        longest.as_secs_f64() * 1e3
    );
    // Select a pixel so the inspector and its chart are drawn too.
    harness.state_mut().state.linked.selected = Some([10, 10]);
    if click {
        return click_latency(&mut harness);
    }
    if predict {
        return time_inference(&mut harness);
    }

    let mut busy_frames = Vec::new();
    let mut passes = 0;
    let run_for = Duration::from_secs(8);
    let start = Instant::now();
    while start.elapsed() < run_for {
        if !harness.state().is_busy() {
            harness.state_mut().rerun_pass();
            passes += 1;
        }
        // Hover across the views so the inspector reads patterns as it would under a mouse.
        let t = start.elapsed().as_secs_f32();
        harness.hover_at(egui::pos2(150.0 + 300.0 * (t % 1.0), 300.0));
        let frame = Instant::now();
        harness.step();
        let dt = frame.elapsed();
        if harness.state().is_busy() {
            busy_frames.push(dt);
        }
        // ~60 frames per second, as a display would ask for them.
        std::thread::sleep(Duration::from_millis(16).saturating_sub(dt));
    }
    busy_frames.sort();
    let n = busy_frames.len();
    anyhow::ensure!(n > 0, "no frame ran while a job was running");
    let at = |q: f64| quantile(&busy_frames, q).as_secs_f64() * 1e3;
    println!(
        "{passes} pattern passes in the background; {n} frames while busy: median {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        at(0.5),
        at(0.95),
        at(0.99),
        at(1.0)
    );
    println!(
        "{}",
        if at(0.99) < 16.0 {
            "OK: p99 frame time under 16 ms"
        } else {
            "SLOW: p99 frame time over 16 ms"
        }
    );
    Ok(())
}

/// Frame times while the selected model runs over the scan in the background (restarted
/// whenever it finishes), and how often the class map filled in.
fn time_inference(harness: &mut Harness<'static, PolarmapApp>) -> anyhow::Result<()> {
    let model = selected_model(harness)?;
    let mut frames = Vec::new();
    let (mut runs, mut updates, mut last_done) = (0, 0, usize::MAX);
    let mut run_seconds = Vec::new();
    let mut run_started = Instant::now();
    let run_for = Duration::from_secs(10);
    let start = Instant::now();
    while start.elapsed() < run_for {
        if !harness.state().is_busy() {
            if runs > 0 {
                run_seconds.push(run_started.elapsed().as_secs_f64());
            }
            harness.state_mut().run_model(model.clone());
            run_started = Instant::now();
            runs += 1;
        }
        let t = start.elapsed().as_secs_f32();
        harness.hover_at(egui::pos2(150.0 + 300.0 * (t % 1.0), 300.0));
        let frame = Instant::now();
        harness.step();
        let dt = frame.elapsed();
        let state = harness.state();
        let done = state
            .state
            .data
            .as_ref()
            .and_then(|d| d.prediction.as_ref())
            .map_or(0, |p| p.done);
        if done != last_done {
            updates += 1;
            last_done = done;
        }
        if state.is_busy() {
            frames.push(dt);
        }
        std::thread::sleep(Duration::from_millis(16).saturating_sub(dt));
    }
    frames.sort();
    let n = frames.len();
    anyhow::ensure!(n > 0, "no frame ran while inference was running");
    let mean = frames.iter().map(Duration::as_secs_f64).sum::<f64>() / n as f64 * 1e3;
    let at = |q: f64| quantile(&frames, q).as_secs_f64() * 1e3;
    let [rows, cols] = harness
        .state()
        .state
        .data
        .as_ref()
        .map(|d| d.scan().scan_shape())
        .unwrap_or_default();
    println!(
        "inference of {} over {rows}×{cols} patterns: {} runs started, {} finished (mean {:.2} s each); the class map changed {updates} times",
        model.display(),
        runs,
        run_seconds.len(),
        run_seconds.iter().sum::<f64>() / run_seconds.len().max(1) as f64,
    );
    println!(
        "{n} frames while inference ran: mean {mean:.2} ms, median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        at(0.5),
        at(0.99),
        at(1.0)
    );
    Ok(())
}

/// Click-to-pixels latency: for each click on a virtual-image pixel, the time (and frames)
/// from the frame that receives the click to the end of the frame that draws that pixel's
/// pattern in the inspector; idle, then while the default model runs.
fn click_latency(harness: &mut Harness<'static, PolarmapApp>) -> anyhow::Result<()> {
    use egui_kittest::kittest::Queryable;
    let model = selected_model(harness)?;
    harness.state_mut().views.inspector.follow_hover = false;
    harness.run_steps(2);
    let view = harness
        .get_by_role_and_label(egui::accesskit::Role::Image, "virtual image")
        .rect();
    let (rows, cols) = harness.state().state.linked.dims;
    // The views start fitted: the scan centred in the viewport, square pixels.
    let scale = (view.width() / cols as f32).min(view.height() / rows as f32);
    let at = |r: usize, c: usize| {
        view.center()
            + egui::vec2(
                (c as f32 + 0.5 - cols as f32 / 2.0) * scale,
                (r as f32 + 0.5 - rows as f32 / 2.0) * scale,
            )
    };
    for busy in [false, true] {
        let (mut times, mut frames) = (Vec::new(), Vec::new());
        let mut k = 0usize;
        while times.len() < 60 {
            if busy && !harness.state().is_busy() {
                harness.state_mut().run_model(model.clone());
                harness.step();
            }
            // A pixel far from the last one (a new pattern every time).
            k += 1;
            let (r, c) = ((k * 37) % rows, (k * 61) % cols);
            let pos = at(r, c);
            harness.hover_at(pos);
            harness.step();
            harness.event(egui::Event::PointerButton {
                pos,
                button: egui::PointerButton::Primary,
                pressed: true,
                modifiers: egui::Modifiers::NONE,
            });
            harness.step();
            // egui takes the click on the release.
            let start = Instant::now();
            harness.event(egui::Event::PointerButton {
                pos,
                button: egui::PointerButton::Primary,
                pressed: false,
                modifiers: egui::Modifiers::NONE,
            });
            let mut n = 0;
            loop {
                harness.step();
                n += 1;
                if harness.state().views.inspector.shown_pixel() == Some([r, c]) {
                    break;
                }
                anyhow::ensure!(n < 10_000, "pixel ({r}, {c}) never shown");
                std::thread::sleep(Duration::from_micros(200));
            }
            if !busy || harness.state().is_busy() {
                times.push(start.elapsed().as_secs_f64() * 1e3);
                frames.push(n);
            }
            // A display's frame interval between clicks.
            std::thread::sleep(Duration::from_millis(16));
        }
        times.sort_by(f64::total_cmp);
        frames.sort();
        println!(
            "click to pixels, {}: {} clicks, median {:.2} ms, p95 {:.2} ms, max {:.2} ms; frames median {}, max {}",
            if busy { "while the model runs" } else { "idle" },
            times.len(),
            quantile(&times, 0.5),
            quantile(&times, 0.95),
            quantile(&times, 1.0),
            quantile(&frames, 0.5),
            quantile(&frames, 1.0)
        );
    }
    Ok(())
}

/// The model file selected in the app (the shipped default at start).
fn selected_model(harness: &Harness<'static, PolarmapApp>) -> anyhow::Result<PathBuf> {
    let selected = harness.state().views.model.selected.clone();
    selected.ok_or_else(|| anyhow::anyhow!("no model selected"))
}

/// The nearest-rank `q`-quantile of sorted, non-empty `values`.
fn quantile<T: Copy>(values: &[T], q: f64) -> T {
    values[((values.len() - 1) as f64 * q).round() as usize]
}

/// The demo scan tiled `times`×`times` (same patterns, same calibration, no labels).
fn tiled_demo(path: &std::path::Path, times: usize) -> anyhow::Result<PathBuf> {
    let demo = polarmap_core::open(polarmap::gui::demo_path())?;
    let [rows, cols] = demo.scan_shape();
    let [dr, dc] = demo.frame_shape();
    let shape = [rows * times, cols * times, dr, dc];
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    out.write_all(&polarmap_core::scan::npy::header_bytes(
        polarmap_core::DType::U16,
        &shape,
    ))?;
    let frames: Vec<Vec<f32>> = (0..rows * cols)
        .map(|i| demo.frame_f32(i / cols, i % cols))
        .collect::<Result<_, _>>()?;
    for r in 0..shape[0] {
        for c in 0..shape[1] {
            for &v in &frames[(r % rows) * cols + c % cols] {
                out.write_all(&(v.round().clamp(0.0, 65535.0) as u16).to_le_bytes())?;
            }
        }
    }
    out.flush()?;
    std::fs::write(
        path.with_extension("meta.json"),
        serde_json::to_string_pretty(&demo.calibration)?,
    )?;
    Ok(path.to_path_buf())
}

/// A `.npy` of uint16 patterns: a bright disk whose centre moves with the scan position.
fn synthetic_scan(path: &std::path::Path, shape: [usize; 4]) -> anyhow::Result<PathBuf> {
    let [rows, cols, dr, dc] = shape;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    out.write_all(&polarmap_core::scan::npy::header_bytes(
        polarmap_core::DType::U16,
        &shape,
    ))?;
    let mut frame = vec![0u8; dr * dc * 2];
    for r in 0..rows {
        for c in 0..cols {
            let (cy, cx) = (
                dr as f64 / 2.0 + (r as f64 * 0.7).sin() * 2.0,
                dc as f64 / 2.0 + (c as f64 * 0.5).cos() * 2.0,
            );
            for (i, px) in frame.chunks_exact_mut(2).enumerate() {
                let (y, x) = ((i / dc) as f64, (i % dc) as f64);
                let inside = (y - cy).hypot(x - cx) < dr as f64 / 6.0;
                let v: u16 = if inside { 1000 } else { 10 + (i % 7) as u16 };
                px.copy_from_slice(&v.to_le_bytes());
            }
            out.write_all(&frame)?;
        }
    }
    out.flush()?;
    Ok(path.to_path_buf())
}
