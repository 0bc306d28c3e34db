//! Quantum Detectors Merlin `.mib` files: frames each preceded by an ASCII header
//! (`MQ1,seq,header_bytes,chips,width,height,dtype,layout,...`), with an optional `.hdr`
//! acquisition header beside the file.
//!
//! * `U08`/`U16`/`U32` frames are big-endian pixels already assembled into the detector image
//!   (1 and 6 bit counters are stored as `U08`, 12 bit as `U16`, 24 bit as `U32`); they are read
//!   through [`MappedFrames`].
//! * `R64` ("RAW") frames are the chips' readout: 64-bit big-endian words whose pixels are packed
//!   from the least significant end (1 bit, 8 bits for 6-bit counters, 16 bits for 12-bit
//!   counters; 24-bit counters are two 12-bit images, most significant first). A 2×2 quad's raw
//!   rows hold one row of each chip, in the order 4, 3, 2, 1; chips 3 and 4 (the bottom half)
//!   are rotated by 180°. They are decoded per frame into the same image (and pixel type) as the
//!   non-RAW file of the same acquisition, following LiberTEM's decoder.
//!
//! Frames keep the file's row order: the first row stored is row 0 (LiberTEM's convention;
//! RosettaSciIO flips frames upside down).

use super::mapped::{FrameLayout, MappedFrames};
use super::{DType, FrameBuffer, FrameRef, FrameSource, Opened, Pixel, Scan};
use crate::error::{Error, Result};
use memmap2::Mmap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// First bytes of every Merlin frame header.
pub const MAGIC: &[u8] = b"MQ1,";
/// First bytes of a Merlin `.hdr` acquisition header.
pub const HDR_MAGIC: &[u8] = b"HDR,";

/// Largest frame header accepted (real files use 384 or 768 bytes).
const MAX_HEADER_BYTES: usize = 1 << 20;
/// Largest frame side accepted (keeps sizes far from overflow).
const MAX_SIDE: usize = 1 << 16;

/// How the pixels of a frame are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MibPixels {
    /// Assembled big-endian pixels of this type (`U08`, `U16`, `U32`).
    Plain(DType),
    /// `R64`: the chips' raw readout, bit-packed in 64-bit words.
    Raw,
}

/// What the first frame header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MibHeader {
    /// Bytes of each frame header (field 3).
    pub header_bytes: usize,
    /// Number of chips (field 4).
    pub chips: usize,
    /// Width and height as written in the header (for RAW quads: the raw row of 4 chips).
    pub width: usize,
    pub height: usize,
    /// The dtype field as written (`U08`, `U16`, `U32`, `R64`).
    pub dtype_field: String,
    pub pixels: MibPixels,
    /// Sensor layout `[nx, ny]` (`1x1`, `2x2`, `Nx1`; a `G` suffix is dropped).
    pub layout: [usize; 2],
    /// Counter depth in bits (1, 6, 12, 24) when the header gives it.
    pub counter_depth: Option<u32>,
}

impl MibHeader {
    /// Shape `[rows, cols]` of the decoded image.
    pub fn frame_shape(&self) -> std::result::Result<[usize; 2], String> {
        match self.pixels {
            MibPixels::Plain(_) => Ok([self.height, self.width]),
            MibPixels::Raw => Ok(self.raw_geometry()?.image),
        }
    }

    /// Bytes of pixel data per frame.
    pub fn pixel_bytes(&self) -> std::result::Result<usize, String> {
        match self.pixels {
            MibPixels::Plain(d) => Ok(self.height * self.width * d.size()),
            MibPixels::Raw => Ok(self.raw_geometry()?.bytes),
        }
    }

    /// Pixel type of the decoded frames.
    pub fn dtype(&self) -> std::result::Result<DType, String> {
        match self.pixels {
            MibPixels::Plain(d) => Ok(d),
            MibPixels::Raw => Ok(self.raw_geometry()?.dtype),
        }
    }

    fn raw_geometry(&self) -> std::result::Result<RawGeometry, String> {
        let depth = self.counter_depth.ok_or(
            "RAW (R64) frame header does not give the counter depth, needed to unpack the pixels",
        )?;
        let (bits, dtype) = match depth {
            1 => (1, DType::U8),
            6 => (8, DType::U8),
            12 => (16, DType::U16),
            24 => (16, DType::U32),
            d => return Err(format!("RAW (R64) counter depth {d} is not 1, 6, 12 or 24")),
        };
        let (w, h) = (self.width, self.height);
        let quad = if self.chips <= 1 {
            None
        } else if self.chips == 4 && self.layout == [2, 2] {
            if depth == 24 {
                return Err(
                    "RAW (R64) 24-bit quad (2x2) frames are not supported (no reference decoder); \
                     record them unpacked (U32)"
                        .into(),
                );
            }
            if w % 4 != 0 {
                return Err(format!(
                    "RAW (R64) 2x2 quad frames need a raw width divisible by 4 chips, got {w}"
                ));
            }
            Some([h, w / 4])
        } else {
            return Err(format!(
                "RAW (R64) frames with {} chips in layout {}x{} are not supported (only single \
                 chips and 2x2 quads)",
                self.chips, self.layout[0], self.layout[1]
            ));
        };
        let image = match quad {
            Some([ch, cw]) => [2 * ch, 2 * cw],
            None if depth == 24 => {
                if w % 2 != 0 {
                    return Err(format!(
                        "RAW (R64) 24-bit frames need an even width (two 12-bit images), got {w}"
                    ));
                }
                [h, w / 2]
            }
            None => [h, w],
        };
        // Pixels per packed image (two images for 24 bit) and their bits.
        let packed = image[0] * image[1];
        let row_bits = match quad {
            Some([_, cw]) => cw * bits,
            None => packed * bits,
        };
        if row_bits % 64 != 0 {
            return Err(format!(
                "RAW (R64) data of {}x{} pixels at {bits} bits do not fill whole 64-bit words",
                image[0], image[1]
            ));
        }
        let images = if depth == 24 { 2 } else { 1 };
        Ok(RawGeometry {
            depth,
            bits,
            dtype,
            image,
            quad,
            bytes: packed * bits / 8 * images,
        })
    }
}

/// How a RAW frame is unpacked.
#[derive(Debug, Clone, Copy)]
struct RawGeometry {
    depth: u32,
    /// Bits per packed pixel: 1, 8 or 16.
    bits: usize,
    dtype: DType,
    /// Decoded `[rows, cols]`.
    image: [usize; 2],
    /// `[chip_rows, chip_cols]` for a 2×2 quad.
    quad: Option<[usize; 2]>,
    /// Bytes per frame.
    bytes: usize,
}

fn parse_field<T: std::str::FromStr>(
    fields: &[&str],
    index: usize,
    name: &str,
) -> std::result::Result<T, String> {
    let raw = fields
        .get(index)
        .ok_or_else(|| format!("frame header ends before field {} ({name})", index + 1))?;
    raw.trim().parse().map_err(|_| {
        format!(
            "frame header field {} ({name}) is '{}', not a number",
            index + 1,
            raw.escape_debug()
        )
    })
}

/// Parses a frame header: `bytes` starts at `MQ1,` and holds at least the header (more is fine).
pub fn parse_header(bytes: &[u8]) -> std::result::Result<MibHeader, String> {
    if !bytes.starts_with(MAGIC) {
        return Err("does not start with the Merlin frame header 'MQ1,'".into());
    }
    // The header size is field 3; read it from the first bytes.
    let head = &bytes[..bytes.len().min(64)];
    let head = String::from_utf8_lossy(head);
    let head_fields: Vec<&str> = head.split(',').collect();
    let header_bytes: usize = parse_field(&head_fields, 2, "header size")?;
    if !(32..=MAX_HEADER_BYTES).contains(&header_bytes) {
        return Err(format!(
            "frame header size {header_bytes} bytes is implausible (expected 384 or 768)"
        ));
    }
    let header = bytes.get(..header_bytes).ok_or_else(|| {
        format!(
            "file has {} bytes, less than its {header_bytes}-byte frame header",
            bytes.len()
        )
    })?;
    // The header is ASCII padded with NULs (or spaces).
    let end = header.iter().position(|&b| b == 0).unwrap_or(header.len());
    let text = String::from_utf8_lossy(&header[..end]);
    let fields: Vec<&str> = text.split(',').collect();

    let chips: usize = parse_field(&fields, 3, "number of chips")?;
    let width: usize = parse_field(&fields, 4, "width")?;
    let height: usize = parse_field(&fields, 5, "height")?;
    if chips == 0 || chips > 64 {
        return Err(format!("frame header gives {chips} chips"));
    }
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(format!(
            "frame header gives an implausible frame size {width}x{height}"
        ));
    }
    let dtype_field = fields
        .get(6)
        .ok_or("frame header ends before field 7 (pixel type)")?
        .trim()
        .to_string();
    let pixels = match dtype_field.as_str() {
        "U08" => MibPixels::Plain(DType::U8),
        "U16" => MibPixels::Plain(DType::U16),
        "U32" => MibPixels::Plain(DType::U32),
        "R64" => MibPixels::Raw,
        "U01" | "U64" => {
            return Err(format!(
                "pixel type '{dtype_field}' is not supported (supported: U08, U16, U32, R64)"
            ))
        }
        other => {
            return Err(format!(
                "unknown pixel type '{}' (expected U08, U16, U32 or R64)",
                other.escape_debug()
            ))
        }
    };
    let layout_field = fields
        .get(7)
        .ok_or("frame header ends before field 8 (layout)")?
        .trim();
    let layout = parse_layout(layout_field, chips).ok_or_else(|| {
        format!(
            "frame header layout '{}' is not of the form NxM",
            layout_field.escape_debug()
        )
    })?;
    Ok(MibHeader {
        header_bytes,
        chips,
        width,
        height,
        dtype_field,
        pixels,
        layout,
        counter_depth: counter_depth(&fields),
    })
}

/// `1x1`, `2x2`, `2x2G`, `Nx1`, `4x1`... as `[nx, ny]`; `N` stands for the number of chips.
fn parse_layout(field: &str, chips: usize) -> Option<[usize; 2]> {
    let field = field.trim_end_matches(['G', 'g']);
    let (x, y) = field.split_once(['x', 'X'])?;
    let parse = |s: &str| {
        let s = s.trim();
        if s.eq_ignore_ascii_case("n") {
            Some(chips)
        } else {
            s.parse().ok()
        }
    };
    Some([parse(x)?, parse(y)?])
}

/// The counter depth: the field after the exposure in the `MQ1A` extension
/// (`...,MQ1A,timestamp,exposure ns,depth,`), else the last numeric field (as LiberTEM reads it).
fn counter_depth(fields: &[&str]) -> Option<u32> {
    if let Some(i) = fields.iter().position(|f| f.trim() == "MQ1A") {
        return fields.get(i + 3)?.trim().parse().ok();
    }
    fields
        .iter()
        .rev()
        .map(|f| f.trim())
        .find(|f| !f.is_empty())?
        .parse()
        .ok()
        .filter(|d| matches!(d, 1 | 6 | 12 | 24))
}

/// The `.hdr` acquisition header beside a `.mib`, as key → value.
#[derive(Debug, Clone, Default)]
pub struct HdrFile {
    pub entries: Vec<(String, String)>,
}

impl HdrFile {
    pub fn parse(bytes: &[u8]) -> HdrFile {
        let text = String::from_utf8_lossy(bytes);
        let mut entries = Vec::new();
        for line in text.lines() {
            let line = line.trim_end_matches(['\r', '\0', ' ']);
            if line.starts_with("HDR") {
                continue;
            }
            if line.starts_with("End") {
                break;
            }
            if let Some((k, v)) = line.split_once('\t') {
                let k = k.trim().trim_end_matches(':').trim();
                entries.push((k.to_string(), v.trim().to_string()));
            }
        }
        HdrFile { entries }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn number(&self, key: &str) -> Option<usize> {
        self.get(key)?.trim().parse().ok()
    }

    /// The scan shape `[rows, cols]` the acquisition header implies, and why:
    /// `ScanY`×`ScanX` when given (newer Merlin software); else, with several frames per
    /// trigger (one trigger per scan line), `Frames in Acquisition / Frames per Trigger` rows
    /// of `Frames per Trigger`. With one frame per trigger (a trigger per pixel) the line length
    /// is unknown: `None`.
    pub fn scan_shape(&self) -> Option<([usize; 2], &'static str)> {
        if let (Some(x), Some(y)) = (self.number("ScanX"), self.number("ScanY")) {
            if x > 0 && y > 0 {
                return Some(([y, x], "ScanY x ScanX"));
            }
        }
        let frames = self.number("Frames in Acquisition (Number)")?;
        let per_trigger = self.number("Frames per Trigger (Number)")?;
        if per_trigger > 1 && frames > 0 && frames % per_trigger == 0 {
            return Some((
                [frames / per_trigger, per_trigger],
                "Frames in Acquisition / Frames per Trigger",
            ));
        }
        None
    }
}

/// The `.hdr` beside a `.mib` (same stem), if any.
pub fn hdr_path_for(mib: &Path) -> Option<PathBuf> {
    ["hdr", "HDR"]
        .iter()
        .map(|ext| mib.with_extension(ext))
        .find(|p| p.is_file())
}

/// The `.mib` a `.hdr` describes (same stem).
pub fn mib_path_for_hdr(hdr: &Path) -> Result<PathBuf> {
    ["mib", "MIB"]
        .iter()
        .map(|ext| hdr.with_extension(ext))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::format(
                hdr,
                format!(
                    "is a Merlin acquisition header; its data file {} is missing",
                    hdr.with_extension("mib").display()
                ),
            )
        })
}

/// Frames of a `.mib`: plain frames through [`MappedFrames`], RAW frames decoded per frame.
#[derive(Debug)]
struct MibFrames {
    path: PathBuf,
    header: MibHeader,
    stride: usize,
    count: usize,
    dtype: DType,
    frame_shape: [usize; 2],
    pixels: MibSource,
}

#[derive(Debug)]
enum MibSource {
    Plain(MappedFrames),
    Raw { map: Mmap, geometry: RawGeometry },
}

impl MibFrames {
    /// The whole file, through its one memory map.
    fn file_bytes(&self) -> &[u8] {
        match &self.pixels {
            MibSource::Plain(frames) => frames.file_bytes(),
            MibSource::Raw { map, .. } => map,
        }
    }

    /// Checks that frame `index` starts with a frame header (the file is uniform).
    fn check_header(&self, index: usize) -> Result<()> {
        let start = index * self.stride;
        match self.file_bytes().get(start..start + MAGIC.len()) {
            Some(m) if m == MAGIC => Ok(()),
            _ => Err(Error::format(
                &self.path,
                format!(
                    "frame {index} does not start with a Merlin header 'MQ1,' at byte {start}: \
                     frames are not all {} bytes ({}-byte header + {} pixel bytes, as the first \
                     header says)",
                    self.stride,
                    self.header.header_bytes,
                    self.stride - self.header.header_bytes
                ),
            )),
        }
    }
}

impl FrameSource for MibFrames {
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
        self.check_header(index)?;
        match &self.pixels {
            MibSource::Plain(frames) => frames.frame(index, scratch),
            MibSource::Raw { map, geometry } => {
                let start = index * self.stride + self.header.header_bytes;
                let bytes = map
                    .get(start..start + geometry.bytes)
                    .ok_or_else(|| Error::format(&self.path, "RAW frame lies past the file end"))?;
                Ok(decode_raw(geometry, bytes, scratch))
            }
        }
    }

    fn advise_sequential(&self) {
        match &self.pixels {
            MibSource::Plain(frames) => frames.advise_sequential(),
            // Only a hint; failure changes nothing but speed.
            #[cfg(unix)]
            MibSource::Raw { map, .. } => {
                let _ = map.advise(memmap2::Advice::Sequential);
            }
            #[cfg(not(unix))]
            MibSource::Raw { .. } => {}
        }
    }

    fn release(&self, first: usize, count: usize) {
        if let MibSource::Plain(frames) = &self.pixels {
            frames.release(first, count);
        }
    }
}

/// Unpacks 64-bit big-endian words holding `64 / bits` pixels each, least significant first,
/// into `dst` (reversed when `reverse`). `src` must hold exactly `dst.len() * bits / 8` bytes.
fn unpack<T: Copy>(src: &[u8], bits: usize, dst: &mut [T], reverse: bool, conv: impl Fn(u64) -> T) {
    let per_word = 64 / bits;
    let mask = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    debug_assert_eq!(src.len() * 8, dst.len() * bits);
    let words = src.chunks_exact(8).map(|c| {
        let mut b = [0u8; 8];
        b.copy_from_slice(c);
        u64::from_be_bytes(b)
    });
    if reverse {
        for (out, w) in dst.rchunks_exact_mut(per_word).zip(words) {
            for (k, o) in out.iter_mut().rev().enumerate() {
                *o = conv((w >> (k * bits)) & mask);
            }
        }
    } else {
        for (out, w) in dst.chunks_exact_mut(per_word).zip(words) {
            for (k, o) in out.iter_mut().enumerate() {
                *o = conv((w >> (k * bits)) & mask);
            }
        }
    }
}

/// Unpacks one packed image (single chip: a stream; quad: raw rows of chips 4, 3, 2, 1).
fn unpack_image<T: Copy>(
    g: &RawGeometry,
    src: &[u8],
    dst: &mut [T],
    conv: impl Fn(u64) -> T + Copy,
) {
    match g.quad {
        None => unpack(src, g.bits, dst, false, conv),
        Some([ch, cw]) => {
            let seg_bytes = cw * g.bits / 8;
            let cols = 2 * cw;
            for (r, raw_row) in src.chunks_exact(4 * seg_bytes).take(ch).enumerate() {
                let top = r * cols;
                let bottom = (2 * ch - 1 - r) * cols;
                let mut segs = raw_row.chunks_exact(seg_bytes);
                // Raw order: chip 4, 3, 2, 1. Top: 1 | 2 as stored; bottom: 3 | 4 rotated 180°.
                let (Some(s4), Some(s3), Some(s2), Some(s1)) =
                    (segs.next(), segs.next(), segs.next(), segs.next())
                else {
                    return;
                };
                unpack(s1, g.bits, &mut dst[top..top + cw], false, conv);
                unpack(s2, g.bits, &mut dst[top + cw..top + cols], false, conv);
                unpack(s3, g.bits, &mut dst[bottom..bottom + cw], true, conv);
                unpack(s4, g.bits, &mut dst[bottom + cw..bottom + cols], true, conv);
            }
        }
    }
}

fn decode_raw<'a>(g: &RawGeometry, bytes: &[u8], scratch: &'a mut FrameBuffer) -> FrameRef<'a> {
    let n = g.image[0] * g.image[1];
    match (g.dtype, g.depth) {
        (DType::U8, _) => {
            let out = scratch.typed_mut::<u8>(n);
            unpack_image(g, bytes, out, |v| v as u8);
            FrameRef::from_slice::<u8>(out)
        }
        (DType::U16, _) => {
            let out = scratch.typed_mut::<u16>(n);
            unpack_image(g, bytes, out, |v| v as u16);
            FrameRef::from_slice::<u16>(out)
        }
        _ => {
            // 24 bit: two 12-bit images, the most significant bits first.
            let half = bytes.len() / 2;
            let (hi, lo) = bytes.split_at(half);
            let out = scratch.typed_mut::<u32>(2 * n);
            let (value, low) = out.split_at_mut(n);
            unpack_image(g, hi, value, |v| v as u32);
            unpack_image(g, lo, low, |v| v as u32);
            for (v, &l) in value.iter_mut().zip(low.iter()) {
                *v = (*v << 12).wrapping_add(l);
            }
            FrameRef::from_slice::<u32>(&out[..n])
        }
    }
}

/// Maps one `.mib` file and checks that its frames are uniform.
fn open_file(path: &Path) -> Result<MibFrames> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    // SAFETY: read-only map; see MappedFrames::open.
    let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
    let header = parse_header(&map).map_err(|m| Error::format(path, m))?;
    let frame_shape = header.frame_shape().map_err(|m| Error::format(path, m))?;
    let dtype = header.dtype().map_err(|m| Error::format(path, m))?;
    let pixel_bytes = header.pixel_bytes().map_err(|m| Error::format(path, m))?;
    let stride = header.header_bytes + pixel_bytes;
    let len = usize::try_from(len)
        .map_err(|_| Error::format(path, "file is too large for this platform"))?;
    if len % stride != 0 {
        return Err(Error::format(
            path,
            format!(
                "file size {len} is not a whole number of {stride}-byte frames ({}-byte header + \
                 {pixel_bytes} bytes of {} pixels, {} rows x {} cols): the file is truncated, or \
                 its header is wrong ({} whole frames, {} bytes left over)",
                header.header_bytes,
                header.dtype_field,
                header.height,
                header.width,
                len / stride,
                len % stride
            ),
        ));
    }
    let count = len / stride;
    let pixels = match header.pixels {
        MibPixels::Plain(dtype) => MibSource::Plain(MappedFrames::from_map(
            path,
            map,
            FrameLayout {
                dtype,
                endian: super::Endian::Big,
                frame_shape,
                first_offset: header.header_bytes,
                stride,
                count,
            },
        )?),
        MibPixels::Raw => MibSource::Raw {
            geometry: header.raw_geometry().map_err(|m| Error::format(path, m))?,
            map,
        },
    };
    let frames = MibFrames {
        path: path.to_path_buf(),
        header,
        stride,
        count,
        dtype,
        frame_shape,
        pixels,
    };
    // Catch a non-uniform file early: the second and last frames must start with a header.
    for index in [1, count.saturating_sub(1)] {
        if index < count {
            frames.check_header(index)?;
        }
    }

    Ok(frames)
}

/// The sequence number of the first frame of `path` (header field 2), if it is a `.mib`.
fn first_sequence(path: &Path) -> Option<u64> {
    use std::io::Read;
    let mut head = [0u8; 32];
    let file = std::fs::File::open(path).ok()?;
    let n = file.take(32).read(&mut head).ok()?;
    let head = head.get(..n)?;
    if !head.starts_with(MAGIC) {
        return None;
    }
    std::str::from_utf8(head)
        .ok()?
        .split(',')
        .nth(1)?
        .trim()
        .parse()
        .ok()
}

/// The files of a multi-file acquisition (`NAME1.mib`, `NAME2.mib`...: the Merlin software's
/// "images per file" setting) that `prefix` names, in acquisition order: every `.mib` in `dir`
/// named `prefix` + digits, ordered by the sequence number of its first frame (as LiberTEM
/// orders them). None found, or two starting at the same number: `None`. That the numbers
/// run on from file to file without a gap is checked when the frames are counted.
fn series_candidates(dir: &Path, prefix: &str) -> Option<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    })
    .ok()?
    .flatten()
    {
        let path = entry.path();
        let ext_ok = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("mib"));
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let numbered = stem
            .strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()));
        if ext_ok && numbered {
            if let Some(seq) = first_sequence(&path) {
                found.push((seq, path));
            }
        }
    }
    found.sort();
    // Files that start at the same number are separate acquisitions that happen to share a
    // name (e.g. `scan_128.mib`, `scan_256.mib`), not the parts of one.
    let distinct = found.windows(2).all(|w| w[0].0 != w[1].0);
    (!found.is_empty() && distinct).then_some(found)
}

/// `stem` without its trailing digits.
fn strip_digits(stem: &str) -> &str {
    stem.trim_end_matches(|c: char| c.is_ascii_digit())
}

/// Opens a `.mib`, or the multi-file acquisition it belongs to. `shape_given`: the caller
/// (options or sidecar) gives the scan shape, so a `.hdr` that disagrees with the file is not
/// an error.
pub fn open(path: &Path, shape_given: bool) -> Result<Opened> {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let dir = path.parent().unwrap_or(Path::new(""));
    let prefix = strip_digits(stem);
    let series = (prefix.len() < stem.len())
        .then(|| series_candidates(dir, prefix))
        .flatten()
        .filter(|files| files.len() >= 2)
        .filter(|files| files.iter().any(|(_, p)| p.file_name() == path.file_name()));
    match series {
        Some(files) => open_series(&files, &dir.join(format!("{prefix}.hdr")), shape_given),
        None => {
            let frames = open_file(path)?;
            let count = frames.count;
            with_hdr(
                Opened::new("mib", frames),
                path,
                hdr_path_for(path),
                count,
                shape_given,
            )
        }
    }
}

/// Opens the acquisition a `.hdr` describes whose frames are in numbered files `STEM1.mib`,
/// `STEM2.mib`... (one or more); `None` if there are none, or there is a `STEM.mib`.
pub fn open_hdr_series(hdr: &Path, shape_given: bool) -> Result<Option<Opened>> {
    if mib_path_for_hdr(hdr).is_ok() {
        return Ok(None);
    }
    let stem = hdr.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let dir = hdr.parent().unwrap_or(Path::new(""));
    series_candidates(dir, stem)
        .map(|files| open_series(&files, hdr, shape_given))
        .transpose()
}

/// Joins `files` (sorted by first sequence number) when their sequence numbers run on.
fn open_series(files: &[(u64, PathBuf)], hdr: &Path, shape_given: bool) -> Result<Opened> {
    let mut parts: Vec<Box<dyn FrameSource>> = Vec::new();
    let mut paths = Vec::new();
    let mut next = files[0].0;
    for (seq, path) in files {
        if *seq != next {
            return Err(Error::format(
                path,
                format!(
                    "is part of a multi-file Merlin acquisition, but its first frame is number                      {seq} where the files before it end at {}: a file is missing or belongs to                      another acquisition",
                    next.saturating_sub(1)
                ),
            ));
        }
        let frames = open_file(path)?;
        next = seq.saturating_add(frames.count as u64);
        parts.push(Box::new(frames));
        paths.push(path.clone());
    }
    let joined = super::series::SeriesFrames::new(&paths, parts)?;
    let count = joined.frame_count();
    let hdr = Some(hdr.to_path_buf()).filter(|p| p.is_file());
    with_hdr(
        Opened::new("mib", joined),
        &paths[0],
        hdr,
        count,
        shape_given,
    )
}

/// Takes the scan shape from the `.hdr`, if any.
fn with_hdr(
    mut opened: Opened,
    path: &Path,
    hdr: Option<PathBuf>,
    count: usize,
    shape_given: bool,
) -> Result<Opened> {
    let mut scan_shape = None;
    if let Some(hdr_path) = hdr {
        let bytes = std::fs::read(&hdr_path).map_err(|e| Error::io(&hdr_path, e))?;
        if bytes.starts_with(HDR_MAGIC) {
            let hdr = HdrFile::parse(&bytes);
            if let Some(([r, c], why)) = hdr.scan_shape() {
                if r.checked_mul(c) == Some(count) {
                    scan_shape = Some([r, c]);
                } else if !shape_given {
                    return Err(Error::format(
                        path,
                        format!(
                            "{} gives a {r}x{c} scan ({why}) but the file holds {count} frames \
                             (interrupted acquisition?); give the scan shape explicitly",
                            hdr_path.display()
                        ),
                    ));
                }
            }
        }
    }
    opened.scan_shape = scan_shape;
    Ok(opened)
}

/// A frame header for [`write_mib_u16`]: single chip layout, `U16`, 12-bit counter depth.
fn synthetic_header(sequence: usize, frame_shape: [usize; 2]) -> Vec<u8> {
    let [rows, cols] = frame_shape;
    let text = format!(
        "MQ1,{seq:06},00384,01,{cols:04},{rows:04},U16,   1x1,01,2000-01-01 00:00:00.000000,\
         0.001000,0,0,0,1.000000E+1,5.110000E+2,0.000000E+0,0.000000E+0,0.000000E+0,\
         0.000000E+0,0.000000E+0,0.000000E+0,3RX,000,511,000,000,000,000,000,000,100,255,100,\
         125,100,100,080,100,090,030,128,004,255,126,128,174,172,511,511,MQ1A,\
         2000-01-01T00:00:00.000000000Z,1000000ns,12,",
        seq = sequence + 1,
    );
    let mut bytes = text.into_bytes();
    bytes.resize(384, 0);
    bytes
}

/// The `.hdr` text for [`write_mib_u16`].
fn synthetic_hdr(frames: usize, scan_shape: [usize; 2]) -> Vec<u8> {
    let [rows, cols] = scan_shape;
    let text = format!(
        "HDR,\t\nTime and Date Stamp (day, mnth, yr, hr, min, s):\t01/01/2000 00:00:00\n\
         Chip ID:\tsynthetic, - , - , - \n\
         Chip Type (Medipix 3.0, Medipix 3.1, Medipix 3RX):\tMedipix 3RX\n\
         Assembly Size (NX1, 2X2):\t   1x1\n\
         Chip Mode  (SPM, CSM, CM, CSCM):\tSPM\n\
         Counter Depth (number):\t12\n\
         Acquisition Type (Normal, Th_scan, Config):\tNormal\n\
         Frames in Acquisition (Number):\t{frames}\n\
         Frames per Trigger (Number):\t{cols}\n\
         Trigger Start (Positive, Negative, Internal):\tInternal\n\
         Trigger Stop (Positive, Negative, Internal):\tInternal\n\
         Readout System:\tpolarmap (synthetic)\n\
         ScanX:\t{cols}\n\
         ScanY:\t{rows}\n\
         End\t"
    );
    let mut bytes = text.into_bytes();
    let padded = bytes.len().next_multiple_of(2048);
    bytes.resize(padded, b' ');
    bytes
}

/// Writes frames as a single-chip (`1x1`) `U16` Merlin `.mib`, every frame with a valid
/// 384-byte header, and returns the number of frames written. Frames are row-major
/// `frame_shape` slices. With `scan_shape`, also writes the `.hdr` beside it (same stem) giving
/// `ScanX`/`ScanY`, so that [`crate::scan::open`] finds the scan shape.
pub fn write_mib_u16<I, F>(
    path: &Path,
    frame_shape: [usize; 2],
    scan_shape: Option<[usize; 2]>,
    frames: I,
) -> Result<usize>
where
    I: IntoIterator<Item = F>,
    F: AsRef<[u16]>,
{
    let [rows, cols] = frame_shape;
    if rows == 0 || cols == 0 || rows > 9999 || cols > 9999 {
        return Err(Error::invalid(format!(
            "{}: cannot write {rows}x{cols} Merlin frames (sides must be 1 to 9999)",
            path.display()
        )));
    }
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut pixels = vec![0u8; rows * cols * 2];
    let mut count = 0;
    for frame in frames {
        let frame = frame.as_ref();
        if frame.len() != rows * cols {
            return Err(Error::invalid(format!(
                "{}: frame {count} has {} pixels, not {rows}x{cols}",
                path.display(),
                frame.len()
            )));
        }
        for (o, v) in pixels.chunks_exact_mut(2).zip(frame) {
            o.copy_from_slice(&v.to_be_bytes());
        }
        out.write_all(&synthetic_header(count, frame_shape))
            .and_then(|_| out.write_all(&pixels))
            .map_err(|e| Error::io(path, e))?;
        count += 1;
    }
    out.flush().map_err(|e| Error::io(path, e))?;
    if let Some([r, c]) = scan_shape {
        if r.checked_mul(c) != Some(count) {
            return Err(Error::invalid(format!(
                "{}: scan shape {r}x{c} does not match the {count} frames written",
                path.display()
            )));
        }
        let hdr = path.with_extension("hdr");
        std::fs::write(&hdr, synthetic_hdr(count, [r, c])).map_err(|e| Error::io(&hdr, e))?;
    }
    Ok(count)
}

/// Writes a whole scan (any integer pixel type whose values fit in u16) with
/// [`write_mib_u16`], with its scan shape in the `.hdr`.
pub fn write_scan_as_mib_u16(scan: &Scan, path: &Path) -> Result<usize> {
    struct ToU16<'o>(&'o mut Vec<u16>);
    impl super::FrameVisitor for ToU16<'_> {
        type Output = bool;
        fn visit<T: Pixel>(self, p: &[T]) -> bool {
            self.0.clear();
            for &v in p {
                let f = v.to_f64();
                if !(0.0..=65535.0).contains(&f) || f.fract() != 0.0 {
                    return false;
                }
                self.0.push(f as u16);
            }
            true
        }
    }
    let mut scratch = FrameBuffer::new();
    let mut frame = Vec::with_capacity(scan.frame_len());
    let mut error = None;
    let frames = (0..scan.n_frames()).map_while(|i| {
        match scan.frame(i, &mut scratch) {
            Ok(f) if f.visit(ToU16(&mut frame)) => return Some(frame.clone()),
            Ok(_) => {
                error = Some(Error::invalid(format!(
                    "{}: frame {i} has values that are not integers from 0 to 65535",
                    scan.path().display()
                )))
            }
            Err(e) => error = Some(e),
        }
        None
    });
    let count = write_mib_u16(path, scan.frame_shape(), None, frames)?;
    if let Some(e) = error {
        // Leave no partial file behind.
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    let hdr = path.with_extension("hdr");
    std::fs::write(&hdr, synthetic_hdr(count, scan.scan_shape()))
        .map_err(|e| Error::io(&hdr, e))?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packs pixels into R64 words the way the detector does (inverse of `unpack`).
    fn pack(values: &[u64], bits: usize) -> Vec<u8> {
        let per_word = 64 / bits;
        values
            .chunks(per_word)
            .flat_map(|c| {
                let w = c
                    .iter()
                    .enumerate()
                    .fold(0u64, |w, (k, &v)| w | (v << (k * bits)));
                w.to_be_bytes()
            })
            .collect()
    }

    #[test]
    fn parses_real_style_header() {
        let h = synthetic_header(0, [64, 256]);
        let p = parse_header(&h).unwrap();
        assert_eq!(p.header_bytes, 384);
        assert_eq!([p.height, p.width], [64, 256]);
        assert_eq!(p.pixels, MibPixels::Plain(DType::U16));
        assert_eq!(p.layout, [1, 1]);
        assert_eq!(p.counter_depth, Some(12));
    }

    #[test]
    fn layouts() {
        assert_eq!(parse_layout("2x2G", 4), Some([2, 2]));
        assert_eq!(parse_layout("Nx1", 3), Some([3, 1]));
        assert_eq!(parse_layout("4x1", 4), Some([4, 1]));
        assert_eq!(parse_layout("22", 4), None);
    }

    fn raw_header(chips: usize, w: usize, h: usize, depth: u32) -> MibHeader {
        MibHeader {
            header_bytes: 384,
            chips,
            width: w,
            height: h,
            dtype_field: "R64".into(),
            pixels: MibPixels::Raw,
            layout: if chips == 4 { [2, 2] } else { [1, 1] },
            counter_depth: Some(depth),
        }
    }

    #[test]
    fn raw_single_chip_every_depth() {
        for (depth, bits, max) in [(1u32, 1usize, 1u64), (6, 8, 63), (12, 16, 4095)] {
            let g = raw_header(1, 64, 4, depth).raw_geometry().unwrap();
            let values: Vec<u64> = (0..256u64).map(|i| (i * 7 + 3) % (max + 1)).collect();
            let bytes = pack(&values, bits);
            assert_eq!(bytes.len(), g.bytes);
            let mut buf = FrameBuffer::new();
            let got: Vec<f32> = decode_raw(&g, &bytes, &mut buf).to_f32_vec();
            let want: Vec<f32> = values.iter().map(|&v| v as f32).collect();
            assert_eq!(got, want, "depth {depth}");
        }
    }

    #[test]
    fn raw_24_bit_is_two_12_bit_images() {
        let g = raw_header(1, 16, 2, 24).raw_geometry().unwrap();
        assert_eq!(g.image, [2, 8]);
        let values: Vec<u64> = (0..16u64).map(|i| i * 300_001 % (1 << 24)).collect();
        let hi: Vec<u64> = values.iter().map(|v| v >> 12).collect();
        let lo: Vec<u64> = values.iter().map(|v| v & 0xfff).collect();
        let mut bytes = pack(&hi, 16);
        bytes.extend(pack(&lo, 16));
        let mut buf = FrameBuffer::new();
        let frame = decode_raw(&g, &bytes, &mut buf);
        assert_eq!(frame.dtype(), DType::U32);
        let want: Vec<f32> = values.iter().map(|&v| v as f32).collect();
        assert_eq!(frame.to_f32_vec(), want);
    }

    #[test]
    fn raw_quad_interleave_and_rotation() {
        // Chips of 2 rows x 64 cols; pixel value encodes (chip, row, col).
        let (ch, cw) = (2usize, 64usize);
        let value = |chip: u64, r: usize, c: usize| chip * 1000 + (r * cw + c) as u64;
        let mut raw = Vec::new();
        for r in 0..ch {
            for chip in [4u64, 3, 2, 1] {
                for c in 0..cw {
                    raw.push(value(chip, r, c));
                }
            }
        }
        let g = raw_header(4, 4 * cw, ch, 12).raw_geometry().unwrap();
        assert_eq!(g.image, [4, 128]);
        let bytes = pack(&raw, 16);
        let mut buf = FrameBuffer::new();
        let img = decode_raw(&g, &bytes, &mut buf).to_f32_vec();
        let at = |r: usize, c: usize| img[r * 2 * cw + c] as u64;
        assert_eq!(at(0, 0), value(1, 0, 0));
        assert_eq!(at(1, 63), value(1, 1, 63));
        assert_eq!(at(0, 64), value(2, 0, 0));
        // Bottom half: raw row r lands on row 2ch-1-r, reversed.
        assert_eq!(at(3, 0), value(3, 0, 63));
        assert_eq!(at(3, 63), value(3, 0, 0));
        assert_eq!(at(2, 127), value(4, 1, 0));
        assert_eq!(at(3, 64), value(4, 0, 63));
    }

    #[test]
    fn unsupported_raw_is_an_error() {
        assert!(raw_header(4, 1024, 256, 24).raw_geometry().is_err());
        assert!(raw_header(1, 256, 256, 7).raw_geometry().is_err());
        assert!(raw_header(1, 10, 1, 1).raw_geometry().is_err());
        let mut h = raw_header(1, 256, 256, 1);
        h.counter_depth = None;
        assert!(h.raw_geometry().is_err());
    }

    #[test]
    fn hdr_scan_shape_rules() {
        let hdr = |s: &str| HdrFile::parse(s.as_bytes()).scan_shape().map(|(s, _)| s);
        assert_eq!(
            hdr("HDR,\t\nFrames in Acquisition (Number):\t8\nFrames per Trigger (Number):\t4\nEnd\t"),
            Some([2, 4])
        );
        assert_eq!(
            hdr("HDR,\t\nFrames in Acquisition (Number):\t8\nFrames per Trigger (Number):\t1\nEnd\t"),
            None
        );
        assert_eq!(
            hdr("HDR,\t\nFrames in Acquisition (Number):\t8\nFrames per Trigger (Number):\t8\nScanX:\t4\nScanY:\t2\nEnd\t   "),
            Some([2, 4])
        );
        assert_eq!(hdr("HDR,\t\nFrames per Trigger (Number):\tx\nEnd"), None);
    }

    /// A 4x3 scan split over three files as the Merlin software writes it with 4 images per
    /// file (`acq1.mib`... with `acq.hdr`): opened from any part or the `.hdr`, it is the scan.
    #[test]
    fn multi_file_acquisition_is_joined() {
        let dir = tempfile::tempdir().unwrap();
        let whole = dir.path().join("whole.mib");
        let frames: Vec<Vec<u16>> = (0..12)
            .map(|f| (0..6).map(|p| (f * 10 + p) as u16).collect())
            .collect();
        write_mib_u16(&whole, [2, 3], Some([4, 3]), &frames).unwrap();
        let bytes = std::fs::read(&whole).unwrap();
        let stride = bytes.len() / 12;
        for part in 0..3 {
            let name = dir.path().join(format!("acq{}.mib", part + 1));
            std::fs::write(&name, &bytes[part * 4 * stride..(part + 1) * 4 * stride]).unwrap();
        }
        std::fs::copy(whole.with_extension("hdr"), dir.path().join("acq.hdr")).unwrap();
        for open_as in ["acq1.mib", "acq3.mib", "acq.hdr"] {
            let scan = crate::scan::open(dir.path().join(open_as)).unwrap();
            assert_eq!(scan.shape(), [4, 3, 2, 3], "{open_as}");
            for (i, f) in frames.iter().enumerate() {
                let want: Vec<f32> = f.iter().map(|&v| v as f32).collect();
                assert_eq!(scan.frame_f32(i / 3, i % 3).unwrap(), want, "{open_as} {i}");
            }
        }
        // A missing middle part is an error naming the file after the gap.
        std::fs::remove_file(dir.path().join("acq2.mib")).unwrap();
        let err = crate::scan::open(dir.path().join("acq1.mib"))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("acq3.mib") && err.contains("missing"), "{err}");
        // Separate acquisitions sharing a name (both start at frame 1) open on their own.
        std::fs::remove_file(dir.path().join("acq.hdr")).unwrap();
        std::fs::write(dir.path().join("acq2.mib"), &bytes[..4 * stride]).unwrap();
        std::fs::remove_file(dir.path().join("acq3.mib")).unwrap();
        std::fs::copy(dir.path().join("acq2.mib"), dir.path().join("acq3.mib")).unwrap();
        let scan = crate::scan::open(dir.path().join("acq3.mib")).unwrap();
        assert_eq!(scan.n_frames(), 4);
    }
}
