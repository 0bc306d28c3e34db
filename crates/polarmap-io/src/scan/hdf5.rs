//! HDF5 files holding a 4D-STEM datacube: EMD 1.0 (py4DSTEM ≥ 0.13 / emdfile), Prismatic's
//! `4DSTEM_simulation`, py4DSTEM 0.12's `4DSTEM_experiment`, NCEM-style EMD groups, and any other
//! file with one 3D or 4D numeric dataset.
//!
//! Decoding uses the pure-Rust [`hdf5_reader`] crate (no C library; see `docs/formats.md` for why).
//! A contiguous, unfiltered dataset is memory-mapped at its file offset and served zero-copy like an
//! `.npy`; a chunked (possibly compressed) one is read one frame's hyperslab at a time through the
//! crate's chunk cache, sized so that a whole row of chunks across the scan stays decoded.
//!
//! Axis order: every convention handled here stores the datacube C-ordered as
//! `(R_x, R_y, Q_x, Q_y)` = `(scan row, scan column, detector row, detector column)`, which is
//! polarmap's order; h5py, py4DSTEM and RosettaSciIO read it the same way (no transpose).
//!
//! Every size read from the file is checked before it is used. A panic inside the decoder itself
//! is not caught here (catching it would hide it from the fuzz targets in `fuzz/`): it is a bug in
//! that crate, caught by the app's outermost layer (the CLI's `main`, the GUI job thread).

use super::mapped::{FrameLayout, MappedFrames};
use super::{Calibration, DType, Endian, FrameBuffer, FrameRef, FrameSource, OpenOptions, Opened};
use crate::error::{Error, Result};
use hdf5_reader::group::Group;
use hdf5_reader::messages::HdfMessage;
use hdf5_reader::{ByteOrder, Dataset, Datatype, Hdf5File, SliceInfo, SliceInfoElem};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The HDF5 format signature. It sits at offset 0, or at 512, 1024, 2048… after a user block.
pub const SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

/// Extensions tried as HDF5 when the signature is not found at offset 0.
pub const EXTENSIONS: &[&str] = &["h5", "hdf5", "hdf", "emd"];

/// Limits on the search for datacubes, so that a hostile or huge file cannot make it run away.
const MAX_DEPTH: usize = 32;
const MAX_OBJECTS: usize = 100_000;

/// Largest frame decoded from a chunked dataset (the TIFF reader's limit too); a larger size in a
/// header is taken as corruption.
const MAX_DECODED_FRAME_BYTES: usize = 256 << 20;

/// Whether the HDF5 signature is at offset 0 or at a user-block boundary (512 · 2ⁿ).
pub fn has_signature(path: &Path) -> Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut offset = 0u64;
    while offset + 8 <= len {
        let mut buf = [0u8; 8];
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| Error::io(path, e))?;
        file.read_exact(&mut buf).map_err(|e| Error::io(path, e))?;
        if &buf == SIGNATURE {
            return Ok(true);
        }
        offset = if offset == 0 { 512 } else { offset * 2 };
    }
    Ok(false)
}

/// Which convention a candidate dataset follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Convention {
    /// EMD 1.0 (emdfile / py4DSTEM ≥ 0.13): `data` in a group with `emd_group_type = 'array'`.
    Emd1,
    /// Prismatic: `4DSTEM_simulation/data/datacubes/<name>/datacube`.
    Prismatic,
    /// py4DSTEM 0.12 and other EMD 0.x writers: `data` (or `datacube`) in a group with
    /// `emd_group_type = 1`.
    Emd0,
    /// A 3D/4D dataset that follows none of the above.
    Plain,
}

impl Convention {
    pub fn name(self) -> &'static str {
        match self {
            Convention::Emd1 => "EMD 1.0",
            Convention::Prismatic => "Prismatic",
            Convention::Emd0 => "EMD 0.x",
            Convention::Plain => "plain HDF5",
        }
    }
}

/// A dataset that can be read as a scan.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Absolute path in the file, e.g. `/4DSTEM_simulation/data/datacubes/CBED_array_depth0000/datacube`.
    pub path: String,
    pub shape: Vec<u64>,
    /// NumPy name of the element type, or a description of an unsupported one.
    pub dtype: String,
    pub convention: Convention,
}

impl std::fmt::Display for Candidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shape: Vec<String> = self.shape.iter().map(|d| d.to_string()).collect();
        write!(
            f,
            "{} ({}, {}, {})",
            self.path,
            shape.join("x"),
            self.dtype,
            self.convention.name()
        )
    }
}

pub(super) fn h5err(path: &Path, what: &str, e: hdf5_reader::error::Error) -> Error {
    Error::format(path, format!("cannot read HDF5 {what}: {e}"))
}

/// Opens an HDF5 file with bitshuffle (32008) registered beside the built-in filters, and external
/// links resolved to files in the same folder (opened the same way).
pub(super) fn open_file(path: &Path, cache_bytes: Option<usize>) -> Result<Hdf5File> {
    let folder = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let options = file_options(cache_bytes)
        .with_external_link_resolver(Arc::new(LinkedFiles::new(folder, path)));
    Hdf5File::open_with_options(path, options).map_err(|e| match e {
        hdf5_reader::error::Error::Io(io) => Error::io(path, io),
        other => Error::format(path, format!("not a readable HDF5 file: {other}")),
    })
}

fn file_options(cache_bytes: Option<usize>) -> hdf5_reader::OpenOptions {
    let mut options =
        hdf5_reader::OpenOptions::default().with_filter_registry(super::bitshuffle::registry());
    if let Some(bytes) = cache_bytes {
        options = options
            .with_chunk_cache_bytes(bytes)
            .with_chunk_cache_slots(8191);
    }
    options
}

/// Resolves external links (a Dectris master's links to its data files) to files in the linking
/// file's folder, opened with the same filters; a missing or unreadable target is an error naming
/// it and the file that links to it. Absolute paths and `..` are refused: a file may only reach
/// its neighbours.
struct LinkedFiles {
    folder: PathBuf,
    from: PathBuf,
    opened: Mutex<Vec<(String, Hdf5File)>>,
}

impl LinkedFiles {
    fn new(folder: PathBuf, from: &Path) -> Self {
        LinkedFiles {
            folder,
            from: from.to_path_buf(),
            opened: Mutex::new(Vec::new()),
        }
    }
}

impl hdf5_reader::ExternalLinkResolver for LinkedFiles {
    fn resolve_external_link(
        &self,
        filename: &str,
    ) -> hdf5_reader::error::Result<Option<Hdf5File>> {
        use hdf5_reader::error::Error as H5Error;
        let mut opened = self.opened.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, f)) = opened.iter().find(|(n, _)| n == filename) {
            return Ok(Some(f.clone()));
        }
        let relative = Path::new(filename);
        let plain = relative
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        if filename.is_empty() || !plain {
            return Err(H5Error::InvalidData(format!(
                "{} links to '{filename}', which is not a file name in its folder (polarmap \
                 follows external links only to files beside the linking file)",
                self.from.display()
            )));
        }
        let target = self.folder.join(relative);
        // The linked files' own chunk caches stay empty: their readers (Dectris data files, one
        // chunk per frame) keep decoded blocks themselves, and a cache per file would grow with
        // the number of files (64 MiB each by default).
        let file = Hdf5File::open_with_options(&target, file_options(Some(0))).map_err(|e| {
            H5Error::InvalidData(format!(
                "{} links to data file {}, which cannot be opened: {e}",
                self.from.display(),
                target.display()
            ))
        })?;
        opened.push((filename.to_string(), file.clone()));
        Ok(Some(file))
    }
}

/// Maps an HDF5 element type to polarmap's, or says why it cannot.
pub(super) fn map_dtype(dt: &Datatype) -> std::result::Result<(DType, Endian), String> {
    let endian = |o: &ByteOrder| match o {
        ByteOrder::BigEndian => Endian::Big,
        _ => Endian::Little,
    };
    match dt {
        Datatype::FixedPoint {
            size,
            signed,
            byte_order,
        } => {
            let d = match (size, signed) {
                (1, false) => DType::U8,
                (2, false) => DType::U16,
                (4, false) => DType::U32,
                (2, true) => DType::I16,
                (4, true) => DType::I32,
                _ => {
                    return Err(format!(
                        "{}int{}",
                        if *signed { "" } else { "u" },
                        *size as u32 * 8
                    ))
                }
            };
            Ok((d, endian(byte_order)))
        }
        Datatype::FloatingPoint { size, byte_order } => match size {
            4 => Ok((DType::F32, endian(byte_order))),
            8 => Ok((DType::F64, endian(byte_order))),
            s => Err(format!("float{}", *s as u32 * 8)),
        },
        Datatype::Compound { .. } => Err("compound".into()),
        Datatype::String { .. } | Datatype::VarLen { .. } => Err("string".into()),
        other => Err(format!("{other:?}")
            .split([' ', '{', '('])
            .next()
            .unwrap_or("other")
            .to_ascii_lowercase()),
    }
}

fn dtype_label(dt: &Datatype) -> String {
    match map_dtype(dt) {
        Ok((d, _)) => d.name().to_string(),
        Err(name) => format!("{name} (unsupported)"),
    }
}

/// A string-valued attribute, whether stored fixed-length or variable-length.
pub(super) fn attr_string(attrs: &[hdf5_reader::Attribute], name: &str) -> Option<String> {
    let a = attrs.iter().find(|a| a.name == name)?;
    a.read_string()
        .ok()
        .map(|s| s.trim_end_matches('\0').trim().to_string())
}

pub(super) fn attr_f64(attrs: &[hdf5_reader::Attribute], name: &str) -> Option<f64> {
    attrs.iter().find(|a| a.name == name)?.read_as_f64().ok()
}

fn group_kind(group: &Group) -> (Option<String>, Option<f64>) {
    let attrs = group.attributes().unwrap_or_default();
    (
        attr_string(&attrs, "emd_group_type"),
        attr_f64(&attrs, "emd_group_type"),
    )
}

fn join(parent: &str, name: &str) -> String {
    if parent.ends_with('/') {
        format!("{parent}{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// Walks the file and lists every 3D/4D dataset, those following a known convention first, 4D
/// before 3D, otherwise in name order.
fn find_candidates(path: &Path, file: &Hdf5File) -> Result<Vec<Candidate>> {
    let root = file
        .root_group()
        .map_err(|e| h5err(path, "root group", e))?;
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut budget = MAX_OBJECTS;
    walk(path, &root, "/", 0, &mut seen, &mut budget, &mut out)?;
    out.sort_by_key(|c| {
        (
            c.convention == Convention::Plain,
            c.shape.len() != 4,
            // Unsupported element types last, so they never shadow a readable cube.
            c.dtype.contains("unsupported"),
        )
    });
    Ok(out)
}

fn walk(
    path: &Path,
    group: &Group,
    at: &str,
    depth: usize,
    seen: &mut HashSet<u64>,
    budget: &mut usize,
    out: &mut Vec<Candidate>,
) -> Result<()> {
    if depth > MAX_DEPTH || !seen.insert(group.address()) {
        return Ok(());
    }
    let (mut groups, mut datasets) = group
        .members()
        .map_err(|e| h5err(path, &format!("group {at}"), e))?;
    *budget = budget.saturating_sub(groups.len() + datasets.len());
    if *budget == 0 {
        return Err(Error::format(
            path,
            format!("the file holds more than {MAX_OBJECTS} objects; name the dataset to read"),
        ));
    }
    groups.sort_by(|a, b| a.name().cmp(b.name()));
    datasets.sort_by(|a, b| a.name().cmp(b.name()));
    let (kind_str, kind_num) = group_kind(group);
    for ds in &datasets {
        let ndim = ds.ndim();
        if ndim != 3 && ndim != 4 {
            continue;
        }
        let full = join(at, ds.name());
        let convention = if kind_str.as_deref() == Some("array") && ds.name() == "data" {
            Convention::Emd1
        } else if ds.name() == "datacube" && full.starts_with("/4DSTEM_simulation/data/datacubes/")
        {
            Convention::Prismatic
        } else if kind_num == Some(1.0) && (ds.name() == "data" || ds.name() == "datacube") {
            Convention::Emd0
        } else {
            Convention::Plain
        };
        out.push(Candidate {
            path: full,
            shape: ds.shape().to_vec(),
            dtype: dtype_label(ds.dtype()),
            convention,
        });
    }
    for g in &groups {
        walk(path, g, &join(at, g.name()), depth + 1, seen, budget, out)?;
    }
    Ok(())
}

/// Lists the datasets in an HDF5 file that could be opened as a scan; the first is the one
/// [`open`] picks when no dataset is named.
pub fn list_candidates(path: &Path) -> Result<Vec<Candidate>> {
    let file = open_file(path, None)?;
    find_candidates(path, &file)
}

/// Opens the datacube named by `options.dataset`, or the first one found.
pub fn open(path: &Path, options: &OpenOptions) -> Result<Opened> {
    let file = open_file(path, None)?;
    // Instrument layouts with more than one dataset to a scan come first.
    if options.dataset.is_none() && super::dectris::is_master(path, &file)? {
        return super::dectris::open(path, &file, options);
    }
    if super::velox::is_velox(&file) {
        return super::velox::open(path, &file, options);
    }
    let candidates = find_candidates(path, &file)?;
    let list = |cands: &[Candidate]| -> String {
        if cands.is_empty() {
            "none".into()
        } else {
            cands
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        }
    };
    let dataset_path = match &options.dataset {
        Some(name) => {
            let wanted = if name.starts_with('/') {
                name.clone()
            } else {
                format!("/{name}")
            };
            if !candidates.iter().any(|c| c.path == wanted) {
                let exists = file.dataset(&wanted).is_ok();
                return Err(Error::format(
                    path,
                    if exists {
                        format!(
                            "dataset {wanted} is not a 3D or 4D array; datacubes in the file: {}",
                            list(&candidates)
                        )
                    } else {
                        format!(
                            "has no dataset {wanted}; datacubes in the file: {}",
                            list(&candidates)
                        )
                    },
                ));
            }
            wanted
        }
        None => match candidates.first() {
            Some(c) => c.path.clone(),
            None => {
                let summary = summarize(&file);
                return Err(Error::format(
                    path,
                    format!(
                        "no 3D or 4D dataset found, so no 4D-STEM datacube to read (the file holds: {summary})"
                    ),
                ));
            }
        },
    };
    let candidate = candidates
        .iter()
        .find(|c| c.path == dataset_path)
        .cloned()
        .ok_or_else(|| Error::format(path, format!("has no datacube {dataset_path}")))?;
    let dataset = file
        .dataset(&dataset_path)
        .map_err(|e| h5err(path, &format!("dataset {dataset_path}"), e))?;
    let (dtype, endian) = map_dtype(dataset.dtype()).map_err(|name| {
        Error::format(
            path,
            format!(
                "dataset {dataset_path} holds {name} elements; polarmap reads uint8, uint16, uint32, \
                 int16, int32, float32 and float64"
            ),
        )
    })?;
    if let Some(max) = dataset.max_dims() {
        if max.len() != dataset.ndim() || dataset.shape().iter().zip(max).any(|(d, m)| d > m) {
            return Err(Error::format(
                path,
                format!(
                    "dataset {dataset_path} is corrupt: its shape {:?} exceeds its maximum shape {max:?}",
                    dataset.shape()
                ),
            ));
        }
    }
    let shape: Vec<usize> = dataset
        .shape()
        .iter()
        .map(|&d| usize::try_from(d).unwrap_or(usize::MAX))
        .collect();
    let (scan_shape, count, frame_shape) = match *shape.as_slice() {
        [r, c, h, w] => (Some([r, c]), r.checked_mul(c), [h, w]),
        [n, h, w] => (None, Some(n), [h, w]),
        // The walk listed it as 3D or 4D, but a corrupt file can resolve the same path to
        // another object (e.g. a link name holding '/').
        _ => {
            return Err(Error::format(
                path,
                format!(
                    "dataset {dataset_path} has shape {shape:?}, not the 3D or 4D shape {:?} \
                     listed for it: the file's structure is inconsistent",
                    candidate.shape
                ),
            ))
        }
    };
    let count = count
        .filter(|&n| n > 0 && frame_shape[0] > 0 && frame_shape[1] > 0)
        .ok_or_else(|| {
            Error::format(
                path,
                format!("dataset {dataset_path} has an empty or impossible shape {shape:?}"),
            )
        })?;
    let frame_bytes = frame_shape[0]
        .checked_mul(frame_shape[1])
        .and_then(|n| n.checked_mul(dtype.size()))
        .ok_or_else(|| {
            Error::format(
                path,
                format!("dataset {dataset_path} has frames too large to address: {shape:?}"),
            )
        })?;

    let calibration = read_calibration(&file, &candidate);
    let source: Box<dyn FrameSource> = match contiguous_offset(&file, &dataset) {
        Some(offset) => Box::new(MappedFrames::open(
            path,
            FrameLayout {
                dtype,
                endian,
                frame_shape,
                first_offset: usize::try_from(offset)
                    .map_err(|_| Error::format(path, "dataset offset beyond the address space"))?,
                stride: frame_bytes,
                count,
            },
        )?),
        None => {
            // Decoded frames are allocated: their size must be plausible (a mapped frame, above,
            // must lie in the file instead; a chunked one can be declared of any size by a few
            // bytes of header, its missing chunks reading as the fill value).
            if frame_bytes > MAX_DECODED_FRAME_BYTES {
                return Err(Error::format(
                    path,
                    format!(
                        "dataset {dataset_path} has {}x{} frames of {} ({frame_bytes} bytes), more \
                         than the {} MiB polarmap decodes per frame: the file is corrupt, or not \
                         a 4D-STEM datacube",
                        frame_shape[0],
                        frame_shape[1],
                        dtype,
                        MAX_DECODED_FRAME_BYTES >> 20
                    ),
                ));
            }
            // Reopen with a chunk cache that holds a whole row of chunks across the scan, so
            // that reading frames in scan order decodes each chunk once.
            let cache = dataset.chunks().map(|chunk| {
                let elems: usize = chunk
                    .iter()
                    .take(shape.len())
                    .map(|&c| c.max(1) as usize)
                    .fold(dtype.size(), |a, c| a.saturating_mul(c));
                let across = match (shape.len(), chunk.get(1)) {
                    (4, Some(&cc)) => shape[1].div_ceil(cc.max(1) as usize),
                    _ => 1,
                };
                elems
                    .saturating_mul(across)
                    .saturating_mul(2)
                    .clamp(64 << 20, 1 << 30)
            });
            let (file, dataset) = match cache {
                Some(bytes) => {
                    let file = open_file(path, Some(bytes))?;
                    let dataset = file
                        .dataset(&dataset_path)
                        .map_err(|e| h5err(path, &format!("dataset {dataset_path}"), e))?;
                    (file, dataset)
                }
                None => (file, dataset),
            };
            // One frame per chunk (detector data): fewer frames per read, see FRAMES_PER_CHUNK_READ.
            let one_frame_chunks = dataset.chunks().is_some_and(|c| {
                let lead = c.len().saturating_sub(2);
                c.len() == shape.len()
                    && c[..lead].iter().all(|&d| d == 1)
                    && c[lead..].iter().map(|&d| d as usize).eq(frame_shape)
            });
            let frames = SlicedFrames::new(
                path,
                file,
                dataset,
                dataset_path.clone(),
                dtype,
                shape,
                frame_shape,
                count,
            );
            Box::new(if one_frame_chunks {
                frames.with_block(FRAMES_PER_CHUNK_READ)
            } else {
                frames
            })
        }
    };
    Ok(Opened {
        format: "hdf5",
        source,
        scan_shape,
        calibration,
    })
}

/// Counts of what a file without a datacube holds, for the error message.
fn summarize(file: &Hdf5File) -> String {
    let Ok(root) = file.root_group() else {
        return "an unreadable root group".into();
    };
    let mut groups = 0usize;
    let mut datasets: Vec<String> = Vec::new();
    let mut stack = vec![(root, "/".to_string(), 0usize)];
    let mut seen = HashSet::new();
    while let Some((g, at, depth)) = stack.pop() {
        if depth > MAX_DEPTH || !seen.insert(g.address()) || groups + datasets.len() > 10_000 {
            continue;
        }
        let Ok((gs, ds)) = g.members() else { continue };
        for d in ds {
            let shape: Vec<String> = d.shape().iter().map(|x| x.to_string()).collect();
            datasets.push(format!(
                "{} ({}D {})",
                join(&at, d.name()),
                shape.len(),
                shape.join("x")
            ));
        }
        for child in gs {
            groups += 1;
            let p = join(&at, child.name());
            stack.push((child, p, depth + 1));
        }
    }
    let shown: Vec<String> = datasets.iter().take(8).cloned().collect();
    let more = datasets.len().saturating_sub(shown.len());
    format!(
        "{groups} groups, {} datasets{}{}",
        datasets.len(),
        if shown.is_empty() {
            String::new()
        } else {
            format!(": {}", shown.join(", "))
        },
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    )
}

/// File offset of a dataset stored contiguously without filters, if it is (and is allocated).
fn contiguous_offset(file: &Hdf5File, dataset: &Dataset) -> Option<u64> {
    use hdf5_reader::messages::layout::DataLayout;
    let header = file.get_or_parse_header(dataset.address()).ok()?;
    let mut address = None;
    for message in &header.messages {
        match message {
            HdfMessage::DataLayout(l) => {
                if let DataLayout::Contiguous { address: a, .. } = l.layout {
                    address = Some(a);
                }
            }
            // Filters or external storage: the bytes in the file are not the array.
            HdfMessage::FilterPipeline(p) if !p.filters.is_empty() => return None,
            HdfMessage::ExternalFiles(_) => return None,
            _ => {}
        }
    }
    let address = address.filter(|&a| a != u64::MAX)?;
    address.checked_add(file.superblock().base_address)
}

/// Bytes of decoded frames read per hyperslab. Reading a block of frames along a scan row costs one
/// chunk-index lookup instead of one per frame (the lookup, not the inflating, dominated per-frame
/// reads: 3x slower than h5py on one-chunk-per-frame files).
const BLOCK_BYTES: usize = 8 << 20;

/// Frames per hyperslab read when each chunk holds one frame (Dectris data files and other
/// detector output). Each read costs a chunk-index lookup (~4 ms in a 10 000-chunk file), each
/// frame its decoding (~1 ms for a 192×192 uint32 bitshuffle-LZ4 frame), measured with
/// `dectris.rs`'s `timing` test on a busy 2-core machine: 512 spread frames (the survey) took 81 s
/// with the 8 MiB block (56 such frames), 11 s with 8 frames, 3 s with 1; 20 000 sequential
/// frames 22 s, 30 s and 89 s. 16 is between.
pub(super) const FRAMES_PER_CHUNK_READ: usize = 16;

/// Decoded blocks kept, at most this many bytes in all.
const BLOCK_CACHE_BYTES: usize = 256 << 20;

/// Frames of a chunked (possibly compressed) dataset, read as hyperslabs of `block` consecutive
/// frames along a scan row (`[r, c0..c1, :, :]`, or `[i0..i1, :, :]` for a 3D stack) and kept in a
/// small LRU cache of decoded blocks, so that readers going through the scan in order decode each
/// chunk once. Blocks are decoded outside the lock: threads never wait on each other's decoding.
pub(super) struct SlicedFrames {
    path: PathBuf,
    /// Keeps the file (and its chunk cache) alive with the dataset.
    _file: Hdf5File,
    dataset: Dataset,
    dataset_path: String,
    dtype: DType,
    shape: Vec<usize>,
    frame_shape: [usize; 2],
    count: usize,
    /// Frames per block; blocks never cross a scan row.
    block: usize,
    capacity: usize,
    /// Most recently used last: (block id, native-endian bytes of its frames).
    cache: Mutex<Vec<(usize, Arc<Vec<u8>>)>>,
}

impl SlicedFrames {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        path: &Path,
        file: Hdf5File,
        dataset: Dataset,
        dataset_path: String,
        dtype: DType,
        shape: Vec<usize>,
        frame_shape: [usize; 2],
        count: usize,
    ) -> SlicedFrames {
        let frame_bytes = frame_shape[0] * frame_shape[1] * dtype.size();
        let row = if shape.len() == 4 { shape[1] } else { count };
        let block = (BLOCK_BYTES / frame_bytes.max(1)).clamp(1, row.max(1));
        let threads = rayon::current_num_threads().max(1);
        let capacity = (2 * threads).clamp(2, (BLOCK_CACHE_BYTES / (block * frame_bytes)).max(2));
        SlicedFrames {
            path: path.to_path_buf(),
            _file: file,
            dataset,
            dataset_path,
            dtype,
            shape,
            frame_shape,
            count,
            block,
            capacity,
            cache: Mutex::new(Vec::new()),
        }
    }

    /// Reads `frames` frames per hyperslab instead of a block of ~8 MiB (at least 1, at most a
    /// scan row).
    pub(super) fn with_block(mut self, frames: usize) -> Self {
        self.block = frames.clamp(1, self.row_len().max(1));
        self
    }

    /// Frames per scan row (the whole stack for 3D data).
    fn row_len(&self) -> usize {
        if self.shape.len() == 4 {
            self.shape[1]
        } else {
            self.count
        }
    }

    /// (block id, first frame of the block, frames in it) for frame `index`.
    fn block_of(&self, index: usize) -> (usize, usize, usize) {
        let row_len = self.row_len();
        let (row, col) = (index / row_len, index % row_len);
        let per_row = row_len.div_ceil(self.block);
        let b = col / self.block;
        let first_col = b * self.block;
        let len = self.block.min(row_len - first_col);
        (row * per_row + b, row * row_len + first_col, len)
    }

    fn selection(&self, first: usize, len: usize) -> SliceInfo {
        let [h, w] = self.frame_shape;
        let range = |start: usize, end: usize| SliceInfoElem::Slice {
            start: start as u64,
            end: end as u64,
            step: 1,
        };
        let mut sel = match self.shape.len() {
            4 => {
                let cols = self.shape[1];
                let (r, c) = (first / cols, first % cols);
                vec![SliceInfoElem::Index(r as u64), range(c, c + len)]
            }
            _ => vec![range(first, first + len)],
        };
        sel.push(range(0, h));
        sel.push(range(0, w));
        SliceInfo { selections: sel }
    }

    fn read_block<T>(&self, first: usize, len: usize) -> Result<Vec<u8>>
    where
        T: hdf5_reader::H5Type + super::Pixel,
    {
        let array = self
            .dataset
            .read_slice::<T>(&self.selection(first, len))
            .map_err(|e| {
                Error::format(
                    &self.path,
                    format!(
                        "cannot read frames {first}..{} of {}: {e}",
                        first + len,
                        self.dataset_path
                    ),
                )
            })?;
        let expected = len * self.frame_shape[0] * self.frame_shape[1];
        if array.len() != expected {
            return Err(Error::format(
                &self.path,
                format!(
                    "frames {first}..{} of {} decoded to {} pixels, expected {expected}",
                    first + len,
                    self.dataset_path,
                    array.len()
                ),
            ));
        }
        Ok(match array.as_slice() {
            Some(s) => bytemuck::cast_slice::<T, u8>(s).to_vec(),
            None => {
                let v: Vec<T> = array.iter().copied().collect();
                bytemuck::cast_slice::<T, u8>(&v).to_vec()
            }
        })
    }

    /// Calls `f` with frame `index` as native-endian bytes of the stored type (for readers that
    /// transform the frame on its way into the caller's scratch buffer).
    pub(super) fn with_native_bytes<R>(
        &self,
        index: usize,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<R> {
        let (bytes, within) = self.block_bytes(index)?;
        let frame_bytes = self.frame_shape[0] * self.frame_shape[1] * self.dtype.size();
        let start = within * frame_bytes;
        Ok(f(&bytes[start..start + frame_bytes]))
    }

    fn block_bytes(&self, index: usize) -> Result<(Arc<Vec<u8>>, usize)> {
        let (id, first, len) = self.block_of(index);
        {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(pos) = cache.iter().position(|(k, _)| *k == id) {
                let entry = cache.remove(pos);
                let bytes = entry.1.clone();
                cache.push(entry);
                return Ok((bytes, index - first));
            }
        }
        let bytes = Arc::new(match self.dtype {
            DType::U8 => self.read_block::<u8>(first, len),
            DType::U16 => self.read_block::<u16>(first, len),
            DType::U32 => self.read_block::<u32>(first, len),
            DType::I16 => self.read_block::<i16>(first, len),
            DType::I32 => self.read_block::<i32>(first, len),
            DType::F32 => self.read_block::<f32>(first, len),
            DType::F64 => self.read_block::<f64>(first, len),
        }?);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if !cache.iter().any(|(k, _)| *k == id) {
            if cache.len() >= self.capacity {
                cache.remove(0);
            }
            cache.push((id, bytes.clone()));
        }
        Ok((bytes, index - first))
    }
}

impl FrameSource for SlicedFrames {
    fn dtype(&self) -> DType {
        self.dtype
    }

    fn frame_count(&self) -> usize {
        self.count
    }

    fn frame_shape(&self) -> [usize; 2] {
        self.frame_shape
    }

    fn frame<'a>(&'a self, index: usize, scratch: &'a mut FrameBuffer) -> Result<FrameRef<'a>> {
        let (bytes, within) = self.block_bytes(index)?;
        let frame_bytes = self.frame_shape[0] * self.frame_shape[1] * self.dtype.size();
        let start = within * frame_bytes;
        // The decoder returned native-endian values.
        let native = if cfg!(target_endian = "little") {
            Endian::Little
        } else {
            Endian::Big
        };
        Ok(scratch.decode(self.dtype, native, &bytes[start..start + frame_bytes]))
    }
}

// ---------------------------------------------------------------------------------------------
// Calibration
// ---------------------------------------------------------------------------------------------

pub use super::calibration::electron_wavelength_a;

/// Length unit → factor to Å, for the spellings these writers use (`A`, `Å`, `nm`, Prismatic's
/// `[n_m]`, …).
pub(super) fn length_to_a(units: &str) -> Option<f64> {
    match normalize_units(units).as_str() {
        "a" | "å" | "angstrom" | "angstroms" | "ang" => Some(1.0),
        "nm" => Some(10.0),
        "pm" => Some(0.01),
        "um" | "µm" | "μm" => Some(1e4),
        _ => None,
    }
}

fn positive(v: f64) -> Option<f64> {
    (v.is_finite() && v > 0.0).then_some(v)
}

/// Elements of an array of `shape`, or None on overflow.
fn element_count(shape: &[u64]) -> Option<u64> {
    shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d))
}

/// A small numeric dataset's values as f64, whatever its element type.
fn read_f64s(ds: &Dataset) -> Option<Vec<f64>> {
    fn conv<T: hdf5_reader::H5Type + Copy + Into<f64>>(ds: &Dataset) -> Option<Vec<f64>> {
        Some(
            ds.read_array::<T>()
                .ok()?
                .iter()
                .map(|&v| v.into())
                .collect(),
        )
    }
    if element_count(ds.shape()).is_none_or(|n| n > 1 << 20) {
        return None;
    }
    match ds.dtype() {
        Datatype::FloatingPoint { size: 8, .. } => conv::<f64>(ds),
        Datatype::FloatingPoint { size: 4, .. } => conv::<f32>(ds),
        Datatype::FixedPoint { size, signed, .. } => match (size, signed) {
            (1, false) => conv::<u8>(ds),
            (1, true) => conv::<i8>(ds),
            (2, false) => conv::<u16>(ds),
            (2, true) => conv::<i16>(ds),
            (4, false) => conv::<u32>(ds),
            (4, true) => conv::<i32>(ds),
            (8, false) => Some(
                ds.read_array::<u64>()
                    .ok()?
                    .iter()
                    .map(|&v| v as f64)
                    .collect(),
            ),
            (8, true) => Some(
                ds.read_array::<i64>()
                    .ok()?
                    .iter()
                    .map(|&v| v as f64)
                    .collect(),
            ),
            _ => None,
        },
        _ => None,
    }
}

/// Unit spelling without Prismatic's brackets and underscores, lower case: `[n_m]` → `nm`.
fn normalize_units(units: &str) -> String {
    units
        .chars()
        .filter(|c| !matches!(c, '[' | ']' | '_' | ' '))
        .collect::<String>()
        .to_lowercase()
}

/// A dimension vector `dimN` beside the data: (step, units).
fn dim_step(group: &Group, name: &str) -> Option<(f64, String)> {
    let ds = group.dataset(name).ok()?;
    if ds.shape().len() != 1 || ds.shape()[0] < 2 {
        return None;
    }
    let values = read_f64s(&ds)?;
    let step = values.get(1)? - values.first()?;
    let units = attr_string(&ds.attributes(), "units").unwrap_or_default();
    Some((step, units))
}

fn parent_group(file: &Hdf5File, dataset_path: &str) -> Option<Group> {
    let parent = dataset_path.rsplit_once('/')?.0;
    if parent.is_empty() {
        file.root_group().ok()
    } else {
        file.group(parent).ok()
    }
}

/// Reads what the file says about the calibration. Best effort: anything missing or odd is left
/// unknown, never an error.
fn read_calibration(file: &Hdf5File, candidate: &Candidate) -> Calibration {
    let Some(parent) = parent_group(file, &candidate.path) else {
        return Calibration::default();
    };
    match candidate.convention {
        Convention::Prismatic => prismatic_calibration(file, &parent),
        Convention::Emd1 => emd1_calibration(file, &candidate.path, &parent),
        Convention::Emd0 | Convention::Plain => emd0_calibration(&parent),
    }
}

/// Prismatic: `dim1..dim4` give the probe positions and the detector's spatial frequencies.
/// Prismatic labels them `[n_m]` and `[n_m^-1]`, but the values are in Å and Å⁻¹ (its cell sizes and
/// probe steps are in Å: Si100_4D.emd has a 5.43 Å cell scanned at 0.5 Å steps; see
/// docs/formats.md). Energy (`E`, keV) and probe semi-angle (`sa`, mrad) come from
/// `metadata/metadata_0/original/simulation_parameters`.
fn prismatic_calibration(file: &Hdf5File, parent: &Group) -> Calibration {
    let params = file
        .group("/4DSTEM_simulation/metadata/metadata_0/original/simulation_parameters")
        .and_then(|g| g.attributes())
        .unwrap_or_default();
    let energy_kv = attr_f64(&params, "E").and_then(positive);
    let scan_step_a = dim_step(parent, "dim1").and_then(|(s, _)| positive(s.abs()));
    let dq = dim_step(parent, "dim3").and_then(|(s, _)| positive(s.abs()));
    Calibration {
        energy_kv,
        convergence_mrad: attr_f64(&params, "sa").and_then(positive),
        scan_step_a,
        mrad_per_px: match (dq, energy_kv) {
            (Some(dq), Some(kv)) => positive(dq * electron_wavelength_a(kv) * 1e3),
            _ => None,
        },
        ..Calibration::default()
    }
}

/// Scalar metadata value stored the emdfile way: a 0-D dataset in a metadata group.
fn meta_f64(group: &Group, name: &str) -> Option<f64> {
    let ds = group.dataset(name).ok()?;
    if element_count(ds.shape()) != Some(1) {
        return None;
    }
    read_f64s(&ds)?.first().copied()
}

fn meta_string(group: &Group, name: &str) -> Option<String> {
    let ds = group.dataset(name).ok()?;
    ds.read_string().ok().map(|s| s.trim().to_string())
}

/// EMD 1.0 / py4DSTEM: the root's `metadatabundle/calibration` (R_pixel_size, R_pixel_units,
/// Q_pixel_size, Q_pixel_units), else the array's `dim0` and `dim2` vectors.
fn emd1_calibration(file: &Hdf5File, dataset_path: &str, parent: &Group) -> Calibration {
    let mut cal = Calibration::default();
    // The EMD root is the top-level group the array lives in.
    let root_name = dataset_path.trim_start_matches('/').split('/').next();
    let bundle =
        root_name.and_then(|r| file.group(&format!("/{r}/metadatabundle/calibration")).ok());
    if let Some(c) = &bundle {
        if let (Some(size), Some(units)) =
            (meta_f64(c, "R_pixel_size"), meta_string(c, "R_pixel_units"))
        {
            cal.scan_step_a = length_to_a(&units).and_then(|f| positive(size * f));
        }
        if let (Some(size), Some(units)) =
            (meta_f64(c, "Q_pixel_size"), meta_string(c, "Q_pixel_units"))
        {
            if normalize_units(&units) == "mrad" {
                cal.mrad_per_px = positive(size);
            }
        }
    }
    if cal.scan_step_a.is_none() {
        if let Some((step, units)) = dim_step(parent, "dim0") {
            cal.scan_step_a = length_to_a(&units).and_then(|f| positive(step.abs() * f));
        }
    }
    if cal.mrad_per_px.is_none() {
        if let Some((step, units)) = dim_step(parent, "dim2") {
            if normalize_units(&units) == "mrad" {
                cal.mrad_per_px = positive(step.abs());
            }
        }
    }
    cal
}

/// EMD 0.x (py4DSTEM 0.12, NCEM): `dim1..dim4` with `units` attributes.
fn emd0_calibration(parent: &Group) -> Calibration {
    let mut cal = Calibration::default();
    if let Some((step, units)) = dim_step(parent, "dim1") {
        cal.scan_step_a = length_to_a(&units).and_then(|f| positive(step.abs() * f));
    }
    if let Some((step, units)) = dim_step(parent, "dim3") {
        if normalize_units(&units) == "mrad" {
            cal.mrad_per_px = positive(step.abs());
        }
    }
    cal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_recognised() {
        assert_eq!(length_to_a("[n_m]"), Some(10.0));
        assert_eq!(length_to_a("A"), Some(1.0));
        assert_eq!(length_to_a("Å"), Some(1.0));
        assert_eq!(length_to_a("pixels"), None);
    }

    #[test]
    fn maps_element_types() {
        let le = ByteOrder::LittleEndian;
        let be = ByteOrder::BigEndian;
        assert_eq!(
            map_dtype(&Datatype::FixedPoint {
                size: 2,
                signed: false,
                byte_order: be
            }),
            Ok((DType::U16, Endian::Big))
        );
        assert_eq!(
            map_dtype(&Datatype::FloatingPoint {
                size: 4,
                byte_order: le
            }),
            Ok((DType::F32, Endian::Little))
        );
        assert_eq!(
            map_dtype(&Datatype::FixedPoint {
                size: 8,
                signed: true,
                byte_order: le
            }),
            Err("int64".into())
        );
    }
}
