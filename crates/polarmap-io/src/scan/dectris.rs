//! Dectris acquisitions (ARINA, EIGER, QUADRO): a NeXus master file `<base>_master.h5` whose
//! `entry/data/data_000001`, `data_000002`, … are external links to data files
//! `<base>_data_NNNNNN.h5`, each holding `entry/data/data` as `(frames, rows, cols)` in chunks of
//! one frame, compressed with bitshuffle + LZ4 (filter 32008, decoded by [`super::bitshuffle`]),
//! plain LZ4 (32004) or deflate. The frames of all data files, in link-name order, form the scan.
//!
//! Calibration from the master's `entry/instrument/detector`: `x_pixel_size` / `detector_distance`
//! gives mrad per pixel, `detectorSpecific/photon_energy` the beam energy (electron detectors store
//! the beam energy there). The master does not store the scan shape: the ARINA software writes it,
//! with the scan step, camera length and high tension, into a companion `<base>.h5` (group
//! `STEM Metadata`: `NumPixelsX` columns, `NumPixelsY` rows, `Pixel Size` in nm). Without the
//! companion the scan shape is unknown, as for any file that does not say it (1×N unless the
//! caller or a sidecar gives it).

use super::corrections::{Corrections, PixelCorrection};
use super::hdf5::{attr_f64, h5err, map_dtype, open_file, SlicedFrames, FRAMES_PER_CHUNK_READ};
use super::{Calibration, DType, FrameBuffer, FrameRef, FrameSource, OpenOptions, Opened};
use crate::error::{Error, Result};
use hdf5_reader::{Dataset, Hdf5File};
use std::path::{Path, PathBuf};

/// The master's group of links to the data files.
const DATA_GROUP: &str = "/entry/data";
const DETECTOR: &str = "/entry/instrument/detector";

/// Whether `name` is a Dectris data link: `data_` and six digits.
fn is_data_link(name: &str) -> bool {
    name.strip_prefix("data_")
        .is_some_and(|d| d.len() == 6 && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether an opened HDF5 file is a Dectris master: an `/entry/data` group with `data_NNNNNN`
/// members, beside an `/entry/instrument/detector` group. Resolving the links opens the data
/// files; a missing one is an error naming it.
pub fn is_master(path: &Path, file: &Hdf5File) -> Result<bool> {
    if file.group(DETECTOR).is_err() {
        return Ok(false);
    }
    let Ok(group) = file.group(DATA_GROUP) else {
        return Ok(false);
    };
    let (_, datasets) = group
        .member_names()
        .map_err(|e| h5err(path, &format!("group {DATA_GROUP}"), e))?;
    Ok(datasets.iter().any(|n| is_data_link(n)))
}

/// One data file's frames.
struct Part {
    first: usize,
    frames: SlicedFrames,
}

/// Frames of every data file, concatenated.
struct DectrisFrames {
    parts: Vec<Part>,
    count: usize,
    /// The stored pixel type.
    dtype: DType,
    frame_shape: [usize; 2],
    /// The master's mask and flatfield, when it has them.
    correction: Option<PixelCorrection>,
}

impl DectrisFrames {
    /// The correction to apply, unless it changes nothing.
    fn active_correction(&self) -> Option<&PixelCorrection> {
        self.correction.as_ref().filter(|c| !c.is_identity())
    }
}

impl FrameSource for DectrisFrames {
    fn dtype(&self) -> DType {
        match self.active_correction() {
            Some(c) => c.dtype(self.dtype),
            None => self.dtype,
        }
    }

    fn frame_count(&self) -> usize {
        self.count
    }

    fn frame_shape(&self) -> [usize; 2] {
        self.frame_shape
    }

    fn frame<'a>(&'a self, index: usize, scratch: &'a mut FrameBuffer) -> Result<FrameRef<'a>> {
        let k = self.parts.partition_point(|p| p.first <= index) - 1;
        let part = &self.parts[k];
        match self.active_correction() {
            None => part.frames.frame(index - part.first, scratch),
            Some(c) => part
                .frames
                .with_native_bytes(index - part.first, |b| c.apply(self.dtype, b, scratch)),
        }
    }

    fn corrections(&self) -> Option<&Corrections> {
        self.correction.as_ref().map(|c| &c.info)
    }
}

/// Opens a Dectris master file (see the module documentation).
pub fn open(path: &Path, file: &Hdf5File, options: &OpenOptions) -> Result<Opened> {
    let group = file
        .group(DATA_GROUP)
        .map_err(|e| h5err(path, &format!("group {DATA_GROUP}"), e))?;
    let (_, mut names) = group
        .member_names()
        .map_err(|e| h5err(path, &format!("group {DATA_GROUP}"), e))?;
    names.retain(|n| is_data_link(n));
    names.sort();
    let mut parts = Vec::with_capacity(names.len());
    let mut count = 0usize;
    let mut layout: Option<(DType, [usize; 2])> = None;
    for name in &names {
        let link = format!("{DATA_GROUP}/{name}");
        let dataset = file
            .dataset(&link)
            .map_err(|e| h5err(path, &format!("data link {link}"), e))?;
        let (n, dtype, frame_shape) = part_layout(path, &link, &dataset)?;
        match layout {
            None => layout = Some((dtype, frame_shape)),
            Some(l) if l != (dtype, frame_shape) => {
                return Err(Error::format(
                    path,
                    format!(
                        "{link} holds {}x{} frames of {dtype}, the data before it {}x{} frames of \
                         {}: the data files do not belong to one acquisition",
                        frame_shape[0], frame_shape[1], l.1[0], l.1[1], l.0
                    ),
                ));
            }
            Some(_) => {}
        }
        let shape = vec![n, frame_shape[0], frame_shape[1]];
        parts.push(Part {
            first: count,
            frames: SlicedFrames::new(
                path,
                file.clone(),
                dataset,
                link,
                dtype,
                shape,
                frame_shape,
                n,
            )
            .with_block(FRAMES_PER_CHUNK_READ),
        });
        count = count.checked_add(n).ok_or_else(|| {
            Error::format(path, "the data files hold more frames than can be counted")
        })?;
    }
    let Some((dtype, frame_shape)) = layout else {
        return Err(Error::format(
            path,
            format!("is a Dectris master file without data links in {DATA_GROUP}"),
        ));
    };
    if count == 0 {
        return Err(Error::format(
            path,
            "the Dectris data files hold no frames (acquisition stopped before the first?)",
        ));
    }

    let mut calibration = master_calibration(file);
    let companion = companion_path(path).and_then(|p| StemMetadata::read(&p));
    let mut scan_shape = None;
    if let Some(meta) = &companion {
        let pixel = scalar(file, &format!("{DETECTOR}/x_pixel_size")).and_then(positive);
        calibration = calibration.or(&meta.calibration(pixel));
        if let Some([r, c]) = meta.scan_shape() {
            if r.checked_mul(c) == Some(count) {
                scan_shape = Some([r, c]);
            } else if options.scan_shape.is_none() {
                return Err(Error::format(
                    path,
                    format!(
                        "{} gives a {r}x{c} scan but the data files hold {count} frames \
                         (interrupted acquisition?); give the scan shape explicitly",
                        meta.path.display()
                    ),
                ));
            }
        }
    }
    Ok(Opened {
        format: "dectris",
        source: Box::new(DectrisFrames {
            parts,
            count,
            dtype,
            frame_shape,
            correction: detector_corrections(file, frame_shape),
        }),
        scan_shape,
        calibration,
    })
}

/// Frames, element type and frame shape of one linked `(frames, rows, cols)` dataset.
fn part_layout(path: &Path, link: &str, dataset: &Dataset) -> Result<(usize, DType, [usize; 2])> {
    let (dtype, _) = map_dtype(dataset.dtype()).map_err(|name| {
        Error::format(
            path,
            format!("{link} holds {name} elements; Dectris detectors write unsigned integers"),
        )
    })?;
    let shape: Vec<usize> = dataset
        .shape()
        .iter()
        .map(|&d| usize::try_from(d).unwrap_or(usize::MAX))
        .collect();
    match *shape.as_slice() {
        [n, h, w] if h > 0 && w > 0 => Ok((n, dtype, [h, w])),
        _ => Err(Error::format(
            path,
            format!("{link} has shape {shape:?}; a Dectris data file holds (frames, rows, cols)"),
        )),
    }
}

/// `<base>.h5` beside `<base>_master.h5`.
fn companion_path(master: &Path) -> Option<PathBuf> {
    let name = master.file_name()?.to_str()?;
    let base = name.strip_suffix("_master.h5")?;
    Some(master.with_file_name(format!("{base}.h5")))
}

/// Every element of a numeric dataset as f64 (integers of any width, floats); `None` for other
/// types or an unreadable dataset. Callers check the shape first: this allocates it.
fn numbers(ds: &Dataset) -> Option<Vec<f64>> {
    use hdf5_reader::Datatype::{FixedPoint, FloatingPoint};
    fn all<T: hdf5_reader::H5Type + Copy>(ds: &Dataset, f: impl Fn(T) -> f64) -> Option<Vec<f64>> {
        Some(ds.read_array::<T>().ok()?.iter().map(|&v| f(v)).collect())
    }
    match ds.dtype() {
        FloatingPoint { size: 4, .. } => all::<f32>(ds, f64::from),
        FloatingPoint { size: 8, .. } => all::<f64>(ds, |v| v),
        FixedPoint { size, signed, .. } => match (size, signed) {
            (1, false) => all::<u8>(ds, f64::from),
            (1, true) => all::<i8>(ds, f64::from),
            (2, false) => all::<u16>(ds, f64::from),
            (2, true) => all::<i16>(ds, f64::from),
            (4, false) => all::<u32>(ds, f64::from),
            (4, true) => all::<i32>(ds, f64::from),
            (8, false) => all::<u64>(ds, |v| v as f64),
            (8, true) => all::<i64>(ds, |v| v as f64),
            _ => None,
        },
        _ => None,
    }
}

/// A dataset's value as f64, for the master's scalar fields.
fn scalar(file: &Hdf5File, path: &str) -> Option<f64> {
    let ds = file.dataset(path).ok()?;
    if ds.shape().iter().product::<u64>() != 1 {
        return None;
    }
    let v = *numbers(&ds)?.first()?;
    v.is_finite().then_some(v)
}

/// The master's pixel mask and flatfield (`detectorSpecific/pixel_mask`, `flatfield`) with the
/// detector's `pixel_mask_applied` and `flatfield_correction_applied` flags; `None` when the
/// master has neither. A mask or flatfield of another shape than the frames (or unreadable) is
/// not applied, and said so in the notes.
fn detector_corrections(file: &Hdf5File, [h, w]: [usize; 2]) -> Option<PixelCorrection> {
    let mut notes = Vec::new();
    let mut per_pixel = |name: &str| -> Option<Vec<f64>> {
        let path = format!("{DETECTOR}/detectorSpecific/{name}");
        let ds = file.dataset(&path).ok()?;
        let shape = ds.shape().to_vec();
        if shape != [h as u64, w as u64] {
            notes.push(format!(
                "{path} has shape {shape:?}, the frames {h}x{w}: not applied"
            ));
            return None;
        }
        let v = numbers(&ds);
        if v.is_none() {
            notes.push(format!("{path} is not readable as numbers: not applied"));
        }
        v
    };
    let mask = per_pixel("pixel_mask");
    let flatfield = per_pixel("flatfield");
    if mask.is_none() && flatfield.is_none() && notes.is_empty() {
        return None;
    }
    let flag = |name: &str| scalar(file, &format!("{DETECTOR}/{name}")).map(|v| v != 0.0);
    Some(PixelCorrection::new(
        mask.as_deref(),
        flag("pixel_mask_applied"),
        flatfield.as_deref(),
        flag("flatfield_correction_applied"),
        notes,
    ))
}

fn positive(v: f64) -> Option<f64> {
    (v.is_finite() && v > 0.0).then_some(v)
}

/// What the master says: beam energy, and the angle a pixel subtends at the detector distance.
fn master_calibration(file: &Hdf5File) -> Calibration {
    let energy_kv = scalar(file, &format!("{DETECTOR}/detectorSpecific/photon_energy"))
        .and_then(positive)
        .map(|ev| ev / 1e3);
    let pixel = scalar(file, &format!("{DETECTOR}/x_pixel_size")).and_then(positive);
    let distance = scalar(file, &format!("{DETECTOR}/detector_distance")).and_then(positive);
    Calibration {
        energy_kv,
        mrad_per_px: match (pixel, distance) {
            (Some(p), Some(d)) => positive(p / d * 1e3),
            _ => None,
        },
        ..Calibration::default()
    }
}

/// The ARINA software's `STEM Metadata` companion file.
struct StemMetadata {
    path: PathBuf,
    attrs: Vec<hdf5_reader::Attribute>,
}

impl StemMetadata {
    /// Best effort: a missing or unreadable companion leaves the scan shape unknown.
    fn read(path: &Path) -> Option<StemMetadata> {
        if !path.is_file() {
            return None;
        }
        let file = open_file(path, None).ok()?;
        let attrs = file.group("/STEM Metadata").ok()?.attributes().ok()?;
        Some(StemMetadata {
            path: path.to_path_buf(),
            attrs,
        })
    }

    fn scan_shape(&self) -> Option<[usize; 2]> {
        let dim = |name: &str| {
            attr_f64(&self.attrs, name)
                .filter(|&v| v >= 1.0 && v.fract() == 0.0 && v < 1e9)
                .map(|v| v as usize)
        };
        Some([dim("NumPixelsY")?, dim("NumPixelsX")?])
    }

    /// `pixel_m`: the detector's pixel size from the master, for camera length → mrad per pixel.
    fn calibration(&self, pixel_m: Option<f64>) -> Calibration {
        Calibration {
            energy_kv: attr_f64(&self.attrs, "High Tension")
                .and_then(positive)
                .map(|v| v / 1e3),
            scan_step_a: attr_f64(&self.attrs, "Pixel Size")
                .and_then(positive)
                .map(|nm| nm * 10.0),
            mrad_per_px: attr_f64(&self.attrs, "Camera Length")
                .and_then(positive)
                .and_then(|l| positive(pixel_m? / l * 1e3)),
            ..Calibration::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{open as open_scan, open_with, FrameBuffer, OpenOptions};
    use super::*;

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    fn fixture(name: &str) -> PathBuf {
        repo().join("tests/data/dectris").join(name)
    }

    /// Against the independent readers' values (scripts/crosscheck_dectris_velox.py).
    fn assert_matches(scan: &super::super::Scan, key: &str) {
        super::super::crosscheck::assert_matches(scan, "crosscheck_dectris_velox.json", key)
    }

    #[test]
    fn arina_bitshuffle_lz4_over_two_data_files_with_companion_metadata() {
        let scan = open_scan(fixture("arina_bslz4_master.h5")).unwrap();
        assert_eq!(scan.format(), "dectris");
        assert_eq!(scan.shape(), [3, 4, 24, 24]);
        assert_eq!(scan.dtype(), DType::U32);
        assert_matches(&scan, "arina_bslz4_master.h5");
        let c = scan.calibration;
        // Master: 100 um pixels at 0.1 m → 1 mrad; photon_energy 300 keV; companion: 0.25 nm.
        assert!((c.mrad_per_px.unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(c.energy_kv, Some(300.0));
        assert_eq!(c.scan_step_a, Some(2.5));
    }

    #[test]
    fn eiger_plain_lz4_deflate_and_uncompressed_bitshuffle() {
        for base in ["eiger_lz4", "eiger_deflate", "eiger_bs_raw"] {
            let scan = open_scan(fixture(&format!("{base}_master.h5"))).unwrap();
            assert_eq!(scan.dtype(), DType::U16, "{base}");
            // No companion: the scan shape is not in the files.
            assert_eq!(scan.scan_shape(), [1, 6], "{base}");
            assert_matches(&scan, &format!("{base}_master.h5"));
            assert!((scan.calibration.mrad_per_px.unwrap() - 0.5).abs() < 1e-12);
            assert_eq!(scan.calibration.energy_kv, Some(200.0));
        }
    }

    #[test]
    fn real_arina_acquisition_opens_with_its_calibration() {
        let master = repo().join("../shared/testdata/arina/test_00_master.h5");
        let scan = open_scan(&master).unwrap();
        assert_eq!(scan.format(), "dectris");
        assert_matches(&scan, "test_00_master.h5");
        let c = scan.calibration;
        // Detector distance 0 in the master: the companion's camera length 0.115 m instead.
        assert!((c.mrad_per_px.unwrap() - 0.1 / 0.115).abs() < 1e-9);
        assert_eq!(c.energy_kv, Some(300.0));
        assert!((c.scan_step_a.unwrap() - 1.391_520_6).abs() < 1e-6);
    }

    /// Copies the named fixture files into a fresh folder.
    fn copy(names: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for n in names {
            std::fs::copy(fixture(n), dir.path().join(n)).unwrap();
        }
        dir
    }

    #[test]
    fn missing_data_file_is_an_error_naming_it() {
        let dir = copy(&["arina_bslz4_master.h5", "arina_bslz4_data_000001.h5"]);
        let e = open_scan(dir.path().join("arina_bslz4_master.h5"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("arina_bslz4_data_000002.h5"), "{e}");
        assert!(e.contains("arina_bslz4_master.h5"), "{e}");
    }

    #[test]
    fn companion_disagreeing_with_the_frames_needs_an_explicit_shape() {
        // The first data file (8 frames) under both names: 16 frames, the companion says 3x4.
        let dir = copy(&[
            "arina_bslz4_master.h5",
            "arina_bslz4_data_000001.h5",
            "arina_bslz4.h5",
        ]);
        let master = dir.path().join("arina_bslz4_master.h5");
        std::fs::copy(
            fixture("arina_bslz4_data_000001.h5"),
            dir.path().join("arina_bslz4_data_000002.h5"),
        )
        .unwrap();
        let e = open_scan(&master).unwrap_err().to_string();
        assert!(e.contains("3x4") && e.contains("16 frames"), "{e}");
        let options = OpenOptions {
            scan_shape: Some([4, 4]),
            ..Default::default()
        };
        assert_eq!(
            open_with(&master, &options).unwrap().shape(),
            [4, 4, 24, 24]
        );
    }

    #[test]
    fn corrupt_data_files_are_errors_not_panics() {
        let data = std::fs::read(fixture("arina_bslz4_data_000002.h5")).unwrap();
        let dir = copy(&["arina_bslz4_master.h5", "arina_bslz4_data_000001.h5"]);
        let target = dir.path().join("arina_bslz4_data_000002.h5");
        let master = dir.path().join("arina_bslz4_master.h5");
        // Cut at many places, and flip bytes through the chunks: every outcome is an Ok scan
        // whose frames read or fail cleanly, or an error; never a panic.
        let mut failures = 0;
        for step in 1..24 {
            let mut bytes = data.clone();
            let at = bytes.len() * step / 24;
            if step % 2 == 0 {
                bytes.truncate(at);
            } else {
                for b in &mut bytes[at..(at + 64).min(data.len())] {
                    *b ^= 0x5a;
                }
            }
            std::fs::write(&target, &bytes).unwrap();
            match open_scan(&master) {
                Err(e) => {
                    failures += 1;
                    assert!(e.to_string().contains("arina_bslz4"), "{e}");
                }
                Ok(scan) => {
                    let mut scratch = FrameBuffer::new();
                    for i in 0..scan.n_frames() {
                        if let Err(e) = scan.frame(i, &mut scratch) {
                            failures += 1;
                            assert!(e.to_string().contains("arina_bslz4"), "{e}");
                        }
                    }
                }
            }
        }
        assert!(failures > 0);
    }
}

#[cfg(test)]
mod timing {
    use super::super::{open, FrameBuffer};
    use std::time::Instant;

    /// Times opening, 512 spread frames and a sequential run on a big acquisition:
    /// `POLARMAP_BIG=/path/big_master.h5 cargo test --release -p polarmap-io --lib timing --
    /// --ignored --nocapture` (write one with `scripts/make_dectris_fixtures.py --big`).
    #[test]
    #[ignore]
    fn big_master() {
        let Ok(path) = std::env::var("POLARMAP_BIG") else {
            return;
        };
        let t = Instant::now();
        let scan = open(&path).unwrap();
        eprintln!("open {:.3} s", t.elapsed().as_secs_f64());
        let mut b = FrameBuffer::new();
        let t = Instant::now();
        let n = scan.n_frames();
        for i in 0..512 {
            scan.frame(i * (n / 512), &mut b).unwrap();
        }
        eprintln!("512 spread frames {:.3} s", t.elapsed().as_secs_f64());
        let t = Instant::now();
        for i in 0..20000 {
            scan.frame(i, &mut b).unwrap();
        }
        eprintln!(
            "20000 sequential frames {:.3} s (1 thread)",
            t.elapsed().as_secs_f64()
        );
    }
}
