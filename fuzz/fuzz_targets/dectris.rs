//! Dectris master + data files: the input is `[u32 LE master length][master][u32 LE data
//! length][data][companion]`; the data bytes are written under every data-file name the seed
//! masters link to, the companion as the ARINA STEM Metadata file, then the master is opened.
#![no_main]
use libfuzzer_sys::fuzz_target;
use polarmap_io::scan::OpenOptions;

/// Names the seeds' masters link to (tests/data/dectris, ../shared/testdata/arina).
const DATA_NAMES: &[&str] = &[
    "arina_bslz4_data_000001.h5",
    "arina_bslz4_data_000002.h5",
    "eiger_lz4_data_000001.h5",
    "eiger_deflate_data_000001.h5",
    "eiger_bs_raw_data_000001.h5",
    "eiger_masked_data_000001.h5",
    "arina_mask_applied_data_000001.h5",
    "test_00_data_000001.h5",
];

fn take<'a>(data: &mut &'a [u8]) -> &'a [u8] {
    let Some((len, rest)) = data.split_first_chunk::<4>() else {
        return std::mem::take(data);
    };
    let len = (u32::from_le_bytes(*len) as usize).min(rest.len());
    let (part, rest) = rest.split_at(len);
    *data = rest;
    part
}

fuzz_target!(|input: &[u8]| {
    let mut rest = input;
    let master = take(&mut rest);
    let data = take(&mut rest);
    let dir = polarmap_fuzz::workdir("dectris");
    for name in DATA_NAMES {
        polarmap_fuzz::write(dir, name, data);
    }
    polarmap_fuzz::write(dir, "scan.h5", rest);
    let path = polarmap_fuzz::write(dir, "scan_master.h5", master);
    polarmap_fuzz::open_and_read(&path, &OpenOptions::default());
});
