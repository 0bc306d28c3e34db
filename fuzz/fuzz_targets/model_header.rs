//! The model file's container and header (`ModelFile::from_bytes`), without building a network:
//! every length and header field is checked here, before the loader allocates anything.
#![no_main]
use libfuzzer_sys::fuzz_target;
use polarmap_core::models::ModelFile;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.pmm");
    let Ok(file) = ModelFile::from_bytes(path, data) else {
        return;
    };
    assert!(file.payload.len() as u64 >= file.header.min_weight_bytes());
    // What was read writes back and reads the same.
    let bytes = file
        .to_bytes()
        .expect("a header that was read can be written");
    let again = ModelFile::from_bytes(path, &bytes).expect("a rewritten model file reads back");
    assert_eq!(again.header, file.header);
    assert_eq!(again.payload, file.payload);
});
