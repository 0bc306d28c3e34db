//! A Merlin acquisition split over files: the input split at each `"\n%PART\n"` is `a1.mib`,
//! `a2.mib`... (at most 4), and from the first `"\nHDR,"` on (without the newline) `a.hdr`;
//! opened from the `.hdr` and from the first part.
#![no_main]
use libfuzzer_sys::fuzz_target;
use polarmap_io::scan::OpenOptions;

fuzz_target!(|data: &[u8]| {
    let dir = polarmap_fuzz::workdir("mib_series");
    let split = data.windows(5).position(|w| w == b"\nHDR,");
    let (mibs, hdr) = match split {
        Some(at) => (&data[..at], Some(&data[at + 1..])),
        None => (data, None),
    };
    let parts = polarmap_fuzz::split(mibs, &[b"\n%PART\n".as_slice(); 3]);
    for (i, p) in parts.iter().enumerate() {
        polarmap_fuzz::write(dir, &format!("a{}.mib", i + 1), p);
    }
    if let Some(hdr) = hdr {
        let hdr_path = polarmap_fuzz::write(dir, "a.hdr", hdr);
        polarmap_fuzz::open_and_read(&hdr_path, &OpenOptions::default());
    }
    polarmap_fuzz::open_and_read(&dir.join("a1.mib"), &OpenOptions::default());
});
