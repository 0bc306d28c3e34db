//! The `polarmap` binary end to end: outputs, JSON keys, and clear errors on bad input.

use crate::common::polarmap;
use polarmap_core::scan::{npy, DType};
use std::path::Path;

/// A 4×5 scan of 32×32 u16 patterns: a disk of radius 6 moving one pixel right per column.
fn write_disk_scan(path: &Path) {
    let mut bytes = npy::header_bytes(DType::U16, &[4, 5, 32, 32]);
    for _r in 0..4 {
        for c in 0..5 {
            for i in 0..32 * 32 {
                let (y, x) = ((i / 32) as f64, (i % 32) as f64);
                let inside = (y - 15.5).hypot(x - 13.5 - c as f64) <= 6.0;
                bytes.extend((if inside { 50u16 } else { 1 }).to_le_bytes());
            }
        }
    }
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn info_json_has_the_documented_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scan.npy");
    write_disk_scan(&path);
    std::fs::write(
        dir.path().join("scan.meta.json"),
        r#"{"energy_kv": 200, "convergence_mrad": 24, "mrad_per_px": 0.5}"#,
    )
    .unwrap();
    let (ok, stdout, stderr) = polarmap(&["info", path.to_str().unwrap(), "--json", "--stats"]);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!(v["shape"], serde_json::json!([4, 5, 32, 32]));
    assert_eq!(v["dtype"], "uint16");
    assert_eq!(v["calibration"]["energy_kv"], 200.0);
    assert_eq!(v["calibration"]["mrad_per_px"], 0.5);
    let disk = &v["bf_disk"];
    assert!(
        (disk["center_row"].as_f64().unwrap() - 15.5).abs() < 0.3,
        "{disk}"
    );
    assert!(
        (disk["center_col"].as_f64().unwrap() - 15.5).abs() < 0.5,
        "{disk}"
    );
    assert!(
        (disk["radius_px"].as_f64().unwrap() - 6.0).abs() < 0.7,
        "{disk}"
    );
    assert!(v["global_com"]["row"].is_number() && v["global_com"]["col"].is_number());
    // Pixel statistics: per frame 1 + 49 × (pixels in the disk).
    assert_eq!(v["min"], 1.0);
    assert_eq!(v["max"], 50.0);
    let sum = v["sum"].as_f64().unwrap();
    assert!(sum > 20.0 * 1024.0 && sum < 20.0 * 1024.0 * 50.0);
    assert!((v["mean"].as_f64().unwrap() - sum / (20.0 * 1024.0)).abs() < 1e-9);
}

#[test]
fn three_d_array_reports_one_scan_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stack.npy");
    let mut bytes = npy::header_bytes(DType::F32, &[6, 8, 8]);
    for i in 0..6 * 64 {
        let v = if (i % 64) / 8 == 3 { 10.0f32 } else { 1.0 };
        bytes.extend(v.to_le_bytes());
    }
    std::fs::write(&path, bytes).unwrap();
    let (ok, stdout, stderr) = polarmap(&["info", path.to_str().unwrap(), "--json"]);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["shape"], serde_json::json!([1, 6, 8, 8]));
    // A one-row band has no disk: reported as null with the reason, not as a failure.
    assert!(v["bf_disk"].is_null());
    assert!(v["bf_disk_problem"].as_str().unwrap().contains("flat"));
    let (ok, stdout, _) = polarmap(&[
        "info",
        path.to_str().unwrap(),
        "--json",
        "--scan-shape",
        "2x3",
    ]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["shape"], serde_json::json!([2, 3, 8, 8]));
    let (ok, _, stderr) = polarmap(&["info", path.to_str().unwrap(), "--scan-shape", "4x4"]);
    assert!(!ok);
    assert!(
        stderr.contains("stack.npy") && stderr.contains("4x4"),
        "{stderr}"
    );
}

/// `--tilt-mrad X,Y` joins the calibration (negative values too); anything but two numbers, or a
/// tilt no crop could follow, is refused before the scan is read, and so is asking `predict`
/// both to use a stated tilt and to search for one.
#[test]
fn a_stated_tilt_joins_the_calibration() {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo.npy");
    let (ok, stdout, stderr) = polarmap(&["info", demo, "--json", "--tilt-mrad", "-1.5,2"]);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        v["calibration"]["tilt_mrad"],
        serde_json::json!([-1.5, 2.0])
    );
    assert_eq!(v["calibration"]["mrad_per_px"], serde_json::json!(1.25));
    for (bad, says) in [
        ("1.5", "X,Y"),
        ("1,y", "two numbers"),
        ("30,0", "within 20 mrad"),
    ] {
        let (ok, _, stderr) = polarmap(&["info", demo, "--tilt-mrad", bad]);
        assert!(!ok && stderr.contains(says), "{bad}: {stderr}");
    }
    // A stated tilt and a searched one are two answers to one question.
    let (ok, _, stderr) = polarmap(&["predict", demo, "--tilt-mrad", "1,1", "--find-tilt"]);
    assert!(!ok && stderr.contains("cannot be used with"), "{stderr}");
}

#[test]
fn com_writes_icom_idpc_and_virtual_detectors_from_one_pass() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scan.npy");
    write_disk_scan(&path);
    let file = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let args = [
        "com",
        &file("scan.npy"),
        "--descan",
        "none",
        "--adf",
        "3",
        "9",
        "--adf-out",
        &file("adf.npy"),
        "--icom-out",
        &file("icom.npy"),
        "--idpc-out",
        &file("idpc.npy"),
        "--virtual",
        "annulus:3:9",
        "--virtual",
        "sector:0:9:90:270",
        "--virtual-out",
        &file("virtual.npy"),
    ];
    let (ok, _, stderr) = polarmap(&args);
    assert!(ok, "{stderr}");
    let values = |name: &str| {
        // A 2-D (or 3-D) .npy opens as one (or n) frames of a 1-row scan.
        let scan = polarmap_core::open(Path::new(&file(name))).unwrap();
        (0..scan.n_frames())
            .flat_map(|i| scan.frame_f32(0, i).unwrap())
            .collect::<Vec<f32>>()
    };
    // The annulus given as a virtual detector is the ADF detector with the same radii.
    let (adf, virt) = (values("adf.npy"), values("virtual.npy"));
    assert_eq!(virt.len(), 2 * adf.len());
    for (a, v) in adf.iter().zip(&virt) {
        assert!((a - v).abs() <= 1e-4 * a.abs().max(1.0), "{a} against {v}");
    }
    // The CoM x is ~(col − 2) px and y ~0, so its integral is (col − 2)²/2 less its mean
    // (1.0) on every row; the iDPC of the same deflection has the same shape, lowest at col 2.
    for row in values("icom.npy").chunks_exact(5) {
        for (c, &v) in row.iter().enumerate() {
            let expected = (c as f32 - 2.0).powi(2) / 2.0 - 1.0;
            assert!((v - expected).abs() < 0.35, "iCoM {row:?}");
        }
    }
    for row in values("idpc.npy").chunks_exact(5) {
        assert!(row[0] > row[1] && row[1] > row[2] && row[4] > row[3] && row[3] > row[2]);
    }
}

#[test]
fn com_writes_outputs_and_never_overwrites_without_asking() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scan.npy");
    write_disk_scan(&path);
    let out = dir.path().join("com.npy");
    let png = dir.path().join("com.png");
    let bf = dir.path().join("bf.npy");
    let args = [
        "com",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--png",
        png.to_str().unwrap(),
        "--bf-out",
        bf.to_str().unwrap(),
        "--descan",
        "none",
        "--png-scale",
        "3",
    ];
    let (ok, _, stderr) = polarmap(&args);
    assert!(ok, "{stderr}");
    // CoM x grows by ~1 px per scan column (the disk moves right); y ≈ 0.
    // A (4, 5, 2) array opens as 4 "frames" of 5×2: one scan row of (x, y) pairs each.
    let scan = polarmap_core::open(&out).unwrap();
    assert_eq!(scan.shape(), [1, 4, 5, 2]);
    let row = scan.frame_f32(0, 2).unwrap();
    for c in 1..5 {
        let step = row[2 * c] - row[2 * (c - 1)];
        assert!((step - 1.0).abs() < 0.2, "x step {step} in {row:?}");
        assert!(row[2 * c + 1].abs() < 0.05, "y must vanish: {row:?}");
    }
    let img = image::open(&png).unwrap();
    assert_eq!((img.width(), img.height()), (15, 12));
    let bf_scan = polarmap_core::open(&bf).unwrap();
    assert_eq!(bf_scan.shape(), [1, 1, 4, 5]);

    let before = std::fs::read(&out).unwrap();
    let (ok, _, stderr) = polarmap(&args);
    assert!(!ok, "second run must refuse to overwrite");
    assert!(stderr.contains("already exists"), "{stderr}");
    assert_eq!(std::fs::read(&out).unwrap(), before);
    let mut again = args.to_vec();
    again.push("--overwrite");
    assert!(polarmap(&again).0);
}

#[test]
fn bad_input_gets_a_clear_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "notes.txt",
            b"hello, I am not a scan".to_vec(),
            "unknown format",
        ),
        ("empty.npy", Vec::new(), "the file is empty (0 bytes)"),
        (
            "trunc.npy",
            {
                let mut b = npy::header_bytes(DType::U16, &[4, 4, 16, 16]);
                b.extend(vec![0u8; 1000]);
                b
            },
            "truncated",
        ),
        (
            "fortran.npy",
            {
                let dict = "{'descr': '<u2', 'fortran_order': True, 'shape': (2, 2, 4, 4), }";
                let mut b = b"\x93NUMPY\x01\x00".to_vec();
                b.extend((dict.len() as u16).to_le_bytes());
                b.extend(dict.as_bytes());
                b.extend(vec![0u8; 128]);
                b
            },
            "Fortran",
        ),
        (
            "liar.npy",
            {
                let mut b = b"\x93NUMPY\x01\x00".to_vec();
                b.extend(5000u16.to_le_bytes());
                b.extend(b"{'descr': '<u2'}");
                b
            },
            "header",
        ),
        (
            "five_d.npy",
            {
                let mut b = npy::header_bytes(DType::U8, &[1, 1, 1, 2, 2]);
                b.extend([0u8; 4]);
                b
            },
            "shape",
        ),
    ];
    for (name, bytes, expect) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let (ok, _, stderr) = polarmap(&["info", path.to_str().unwrap()]);
        assert!(!ok, "{name} must fail");
        assert!(
            stderr.contains(name),
            "{name}: error does not name the file: {stderr}"
        );
        assert!(
            stderr.contains(expect),
            "{name}: expected '{expect}' in: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
    let missing = dir.path().join("missing.npy");
    let (ok, _, stderr) = polarmap(&["info", missing.to_str().unwrap()]);
    assert!(!ok && stderr.contains("missing.npy"), "{stderr}");
}

/// `polarmap ... | head` closes the pipe early: the process ends quietly (SIGPIPE), it does not
/// panic in `println!`.
#[cfg(unix)]
#[test]
fn a_closed_output_pipe_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let scan = dir.path().join("disks.npy");
    write_disk_scan(&scan);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_polarmap"))
        .args(["info", scan.to_str().unwrap(), "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away before anything is written
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        out.status.success() || out.status.signal() == Some(libc::SIGPIPE),
        "{:?}: {stderr}",
        out.status
    );
}

/// `polarmap train …` runs the command line even where a folder named `train` exists (the word is
/// a subcommand, never a path to open in the window).
#[test]
fn a_subcommand_is_never_taken_for_a_path() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["train", "predict", "info", "com"] {
        std::fs::create_dir(dir.path().join(command)).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_polarmap"))
            .arg(command)
            .current_dir(dir.path())
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{command}: {stderr}");
        assert!(
            stderr.contains(&format!("Usage: polarmap {command}")),
            "{command} was not parsed as a subcommand: {stderr}"
        );
    }
}

/// A copy of the binary run from elsewhere, with no checkout beside it, finds its demo scan and
/// shipped models: they are embedded and written into the user's data folder, byte for byte.
#[test]
fn an_installed_binary_finds_its_demo_and_models_anywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin/polarmap");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_polarmap"), &bin).unwrap();
    let (work, data) = (tmp.path().join("elsewhere"), tmp.path().join("data"));
    std::fs::create_dir_all(&work).unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(&bin)
            .args(args)
            .current_dir(&work)
            .env("XDG_DATA_HOME", &data)
            .env_remove("POLARMAP_MODELS")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .output()
            .unwrap()
    };
    // No display: `polarmap` alone prints the command-line demo on the embedded demo scan.
    let demo = run(&[]);
    let stdout = String::from_utf8_lossy(&demo.stdout);
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    assert!(stdout.contains("CoM over 32x32 positions"), "{stdout}");
    let installed: Vec<_> = std::fs::read_dir(data.join("polarmap"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(
        installed.len(),
        1,
        "one install folder per version and content"
    );
    let root = installed[0].path();
    let checkout = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in [
        "assets/demo.npy",
        "assets/demo.meta.json",
        "models/pca-knn.pmm",
    ] {
        assert_eq!(
            std::fs::read(root.join(file)).unwrap(),
            std::fs::read(checkout.join(file)).unwrap(),
            "{file}"
        );
    }
    // The default model is the embedded one.
    let demo_scan = root.join("assets/demo.npy");
    let out = run(&["predict", demo_scan.to_str().unwrap(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["model_file"].as_str().unwrap(),
        root.join("models")
            .join(polarmap_core::models::DEFAULT_MODEL)
            .to_str()
            .unwrap()
    );
}

#[test]
fn an_unwritable_output_names_the_file_and_the_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scan.npy");
    write_disk_scan(&path);
    let out = dir.path().join("missing-folder").join("icom.npy");
    let (ok, _, stderr) = polarmap(&[
        "com",
        path.to_str().unwrap(),
        "--icom-out",
        out.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(stderr.contains("icom.npy"), "{stderr}");
    assert_eq!(stderr.matches("os error").count(), 1, "{stderr}");
}

fn demo_scan() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.npy")
}

/// The text of every `<text>` element of an SVG, which must parse as XML to its end.
fn svg_texts(svg: &str) -> Vec<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(svg);
    let (mut texts, mut inside) = (Vec::new(), false);
    loop {
        match reader.read_event().expect("the SVG is well-formed XML") {
            Event::Start(e) if e.name().as_ref() == b"text" => inside = true,
            Event::End(e) if e.name().as_ref() == b"text" => inside = false,
            Event::Text(t) if inside => texts.push(t.decode().unwrap().trim().to_string()),
            Event::Eof => break,
            _ => {}
        }
    }
    texts
}

#[test]
fn figure_of_the_demo_png_at_its_dpi_and_svg_with_the_classes_present() {
    let dir = tempfile::tempdir().unwrap();
    let demo = demo_scan();
    let (ok, stdout, err) = polarmap(&["predict", demo.to_str().unwrap(), "--json"]);
    assert!(ok, "{err}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let distribution = summary["distribution"].as_object().unwrap();
    // The distribution is over the determined pixels; the figure's legend is over all pixels
    // (its "undetermined" entry makes up the rest).
    let determined = summary["determined_pixels"].as_f64().unwrap();
    let all = determined + summary["undetermined_pixels"].as_f64().unwrap();
    // Its two domains (RM, RD) are 45° apart: their pixels agree on a direction (resultant
    // cos 22.5° = 0.92 for equal halves), so the count majority is the scan's direction.
    let coherence = &summary["direction_coherence"];
    assert!(
        coherence["resultant"].as_f64().unwrap() > 0.85,
        "{coherence}"
    );
    assert!(coherence["p_value"].as_f64().unwrap() < 1e-6, "{coherence}");
    assert_eq!(summary["outcome"], "determined");
    assert_eq!(summary["majority_class"], summary["majority_by_count"]);

    // PNG: 180 mm (the composite's default width) at 150 DPI, and the DPI in the file.
    let png = dir.path().join("fig.png");
    let (ok, _, err) = polarmap(&[
        "figure",
        demo.to_str().unwrap(),
        "-o",
        png.to_str().unwrap(),
        "--dpi",
        "150",
    ]);
    assert!(ok, "{err}");
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let reader = decoder.read_info().unwrap();
    let info = reader.info();
    assert_eq!(info.width, (180.0f64 / 25.4 * 150.0).round() as u32);
    let dims = info.pixel_dims.expect("the PNG records its DPI");
    assert_eq!(dims.unit, png::Unit::Meter);
    assert_eq!(dims.xppu, (150.0f64 / 0.0254).round() as u32);
    // Twice the DPI, twice the pixels.
    let (ok, _, err) = polarmap(&[
        "figure",
        demo.to_str().unwrap(),
        "-o",
        png.to_str().unwrap(),
        "--dpi",
        "300",
        "--overwrite",
    ]);
    assert!(ok, "{err}");
    assert_eq!(image::open(&png).unwrap().width(), 2126);

    // SVG: parses; three panel headings, the scale bar in Å, and a legend line for each class
    // that occurs (no other) with its fraction, summing to 100 %.
    let svg = dir.path().join("fig.svg");
    let (ok, _, err) = polarmap(&[
        "figure",
        demo.to_str().unwrap(),
        "-o",
        svg.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let texts = svg_texts(&std::fs::read_to_string(&svg).unwrap());
    for expected in ["virtual ADF", "CoM field", "5 Å"] {
        assert!(
            texts.iter().any(|t| t == expected),
            "{expected} in {texts:?}"
        );
    }
    let mut total = 0.0;
    let mut listed = Vec::new();
    for text in &texts {
        let Some((name, percent)) = text.split_once(' ') else {
            continue;
        };
        if polarmap_core::Class::from_name(name).is_some() && percent.ends_with(" %") {
            let value: f64 = percent.trim_end_matches(" %").parse().unwrap();
            let fraction = distribution[name].as_f64().unwrap() * determined / all;
            assert_eq!(percent, format!("{:.1} %", 100.0 * fraction), "{name}");
            total += value;
            listed.push(name.to_string());
        }
    }
    let present: Vec<String> = polarmap_core::Class::ALL
        .iter()
        .map(|c| c.name().to_string())
        .filter(|n| distribution[n.as_str()].as_f64().unwrap() > 0.0)
        .collect();
    assert_eq!(
        listed, present,
        "the legend lists exactly the classes present"
    );
    assert!(
        (total - 100.0 * determined / all).abs() < 0.1 * listed.len() as f64,
        "{total}"
    );
    if determined < all {
        let rest = format!("undetermined {:.1} %", 100.0 * (all - determined) / all);
        assert!(texts.contains(&rest), "{rest} in {texts:?}");
    }

    // PDF: one page of the SVG's size in mm (180 mm = 510.24 pt wide), its font embedded.
    let pdf = dir.path().join("fig.pdf");
    let (ok, _, err) = polarmap(&[
        "figure",
        demo.to_str().unwrap(),
        "-o",
        pdf.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let bytes = std::fs::read(&pdf).unwrap();
    let width = crate::common::pdf_page_width_pt(&bytes);
    assert!((width - 2126.0 / 300.0 * 72.0).abs() < 0.02, "{width} pt");
    assert!(String::from_utf8_lossy(&bytes).contains("Ubuntu"));
}

/// The first and last x of the non-white run through `x` in row `y`.
fn run_around(img: &image::RgbImage, x: u32, y: u32, white: bool) -> (u32, u32) {
    let is = |x: u32| (img.get_pixel(x, y).0 == [255, 255, 255]) == white;
    let (mut a, mut b) = (x, x);
    while a > 0 && is(a - 1) {
        a -= 1;
    }
    while b + 1 < img.width() && is(b + 1) {
        b += 1;
    }
    (a, b)
}

#[test]
fn figure_outlines_regions_and_measures_its_scale_bar_in_scan_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let demo = demo_scan();
    let regions = dir.path().join("regions.json");
    // The region-labels layout (docs/formats.md): rows 10..16, columns 3..9.
    std::fs::write(
        &regions,
        r#"{"regions": [{"class": "RM", "region": {"kind": "rect", "row0": 10, "col0": 3, "row1": 16, "col1": 9}}]}"#,
    )
    .unwrap();
    let plain = dir.path().join("plain.png");
    let outlined = dir.path().join("outlined.png");
    for (out, extra) in [(&plain, None), (&outlined, Some(&regions))] {
        let mut args = vec![
            "figure",
            demo.to_str().unwrap(),
            "--view",
            "classes",
            "-o",
            out.to_str().unwrap(),
        ];
        if let Some(r) = extra {
            args.extend(["--regions", r.to_str().unwrap()]);
        }
        let (ok, stdout, err) = polarmap(&args);
        assert!(ok, "{err}");
        assert!(stdout.contains("scale bar 5 Å"), "{stdout}");
    }
    let plain = image::open(&plain).unwrap().to_rgb8();
    let outlined = image::open(&outlined).unwrap().to_rgb8();
    // One view: 85 mm at 300 DPI.
    assert_eq!(plain.width(), 1004);
    assert_eq!(plain.dimensions(), outlined.dimensions());
    // The outline is what differs: its bounding box.
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for (x, y, p) in outlined.enumerate_pixels() {
        if *p != *plain.get_pixel(x, y) {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
    }
    assert!(x1 > x0, "the outline changed pixels");
    // The map panel (class colours, never white) through the outline's middle row: 32 scan
    // pixels of k output pixels each.
    let (left, right) = run_around(&plain, (x0 + x1) / 2, (y0 + y1) / 2, false);
    let width = right - left + 1;
    assert_eq!(
        width % 32,
        0,
        "whole output pixels per scan pixel ({width})"
    );
    let k = width / 32;
    assert!(k > 10, "{k}");
    assert_eq!((x0, x1 + 1), (left + 3 * k, left + 9 * k), "columns 3..9");
    assert_eq!(y1 + 1 - y0, 6 * k, "rows 10..16");
    // The scale bar: the longest run of black in the figure, 5 Å of 0.49375 Å scan steps.
    let longest = (0..plain.height())
        .map(|y| {
            let (mut best, mut run) = (0, 0);
            for x in 0..plain.width() {
                run = if plain.get_pixel(x, y).0 == [0, 0, 0] {
                    run + 1
                } else {
                    0
                };
                best = best.max(run);
            }
            best
        })
        .max()
        .unwrap();
    assert_eq!(longest, (5.0 / 0.49375 * k as f64).round() as u32);
}

/// The CLI prints the reader's warnings: a sidecar outvoted by a 4-D array's own scan shape.
#[test]
fn a_sidecar_outvoted_by_the_array_is_a_warning_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scan.npy");
    write_disk_scan(&path);
    std::fs::write(
        dir.path().join("scan.meta.json"),
        r#"{"scan_shape": [5, 4]}"#,
    )
    .unwrap();
    let (ok, stdout, stderr) = polarmap(&["info", path.to_str().unwrap(), "--json"]);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!(v["shape"], serde_json::json!([4, 5, 32, 32]));
    assert!(
        stderr.contains("warning:")
            && stderr.contains("[5, 4]")
            && stderr.contains("using the array's"),
        "{stderr}"
    );
}
