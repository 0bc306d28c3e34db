//! Velox EMD: opening the file (the diffraction stack, or the refusal that lists its images),
//! then the same with the first image's dataset named, as a user reading a camera stack does.
#![no_main]
use libfuzzer_sys::fuzz_target;
use polarmap_io::scan::OpenOptions;

fuzz_target!(|data: &[u8]| {
    let dir = polarmap_fuzz::workdir("velox");
    let path = polarmap_fuzz::write(dir, "scan.emd", data);
    polarmap_fuzz::open_and_read(&path, &OpenOptions::default());
    for dataset in [
        "/Data/Image/26f60320a61d4f66a73efd8cde34ffa9/Data",
        "/Data/Image/0123456789abcdef0123456789abcdef/Data",
    ] {
        let options = OpenOptions {
            dataset: Some(dataset.into()),
            ..Default::default()
        };
        polarmap_fuzz::open_and_read(&path, &options);
    }
});
