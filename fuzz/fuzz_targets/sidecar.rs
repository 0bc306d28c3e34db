//! The sidecar `NAME.meta.json` alone: parse, validate, rewrite, and resolve class labels.
#![no_main]
use libfuzzer_sys::fuzz_target;
use polarmap_io::scan::{Labels, Sidecar};

fuzz_target!(|data: &[u8]| {
    let dir = polarmap_fuzz::workdir("sidecar");
    let path = polarmap_fuzz::write(dir, "scan.meta.json", data);
    let Ok(sidecar) = Sidecar::read(&path) else {
        return;
    };
    // What was read is written back and reads the same.
    let again = dir.join("again.meta.json");
    sidecar
        .write(&again)
        .expect("a sidecar that was read can be written");
    let reread = Sidecar::read(&again).expect("a rewritten sidecar reads back");
    assert_eq!(reread.scan_shape, sidecar.scan_shape);
    assert_eq!(reread.calibration, sidecar.calibration);
    assert_eq!(reread.labels, sidecar.labels);
    let _ = sidecar.raw_layout();
    // Per-pixel label files are opened only inside the scratch folder (never a device or FIFO
    // named by the input).
    let shape = sidecar.scan_shape.unwrap_or([2, 2]);
    match &sidecar.labels {
        Some(labels @ Labels::Class(_)) => {
            let map = labels.resolve(shape).expect("a class label resolves");
            assert_eq!(map.dim(), (shape[0], shape[1]));
        }
        Some(labels @ Labels::PerPixel(p)) if p.parent() == Some(dir) => {
            let _ = labels.resolve(shape);
        }
        _ => {}
    }
});
