//! The bitshuffle (HDF5 filter 32008) chunk decoder alone: the first byte picks the element size
//! and the compression, the rest is the chunk. A decoded chunk must be a whole number of elements.
#![no_main]
use libfuzzer_sys::fuzz_target;
use polarmap_io::scan::bitshuffle;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, chunk)) = data.split_first() else {
        return;
    };
    let elem = [1usize, 2, 4, 8][(pick & 3) as usize];
    let compression = if pick & 4 != 0 { 2 } else { 0 };
    let block = if pick & 8 != 0 { 0 } else { 64 };
    let cd = [0, 4, elem as u32, block, compression];
    if let Ok(out) = bitshuffle::decode(&cd, chunk, elem) {
        assert_eq!(out.len() % elem, 0);
        assert!(out.len() <= bitshuffle::MAX_CHUNK_BYTES);
        if compression == 0 {
            assert_eq!(out.len(), chunk.len());
        }
    }
});
