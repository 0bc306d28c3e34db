//! Merlin `.mib`, with its `.hdr` when the input holds one: everything from the first
//! `"\nHDR,"` on (without the newline) is the `.hdr`, what comes before it the `.mib`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use polarmap_io::scan::{mib, OpenOptions};

fuzz_target!(|data: &[u8]| {
    let _ = mib::parse_header(data);
    let dir = polarmap_fuzz::workdir("mib");
    let split = data.windows(5).position(|w| w == b"\nHDR,");
    let (mib_bytes, hdr) = match split {
        Some(at) => (&data[..at], Some(&data[at + 1..])),
        None => (data, None),
    };
    let path = polarmap_fuzz::write(dir, "scan.mib", mib_bytes);
    if let Some(hdr) = hdr {
        let hdr_path = polarmap_fuzz::write(dir, "scan.hdr", hdr);
        // The .hdr alone is also a way in: it names its .mib.
        polarmap_fuzz::open_and_read(&hdr_path, &OpenOptions::default());
    }
    polarmap_fuzz::open_and_read(&path, &OpenOptions::default());
});
