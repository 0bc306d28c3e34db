//! TVIPS camera stream files (`NAME_000.tvips`, `NAME_001.tvips`...): a 256-byte series header
//! in the first file (little-endian: header size, version, width, height, bits per pixel,
//! offsets, binning, pixel size, high tension in kV, magnification, frame header bytes), then
//! records of a frame header and the frame's pixels (8 or 16 bit unsigned). Files after the
//! first hold whole records only. Opening any file of a series opens the whole series from
//! `_000` on, as LiberTEM and RosettaSciIO do.
//!
//! The scan shape is not in the file (only a rotator index in each frame header, which the
//! peers' heuristics read with a sync offset); it comes from the sidecar or the caller, else the
//! series opens as one row of frames.

use super::mapped::{FrameLayout, MappedFrames};
use super::series::{consecutive_files, numbered_stem, SeriesFrames};
use super::{Calibration, DType, Endian, FrameSource, Opened};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Size of the series header at the start of `_000`.
pub const SERIES_HEADER_BYTES: usize = 256;
/// Frame header size of version 1 files.
const V1_FRAME_HEADER_BYTES: usize = 12;
/// Offset of the `mode` field (1 image, 2 diffraction) in a version 2 frame header.
const MODE_OFFSET: usize = 24;
const MAX_SIDE: usize = 1 << 16;
const MAX_FRAME_HEADER: usize = 1 << 20;

/// What the series header says.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesHeader {
    pub version: u32,
    pub frame_shape: [usize; 2],
    pub dtype: DType,
    /// Pixel size: nm in image mode, 1/nm in diffraction mode.
    pub pixel_size: u32,
    pub high_tension_kv: u32,
    pub frame_header_bytes: usize,
}

/// Parses the series header (the first 256 bytes of `_000`).
pub fn parse_header(bytes: &[u8]) -> std::result::Result<SeriesHeader, String> {
    let h = bytes.get(..SERIES_HEADER_BYTES).ok_or_else(|| {
        format!(
            "file has {} bytes, less than the {SERIES_HEADER_BYTES}-byte TVIPS series header",
            bytes.len()
        )
    })?;
    let u = |i: usize| u32::from_le_bytes([h[4 * i], h[4 * i + 1], h[4 * i + 2], h[4 * i + 3]]);
    if u(0) as usize != SERIES_HEADER_BYTES {
        return Err(format!(
            "series header size field is {}, not {SERIES_HEADER_BYTES}: not a TVIPS file",
            u(0)
        ));
    }
    let version = u(1);
    let (w, hgt) = (u(2) as usize, u(3) as usize);
    if w == 0 || hgt == 0 || w > MAX_SIDE || hgt > MAX_SIDE {
        return Err(format!("implausible frame size {w}x{hgt}"));
    }
    let dtype = match u(4) {
        8 => DType::U8,
        16 => DType::U16,
        b => return Err(format!("{b} bits per pixel (TVIPS files hold 8 or 16)")),
    };
    let frame_header_bytes = match version {
        1 => V1_FRAME_HEADER_BYTES,
        2 => u(12) as usize,
        v => return Err(format!("TVIPS series header version {v} is not 1 or 2")),
    };
    if frame_header_bytes > MAX_FRAME_HEADER {
        return Err(format!(
            "implausible frame header size {frame_header_bytes}"
        ));
    }
    Ok(SeriesHeader {
        version,
        frame_shape: [hgt, w],
        dtype,
        pixel_size: u(9),
        high_tension_kv: u(10),
        frame_header_bytes,
    })
}

/// The files of the series `path` belongs to, from `_000` on.
pub fn series_files(path: &Path) -> Result<Vec<PathBuf>> {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let Some((prefix, _)) = numbered_stem(stem, 3).filter(|(p, _)| p.ends_with('_')) else {
        // Not numbered: a lone file.
        return Ok(vec![path.to_path_buf()]);
    };
    let files = consecutive_files(path, prefix, 0, 3);
    if files.is_empty() {
        return Err(Error::format(
            path,
            format!("is part of a TVIPS series, but its first file {prefix}000.tvips is missing"),
        ));
    }
    if !files.iter().any(|f| f.file_name() == path.file_name()) {
        return Err(Error::format(
            path,
            format!(
                "is part of a TVIPS series, but the series {prefix}000... stops at {} files \
                 before it (a file is missing)",
                files.len()
            ),
        ));
    }
    Ok(files)
}

/// Opens a TVIPS file or series.
pub fn open(path: &Path) -> Result<Opened> {
    let files = series_files(path)?;
    let first = &files[0];
    let mut head = vec![0u8; SERIES_HEADER_BYTES + MODE_OFFSET + 4];
    let n = read_prefix(first, &mut head)?;
    head.truncate(n);
    let header = parse_header(&head).map_err(|m| Error::format(first, m))?;
    let frame_bytes = header.frame_shape[0] * header.frame_shape[1] * header.dtype.size();
    let record = frame_bytes + header.frame_header_bytes;
    let mut parts: Vec<Box<dyn FrameSource>> = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let len = std::fs::metadata(file)
            .map_err(|e| Error::io(file, e))?
            .len();
        let skip = if i == 0 { SERIES_HEADER_BYTES } else { 0 };
        let body = usize::try_from(len)
            .ok()
            .and_then(|l| l.checked_sub(skip))
            .ok_or_else(|| Error::format(file, "file is shorter than its series header"))?;
        if body % record != 0 {
            return Err(Error::format(
                file,
                format!(
                    "file size {len} is not {}whole {record}-byte records ({}-byte frame header + \
                     {}x{} {} pixels): truncated?",
                    if skip > 0 {
                        "the 256-byte series header plus "
                    } else {
                        ""
                    },
                    header.frame_header_bytes,
                    header.frame_shape[0],
                    header.frame_shape[1],
                    header.dtype
                ),
            ));
        }
        parts.push(Box::new(MappedFrames::open(
            file,
            FrameLayout {
                dtype: header.dtype,
                endian: Endian::Little,
                frame_shape: header.frame_shape,
                first_offset: skip + header.frame_header_bytes,
                stride: record,
                count: body / record,
            },
        )?));
    }
    // Image (1) or diffraction (2) mode, from the first frame header.
    let mode = (header.version == 2)
        .then(|| head.get(SERIES_HEADER_BYTES + MODE_OFFSET..SERIES_HEADER_BYTES + MODE_OFFSET + 4))
        .flatten()
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let mut calibration = Calibration::default();
    if header.high_tension_kv > 0 {
        calibration.energy_kv = Some(header.high_tension_kv as f64);
    }
    if let (Some(2), Some(kv), true) = (mode, calibration.energy_kv, header.pixel_size > 0) {
        // Diffraction: the pixel size is in 1/nm (0.1/Å).
        let lambda = super::hdf5::electron_wavelength_a(kv);
        calibration.mrad_per_px = Some(header.pixel_size as f64 * 0.1 * lambda * 1e3);
    }
    let source = SeriesFrames::new(&files, parts)?;
    let mut opened = Opened::new("tvips", source);
    opened.calibration = calibration;
    Ok(opened)
}

/// Reads up to `buf.len()` bytes from the start of `path`; returns how many.
fn read_prefix(path: &Path, buf: &mut [u8]) -> Result<usize> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut filled = 0;
    while filled < buf.len() {
        match f.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::{open_with, OpenOptions};

    fn testdata(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/testdata/tvips")
            .join(name)
    }

    fn all_values(scan: &crate::scan::Scan) -> Vec<f32> {
        let [r, c] = scan.scan_shape();
        (0..r * c)
            .flat_map(|i| scan.frame_f32(i / c, i % c).unwrap())
            .collect()
    }

    /// HyperSpy's test files: RosettaSciIO reads 0, 1, 2... over the whole stack (sum 630 for
    /// 4 frames of 3x3, 7140 for 6 of 4x5), 200 kV, pixel size 1 (1/nm, diffraction mode).
    #[test]
    fn single_file_and_split_series_match_rosettasciio() {
        let single = crate::scan::open(testdata("test_tvips_2233_000.tvips")).unwrap();
        assert_eq!(single.format(), "tvips");
        assert_eq!(single.shape(), [1, 4, 3, 3]);
        assert_eq!(single.dtype(), DType::U16);
        let v = all_values(&single);
        assert_eq!(v, (0..36).map(|i| i as f32).collect::<Vec<_>>());
        assert_eq!(single.calibration.energy_kv, Some(200.0));
        let whole = crate::scan::open(testdata("test_tvips_2345_000.tvips")).unwrap();
        let want = all_values(&whole);
        assert_eq!(want.iter().sum::<f32>(), 7140.0);
        // Any file of the split series opens the whole series.
        for part in ["000", "001", "002"] {
            let path = testdata(&format!("test_tvips_2345_split_{part}.tvips"));
            let options = OpenOptions {
                scan_shape: Some([2, 3]),
                ..Default::default()
            };
            let split = open_with(&path, &options).unwrap();
            assert_eq!(split.shape(), [2, 3, 4, 5]);
            assert_eq!(all_values(&split), want, "{path:?}");
        }
    }

    fn copy_series(dir: &Path) -> Vec<PathBuf> {
        ["000", "001", "002"]
            .iter()
            .map(|p| {
                let name = format!("s_{p}.tvips");
                let from = testdata(&format!("test_tvips_2345_split_{p}.tvips"));
                let to = dir.join(name);
                std::fs::copy(from, &to).unwrap();
                to
            })
            .collect()
    }

    #[test]
    fn damaged_series_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let files = copy_series(dir.path());
        // A truncated middle file.
        let bytes = std::fs::read(&files[1]).unwrap();
        std::fs::write(&files[1], &bytes[..bytes.len() - 3]).unwrap();
        let err = crate::scan::open(&files[0]).err().unwrap().to_string();
        assert!(
            err.contains("s_001.tvips") && err.contains("truncated"),
            "{err}"
        );
        // A missing first file.
        std::fs::remove_file(&files[0]).unwrap();
        let err = crate::scan::open(&files[2]).err().unwrap().to_string();
        assert!(
            err.contains("s_000.tvips") && err.contains("missing"),
            "{err}"
        );
        // Every truncation of a single file: an error or a whole-record prefix, never a panic.
        let single = std::fs::read(testdata("test_tvips_2233_000.tvips")).unwrap();
        let cut = dir.path().join("cut_000.tvips");
        for len in 0..single.len() {
            std::fs::write(&cut, &single[..len]).unwrap();
            if let Err(e) = open_with(&cut, &OpenOptions::default()) {
                assert!(e.to_string().contains("cut_000.tvips"), "{e}");
            }
        }
    }

    #[test]
    fn header_fields_are_checked() {
        let base = std::fs::read(testdata("test_tvips_2233_000.tvips")).unwrap();
        let set = |i: usize, v: u32| {
            let mut b = base.clone();
            b[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
            parse_header(&b)
        };
        assert!(set(0, 255).unwrap_err().contains("not a TVIPS"));
        assert!(set(1, 7).unwrap_err().contains("version"));
        assert!(set(2, 0).unwrap_err().contains("frame size"));
        assert!(set(3, u32::MAX).unwrap_err().contains("frame size"));
        assert!(set(4, 12).unwrap_err().contains("bits"));
        assert!(set(12, u32::MAX).unwrap_err().contains("frame header"));
        assert_eq!(parse_header(&base).unwrap().frame_header_bytes, 60);
    }
}
