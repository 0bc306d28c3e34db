//! A 4D-STEM scan: frames indexed `[scan_row, scan_col, det_row, det_col]`, read lazily in their
//! native pixel type from a memory map or a per-frame decoder, plus its calibration.
//!
//! [`open`] picks the reader from the file's content and extension.

pub mod bitshuffle;
pub mod blockfile;
mod calibration;
pub mod corrections;
#[cfg(test)]
mod crosscheck;
pub mod dectris;
pub mod dm;
mod frame;
pub mod hdf5;
mod mapped;
pub mod mib;
pub mod mrc;
pub mod npy;
mod parallel;
mod raw;
mod series;
mod sidecar;
pub mod tiff;
pub mod tvips;
pub mod velox;

pub use calibration::Calibration;
pub use frame::{Accumulator, DType, Endian, FrameBuffer, FrameRef, FrameVisitor, Pixel};
pub use mapped::MappedFrames;
pub use raw::RawLayout;
pub use sidecar::{Labels, SavedSidecar, Sidecar};

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a reader's frames come from. Implementations are cheap to share across threads.
pub trait FrameSource: Send + Sync {
    fn dtype(&self) -> DType;
    fn frame_count(&self) -> usize;
    /// `[rows, cols]` of every frame.
    fn frame_shape(&self) -> [usize; 2];
    /// Frame `index` (flat over the scan, row-major) in its native type. Zero-copy readers return
    /// a view of their memory map; others decode into `scratch`. Callers keep
    /// `index < frame_count()` ([`Scan::frame`] checks it, once for every reader).
    fn frame<'a>(&'a self, index: usize, scratch: &'a mut FrameBuffer) -> Result<FrameRef<'a>>;
    /// Advises the reader that frames will be read sequentially (e.g. `madvise`).
    fn advise_sequential(&self) {}
    /// The detector corrections (mask, flatfield) the reader applies to every frame, if the file
    /// describes any (see [`corrections`]).
    fn corrections(&self) -> Option<&corrections::Corrections> {
        None
    }
    /// Frames `first..first + count` are done with for now. A memory-mapped reader drops their
    /// page-table entries (the file stays in the page cache): a pass calls this after each
    /// batch, so that tearing down a 2 GiB map runs on every core during the pass rather than
    /// on one core when the map is closed.
    fn release(&self, _first: usize, _count: usize) {}
}

/// A 4D-STEM dataset opened for reading.
pub struct Scan {
    path: PathBuf,
    format: &'static str,
    scan_shape: [usize; 2],
    pub calibration: Calibration,
    /// Ground truth from the sidecar, if any.
    pub labels: Option<Labels>,
    /// Shared, so that the same frames can be looked at under another calibration.
    source: Arc<dyn FrameSource>,
    /// What the reader overrode or doubted while opening (shown by the CLI and the GUI).
    warnings: Vec<String>,
    /// False when neither the caller, the sidecar nor the file gave the scan shape, so that the
    /// frames were laid out as one row (the GUI then asks for rows × cols).
    shape_given: bool,
}

impl std::fmt::Debug for Scan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scan")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("shape", &self.shape())
            .field("dtype", &self.dtype())
            .field("calibration", &self.calibration)
            .finish()
    }
}

/// What the caller knows that the file may not say. Every field is optional.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Scan shape `[rows, cols]`; overrides the file's and the sidecar's.
    pub scan_shape: Option<[usize; 2]>,
    /// Layout of a raw binary file; overrides the sidecar's.
    pub raw: Option<RawLayout>,
    /// Calibration values given by the user; override the file's and the sidecar's.
    pub calibration: Calibration,
    /// Path of the dataset to read in an HDF5/EMD file (e.g.
    /// `/4DSTEM_simulation/data/datacubes/CBED_array_depth0001/datacube`); default: the first
    /// datacube found (see [`hdf5::list_candidates`]).
    pub dataset: Option<String>,
}

/// Opens a scan, choosing the reader by content and extension, with its sidecar if present.
pub fn open(path: impl AsRef<Path>) -> Result<Scan> {
    open_with(path, &OpenOptions::default())
}

/// [`open`] with options given by the caller (command line or GUI).
pub fn open_with(path: impl AsRef<Path>, options: &OpenOptions) -> Result<Scan> {
    let path = path.as_ref();
    options
        .calibration
        .validate()
        .map_err(|m| Error::invalid(format!("{}: calibration given: {m}", path.display())))?;
    let sidecar = Sidecar::find_for(path)?;
    let opened = open_source(path, options, sidecar.as_ref())?;
    let mut warnings = Vec::new();
    // A 4-D .npy states its scan shape itself: a sidecar that disagrees is outvoted.
    let own_shape = opened.scan_shape.filter(|_| opened.format == "npy");
    let sidecar_shape = match (sidecar.as_ref().and_then(|s| s.scan_shape), own_shape) {
        (Some(said), Some([r, c])) if said != [r, c] => {
            warnings.push(format!(
                "{}: the sidecar's scan_shape [{}, {}] disagrees with the array's own scan \
                 shape [{r}, {c}]; using the array's",
                path.display(),
                said[0],
                said[1]
            ));
            None
        }
        (said, _) => said,
    };
    let given = options.scan_shape.or(sidecar_shape).or(opened.scan_shape);
    let scan_shape = given.unwrap_or([1, opened.source.frame_count()]);
    let mut calibration = opened.calibration;
    if let Some(s) = &sidecar {
        calibration = s.calibration.or(&calibration);
    }
    calibration = options.calibration.or(&calibration);
    let labels = sidecar.and_then(|s| s.labels);
    let mut scan = Scan::new(
        path,
        opened.format,
        opened.source,
        scan_shape,
        calibration,
        labels,
    )?;
    scan.warnings = warnings;
    scan.shape_given = given.is_some();
    Ok(scan)
}

/// What a format reader returns: frames plus whatever the file says about the scan.
pub struct Opened {
    pub format: &'static str,
    pub source: Box<dyn FrameSource>,
    pub scan_shape: Option<[usize; 2]>,
    pub calibration: Calibration,
}

impl Opened {
    pub fn new(format: &'static str, source: impl FrameSource + 'static) -> Self {
        Opened {
            format,
            source: Box::new(source),
            scan_shape: None,
            calibration: Calibration::default(),
        }
    }
}

fn open_source(path: &Path, options: &OpenOptions, sidecar: Option<&Sidecar>) -> Result<Opened> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return tiff::open_folder(path);
    }
    if meta.len() == 0 {
        return Err(Error::format(path, "the file is empty (0 bytes)"));
    }
    let raw_layout = options
        .raw
        .clone()
        .or_else(|| sidecar.and_then(|s| s.raw_layout()));
    let magic = read_magic(path)?;
    if magic.starts_with(npy::MAGIC) {
        return npy::open(path);
    }
    if tiff::is_tiff_magic(&magic) {
        return tiff::open_pages(path);
    }
    let shape_given = options.scan_shape.is_some() || sidecar.and_then(|s| s.scan_shape).is_some();
    if magic.starts_with(mib::MAGIC) {
        return mib::open(path, shape_given);
    }
    if magic.starts_with(hdf5::SIGNATURE) {
        return hdf5::open(path, options);
    }
    if magic.starts_with(b"IMGBLO") {
        return blockfile::open(path);
    }
    if let Some(layout) = raw_layout {
        return raw::open(path, &layout);
    }
    // Gatan DigitalMicrograph (readers-dm).
    if dm::is_dm_magic(&magic) || matches!(extension(path).as_str(), "dm3" | "dm4") {
        return dm::open(path);
    }
    // MRC (Direct Electron) and TVIPS (readers-dm).
    match extension(path).as_str() {
        "mrc" | "mrcs" => return mrc::open(path, shape_given),
        "tvips" => return tvips::open(path),
        _ => {}
    }
    if tiff::has_tiff_extension(path) {
        return tiff::open_pages(path);
    }
    let ext = extension(path);
    if ext == "hdr" && magic.starts_with(mib::HDR_MAGIC) {
        // A Merlin acquisition header: open the .mib it describes.
        // Its frames may be in several files (readers-dm).
        if let Some(opened) = mib::open_hdr_series(path, shape_given)? {
            return Ok(opened);
        }
        let mib_path = mib::mib_path_for_hdr(path)?;
        if !read_magic(&mib_path)?.starts_with(mib::MAGIC) {
            return Err(Error::format(
                &mib_path,
                "is not a Merlin .mib: it does not start with a frame header 'MQ1,'",
            ));
        }
        return mib::open(&mib_path, shape_given);
    }
    if ext == "mib" {
        return Err(Error::format(
            path,
            format!(
                "is not a Merlin .mib: it does not start with a frame header 'MQ1,' (first bytes \
                 {:02x?})",
                &magic[..magic.len().min(8)]
            ),
        ));
    }
    // By extension: the readers then say precisely what is wrong with a damaged file. HDF5 may
    // also carry its signature after a user block (512, 1024, … bytes).
    if hdf5::EXTENSIONS.contains(&ext.as_str()) || hdf5::has_signature(path)? {
        return hdf5::open(path, options);
    }
    if ext == "blo" {
        return blockfile::open(path);
    }
    Err(Error::format(
        path,
        format!(
            "unknown format (extension '{ext}', first bytes {:02x?}); supported: .npy, raw binary with a \
             sidecar layout, TIFF folder, multi-page TIFF, Merlin .mib, HDF5/EMD, blockfile .blo, Gatan .dm3/.dm4, MRC, TVIPS",
            &magic[..magic.len().min(8)]
        ),
    ))
}

/// The ways to lay `frames` out as rows × cols (rows ≤ cols), the most square first: what to
/// suggest when a file does not say its scan shape.
pub fn scan_shapes_for(frames: usize) -> Vec<[usize; 2]> {
    let mut shapes: Vec<[usize; 2]> = (1..)
        .take_while(|r| r * r <= frames)
        .filter(|r| frames.is_multiple_of(*r))
        .map(|r| [r, frames / r])
        .collect();
    shapes.reverse();
    shapes
}

/// The file's extension in lower case ("" if none).
fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// The first bytes of a file, for format detection.
fn read_magic(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut buf = vec![0u8; 16];
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

impl Scan {
    /// Assembles a scan from a frame source; checks that the scan shape fits the frame count.
    pub fn new(
        path: impl Into<PathBuf>,
        format: &'static str,
        source: Box<dyn FrameSource>,
        scan_shape: [usize; 2],
        calibration: Calibration,
        labels: Option<Labels>,
    ) -> Result<Scan> {
        let path = path.into();
        let frames = source.frame_count();
        if frames == 0 {
            return Err(Error::format(&path, "the scan holds no frames"));
        }
        let [fr, fc] = source.frame_shape();
        if fr == 0 || fc == 0 {
            return Err(Error::format(
                &path,
                format!("frames have an empty shape {fr}x{fc}"),
            ));
        }
        let [r, c] = scan_shape;
        if r.checked_mul(c) != Some(frames) {
            return Err(Error::format(
                &path,
                format!("scan shape {r}x{c} does not match the {frames} frames in the file"),
            ));
        }
        Ok(Scan {
            path,
            format,
            scan_shape,
            calibration,
            labels,
            source: Arc::from(source),
            warnings: Vec::new(),
            shape_given: true,
        })
    }

    /// The same frames under another calibration (the user corrected the file's): the frame
    /// source is shared, nothing is read or mapped again.
    pub fn with_calibration(&self, calibration: Calibration) -> Scan {
        Scan {
            path: self.path.clone(),
            format: self.format,
            scan_shape: self.scan_shape,
            calibration,
            labels: self.labels.clone(),
            source: Arc::clone(&self.source),
            warnings: self.warnings.clone(),
            shape_given: self.shape_given,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What was overridden or doubted while opening (e.g. a sidecar outvoted by the file).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Whether the scan shape came from the caller, the sidecar or the file; false when the
    /// frames were laid out as one row for want of it.
    pub fn shape_given(&self) -> bool {
        self.shape_given
    }

    /// Short name of the reader that opened the file (e.g. `"npy"`).
    pub fn format(&self) -> &'static str {
        self.format
    }

    /// `[scan_rows, scan_cols, det_rows, det_cols]`.
    pub fn shape(&self) -> [usize; 4] {
        let [fr, fc] = self.source.frame_shape();
        [self.scan_shape[0], self.scan_shape[1], fr, fc]
    }

    pub fn scan_shape(&self) -> [usize; 2] {
        self.scan_shape
    }

    pub fn frame_shape(&self) -> [usize; 2] {
        self.source.frame_shape()
    }

    pub fn frame_len(&self) -> usize {
        let [r, c] = self.frame_shape();
        r * c
    }

    pub fn n_frames(&self) -> usize {
        self.scan_shape[0] * self.scan_shape[1]
    }

    pub fn dtype(&self) -> DType {
        self.source.dtype()
    }

    /// Changes the scan shape (rows × cols must equal the frame count).
    pub fn reshape(&mut self, scan_shape: [usize; 2]) -> Result<()> {
        let [r, c] = scan_shape;
        if r.checked_mul(c) != Some(self.n_frames()) {
            return Err(Error::invalid(format!(
                "{}: scan shape {r}x{c} does not match the {} frames",
                self.path.display(),
                self.n_frames()
            )));
        }
        self.scan_shape = scan_shape;
        Ok(())
    }

    /// Frame `index` (flat, row-major over the scan) in its native pixel type.
    pub fn frame<'a>(&'a self, index: usize, scratch: &'a mut FrameBuffer) -> Result<FrameRef<'a>> {
        if index >= self.n_frames() {
            return Err(Error::invalid(format!(
                "frame {index} is out of range: the scan has {} frames",
                self.n_frames()
            )));
        }
        let frame = self.source.frame(index, scratch)?;
        debug_assert_eq!(frame.len(), self.frame_len());
        Ok(frame)
    }

    /// Frame at `(row, col)` of the scan, as f32.
    pub fn frame_f32(&self, row: usize, col: usize) -> Result<Vec<f32>> {
        let [rows, cols] = self.scan_shape;
        if row >= rows || col >= cols {
            return Err(Error::invalid(format!(
                "scan position ({row}, {col}) is outside the {rows}x{cols} scan"
            )));
        }
        let mut scratch = FrameBuffer::new();
        Ok(self.frame(row * cols + col, &mut scratch)?.to_f32_vec())
    }

    pub fn advise_sequential(&self) {
        self.source.advise_sequential()
    }

    /// The detector corrections applied to every frame (masked pixels read as 0, an unapplied
    /// flatfield multiplied in), when the file describes any.
    pub fn corrections(&self) -> Option<&corrections::Corrections> {
        self.source.corrections()
    }

    /// See [`FrameSource::release`].
    pub fn release(&self, first: usize, count: usize) {
        self.source.release(first, count)
    }
}

#[cfg(test)]
mod shape_tests {
    use super::*;

    #[test]
    fn frame_counts_factor_into_scan_shapes_most_square_first() {
        assert_eq!(scan_shapes_for(12), [[3, 4], [2, 6], [1, 12]]);
        assert_eq!(scan_shapes_for(16384), {
            let mut v: Vec<[usize; 2]> = (0..=7).map(|k| [1 << k, 16384 >> k]).collect();
            v.reverse();
            v
        });
        assert_eq!(scan_shapes_for(13), [[1, 13]]);
        assert!(scan_shapes_for(0).is_empty());
    }

    #[test]
    fn a_stack_without_a_scan_shape_says_so_and_opens_as_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stack.npy");
        crate::write::write_npy_f32(&path, &[12, 4, 4], &[1.0; 12 * 16], false).unwrap();
        let scan = open(&path).unwrap();
        assert_eq!((scan.scan_shape(), scan.shape_given()), ([1, 12], false));
        let options = OpenOptions {
            scan_shape: Some([3, 4]),
            ..OpenOptions::default()
        };
        let scan = open_with(&path, &options).unwrap();
        assert_eq!((scan.scan_shape(), scan.shape_given()), ([3, 4], true));
    }
}
