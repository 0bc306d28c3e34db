//! HDF5 / EMD: listing the datacubes, then opening the first through `open`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use polarmap_io::scan::{hdf5, OpenOptions};

fuzz_target!(|data: &[u8]| {
    let dir = polarmap_fuzz::workdir("hdf5");
    let path = polarmap_fuzz::write(dir, "scan.emd", data);
    let _ = hdf5::list_candidates(&path);
    polarmap_fuzz::open_and_read(&path, &OpenOptions::default());
});
