//! TVIPS series: the input split at each `"\n%PART\n"` is `s_000.tvips`, `s_001.tvips`... (at
//! most 4 parts), opened from the first and from the last file.
#![no_main]
use libfuzzer_sys::fuzz_target;
use polarmap_io::scan::{tvips, OpenOptions};

fuzz_target!(|data: &[u8]| {
    let _ = tvips::parse_header(data);
    let dir = polarmap_fuzz::workdir("tvips");
    let parts = polarmap_fuzz::split(data, &[b"\n%PART\n".as_slice(); 3]);
    let paths: Vec<_> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| polarmap_fuzz::write(dir, &format!("s_{i:03}.tvips"), p))
        .collect();
    polarmap_fuzz::open_and_read(&paths[0], &OpenOptions::default());
    polarmap_fuzz::open_and_read(&paths[paths.len() - 1], &OpenOptions::default());
});
