//! A folder of single-frame TIFFs: the input is one file of a two-file folder whose other file
//! is the same input with its last byte dropped (so the per-file header check runs on both).
#![no_main]
use libfuzzer_sys::fuzz_target;
use polarmap_io::scan::{tiff::TiffFolder, OpenOptions};

fuzz_target!(|data: &[u8]| {
    let root = polarmap_fuzz::workdir("tiff_folder");
    let dir = root.join("frames");
    std::fs::create_dir_all(&dir).expect("cannot create the folder");
    polarmap_fuzz::write(&dir, "img_0.tif", data);
    polarmap_fuzz::write(&dir, "img_1.tif", &data[..data.len().saturating_sub(1)]);
    if let Ok(folder) = TiffFolder::open(&dir) {
        let _ = folder.verify();
    }
    polarmap_fuzz::open_and_read(&dir, &OpenOptions::default());
});
