//! MRC files (MRC2014: a 1024-byte header, an extended header of `NSYMBT` bytes, then `NZ`
//! sections of `NY` rows × `NX` columns), as Direct Electron cameras write 4D-STEM movies, with
//! the acquisition's `PREFIX_info.txt` beside `PREFIX_movie.mrc` giving the scan.
//!
//! * Pixel modes: 0 (8 bit, read unsigned as DE's software writes counted movies and
//!   RosettaSciIO reads them; MRC2014 says signed), 1 int16, 2 float32, 6 uint16. Complex,
//!   float16 and 4-bit modes are refused.
//! * Byte order from the machine stamp (`0x11` big-endian, else little).
//! * Scan: `Scan - Size Y` × `Scan - Size X` (or the ROI's when `Scan - ROI Enable`) for raster
//!   scans. Other scan types list each frame's `x,y` position in `PREFIX_scan_coordinates.csv`:
//!   when they visit every point of a grid exactly once the frames are reordered onto it,
//!   otherwise (repeated or missing points) the file is refused — polarmap maps need one
//!   pattern per scan point.
//! * Calibration: `Specimen Pixel Size X/Y (nanometers)` → scan step; `Diffraction Pixel Size`
//!   (1/nm, as RosettaSciIO reads it) with `Instrument Accelerating Voltage (V)` → mrad/px.

use super::mapped::{FrameLayout, MappedFrames};
use super::{Calibration, DType, Endian, FrameBuffer, FrameRef, FrameSource, Opened};
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const HEADER_BYTES: usize = 1024;
const MAX_SIDE: i64 = 1 << 16;
/// Largest companion text file read (real `_info.txt` files are ~40 kB).
const MAX_TEXT_BYTES: u64 = 64 << 20;

/// What the MRC header says.
#[derive(Debug, Clone, PartialEq)]
pub struct MrcHeader {
    /// `[NZ, NY, NX]`.
    pub shape: [usize; 3],
    pub dtype: DType,
    pub endian: Endian,
    /// Bytes of extended header after the 1024-byte header.
    pub extended_bytes: usize,
}

/// Parses the 1024-byte header.
pub fn parse_header(bytes: &[u8]) -> std::result::Result<MrcHeader, String> {
    let h = bytes.get(..HEADER_BYTES).ok_or_else(|| {
        format!(
            "file has {} bytes, less than the {HEADER_BYTES}-byte MRC header",
            bytes.len()
        )
    })?;
    let endian = if h[212] == 0x11 {
        Endian::Big
    } else {
        Endian::Little
    };
    let word = |i: usize| {
        let b = [h[4 * i], h[4 * i + 1], h[4 * i + 2], h[4 * i + 3]];
        match endian {
            Endian::Little => i32::from_le_bytes(b),
            Endian::Big => i32::from_be_bytes(b),
        }
    };
    let (nx, ny, nz) = (word(0) as i64, word(1) as i64, word(2) as i64);
    if ![nx, ny].iter().all(|&n| (1..=MAX_SIDE).contains(&n)) || nz < 1 {
        return Err(format!("implausible MRC shape NX={nx} NY={ny} NZ={nz}"));
    }
    let mode = word(3);
    let dtype = match mode {
        0 => DType::U8,
        1 => DType::I16,
        2 => DType::F32,
        6 => DType::U16,
        3 | 4 => {
            return Err(format!(
                "MRC mode {mode} holds complex values, not intensities"
            ))
        }
        m => {
            return Err(format!(
                "MRC mode {m} is not supported (supported: 0, 1, 2, 6)"
            ))
        }
    };
    let next = word(23);
    let extended_bytes =
        usize::try_from(next).map_err(|_| format!("negative extended header size {next}"))?;
    Ok(MrcHeader {
        shape: [nz as usize, ny as usize, nx as usize],
        dtype,
        endian,
        extended_bytes,
    })
}

/// `PREFIX` of `PREFIX_movie.mrc` (or the stem), and the DE companion file `PREFIX_{suffix}`.
fn companion(path: &Path, suffix: &str) -> Option<PathBuf> {
    let stem = path.file_stem()?.to_str()?;
    let prefix = stem.strip_suffix("_movie").unwrap_or(stem);
    let dir = path.parent().unwrap_or(Path::new(""));
    Some(dir.join(format!("{prefix}_{suffix}"))).filter(|p| p.is_file())
}

fn read_text(path: &Path) -> Result<String> {
    let len = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    if len > MAX_TEXT_BYTES {
        return Err(Error::format(
            path,
            format!("{len} bytes is too large for a text file"),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// `key = value` lines of a DE `_info.txt`.
pub fn parse_info(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// Frames reordered onto the scan grid: scan position `i` is stored frame `order[i]`.
struct Reordered {
    frames: MappedFrames,
    order: Vec<u32>,
}

impl FrameSource for Reordered {
    fn dtype(&self) -> DType {
        self.frames.dtype()
    }
    fn frame_count(&self) -> usize {
        self.order.len()
    }
    fn frame_shape(&self) -> [usize; 2] {
        self.frames.frame_shape()
    }
    fn frame<'a>(&'a self, index: usize, scratch: &'a mut FrameBuffer) -> Result<FrameRef<'a>> {
        self.frames.frame(self.order[index] as usize, scratch)
    }
    fn release(&self, first: usize, count: usize) {
        // The grid positions' frames lie scattered through the file: each is released on its
        // own (a page shared with a frame still to come is faulted in again from the cache).
        let end = first.saturating_add(count).min(self.order.len());
        for &frame in self.order.get(first..end).unwrap_or_default() {
            self.frames.release(frame as usize, 1);
        }
    }
}

/// The grid a coordinate list visits and, for each grid point, the frame recorded there; an
/// error unless every point of the grid is visited exactly once.
pub fn grid_order(csv: &str, frames: usize) -> std::result::Result<([usize; 2], Vec<u32>), String> {
    let mut points = Vec::new();
    for (n, line) in csv.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let parse = |s: Option<&str>| s.and_then(|s| s.trim().parse::<usize>().ok());
        let mut it = line.split(',');
        let (Some(x), Some(y)) = (parse(it.next()), parse(it.next())) else {
            return Err(format!(
                "line {} is not 'x,y' scan coordinates: '{line}'",
                n + 1
            ));
        };
        points.push((y, x));
    }
    if points.len() != frames {
        return Err(format!(
            "lists {} scan positions for the {frames} frames of the movie",
            points.len()
        ));
    }
    let rows = points.iter().map(|p| p.0).max().map_or(0, |m| m + 1);
    let cols = points.iter().map(|p| p.1).max().map_or(0, |m| m + 1);
    if rows.checked_mul(cols) != Some(frames) {
        return Err(format!(
            "visits {frames} positions on a {rows}x{cols} grid: some points are missing or \
             repeated (polarmap needs one pattern per scan point of a full grid)"
        ));
    }
    let mut order = vec![u32::MAX; frames];
    for (frame, &(y, x)) in points.iter().enumerate() {
        let slot = &mut order[y * cols + x];
        if *slot != u32::MAX {
            return Err(format!(
                "visits scan point (x={x}, y={y}) more than once: not one pattern per point"
            ));
        }
        *slot = frame as u32;
    }
    Ok(([rows, cols], order))
}

/// Opens an MRC file (and its DE companions).
pub fn open(path: &Path, shape_given: bool) -> Result<Opened> {
    let mut head = vec![0u8; HEADER_BYTES];
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    {
        use std::io::Read;
        let n = (&file)
            .take(HEADER_BYTES as u64)
            .read(&mut head)
            .map_err(|e| Error::io(path, e))?;
        head.truncate(n);
    }
    let header = parse_header(&head).map_err(|m| Error::format(path, m))?;
    let [nz, ny, nx] = header.shape;
    let first_offset = HEADER_BYTES
        .checked_add(header.extended_bytes)
        .ok_or_else(|| Error::format(path, "extended header size overflows"))?;
    let frames = MappedFrames::open(
        path,
        FrameLayout {
            dtype: header.dtype,
            endian: header.endian,
            frame_shape: [ny, nx],
            first_offset,
            stride: ny * nx * header.dtype.size(),
            count: nz,
        },
    )?;
    let Some(info_path) = companion(path, "info.txt") else {
        return Ok(Opened::new("mrc", frames));
    };
    let info = parse_info(&read_text(&info_path)?);
    let get = |k: &str| info.get(k).map(String::as_str);
    let number = |k: &str| get(k).and_then(|v| v.parse::<f64>().ok());
    let scanning = get("Scan - Enable") == Some("Enable");
    let mut scan_shape = None;
    let mut order = None;
    if scanning {
        if get("Scan - Type").unwrap_or("Raster") == "Raster" {
            let roi = get("Scan - ROI Enable") == Some("Enable");
            let key = |axis: &str| {
                if roi {
                    format!("Scan - ROI Size {axis}")
                } else {
                    format!("Scan - Size {axis}")
                }
            };
            let size = |axis: &str| get(&key(axis)).and_then(|v| v.parse::<usize>().ok());
            if let (Some(rows), Some(cols)) = (size("Y"), size("X")) {
                if rows.checked_mul(cols) == Some(nz) {
                    scan_shape = Some([rows, cols]);
                } else if !shape_given {
                    return Err(Error::format(
                        path,
                        format!(
                            "{} gives a {rows}x{cols} raster scan but the movie holds {nz} \
                             frames; give the scan shape explicitly",
                            info_path.display()
                        ),
                    ));
                }
            }
        } else if !shape_given {
            let kind = get("Scan - Type").unwrap_or_default();
            let csv_path = companion(path, "scan_coordinates.csv").ok_or_else(|| {
                Error::format(
                    path,
                    format!(
                        "was recorded with a '{kind}' scan ({}), whose positions are in a \
                         _scan_coordinates.csv that is missing",
                        info_path.display()
                    ),
                )
            })?;
            let (shape, o) = grid_order(&read_text(&csv_path)?, nz)
                .map_err(|m| Error::format(&csv_path, format!("'{kind}' scan: {m}")))?;
            scan_shape = Some(shape);
            order = Some(o);
        }
    }
    let mut calibration = Calibration::default();
    let kv = number("Instrument Accelerating Voltage (V)").map(|v| v / 1e3);
    calibration.energy_kv = kv.filter(|v| v.is_finite() && *v > 0.0);
    let pair = |x: &str, y: &str| match (number(x), number(y)) {
        (Some(a), Some(b)) if a > 0.0 && (a - b).abs() <= 1e-9 * a => Some(a),
        _ => None,
    };
    if scanning {
        calibration.scan_step_a = pair(
            "Specimen Pixel Size X (nanometers)",
            "Specimen Pixel Size Y (nanometers)",
        )
        .map(|nm| nm * 10.0);
    }
    if let (Some(q), Some(kv)) = (
        pair("Diffraction Pixel Size X", "Diffraction Pixel Size Y"),
        calibration.energy_kv,
    ) {
        calibration.mrad_per_px = Some(q * 0.1 * super::hdf5::electron_wavelength_a(kv) * 1e3);
    }
    let mut opened = match order {
        Some(order) => Opened::new("mrc", Reordered { frames, order }),
        None => Opened::new("mrc", frames),
    };
    opened.scan_shape = scan_shape;
    opened.calibration = calibration;
    Ok(opened)
}

/// Writes frames as a little-endian MRC2014 file (mode 6, uint16), the layout Direct
/// Electron's movies use; returns the number of frames written.
pub fn write_mrc_u16<I, F>(path: &Path, frame_shape: [usize; 2], frames: I) -> Result<usize>
where
    I: IntoIterator<Item = F>,
    F: AsRef<[u16]>,
{
    use std::io::{Seek, Write};
    let io = |e| Error::io(path, e);
    let [ny, nx] = frame_shape;
    let file = std::fs::File::create(path).map_err(io)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    out.write_all(&[0u8; HEADER_BYTES]).map_err(io)?;
    let mut count = 0usize;
    for frame in frames {
        let frame = frame.as_ref();
        if frame.len() != nx * ny {
            return Err(Error::invalid(format!(
                "{}: frame {count} has {} pixels, not {ny}x{nx}",
                path.display(),
                frame.len()
            )));
        }
        for v in frame {
            out.write_all(&v.to_le_bytes()).map_err(io)?;
        }
        count += 1;
    }
    let mut h = [0u8; HEADER_BYTES];
    let put = |h: &mut [u8; HEADER_BYTES], i: usize, v: i32| {
        h[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes())
    };
    for (i, v) in [nx, ny, count, 6, 0, 0, 0, nx, ny, count]
        .iter()
        .enumerate()
    {
        put(&mut h, i, *v as i32);
    }
    for (i, v) in [1, 2, 3].iter().enumerate() {
        put(&mut h, 16 + i, *v); // MAPC, MAPR, MAPS
    }
    for (i, cell) in [nx, ny, count].iter().enumerate() {
        h[40 + 4 * i..44 + 4 * i].copy_from_slice(&(*cell as f32).to_le_bytes());
    }
    put(&mut h, 27, 20140); // NVERSION
    h[208..212].copy_from_slice(b"MAP ");
    h[212..216].copy_from_slice(&[0x44, 0x44, 0, 0]);
    out.seek(std::io::SeekFrom::Start(0)).map_err(io)?;
    out.write_all(&h).map_err(io)?;
    out.flush().map_err(io)?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::{open_with, OpenOptions};

    fn testdata(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/testdata/mrc")
            .join(name)
    }

    fn sum(scan: &crate::scan::Scan) -> f64 {
        let [r, c] = scan.scan_shape();
        (0..r * c)
            .map(|i| {
                scan.frame_f32(i / c, i % c)
                    .unwrap()
                    .iter()
                    .map(|&v| v as f64)
                    .sum::<f64>()
            })
            .sum()
    }

    /// Values from `scripts/crosscheck_dm_mrc_tvips.py` (mrcfile and RosettaSciIO).
    #[test]
    fn de_raster_movie_takes_its_scan_from_info() {
        let scan = crate::scan::open(testdata("20241021_00405_movie.mrc")).unwrap();
        assert_eq!(scan.format(), "mrc");
        assert_eq!(scan.shape(), [4, 8, 4, 8]);
        assert_eq!(scan.dtype(), DType::U16);
        assert_eq!(sum(&scan), 15872.0);
        assert_eq!(scan.calibration.energy_kv, Some(300.0));
        // 0.1/nm at 300 kV.
        let want = 0.01 * super::super::hdf5::electron_wavelength_a(300.0) * 1e3;
        assert!((scan.calibration.mrad_per_px.unwrap() - want).abs() < 1e-12);
        // Specimen pixel sizes X 0.1 nm and Y 0.2 nm differ: no single scan step.
        assert_eq!(scan.calibration.scan_step_a, None);
    }

    #[test]
    fn random_scan_covering_its_grid_is_reordered() {
        let scan = crate::scan::open(testdata("ROI_Random_Scan_movie.mrc")).unwrap();
        assert_eq!(scan.shape(), [29, 12, 16, 16]);
        assert_eq!(sum(&scan), 104477835.0);
        // Releasing grid positions (as a pass does after each batch) leaves the frames intact.
        scan.release(0, 200);
        scan.release(200, 1000);
        assert_eq!(sum(&scan), 104477835.0);
        // The CSV's first line is "7,12": x=7, y=12 holds frame 0.
        let plain = open_with(testdata("HAADFscan.mrc"), &OpenOptions::default()).unwrap();
        assert_eq!(plain.shape(), [1, 1, 16, 16]);
        let csv =
            std::fs::read_to_string(testdata("ROI_Random_Scan_scan_coordinates.csv")).unwrap();
        let (shape, order) = grid_order(&csv, 348).unwrap();
        assert_eq!(shape, [29, 12]);
        assert_eq!(order[12 * 12 + 7], 0);
    }

    #[test]
    fn repeated_positions_are_refused_unless_the_shape_is_given() {
        let err = crate::scan::open(testdata("Custom_movie.mrc"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("Custom_scan_coordinates.csv") && err.contains("repeated"),
            "{err}"
        );
        let options = OpenOptions {
            scan_shape: Some([5, 6]),
            ..Default::default()
        };
        let scan = open_with(testdata("Custom_movie.mrc"), &options).unwrap();
        assert_eq!(sum(&scan), 9006430.0);
    }

    #[test]
    fn written_mrc_round_trips_and_damage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.mrc");
        let frames: Vec<Vec<u16>> = (0..6)
            .map(|f| (0..12).map(|p| (f * 100 + p) as u16).collect())
            .collect();
        assert_eq!(write_mrc_u16(&path, [3, 4], &frames).unwrap(), 6);
        let scan = crate::scan::open(&path).unwrap();
        assert_eq!(scan.shape(), [1, 6, 3, 4]);
        assert_eq!(scan.frame_f32(0, 5).unwrap()[11], 511.0);
        let bytes = std::fs::read(&path).unwrap();
        let cut = dir.path().join("cut.mrc");
        for len in [0, 100, 1023, 1024, 1030, bytes.len() - 1] {
            std::fs::write(&cut, &bytes[..len]).unwrap();
            let err = crate::scan::open(&cut).err().unwrap().to_string();
            assert!(err.contains("cut.mrc"), "{len}: {err}");
        }
        let mut bad = bytes.clone();
        bad[92..96].copy_from_slice(&(-5i32).to_le_bytes());
        std::fs::write(&cut, &bad).unwrap();
        assert!(crate::scan::open(&cut)
            .err()
            .unwrap()
            .to_string()
            .contains("extended"));
        let mut bad = bytes.clone();
        bad[92..96].copy_from_slice(&i32::MAX.to_le_bytes());
        std::fs::write(&cut, &bad).unwrap();
        assert!(crate::scan::open(&cut)
            .err()
            .unwrap()
            .to_string()
            .contains("truncated"));
        let mut bad = bytes;
        bad[12..16].copy_from_slice(&4i32.to_le_bytes());
        std::fs::write(&cut, &bad).unwrap();
        assert!(crate::scan::open(&cut)
            .err()
            .unwrap()
            .to_string()
            .contains("complex"));
    }
}
