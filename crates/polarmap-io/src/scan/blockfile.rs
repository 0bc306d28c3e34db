//! NanoMegas ASTAR blockfiles (`.blo`): 8-bit square diffraction patterns, memory-mapped.
//!
//! Layout (little-endian; field names as in RosettaSciIO's reader, which this module was checked
//! against but does not copy):
//!
//! | offset | type | field |
//! |---|---|---|
//! | 0 | 6 bytes | `IMGBLO` |
//! | 6 | u16 | magic `0x0102` |
//! | 8 | u32 | offset of the virtual bright-field image (NX·NY bytes) |
//! | 12 | u32 | offset of the first pattern record |
//! | 20 | u16 | pattern side `DP_SZ` (patterns are `DP_SZ × DP_SZ` u8) |
//! | 24, 26 | u16 | scan columns `NX`, scan rows `NY` |
//! | 28 | u16 | scan rotation, 1/100 degree |
//! | 30, 38 | f64 | scan step along x (columns) and y (rows), nm |
//! | 46 | u32 | beam energy, V |
//! | 50 | u16 | detector sampling, 1/100 pixels per cm |
//! | 52 | u32 | camera length, 1/10 mm |
//!
//! The header is 240 bytes, followed by a free-text note up to the bright-field image. Each
//! pattern record is a 6-byte prefix (`AA 55` then the frame number as u32) followed by the
//! `DP_SZ²` pixels; records are stored row by row: `NY` rows of `NX` patterns.

use super::mapped::{FrameLayout, MappedFrames};
use super::{Calibration, DType, Endian, Opened};
use crate::error::{Error, Result};
use std::io::Read;
use std::path::Path;

/// The first eight bytes of every blockfile: `IMGBLO` then the magic `0x0102` (little-endian).
pub const MAGIC: &[u8] = b"IMGBLO\x02\x01";

/// Size of the fixed header.
pub const HEADER_LEN: usize = 240;

/// Bytes before each pattern's pixels: `AA 55` and the frame number.
pub const PREFIX_LEN: usize = 6;

/// The fields of a blockfile header polarmap uses.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockfileHeader {
    /// Offset of the virtual bright-field image.
    pub vbf_offset: u32,
    /// Offset of the first pattern record (its 6-byte prefix).
    pub data_offset: u32,
    /// Side of the square patterns, pixels.
    pub pattern_size: u16,
    /// Scan columns (`NX`).
    pub scan_cols: u16,
    /// Scan rows (`NY`).
    pub scan_rows: u16,
    /// Microscope scan rotation, degrees.
    pub scan_rotation_deg: f64,
    /// Scan step along x (columns), nm.
    pub step_x_nm: f64,
    /// Scan step along y (rows), nm.
    pub step_y_nm: f64,
    /// Beam energy, V (0 if not recorded).
    pub beam_energy_v: u32,
    /// Camera length, mm.
    pub camera_length_mm: f64,
}

impl BlockfileHeader {
    /// Bytes from one pattern record to the next.
    pub fn record_len(&self) -> usize {
        PREFIX_LEN + self.pattern_size as usize * self.pattern_size as usize
    }

    pub fn frame_count(&self) -> usize {
        self.scan_rows as usize * self.scan_cols as usize
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn f64_at(b: &[u8], at: usize) -> f64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    f64::from_le_bytes(a)
}

/// Parses the fixed header at the start of `bytes`.
pub fn parse_header(bytes: &[u8]) -> std::result::Result<BlockfileHeader, String> {
    if bytes.len() < 6 || &bytes[..6] != b"IMGBLO" {
        return Err("not a blockfile (no IMGBLO signature)".into());
    }
    if bytes.len() < HEADER_LEN {
        return Err(format!(
            "header is truncated: {} bytes, a blockfile header has {HEADER_LEN}",
            bytes.len()
        ));
    }
    let magic = u16_at(bytes, 6);
    if magic != 0x0102 {
        return Err(format!(
            "unknown blockfile version: magic {magic:#06x}, expected 0x0102"
        ));
    }
    let header = BlockfileHeader {
        vbf_offset: u32_at(bytes, 8),
        data_offset: u32_at(bytes, 12),
        pattern_size: u16_at(bytes, 20),
        scan_cols: u16_at(bytes, 24),
        scan_rows: u16_at(bytes, 26),
        scan_rotation_deg: u16_at(bytes, 28) as f64 / 100.0,
        step_x_nm: f64_at(bytes, 30),
        step_y_nm: f64_at(bytes, 38),
        beam_energy_v: u32_at(bytes, 46),
        camera_length_mm: u32_at(bytes, 52) as f64 / 10.0,
    };
    if header.pattern_size == 0 {
        return Err("header gives a pattern size of 0".into());
    }
    if header.scan_rows == 0 || header.scan_cols == 0 {
        return Err(format!(
            "header gives an empty scan of {}x{} positions",
            header.scan_rows, header.scan_cols
        ));
    }
    if (header.data_offset as usize) < HEADER_LEN {
        return Err(format!(
            "pattern data offset {} lies inside the {HEADER_LEN}-byte header",
            header.data_offset
        ));
    }
    Ok(header)
}

/// What the header says about the calibration: scan step (nm → Å) and beam energy.
/// The camera length and detector sampling are not converted to mrad/pixel: their units in the
/// format are not documented well enough to trust.
fn calibration(header: &BlockfileHeader) -> Calibration {
    let positive = |v: f64| (v.is_finite() && v > 0.0).then_some(v);
    Calibration {
        // Calibration holds one scan step; blockfiles have square scan pixels in practice (SX =
        // SY), so the column step (SX) is used.
        scan_step_a: positive(header.step_x_nm).map(|nm| nm * 10.0),
        energy_kv: positive(header.beam_energy_v as f64 / 1000.0),
        ..Calibration::default()
    }
}

pub fn open(path: &Path) -> Result<Opened> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut head = Vec::with_capacity(HEADER_LEN);
    (&mut file)
        .take(HEADER_LEN as u64)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(path, e))?;
    let header = parse_header(&head).map_err(|m| Error::format(path, m))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let count = header.frame_count();
    let record = header.record_len();
    let required = header.data_offset as u64 + count as u64 * record as u64;
    if len < required {
        return Err(Error::format(
            path,
            format!(
                "file is truncated: the header declares {}x{} patterns of {}x{} pixels at offset {} \
                 ({required} bytes), the file has {len}",
                header.scan_rows,
                header.scan_cols,
                header.pattern_size,
                header.pattern_size,
                header.data_offset
            ),
        ));
    }
    let side = header.pattern_size as usize;
    let frames = MappedFrames::open(
        path,
        FrameLayout {
            dtype: DType::U8,
            endian: Endian::Little,
            frame_shape: [side, side],
            first_offset: header.data_offset as usize + PREFIX_LEN,
            stride: record,
            count,
        },
    )?;
    // Each record starts with AA 55 and its frame number: check the first and the last so that a
    // header with wrong offsets or sizes is caught instead of returning shifted pixels.
    for index in [0, count - 1] {
        let start = header.data_offset as usize + index * record;
        let prefix = read_prefix(&mut file, start as u64).map_err(|e| Error::io(path, e))?;
        let number = u32::from_le_bytes([prefix[2], prefix[3], prefix[4], prefix[5]]);
        if prefix[..2] != [0xAA, 0x55] || number as usize != index {
            return Err(Error::format(
                path,
                format!(
                    "pattern {index} does not start with the blockfile record marker AA 55 {index} \
                     at offset {start} (found {prefix:02x?}): the header's sizes or offsets are wrong"
                ),
            ));
        }
    }
    let mut opened = Opened::new("blockfile", frames);
    opened.scan_shape = Some([header.scan_rows as usize, header.scan_cols as usize]);
    opened.calibration = calibration(&header);
    Ok(opened)
}

fn read_prefix(file: &mut std::fs::File, at: u64) -> std::io::Result<[u8; PREFIX_LEN]> {
    use std::io::{Seek, SeekFrom};
    let mut prefix = [0u8; PREFIX_LEN];
    file.seek(SeekFrom::Start(at))?;
    file.read_exact(&mut prefix)?;
    Ok(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(rows: u16, cols: u16, side: u16) -> Vec<u8> {
        let mut h = vec![0u8; HEADER_LEN];
        h[..8].copy_from_slice(MAGIC);
        h[8..12].copy_from_slice(&4096u32.to_le_bytes());
        h[12..16].copy_from_slice(&4112u32.to_le_bytes());
        h[20..22].copy_from_slice(&side.to_le_bytes());
        h[24..26].copy_from_slice(&cols.to_le_bytes());
        h[26..28].copy_from_slice(&rows.to_le_bytes());
        h[30..38].copy_from_slice(&1.5f64.to_le_bytes());
        h[38..46].copy_from_slice(&1.5f64.to_le_bytes());
        h[46..50].copy_from_slice(&300_000u32.to_le_bytes());
        h
    }

    #[test]
    fn parses_fields() {
        let h = parse_header(&header(3, 2, 144)).unwrap();
        assert_eq!((h.scan_rows, h.scan_cols, h.pattern_size), (3, 2, 144));
        assert_eq!(h.data_offset, 4112);
        assert_eq!(h.record_len(), 6 + 144 * 144);
        let c = calibration(&h);
        assert_eq!(c.scan_step_a, Some(15.0));
        assert_eq!(c.energy_kv, Some(300.0));
    }

    #[test]
    fn rejects_bad_headers() {
        assert!(parse_header(b"IMGBL").unwrap_err().contains("IMGBLO"));
        assert!(parse_header(&header(3, 2, 144)[..100])
            .unwrap_err()
            .contains("truncated"));
        assert!(parse_header(&header(0, 2, 144))
            .unwrap_err()
            .contains("empty scan"));
        assert!(parse_header(&header(3, 2, 0))
            .unwrap_err()
            .contains("pattern size"));
        let mut h = header(3, 2, 144);
        h[6] = 9;
        assert!(parse_header(&h).unwrap_err().contains("magic"));
    }
}
