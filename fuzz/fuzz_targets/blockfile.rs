//! NanoMegas blockfile `.blo`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use polarmap_io::scan::{blockfile, OpenOptions};

fuzz_target!(|data: &[u8]| {
    let _ = blockfile::parse_header(data);
    let dir = polarmap_fuzz::workdir("blockfile");
    let path = polarmap_fuzz::write(dir, "scan.blo", data);
    polarmap_fuzz::open_and_read(&path, &OpenOptions::default());
});
