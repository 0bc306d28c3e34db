//! Gatan DigitalMicrograph `.dm3` / `.dm4` files: a tag tree (groups of named tags holding
//! numbers, arrays and structs) whose `ImageList` holds each image's `ImageData` (`Data`,
//! `DataType`, `Dimensions`, `Calibrations`) and `ImageTags` (acquisition metadata).
//!
//! * Header: version (3 or 4), file size and a byte-order flag, big-endian 4-byte fields (the
//!   size is 8 bytes in DM4). Tag headers and the type descriptions of data tags are big-endian
//!   (8-byte counts in DM4); the values themselves are in the flagged byte order.
//! * `Dimensions` lists the fastest axis first: an image is `[x, y]`, a stack `[x, y, z]`, a
//!   STEMx 4D scan `[det_x, det_y, scan_x, scan_y]`. Frames are therefore C-ordered
//!   `[.., y, x]` slabs, read through [`MappedFrames`] in place (no copy for native byte order).
//! * 4D data are C-ordered only when `ImageTags/Meta Data/Data Order Swapped` is set (newer GMS);
//!   older STEMx files interleave the scan positions pixel by pixel, which polarmap refuses
//!   rather than guess (LiberTEM refuses them too).
//! * Spectrum images (EELS/EDS: one spectrum per scan position) are not diffraction data and are
//!   refused.
//!
//! Calibration: the detector axes' `Scale`/`Units` give mrad per pixel (`mrad`, `rad`, or a
//! reciprocal length converted with the beam energy from `Microscope Info/Voltage`), the scan
//! axes' give the scan step.

use super::mapped::{FrameLayout, MappedFrames};
use super::{Calibration, DType, Endian, Opened};
use crate::error::{Error, Result};
use memmap2::Mmap;
use std::path::Path;

/// Deepest tag-group nesting accepted (real files nest fewer than 15 levels).
const MAX_DEPTH: usize = 64;
/// Most tags accepted in one file (real files hold a few thousand).
const MAX_TAGS: usize = 1 << 20;
/// Longest type description of a data tag (structs list two numbers per field).
const MAX_INFO: u64 = 4096;

/// A number or array stored in a data tag.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    /// An array of simple elements: its element type code, byte offset in the file and length.
    Array {
        elem: u64,
        offset: usize,
        count: usize,
    },
    /// Anything else (structs, strings, arrays of structs): kept as its byte range only.
    Other {
        offset: usize,
        bytes: usize,
    },
}

/// A node of the tag tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Tag {
    Group(Vec<(String, Tag)>),
    Data(Value),
}

impl Tag {
    /// The child named `name` (unnamed children are reachable as their 1-based index, as DM's
    /// own tag paths say `ImageList:1`... here `"1"` is the first child).
    pub fn get(&self, name: &str) -> Option<&Tag> {
        let Tag::Group(children) = self else {
            return None;
        };
        if let Some((_, t)) = children.iter().find(|(n, _)| n == name) {
            return Some(t);
        }
        let index: usize = name.parse().ok()?;
        children.get(index.checked_sub(1)?).map(|(_, t)| t)
    }

    /// The node at a `/`-separated path.
    pub fn path(&self, path: &str) -> Option<&Tag> {
        path.split('/').try_fold(self, |t, name| t.get(name))
    }

    pub fn children(&self) -> &[(String, Tag)] {
        match self {
            Tag::Group(c) => c,
            Tag::Data(_) => &[],
        }
    }

    fn value(&self) -> Option<&Value> {
        match self {
            Tag::Data(v) => Some(v),
            Tag::Group(_) => None,
        }
    }
}

/// A parsed file: its version, byte order and tag tree (with the map the arrays point into).
pub struct DmFile {
    pub version: u32,
    pub endian: Endian,
    pub root: Tag,
    map: Mmap,
}

/// Size in bytes of a simple element type, or None for a type that is not simple.
fn simple_size(code: u64) -> Option<usize> {
    Some(match code {
        2 | 4 => 2,       // i16, u16
        3 | 5 | 6 => 4,   // i32, u32, f32
        7 | 11 | 12 => 8, // f64, i64, u64
        8..=10 => 1,      // bool, i8, u8
        _ => return None,
    })
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
    version: u32,
    endian: Endian,
    tags: usize,
}

impl<'a> Parser<'a> {
    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| {
                format!(
                    "the file ends inside the tag tree (needed {n} bytes at byte {}, the file has {})",
                    self.pos,
                    self.bytes.len()
                )
            })?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> std::result::Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn be(&mut self, n: usize) -> std::result::Result<u64, String> {
        Ok(self.take(n)?.iter().fold(0u64, |a, &b| (a << 8) | b as u64))
    }

    /// A count or type code: 4 bytes in DM3, 8 in DM4.
    fn word(&mut self) -> std::result::Result<u64, String> {
        self.be(if self.version == 4 { 8 } else { 4 })
    }

    /// A value of simple type `code` in the file's byte order.
    fn simple(&mut self, code: u64) -> std::result::Result<Value, String> {
        let size = simple_size(code).ok_or_else(|| format!("unknown tag data type {code}"))?;
        let raw = self.take(size)?;
        let mut b = [0u8; 8];
        match self.endian {
            Endian::Little => b[..size].copy_from_slice(raw),
            Endian::Big => {
                for (d, s) in b[..size].iter_mut().zip(raw.iter().rev()) {
                    *d = *s;
                }
            }
        }
        let u = u64::from_le_bytes(b);
        Ok(match code {
            2 => Value::Int(u as u16 as i16 as i64),
            3 => Value::Int(u as u32 as i32 as i64),
            4 | 8 | 10 => Value::Int(u as i64),
            5 => Value::Int(u as u32 as i64),
            9 => Value::Int(u as u8 as i8 as i64),
            11 => Value::Int(u as i64),
            12 => Value::Int(i64::try_from(u).unwrap_or(i64::MAX)),
            6 => Value::Float(f32::from_bits(u as u32) as f64),
            _ => Value::Float(f64::from_bits(u)),
        })
    }

    /// Skips `count` elements of `size` bytes and returns where they start.
    fn skip_elements(&mut self, count: u64, size: u64) -> std::result::Result<usize, String> {
        let start = self.pos;
        let bytes = count
            .checked_mul(size)
            .and_then(|b| usize::try_from(b).ok())
            .ok_or_else(|| format!("a tag array of {count} elements of {size} bytes overflows"))?;
        self.take(bytes)?;
        Ok(start)
    }

    fn group(&mut self, depth: usize) -> std::result::Result<Tag, String> {
        if depth > MAX_DEPTH {
            return Err(format!("tag groups nest deeper than {MAX_DEPTH} levels"));
        }
        let _sorted = self.u8()?;
        let _open = self.u8()?;
        let n = self.word()?;
        let mut children = Vec::new();
        for _ in 0..n {
            self.tags += 1;
            if self.tags > MAX_TAGS {
                return Err(format!("the tag tree holds more than {MAX_TAGS} tags"));
            }
            let kind = self.u8()?;
            let name_len = self.be(2)? as usize;
            let name = String::from_utf8_lossy(self.take(name_len)?).into_owned();
            if self.version == 4 {
                let _tag_bytes = self.be(8)?;
            }
            let tag = match kind {
                20 => self.group(depth + 1)?,
                21 => Tag::Data(self.data().map_err(|m| format!("tag '{name}': {m}"))?),
                k => {
                    return Err(format!(
                        "tag '{name}' at byte {} has kind {k}, neither a group (20) nor data (21)",
                        self.pos
                    ))
                }
            };
            children.push((name, tag));
        }
        Ok(Tag::Group(children))
    }

    fn data(&mut self) -> std::result::Result<Value, String> {
        if self.take(4)? != b"%%%%" {
            return Err("data tag does not start with '%%%%'".into());
        }
        let n = self.word()?;
        if n == 0 || n > MAX_INFO {
            return Err(format!("type description of {n} numbers"));
        }
        let mut info = Vec::with_capacity(n as usize);
        for _ in 0..n {
            info.push(self.word()?);
        }
        let at = |i: usize| {
            info.get(i)
                .copied()
                .ok_or_else(|| format!("type description {info:?} is too short"))
        };
        // Byte size of a struct described from info[i] on: (name length, field count, then a
        // name length and a type per field); returns the size and the index after it.
        let struct_size = |i: usize| -> std::result::Result<(u64, usize), String> {
            let fields = at(i + 1)?;
            if fields > MAX_INFO {
                return Err(format!("struct of {fields} fields"));
            }
            let mut size = 0u64;
            for f in 0..fields as usize {
                let code = at(i + 3 + 2 * f)?;
                size += simple_size(code)
                    .ok_or_else(|| format!("struct field of type {code} is not a number"))?
                    as u64;
            }
            Ok((size, i + 2 + 2 * fields as usize))
        };
        match at(0)? {
            15 => {
                let (size, _) = struct_size(1)?;
                let offset = self.skip_elements(1, size)?;
                Ok(Value::Other {
                    offset,
                    bytes: size as usize,
                })
            }
            18 => {
                let len = at(1)?;
                let offset = self.skip_elements(len, 2)?;
                Ok(Value::Other {
                    offset,
                    bytes: (len * 2) as usize,
                })
            }
            20 => {
                let elem = at(1)?;
                let (size, count) = match elem {
                    15 => {
                        let (size, next) = struct_size(2)?;
                        (size, at(next)?)
                    }
                    18 => (
                        at(2)?.checked_mul(2).ok_or("string length overflows")?,
                        at(3)?,
                    ),
                    20 => {
                        let inner =
                            simple_size(at(2)?).ok_or("array of arrays of non-numbers")? as u64;
                        (
                            inner.checked_mul(at(3)?).ok_or("array size overflows")?,
                            at(4)?,
                        )
                    }
                    code => (
                        simple_size(code).ok_or_else(|| format!("array of unknown type {code}"))?
                            as u64,
                        at(2)?,
                    ),
                };
                let offset = self.skip_elements(count, size)?;
                if simple_size(elem).is_some() {
                    Ok(Value::Array {
                        elem,
                        offset,
                        count: count as usize,
                    })
                } else {
                    Ok(Value::Other {
                        offset,
                        bytes: (count * size) as usize,
                    })
                }
            }
            code if n == 1 => self.simple(code),
            code => Err(format!("unknown type {code} with a {n}-number description")),
        }
    }
}

impl DmFile {
    /// Maps and parses `path`'s header and tag tree.
    pub fn open(path: &Path) -> Result<DmFile> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        // SAFETY: read-only map; see MappedFrames::open.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        let (version, endian, root) = parse(&map).map_err(|m| Error::format(path, m))?;
        Ok(DmFile {
            version,
            endian,
            root,
            map,
        })
    }

    /// A number at `path` (`/`-separated) as f64.
    pub fn number(&self, tag: &Tag, path: &str) -> Option<f64> {
        match tag.path(path)?.value()? {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// Text at `path`: DM stores strings as arrays of UTF-16 code units.
    pub fn text(&self, tag: &Tag, path: &str) -> Option<String> {
        let Value::Array {
            elem: 4,
            offset,
            count,
        } = tag.path(path)?.value()?
        else {
            return None;
        };
        let bytes = self
            .map
            .get(*offset..offset.checked_add(count.checked_mul(2)?)?)?;
        let units = bytes.chunks_exact(2).map(|c| match self.endian {
            Endian::Little => u16::from_le_bytes([c[0], c[1]]),
            Endian::Big => u16::from_be_bytes([c[0], c[1]]),
        });
        Some(
            char::decode_utf16(units)
                .map(|c| c.unwrap_or('\u{fffd}'))
                .collect(),
        )
    }
}

/// Whether `magic` (the first 16 bytes) is a DM3 or DM4 header: version, size, byte-order flag.
pub fn is_dm_magic(magic: &[u8]) -> bool {
    let be = |r: std::ops::Range<usize>| {
        magic
            .get(r)
            .map(|b| b.iter().fold(0u64, |a, &x| (a << 8) | x as u64))
    };
    match be(0..4) {
        Some(3) => matches!(be(8..12), Some(0 | 1)),
        Some(4) => matches!(be(12..16), Some(0 | 1)),
        _ => false,
    }
}

/// Parses the header and tag tree of a whole file.
pub fn parse(bytes: &[u8]) -> std::result::Result<(u32, Endian, Tag), String> {
    let mut p = Parser {
        bytes,
        pos: 0,
        version: 3,
        endian: Endian::Big,
        tags: 0,
    };
    let version =
        p.be(4)
            .map_err(|_| "too short for a DigitalMicrograph header".to_string())? as u32;
    if version != 3 && version != 4 {
        return Err(format!(
            "DigitalMicrograph version {version} is not supported (only DM3 and DM4)"
        ));
    }
    p.version = version;
    let _size = p.word()?;
    p.endian = match p.be(4)? {
        0 => Endian::Big,
        1 => Endian::Little,
        o => {
            return Err(format!(
                "byte order flag {o} is neither 0 (big) nor 1 (little)"
            ))
        }
    };
    let root = p.group(0)?;
    Ok((version, p.endian, root))
}

/// DM image data type code → pixel type, or why it is not read.
fn pixel_type(code: i64) -> std::result::Result<DType, String> {
    Ok(match code {
        1 => DType::I16,
        2 => DType::F32,
        6 | 14 => DType::U8, // 14: binary (one byte per pixel, 0 or 1)
        7 => DType::I32,
        10 => DType::U16,
        11 => DType::U32,
        12 => DType::F64,
        3 | 5 | 13 | 27 | 28 => {
            return Err(format!(
                "complex data (DM type {code}) are not diffraction intensities"
            ))
        }
        8 | 23 => {
            return Err(format!(
                "RGB data (DM type {code}) are not diffraction intensities"
            ))
        }
        9 => return Err("int8 data (DM type 9) are not supported".into()),
        c => return Err(format!("unknown DM image data type {c}")),
    })
}

/// The image to read: the largest in `ImageList` that is not a thumbnail.
fn pick_image<'t>(dm: &DmFile, root: &'t Tag) -> std::result::Result<&'t Tag, String> {
    let list = root
        .get("ImageList")
        .ok_or("the tag tree has no ImageList: the file holds no image")?;
    let thumbnails: Vec<usize> = root
        .get("Thumbnails")
        .map(|t| {
            t.children()
                .iter()
                .filter_map(|(_, th)| dm.number(th, "ImageIndex"))
                .map(|i| i as usize)
                .collect()
        })
        .unwrap_or_default();
    list.children()
        .iter()
        .enumerate()
        .filter(|(i, _)| !thumbnails.contains(i))
        .map(|(_, (_, image))| image)
        .filter(|image| image.path("ImageData/Data").is_some())
        .max_by_key(
            |image| match image.path("ImageData/Data").and_then(Tag::value) {
                Some(Value::Array { count, .. }) => *count,
                _ => 0,
            },
        )
        .ok_or_else(|| "ImageList holds no image with data (only thumbnails)".to_string())
}

/// Opens a DM3/DM4 file as a scan.
pub fn open(path: &Path) -> Result<Opened> {
    let dm = DmFile::open(path)?;
    let err = |m: String| Error::format(path, m);
    let image = pick_image(&dm, &dm.root).map_err(err)?;
    let dims: Vec<usize> = image
        .path("ImageData/Dimensions")
        .map(|d| {
            d.children()
                .iter()
                .map(|(_, t)| match t.value() {
                    Some(Value::Int(v)) if *v >= 0 => Ok(*v as usize),
                    _ => Err("ImageData/Dimensions holds a value that is not a size".to_string()),
                })
                .collect::<std::result::Result<Vec<_>, _>>()
        })
        .transpose()
        .map_err(err)?
        .ok_or_else(|| err("the image has no ImageData/Dimensions".into()))?;
    if dims.contains(&0) || !(2..=4).contains(&dims.len()) {
        return Err(err(format!(
            "image dimensions {dims:?} are not a 2D image, 3D stack or 4D scan of non-empty axes"
        )));
    }
    let format = dm
        .text(image, "ImageTags/Meta Data/Format")
        .unwrap_or_default();
    if format.eq_ignore_ascii_case("spectrum image") || image.path("ImageTags/spim").is_some() {
        return Err(err(format!(
            "is a spectrum image (dimensions {dims:?}: a spectrum at each scan position), not \
             diffraction patterns"
        )));
    }
    let order_swapped = dm.number(image, "ImageTags/Meta Data/Data Order Swapped");
    if dims.len() == 4 && order_swapped.is_none_or(|v| v == 0.0) {
        return Err(err(
            "is a 4D scan stored in DigitalMicrograph's older interleaved order (no 'Data Order \
             Swapped' tag): save it from GMS 3.4+ or convert it (e.g. LiberTEM's \
             convert_dm4_transposed) first"
                .into(),
        ));
    }
    let type_code = dm
        .number(image, "ImageData/DataType")
        .ok_or_else(|| err("the image has no ImageData/DataType".into()))?;
    let dtype = pixel_type(type_code as i64).map_err(err)?;
    let Some(Value::Array {
        elem,
        offset,
        count,
    }) = image.path("ImageData/Data").and_then(Tag::value)
    else {
        return Err(err("ImageData/Data is not an array".into()));
    };
    let elements = dims
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| err(format!("dimensions {dims:?} overflow")))?;
    let stored = simple_size(*elem).and_then(|s| s.checked_mul(*count));
    if stored != elements.checked_mul(dtype.size()) {
        return Err(err(format!(
            "ImageData/Data holds {count} elements of type {elem}, not the {elements} {dtype} \
             pixels of dimensions {dims:?}"
        )));
    }
    let frame_shape = [dims[1], dims[0]];
    let frames = elements / (dims[0] * dims[1]);
    let source = MappedFrames::open(
        path,
        FrameLayout {
            dtype,
            endian: dm.endian,
            frame_shape,
            first_offset: *offset,
            stride: dims[0] * dims[1] * dtype.size(),
            count: frames,
        },
    )?;
    let mut opened = Opened::new(if dm.version == 4 { "dm4" } else { "dm3" }, source);
    if dims.len() == 4 {
        opened.scan_shape = Some([dims[3], dims[2]]);
    }
    opened.calibration = calibration(&dm, image, dims.len());
    Ok(opened)
}

/// `(scale, units)` of each axis in `Dimensions` order.
fn axes(dm: &DmFile, image: &Tag) -> Vec<(f64, String)> {
    image
        .path("ImageData/Calibrations/Dimension")
        .map(|d| {
            d.children()
                .iter()
                .map(|(_, axis)| {
                    (
                        dm.number(axis, "Scale").unwrap_or(f64::NAN),
                        dm.text(axis, "Units").unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The calibration the tags give; an axis pair whose two scales or units differ gives none.
fn calibration(dm: &DmFile, image: &Tag, ndims: usize) -> Calibration {
    let axes = axes(dm, image);
    let voltage = dm.number(image, "ImageTags/Microscope Info/Voltage");
    let energy_kv = voltage
        .map(|v| v / 1e3)
        .filter(|v| v.is_finite() && *v > 0.0);
    let pair = |i: usize| -> Option<(f64, &str)> {
        let (a, b) = (axes.get(i)?, axes.get(i + 1)?);
        let same = (a.0 - b.0).abs() <= 1e-9 * a.0.abs() && a.1.trim() == b.1.trim();
        (same && a.0.is_finite() && a.0 > 0.0).then_some((a.0, a.1.trim()))
    };
    let mrad_per_px =
        pair(0).and_then(|(scale, units)| reciprocal_to_mrad(units, energy_kv).map(|f| scale * f));
    let scan_step_a = if ndims == 4 {
        pair(2).and_then(|(scale, units)| super::hdf5::length_to_a(units).map(|f| scale * f))
    } else {
        None
    };
    Calibration {
        energy_kv,
        mrad_per_px,
        scan_step_a,
        ..Default::default()
    }
}

/// Factor from a detector axis unit to mrad: angles directly, reciprocal lengths through the
/// electron wavelength (needs the beam energy).
fn reciprocal_to_mrad(units: &str, energy_kv: Option<f64>) -> Option<f64> {
    match units {
        "mrad" => return Some(1.0),
        "rad" => return Some(1e3),
        "µrad" | "urad" => return Some(1e-3),
        _ => {}
    }
    let inverse = units
        .strip_prefix("1/")
        .map(str::to_string)
        .or_else(|| units.strip_suffix("^-1").map(str::to_string))?;
    // Scale per Å of reciprocal length: 1/nm = 0.1/Å.
    let per_a = 1.0 / super::hdf5::length_to_a(&inverse)?;
    let lambda_a = super::hdf5::electron_wavelength_a(energy_kv?);
    Some(per_a * lambda_a * 1e3)
}

/// Pixel types [`write_dm4`] can store, with their DM data type code and array element code.
pub trait DmPixel: super::Pixel {
    const CODES: (u64, u64);
}
macro_rules! dm_pixel {
    ($($t:ty => $image:expr, $elem:expr),*) => {$(
        impl DmPixel for $t { const CODES: (u64, u64) = ($image, $elem); }
    )*};
}
dm_pixel!(u8 => 6, 10, u16 => 10, 4, u32 => 11, 5, i16 => 1, 2, i32 => 7, 3, f32 => 2, 6, f64 => 12, 7);

/// What [`write_dm4`] records besides the pixels.
#[derive(Debug, Clone)]
pub struct Dm4Meta {
    /// `[scan_rows, scan_cols, det_rows, det_cols]`.
    pub shape: [usize; 4],
    /// Detector axis scale and units (e.g. `(0.5, "mrad")` or `(0.02, "1/nm")`).
    pub detector: (f64, String),
    /// Scan axis scale and units (e.g. `(0.3, "nm")`).
    pub scan: (f64, String),
    /// Beam energy in volts (`Microscope Info/Voltage`).
    pub voltage: Option<f64>,
}

/// Minimal DM4 tag writer (big-endian structure, little-endian values).
struct TagWriter<W: std::io::Write> {
    out: W,
}

impl<W: std::io::Write> TagWriter<W> {
    fn w(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.out.write_all(b)
    }
    fn q(&mut self, v: u64) -> std::io::Result<()> {
        self.w(&v.to_be_bytes())
    }
    /// Tag header; `bytes` is the size of what follows it (DM4's tag size field).
    fn header(&mut self, kind: u8, name: &str, bytes: u64) -> std::io::Result<()> {
        self.w(&[kind])?;
        self.w(&(name.len() as u16).to_be_bytes())?;
        self.w(name.as_bytes())?;
        self.q(bytes)
    }
    fn group(&mut self, name: &str, n: u64, bytes: u64) -> std::io::Result<()> {
        self.header(20, name, bytes + 10)?;
        self.w(&[0, 1])?;
        self.q(n)
    }
    fn simple(&mut self, name: &str, code: u64, le: &[u8]) -> std::io::Result<()> {
        self.header(21, name, 4 + 16 + le.len() as u64)?;
        self.w(b"%%%%")?;
        self.q(1)?;
        self.q(code)?;
        self.w(le)
    }
    fn array_header(
        &mut self,
        name: &str,
        elem: u64,
        count: u64,
        bytes: u64,
    ) -> std::io::Result<()> {
        self.header(21, name, 4 + 32 + bytes)?;
        self.w(b"%%%%")?;
        self.q(3)?;
        self.q(20)?;
        self.q(elem)?;
        self.q(count)
    }
    fn text(&mut self, name: &str, s: &str) -> std::io::Result<()> {
        let units: Vec<u16> = s.encode_utf16().collect();
        self.array_header(name, 4, units.len() as u64, 2 * units.len() as u64)?;
        for u in units {
            self.w(&u.to_le_bytes())?;
        }
        Ok(())
    }
}

/// Size in bytes of the tags [`TagWriter::simple`] and [`TagWriter::text`] write.
fn simple_bytes(name: &str, value: usize) -> u64 {
    (1 + 2 + name.len() + 8 + 4 + 16 + value) as u64
}
fn text_bytes(name: &str, s: &str) -> u64 {
    (1 + 2 + name.len() + 8 + 4 + 32 + 2 * s.encode_utf16().count()) as u64
}

/// Writes a 4D scan as a DM4 file the way GMS 3.4+ stores STEMx data (C order, `Data Order
/// Swapped` = 1, `Dimensions` = `[det_x, det_y, scan_x, scan_y]`), streaming `frames` (row-major
/// frames, row-major over the scan). Returns the number of frames written.
pub fn write_dm4<T: DmPixel, I, F>(path: &Path, meta: &Dm4Meta, frames: I) -> Result<usize>
where
    I: IntoIterator<Item = F>,
    F: AsRef<[T]>,
{
    use std::io::Write;
    let io = |e| Error::io(path, e);
    let [sr, sc, dr, dc] = meta.shape;
    let n_frames = sr * sc;
    let frame_len = dr * dc;
    let data_bytes = (n_frames * frame_len * std::mem::size_of::<T>()) as u64;
    let (image_code, elem_code) = T::CODES;
    let dims = [dc, dr, sc, sr];
    let axes = [&meta.detector, &meta.detector, &meta.scan, &meta.scan];

    // Sizes of each group's content, so that every DM4 tag size is right.
    let dim_tag = |a: &(f64, String)| {
        simple_bytes("Origin", 4) + simple_bytes("Scale", 4) + text_bytes("Units", &a.1)
    };
    let axis_groups: u64 = axes.iter().map(|a| 1 + 2 + 8 + 10 + dim_tag(a)).sum();
    let calibrations = 1 + 2 + "Dimension".len() as u64 + 8 + 10 + axis_groups;
    let dimensions = 1 + 2 + "Dimensions".len() as u64 + 8 + 10 + 4 * simple_bytes("", 4);
    let data = 1 + 2 + 4 + 8 + 4 + 32 + data_bytes;
    let image_data = calibrations + dimensions + data + simple_bytes("DataType", 4);
    let meta_data =
        simple_bytes("Data Order Swapped", 1) + text_bytes("Format", "Diffraction image");
    let mut image_tags = 1 + 2 + "Meta Data".len() as u64 + 8 + 10 + meta_data;
    if meta.voltage.is_some() {
        image_tags += 1 + 2 + "Microscope Info".len() as u64 + 8 + 10 + simple_bytes("Voltage", 8);
    }
    let image = (1 + 2 + "ImageData".len() as u64 + 8 + 10 + image_data)
        + (1 + 2 + "ImageTags".len() as u64 + 8 + 10 + image_tags);
    let list = 1 + 2 + 8 + 10 + image;
    let file = std::fs::File::create(path).map_err(io)?;
    let mut t = TagWriter {
        out: std::io::BufWriter::with_capacity(1 << 20, file),
    };
    let total = 16 + 10 + (1 + 2 + "ImageList".len() as u64 + 8 + 10 + list) + 8;
    // Header: version, file size, byte order (1: little-endian values).
    t.w(&4u32.to_be_bytes()).map_err(io)?;
    t.q(total).map_err(io)?;
    t.w(&1u32.to_be_bytes()).map_err(io)?;
    (|| -> std::io::Result<()> {
        t.w(&[0, 1])?;
        t.q(1)?;
        t.group("ImageList", 1, list)?;
        t.group("", 2, image)?;
        t.group("ImageData", 4, image_data)?;
        t.group("Calibrations", 1, calibrations)?;
        t.group("Dimension", 4, axis_groups)?;
        for a in axes {
            t.group("", 3, dim_tag(a))?;
            t.simple("Origin", 6, &0f32.to_le_bytes())?;
            t.simple("Scale", 6, &(a.0 as f32).to_le_bytes())?;
            t.text("Units", &a.1)?;
        }
        t.group("Dimensions", 4, 4 * simple_bytes("", 4))?;
        for d in dims {
            t.simple("", 5, &(d as u32).to_le_bytes())?;
        }
        t.simple("DataType", 3, &(image_code as i32).to_le_bytes())?;
        t.array_header("Data", elem_code, (n_frames * frame_len) as u64, data_bytes)?;
        Ok(())
    })()
    .map_err(io)?;
    let mut written = 0;
    for frame in frames {
        let frame = frame.as_ref();
        if frame.len() != frame_len || written == n_frames {
            return Err(Error::invalid(format!(
                "{}: frame {written} has {} pixels for a {dr}x{dc} frame, or there are more than \
                 {n_frames} frames",
                path.display(),
                frame.len()
            )));
        }
        // DM4 values are little-endian; Pod bytes are native (little on every supported host).
        t.w(bytemuck::cast_slice(frame)).map_err(io)?;
        written += 1;
    }
    if written != n_frames {
        return Err(Error::invalid(format!(
            "{}: {written} frames given for a {sr}x{sc} scan",
            path.display()
        )));
    }
    (|| -> std::io::Result<()> {
        t.group(
            "ImageTags",
            if meta.voltage.is_some() { 2 } else { 1 },
            image_tags,
        )?;
        t.group("Meta Data", 2, meta_data)?;
        t.simple("Data Order Swapped", 8, &[1])?;
        t.text("Format", "Diffraction image")?;
        if let Some(v) = meta.voltage {
            t.group("Microscope Info", 1, simple_bytes("Voltage", 8))?;
            t.simple("Voltage", 7, &v.to_le_bytes())?;
        }
        t.w(&[0u8; 8])?; // DM files end with 8 zero bytes
        t.out.flush()
    })()
    .map_err(io)?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::{FrameBuffer, OpenOptions};

    fn testdata(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/testdata/gatan")
            .join(name)
    }

    /// DigitalMicrograph's own files (HyperSpy's test data), every readable pixel type: the
    /// values RosettaSciIO reads (1..8 over a 2x2x2 stack; `True` for the binary type).
    #[test]
    fn reads_dm_stacks_of_every_pixel_type() {
        let cases = [
            (1, DType::I16),
            (2, DType::F32),
            (6, DType::U8),
            (7, DType::I32),
            (10, DType::U16),
            (11, DType::U32),
            (12, DType::F64),
            (14, DType::U8),
        ];
        for (n, dtype) in cases {
            for ext in ["dm3", "dm4"] {
                let path = testdata(&format!("test-{n}.{ext}"));
                let scan = crate::scan::open(&path).unwrap();
                assert_eq!(scan.format(), ext);
                assert_eq!(scan.dtype(), dtype, "{path:?}");
                assert_eq!(scan.shape(), [1, 2, 2, 2], "{path:?}");
                let values: Vec<f32> = (0..2).flat_map(|c| scan.frame_f32(0, c).unwrap()).collect();
                let expected: Vec<f32> = if n == 14 {
                    vec![1.0; 8]
                } else {
                    (1..=8).map(|v| v as f32).collect()
                };
                assert_eq!(values, expected, "{path:?}");
            }
        }
    }

    #[test]
    fn unreadable_types_and_spectrum_images_are_named() {
        for (name, word) in [
            ("test-3.dm4", "complex"),
            ("test-13.dm3", "complex"),
            ("test-8.dm4", "RGB"),
            ("test-9.dm3", "int8"),
            ("EELS_SI.dm4", "spectrum image"),
        ] {
            let err = crate::scan::open(testdata(name)).err().unwrap().to_string();
            assert!(err.contains(name) && err.contains(word), "{err}");
        }
    }

    fn meta(shape: [usize; 4]) -> Dm4Meta {
        Dm4Meta {
            shape,
            detector: (0.0125, "1/nm".into()),
            scan: (0.25, "nm".into()),
            voltage: Some(200e3),
        }
    }

    fn write_ramp(path: &Path, shape: [usize; 4]) -> Vec<Vec<u16>> {
        let [sr, sc, dr, dc] = shape;
        let frames: Vec<Vec<u16>> = (0..sr * sc)
            .map(|f| (0..dr * dc).map(|p| (f * 31 + p * 7) as u16).collect())
            .collect();
        assert_eq!(write_dm4(path, &meta(shape), &frames).unwrap(), sr * sc);
        frames
    }

    #[test]
    fn dm4_4d_round_trip_with_calibration() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scan.dm4");
        let frames = write_ramp(&path, [3, 4, 5, 6]);
        let scan = crate::scan::open(&path).unwrap();
        assert_eq!(scan.shape(), [3, 4, 5, 6]);
        assert_eq!(scan.dtype(), DType::U16);
        for (i, frame) in frames.iter().enumerate() {
            let got = scan.frame_f32(i / 4, i % 4).unwrap();
            let want: Vec<f32> = frame.iter().map(|&v| v as f32).collect();
            assert_eq!(got, want, "frame {i}");
        }
        let cal = scan.calibration;
        assert_eq!(cal.energy_kv, Some(200.0));
        assert!((cal.scan_step_a.unwrap() - 2.5).abs() < 1e-6);
        // 0.0125 / nm = 0.00125 / Å times λ(200 kV) = 0.025079 Å → 0.03135 mrad.
        let want = 0.00125 * super::super::hdf5::electron_wavelength_a(200.0) * 1e3;
        assert!((cal.mrad_per_px.unwrap() - want).abs() < 1e-9 * 1e3);
    }

    /// Truncating a valid file anywhere gives an error naming it, never a panic.
    #[test]
    fn truncated_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.dm4");
        write_ramp(&path, [2, 2, 3, 3]);
        let bytes = std::fs::read(&path).unwrap();
        let cut = dir.path().join("cut.dm4");
        for len in 0..bytes.len() - 8 {
            std::fs::write(&cut, &bytes[..len]).unwrap();
            match crate::scan::open_with(&cut, &OpenOptions::default()) {
                Ok(scan) => {
                    // Only the trailing tags are missing: the pixels must all be there.
                    let mut buf = FrameBuffer::new();
                    for i in 0..scan.n_frames() {
                        scan.frame(i, &mut buf).unwrap();
                    }
                }
                Err(e) => assert!(e.to_string().contains("cut.dm4"), "{len}: {e}"),
            }
        }
    }

    /// Tag trees that nest without end, or whose counts lie, fail fast without allocating.
    #[test]
    fn hostile_tag_trees_are_errors() {
        // DM4 header, then groups nested 1000 deep.
        let mut deep = Vec::new();
        deep.extend_from_slice(&4u32.to_be_bytes());
        deep.extend_from_slice(&0u64.to_be_bytes());
        deep.extend_from_slice(&1u32.to_be_bytes());
        deep.extend_from_slice(&[0, 1]);
        deep.extend_from_slice(&1u64.to_be_bytes());
        for _ in 0..1000 {
            deep.extend_from_slice(&[20, 0, 1, b'g']);
            deep.extend_from_slice(&0u64.to_be_bytes());
            deep.extend_from_slice(&[0, 1]);
            deep.extend_from_slice(&1u64.to_be_bytes());
        }
        assert!(parse(&deep).unwrap_err().contains("deeper"));
        // A root claiming 2^60 tags, and a data tag claiming a huge array.
        let mut many = deep[..16].to_vec();
        many.extend_from_slice(&[0, 1]);
        many.extend_from_slice(&(1u64 << 60).to_be_bytes());
        assert!(parse(&many).is_err());
        let mut huge = deep[..16].to_vec();
        huge.extend_from_slice(&[0, 1]);
        huge.extend_from_slice(&1u64.to_be_bytes());
        huge.extend_from_slice(&[21, 0, 1, b'd']);
        huge.extend_from_slice(&0u64.to_be_bytes());
        huge.extend_from_slice(b"%%%%");
        for v in [3u64, 20, 7, u64::MAX / 4] {
            huge.extend_from_slice(&v.to_be_bytes());
        }
        let err = parse(&huge).unwrap_err();
        assert!(err.contains("overflows") || err.contains("ends"), "{err}");
    }

    /// Zero-size dimensions, and a `Data` array that does not hold the dimensions' pixels,
    /// are errors naming the file.
    #[test]
    fn zero_dims_and_lying_sizes_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("z.dm4");
        write_ramp(&path, [2, 3, 4, 5]);
        let bytes = std::fs::read(&path).unwrap();
        // The Dimensions group's four u32 values: det_x 5, det_y 4, scan_x 3, scan_y 2.
        let dims = bytes.windows(10).position(|w| w == b"Dimensions").unwrap();
        let value = |k: usize| dims + 10 + 8 + 10 + k * (3 + 8 + 4 + 16 + 4) + 3 + 8 + 4 + 16;
        assert_eq!(bytes[value(0)], 5);
        assert_eq!(bytes[value(3)], 2);
        for (k, v, word) in [
            (0, 0u32, "non-empty"),
            (3, 0, "non-empty"),
            (2, 4, "not the"),
        ] {
            let mut bad = bytes.clone();
            bad[value(k)..value(k) + 4].copy_from_slice(&v.to_le_bytes());
            std::fs::write(&path, &bad).unwrap();
            let err = crate::scan::open(&path).err().unwrap().to_string();
            assert!(err.contains("z.dm4") && err.contains(word), "{k}: {err}");
        }
    }

    /// A 4D file without the C-order tag is refused (its pixels are interleaved).
    #[test]
    fn interleaved_4d_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.dm4");
        write_ramp(&path, [2, 2, 2, 2]);
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes
            .windows(18)
            .position(|w| w == b"Data Order Swapped")
            .unwrap();
        // The value byte follows the tag's type description: set it to 0.
        let value = at + 18 + 8 + 4 + 16;
        assert_eq!(bytes[value], 1);
        bytes[value] = 0;
        std::fs::write(&path, &bytes).unwrap();
        let err = crate::scan::open(&path).err().unwrap().to_string();
        assert!(
            err.contains("interleaved") && err.contains("old.dm4"),
            "{err}"
        );
    }
}
