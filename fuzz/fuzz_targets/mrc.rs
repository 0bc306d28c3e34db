//! MRC with Direct Electron companions: the input up to `"\n%INFO\n"` is `x_movie.mrc`, then up
//! to `"\n%CSV\n"` `x_info.txt`, the rest `x_scan_coordinates.csv` (each part only if present).
#![no_main]
use libfuzzer_sys::fuzz_target;
use polarmap_io::scan::{mrc, OpenOptions};

fuzz_target!(|data: &[u8]| {
    let _ = mrc::parse_header(data);
    let dir = polarmap_fuzz::workdir("mrc");
    let parts = polarmap_fuzz::split(data, &[b"\n%INFO\n".as_slice(), b"\n%CSV\n"]);
    let path = polarmap_fuzz::write(dir, "x_movie.mrc", parts[0]);
    for (part, name) in parts[1..].iter().zip(["x_info.txt", "x_scan_coordinates.csv"]) {
        polarmap_fuzz::write(dir, name, part);
    }
    polarmap_fuzz::open_and_read(&path, &OpenOptions::default());
});
