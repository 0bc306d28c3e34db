//! Raw binary frames described by a sidecar: the input is the sidecar JSON, a NUL byte, then the
//! raw file (no NUL: the whole input is the sidecar of an empty file).
#![no_main]
use libfuzzer_sys::fuzz_target;
use polarmap_io::scan::OpenOptions;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (sidecar, raw) = (&data[..split], data.get(split + 1..).unwrap_or(&[]));
    let dir = polarmap_fuzz::workdir("raw_sidecar");
    polarmap_fuzz::write(dir, "scan.meta.json", sidecar);
    let path = polarmap_fuzz::write(dir, "scan.raw", raw);
    polarmap_fuzz::open_and_read(&path, &OpenOptions::default());
});
