//! A multi-page (or single-page) TIFF file.
#![no_main]
use libfuzzer_sys::fuzz_target;
use polarmap_io::scan::OpenOptions;

fuzz_target!(|data: &[u8]| {
    let dir = polarmap_fuzz::workdir("tiff_pages");
    let path = polarmap_fuzz::write(dir, "stack.tif", data);
    polarmap_fuzz::open_and_read(&path, &OpenOptions::default());
});
