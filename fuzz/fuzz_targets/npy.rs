//! NumPy `.npy`: the header parser on raw bytes, then the file through `open`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use polarmap_io::scan::{npy, OpenOptions};

fuzz_target!(|data: &[u8]| {
    let _ = npy::parse_header(data);
    let dir = polarmap_fuzz::workdir("npy");
    let path = polarmap_fuzz::write(dir, "scan.npy", data);
    polarmap_fuzz::open_and_read(&path, &OpenOptions::default());
});
