//! Gatan DigitalMicrograph `.dm3`/`.dm4`: the tag-tree parser alone, then opening and reading.
#![no_main]
use libfuzzer_sys::fuzz_target;
use polarmap_io::scan::{dm, OpenOptions};

fuzz_target!(|data: &[u8]| {
    let _ = dm::parse(data);
    let dir = polarmap_fuzz::workdir("dm");
    let path = polarmap_fuzz::write(dir, "scan.dm4", data);
    polarmap_fuzz::open_and_read(&path, &OpenOptions::default());
});
