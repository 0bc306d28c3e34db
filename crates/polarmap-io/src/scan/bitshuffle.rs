//! Decoder for the bitshuffle HDF5 filter (id 32008), the compression Dectris detectors (EIGER,
//! ARINA, QUADRO) write, with or without LZ4. Registered into every HDF5 file polarmap opens (see
//! [`super::hdf5`]); the pure-Rust HDF5 decoder has no bitshuffle of its own.
//!
//! Chunk format with LZ4 (`cd_values[4] == 2`): a 12-byte header, the decoded size (u64, big
//! endian) and the block size in bytes (u32, big endian); then per block of `block` elements a u32
//! big-endian compressed size and an LZ4 block; the last partial block is rounded down to a
//! multiple of 8 elements, and the remaining `n % 8` elements follow uncompressed. Without
//! compression the chunk is the bit-transposed blocks and the raw tail, with no header.
//!
//! Within a block of `n` elements of `s` bytes, the data is `8·s` bit planes of `n/8` bytes: plane
//! `8·j + k` holds bit `k` of byte `j` of every element, element `i` at bit `i % 8` of byte `i / 8`.

use hdf5_reader::error::Error as H5Error;
use hdf5_reader::filters::FilterRegistry;
use hdf5_reader::messages::filter_pipeline::FilterDescription;

/// HDF5's registered id of the bitshuffle filter.
pub const FILTER_ID: u16 = 32008;

/// `cd_values[4]` for LZ4 compression after the shuffle (bitshuffle's `BSHUF_H5_COMPRESS_LZ4`).
const COMPRESS_LZ4: u32 = 2;
/// `cd_values[4]` for zstd (`BSHUF_H5_COMPRESS_ZSTD`), which polarmap does not decode.
const COMPRESS_ZSTD: u32 = 3;

/// Largest chunk decoded: a larger size in a chunk header is taken as corruption (a Dectris
/// chunk is one frame, well under this).
pub const MAX_CHUNK_BYTES: usize = 1 << 30;

/// bitshuffle's target block size in bytes when `cd_values[3]` is 0, and its minimum block.
const TARGET_BLOCK_BYTES: usize = 8192;
const MIN_DEFAULT_BLOCK: usize = 128;

/// A filter registry with HDF5's built-in filters (deflate, shuffle, LZ4 32004, …) and bitshuffle.
pub fn registry() -> FilterRegistry {
    let mut registry = FilterRegistry::new();
    registry.register(
        FILTER_ID,
        Box::new(
            |filter: &FilterDescription, data: &[u8], element_size: usize| {
                decode(&filter.client_data, data, element_size).map_err(H5Error::DecompressionError)
            },
        ),
    );
    registry
}

/// Decodes one bitshuffle chunk. `cd_values`: the filter's client data (`[filter version,
/// bitshuffle version, element size, block size, compression]`); `element_size`: the dataset's.
pub fn decode(cd_values: &[u32], data: &[u8], element_size: usize) -> Result<Vec<u8>, String> {
    let elem = match cd_values.get(2) {
        Some(&s) if s as usize != element_size && element_size != 0 => {
            return Err(format!(
            "bitshuffle chunk declares {s}-byte elements, the dataset has {element_size}-byte ones"
        ))
        }
        Some(&s) => s as usize,
        None => element_size,
    };
    if elem == 0 || elem > 64 {
        return Err(format!("bitshuffle element size {elem} is not supported"));
    }
    match cd_values.get(4).copied().unwrap_or(0) {
        0 => {
            let block = match cd_values.get(3).copied().unwrap_or(0) as usize {
                0 => default_block(elem),
                b => b,
            };
            let mut out = zeroed(data.len())?;
            unshuffle_blocks(data, &mut out, elem, block, None)?;
            Ok(out)
        }
        COMPRESS_LZ4 => decode_lz4(data, elem),
        COMPRESS_ZSTD => Err("bitshuffle chunks compressed with zstd are not supported \
                              (polarmap decodes bitshuffle with LZ4 or without compression)"
            .into()),
        other => Err(format!("unknown bitshuffle compression code {other}")),
    }
}

fn default_block(elem: usize) -> usize {
    (TARGET_BLOCK_BYTES / elem / 8 * 8).max(MIN_DEFAULT_BLOCK)
}

fn zeroed(len: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    out.try_reserve_exact(len)
        .map_err(|_| format!("cannot allocate {len} bytes for a bitshuffle chunk"))?;
    out.resize(len, 0);
    Ok(out)
}

fn be_u32(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

fn decode_lz4(data: &[u8], elem: usize) -> Result<Vec<u8>, String> {
    let header = data.get(..12).ok_or_else(|| {
        format!(
            "bitshuffle chunk of {} bytes has no 12-byte header",
            data.len()
        )
    })?;
    let total = u64::from_be_bytes(header[..8].try_into().expect("8 bytes"));
    let block_bytes = u32::from_be_bytes(header[8..12].try_into().expect("4 bytes")) as usize;
    // LZ4 cannot expand a block more than ~255 times: a larger size is a lie, and must not
    // become an allocation.
    let plausible = (data.len() as u64).saturating_mul(255);
    if total > MAX_CHUNK_BYTES as u64 || total > plausible {
        return Err(format!(
            "bitshuffle chunk header declares {total} decoded bytes from {} compressed bytes: \
             the chunk is corrupt",
            data.len()
        ));
    }
    let total = total as usize;
    if !total.is_multiple_of(elem) {
        return Err(format!(
            "bitshuffle chunk of {total} bytes is not a whole number of {elem}-byte elements"
        ));
    }
    if block_bytes == 0
        || !block_bytes.is_multiple_of(elem)
        || !(block_bytes / elem).is_multiple_of(8)
    {
        return Err(format!(
            "bitshuffle block size {block_bytes} bytes is not a multiple of 8 {elem}-byte elements"
        ));
    }
    let mut out = zeroed(total)?;
    unshuffle_blocks(&data[12..], &mut out, elem, block_bytes / elem, Some(()))?;
    Ok(out)
}

/// Decodes the blocks of `input` into `out` (whose length fixes the element count): LZ4-compressed
/// blocks with their size prefixes when `lz4` is set, raw bit planes otherwise; then the raw tail.
fn unshuffle_blocks(
    input: &[u8],
    out: &mut [u8],
    elem: usize,
    block: usize,
    lz4: Option<()>,
) -> Result<(), String> {
    if block == 0 || !block.is_multiple_of(8) {
        return Err(format!(
            "bitshuffle block of {block} elements is not a multiple of 8"
        ));
    }
    if !out.len().is_multiple_of(elem) {
        return Err(format!(
            "bitshuffle chunk of {} bytes is not a whole number of {elem}-byte elements",
            out.len()
        ));
    }
    let n = out.len() / elem;
    let last = (n % block) / 8 * 8;
    let mut sizes: Vec<usize> = vec![block; n / block];
    if last > 0 {
        sizes.push(last);
    }
    let mut pos = 0usize;
    let mut first = 0usize;
    let mut planes = Vec::new();
    let mut scratch = Vec::new();
    for (b, &len) in sizes.iter().enumerate() {
        let bytes = len * elem;
        let dst = &mut out[first * elem..first * elem + bytes];
        match lz4 {
            Some(()) => {
                let size = be_u32(input, pos).ok_or_else(|| {
                    format!(
                        "bitshuffle chunk is truncated before block {b} of {}",
                        sizes.len()
                    )
                })? as usize;
                pos += 4;
                let compressed = input.get(pos..pos.saturating_add(size)).ok_or_else(|| {
                    format!(
                        "bitshuffle block {b} declares {size} compressed bytes but only {} remain: \
                         the chunk is truncated",
                        input.len() - pos
                    )
                })?;
                pos += size;
                planes.resize(bytes, 0);
                let got = lz4_flex::block::decompress_into(compressed, &mut planes)
                    .map_err(|e| format!("bitshuffle block {b}: LZ4 data is corrupt ({e})"))?;
                if got != bytes {
                    return Err(format!(
                        "bitshuffle block {b} decoded to {got} bytes, expected {bytes}"
                    ));
                }
                untranspose(&planes, dst, len, elem, &mut scratch);
            }
            None => {
                let src = input.get(pos..pos + bytes).ok_or_else(|| {
                    format!(
                        "bitshuffle chunk is truncated in block {b} of {}",
                        sizes.len()
                    )
                })?;
                pos += bytes;
                untranspose(src, dst, len, elem, &mut scratch);
            }
        }
        first += len;
    }
    let tail = (n - first) * elem;
    let src = input.get(pos..pos + tail).ok_or_else(|| {
        format!(
            "bitshuffle chunk is truncated: its last {} elements are missing",
            n - first
        )
    })?;
    out[first * elem..].copy_from_slice(src);
    Ok(())
}

/// Transposes an 8×8 bit matrix held in a u64 (bit `8·r + c` ↔ bit `8·c + r`).
#[inline]
fn transpose8(mut x: u64) -> u64 {
    let t = (x ^ (x >> 7)) & 0x00AA_00AA_00AA_00AA;
    x ^= t ^ (t << 7);
    let t = (x ^ (x >> 14)) & 0x0000_CCCC_0000_CCCC;
    x ^= t ^ (t << 14);
    let t = (x ^ (x >> 28)) & 0x0000_0000_F0F0_F0F0;
    x ^= t ^ (t << 28);
    x
}

/// Undoes the bit transpose of one block of `n` elements (`n % 8 == 0`) of `elem` bytes: bit
/// planes → byte planes (`elem` runs of `n` bytes, byte `j` of every element), then the byte planes
/// interleaved into elements. `scratch` holds the byte planes for `elem > 1`.
fn untranspose(planes: &[u8], out: &mut [u8], n: usize, elem: usize, scratch: &mut Vec<u8>) {
    debug_assert!(n.is_multiple_of(8) && planes.len() == n * elem && out.len() == n * elem);
    let row = n / 8;
    if elem == 1 {
        bit_planes_to_bytes(planes, out, row);
        return;
    }
    scratch.resize(n * elem, 0);
    for (src, dst) in planes
        .chunks_exact(8 * row)
        .zip(scratch.chunks_exact_mut(n))
    {
        bit_planes_to_bytes(src, dst, row);
    }
    interleave(scratch, out, n, elem);
}

/// Eight bit planes of `row` bytes (plane `k`: bit `k` of `8·row` bytes) → those `8·row` bytes.
fn bit_planes_to_bytes(src: &[u8], dst: &mut [u8], row: usize) {
    let word = |k: usize, at: usize| {
        u64::from_le_bytes(
            src[k * row + at..k * row + at + 8]
                .try_into()
                .expect("8 bytes"),
        )
    };
    // 64 bytes at a time: one u64 from each plane, byte-transposed so that word s gathers the
    // eight planes' bits of bytes 8s..8s+8, then bit-transposed into those bytes.
    let wide = row / 8;
    for (g, out) in dst[..wide * 64].chunks_exact_mut(64).enumerate() {
        let p: [u64; 8] = std::array::from_fn(|k| word(k, g * 8));
        for (s, out) in out.chunks_exact_mut(8).enumerate() {
            let mut x = 0u64;
            for (k, &pk) in p.iter().enumerate() {
                x |= ((pk >> (8 * s)) & 0xff) << (8 * k);
            }
            out.copy_from_slice(&transpose8(x).to_le_bytes());
        }
    }
    for g in wide * 8..row {
        let mut x = 0u64;
        for k in 0..8 {
            x |= (src[k * row + g] as u64) << (8 * k);
        }
        dst[g * 8..g * 8 + 8].copy_from_slice(&transpose8(x).to_le_bytes());
    }
}

/// Byte planes (`elem` runs of `n` bytes) → `n` elements of `elem` bytes.
fn interleave(planes: &[u8], out: &mut [u8], n: usize, elem: usize) {
    match elem {
        2 => {
            let (b0, b1) = planes.split_at(n);
            for ((o, &a), &b) in out.chunks_exact_mut(2).zip(b0).zip(b1) {
                o.copy_from_slice(&[a, b]);
            }
        }
        4 => {
            let (b0, rest) = planes.split_at(n);
            let (b1, rest) = rest.split_at(n);
            let (b2, b3) = rest.split_at(n);
            for ((((o, &a), &b), &c), &d) in out.chunks_exact_mut(4).zip(b0).zip(b1).zip(b2).zip(b3)
            {
                o.copy_from_slice(&[a, b, c, d]);
            }
        }
        _ => {
            for (j, plane) in planes.chunks_exact(n).enumerate() {
                for (i, &b) in plane.iter().enumerate() {
                    out[i * elem + j] = b;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition, one bit at a time.
    fn untranspose_naive(planes: &[u8], n: usize, elem: usize) -> Vec<u8> {
        let mut out = vec![0u8; n * elem];
        let row = n / 8;
        for j in 0..elem {
            for k in 0..8 {
                for i in 0..n {
                    let bit = (planes[(j * 8 + k) * row + i / 8] >> (i % 8)) & 1;
                    out[i * elem + j] |= bit << k;
                }
            }
        }
        out
    }

    /// The inverse, one bit at a time: what the filter writes.
    fn transpose_naive(values: &[u8], n: usize, elem: usize) -> Vec<u8> {
        let mut planes = vec![0u8; n * elem];
        let row = n / 8;
        for i in 0..n {
            for j in 0..elem {
                for k in 0..8 {
                    let bit = (values[i * elem + j] >> k) & 1;
                    planes[(j * 8 + k) * row + i / 8] |= bit << (i % 8);
                }
            }
        }
        planes
    }

    /// Encodes like the filter: header, LZ4 blocks, raw tail.
    fn encode_lz4(values: &[u8], elem: usize, block: usize) -> Vec<u8> {
        let n = values.len() / elem;
        let mut out = (values.len() as u64).to_be_bytes().to_vec();
        out.extend(((block * elem) as u32).to_be_bytes());
        let mut first = 0;
        let last = (n % block) / 8 * 8;
        let mut sizes = vec![block; n / block];
        if last > 0 {
            sizes.push(last);
        }
        for len in sizes {
            let planes = transpose_naive(&values[first * elem..(first + len) * elem], len, elem);
            let c = lz4_flex::block::compress(&planes);
            out.extend((c.len() as u32).to_be_bytes());
            out.extend(c);
            first += len;
        }
        out.extend(&values[first * elem..]);
        out
    }

    #[test]
    fn transpose8_is_an_involution_that_swaps_rows_and_columns() {
        let x = 0x0123_4567_89ab_cdefu64;
        assert_eq!(transpose8(transpose8(x)), x);
        // Row 0 all ones → column 0 all ones.
        assert_eq!(transpose8(0xff), 0x0101_0101_0101_0101);
    }

    proptest! {
        #[test]
        fn fast_untranspose_matches_the_definition(
            elem in prop::sample::select(vec![1usize, 2, 4, 8]),
            groups in 1usize..80,
            seed in any::<u64>(),
        ) {
            let n = groups * 8;
            let mut state = seed | 1;
            let planes: Vec<u8> = (0..n * elem).map(|_| {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17; state as u8
            }).collect();
            let mut out = vec![0u8; n * elem];
            untranspose(&planes, &mut out, n, elem, &mut Vec::new());
            prop_assert_eq!(&out, &untranspose_naive(&planes, n, elem));
            prop_assert_eq!(transpose_naive(&out, n, elem), planes);
        }

        #[test]
        fn lz4_chunks_round_trip(
            elem in prop::sample::select(vec![1usize, 2, 4]),
            n in 0usize..700,
            block8 in 1usize..40,
            seed in any::<u64>(),
        ) {
            let mut state = seed | 1;
            let values: Vec<u8> = (0..n * elem).map(|_| {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17; (state % 7) as u8
            }).collect();
            let chunk = encode_lz4(&values, elem, block8 * 8);
            let cd = [0, 4, elem as u32, 0, COMPRESS_LZ4];
            prop_assert_eq!(decode(&cd, &chunk, elem).unwrap(), values);
        }
    }

    #[test]
    fn bad_chunks_are_errors_not_panics() {
        let values: Vec<u8> = (0..4 * 100u32).map(|i| (i * 7 % 251) as u8).collect();
        let chunk = encode_lz4(&values, 4, 32);
        let cd = [0, 4, 4, 0, COMPRESS_LZ4];
        for cut in [0, 5, 12, 15, 20, chunk.len() - 1] {
            assert!(decode(&cd, &chunk[..cut], 4).is_err(), "cut at {cut}");
        }
        // A lying decoded size: huge, and merely larger than the blocks hold.
        let mut lying = chunk.clone();
        lying[..8].copy_from_slice(&(1u64 << 40).to_be_bytes());
        let e = decode(&cd, &lying, 4).unwrap_err();
        assert!(e.contains("corrupt"), "{e}");
        let mut longer = chunk.clone();
        longer[..8].copy_from_slice(&((values.len() + 64) as u64).to_be_bytes());
        assert!(decode(&cd, &longer, 4).is_err());
        // Block size not a multiple of 8 elements; element size disagreeing with the dataset.
        let mut odd = chunk.clone();
        odd[8..12].copy_from_slice(&12u32.to_be_bytes());
        assert!(decode(&cd, &odd, 4).is_err());
        assert!(decode(&cd, &chunk, 2).is_err());
        assert!(decode(&[0, 4, 4, 0, COMPRESS_ZSTD], &chunk, 4)
            .unwrap_err()
            .contains("zstd"));
    }

    #[test]
    fn uncompressed_chunks_use_the_default_block() {
        let elem = 2;
        let n = 4096 + 8 * 3 + 5;
        let values: Vec<u8> = (0..n * elem).map(|i| (i * 31 % 256) as u8).collect();
        let block = default_block(elem);
        assert_eq!(block, 4096);
        let mut chunk = transpose_naive(&values[..block * elem], block, elem);
        chunk.extend(transpose_naive(
            &values[block * elem..(block + 24) * elem],
            24,
            elem,
        ));
        chunk.extend(&values[(block + 24) * elem..]);
        assert_eq!(decode(&[0, 4, 2, 0, 0], &chunk, elem).unwrap(), values);
    }
}
