//! TIFF readers: a folder with one TIFF file per scan position, and a multi-page TIFF with one
//! page per scan position. Greyscale only, in the pixel types polarmap knows (u8, u16, u32, i16,
//! i32, f32, f64), with any compression the `tiff` crate decodes (none, LZW, deflate, PackBits).
//!
//! * **Folder**: every `*.tif`/`*.tiff` file (any case) not starting with `.`, in natural name
//!   order (`img_2` before `img_10`; zero-padded names sort the same either way), is one frame,
//!   row-major over the scan. Opening reads only the first file's header; each other file is
//!   checked when its frame is read ([`TiffFolder::verify`] checks every header at once).
//! * **Multi-page**: every page is one frame. The page index is built at open; when every page
//!   is uncompressed, contiguous and at a fixed stride the frames are memory-mapped, otherwise
//!   each read decodes its page independently (no lock shared between threads).
//!
//! Scan shape: the caller's or the sidecar's if given; else, for a multi-page file written by
//! tifffile from a 4D array, the `shape` in its JSON description; else `n x n` when the frame
//! count is a perfect square; else `1 x N`.
//!
//! Every size read from a file is checked before it is used. A panic inside the `tiff` crate
//! itself is not caught here (catching it would hide it from the fuzz targets in `fuzz/`): it is a
//! bug in that crate, caught by the app's outermost layer (the CLI's `main`, the GUI job thread).

use super::mapped::{FrameLayout, MappedFrames};
use super::{DType, Endian, FrameBuffer, FrameRef, FrameSource, Opened, Pixel};
use crate::error::{Error, Result};
use ::tiff::decoder::{Decoder, DecodingSampleType};
use ::tiff::tags::{ByteOrder, Tag};
use ::tiff::ColorType;
use rayon::prelude::*;
use std::cmp::Ordering;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Largest frame the readers accept (bytes); a larger size in a header is taken as corruption.
const MAX_FRAME_BYTES: usize = 256 << 20;

/// True if `bytes` start like a TIFF or BigTIFF file, either byte order.
pub fn is_tiff_magic(bytes: &[u8]) -> bool {
    [b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"]
        .iter()
        .any(|m| bytes.starts_with(*m))
}

/// True if `path` ends in `.tif` or `.tiff`, any case.
pub fn has_tiff_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("tif") || e.eq_ignore_ascii_case("tiff"))
}

/// What every frame of a TIFF source shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PageInfo {
    dtype: DType,
    /// `[rows, cols]`.
    shape: [usize; 2],
}

impl PageInfo {
    fn bytes(&self) -> usize {
        self.shape[0] * self.shape[1] * self.dtype.size()
    }
}

impl std::fmt::Display for PageInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{} {}", self.shape[0], self.shape[1], self.dtype)
    }
}

fn tiff_err(path: &Path, what: &str, e: ::tiff::TiffError) -> Error {
    match e {
        ::tiff::TiffError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            Error::format(path, format!("{what}: the file is truncated"))
        }
        e => Error::format(path, format!("{what}: {e}")),
    }
}

/// Type and shape of the decoder's current page, or why polarmap cannot read it.
fn page_info<R: Read + Seek>(decoder: &mut Decoder<R>) -> std::result::Result<PageInfo, String> {
    let colour = decoder.colortype().map_err(|e| e.to_string())?;
    let bits = match colour {
        ColorType::Gray(bits) => bits,
        other => {
            return Err(format!(
                "colour type {other:?} is not supported: polarmap reads greyscale (one sample per \
                 pixel) TIFFs"
            ))
        }
    };
    let layout = decoder.image_buffer_layout().map_err(|e| e.to_string())?;
    let dtype = match layout.sample_type {
        Some(DecodingSampleType::U8) => DType::U8,
        Some(DecodingSampleType::U16) => DType::U16,
        Some(DecodingSampleType::U32) => DType::U32,
        Some(DecodingSampleType::I16) => DType::I16,
        Some(DecodingSampleType::I32) => DType::I32,
        Some(DecodingSampleType::F32) => DType::F32,
        Some(DecodingSampleType::F64) => DType::F64,
        other => {
            return Err(format!(
                "sample type {other:?} ({bits}-bit {:?}) is not supported: polarmap reads \
                 uint8, uint16, uint32, int16, int32, float32 and float64",
                layout.sample_format
            ))
        }
    };
    if usize::from(bits) != dtype.size() * 8 {
        return Err(format!(
            "{bits}-bit samples are not supported: polarmap reads 8, 16, 32 and 64-bit samples"
        ));
    }
    if layout.planes != 1 {
        return Err(format!(
            "image has {} sample planes; polarmap reads greyscale TIFFs",
            layout.planes
        ));
    }
    let (width, height) = decoder.dimensions().map_err(|e| e.to_string())?;
    let info = PageInfo {
        dtype,
        shape: [height as usize, width as usize],
    };
    if width == 0 || height == 0 {
        return Err(format!("image has an empty shape {}", info));
    }
    let bytes = (height as usize)
        .checked_mul(width as usize)
        .and_then(|n| n.checked_mul(dtype.size()))
        .filter(|&b| b <= MAX_FRAME_BYTES)
        .ok_or_else(|| format!("image {info} is larger than the {MAX_FRAME_BYTES}-byte limit"))?;
    if layout.len != bytes {
        return Err(format!(
            "image {info} has an unsupported layout ({} bytes per plane, expected {bytes})",
            layout.len
        ));
    }
    Ok(info)
}

/// Decodes the decoder's current page into `scratch`.
fn decode_page<'a, R: Read + Seek>(
    decoder: &mut Decoder<R>,
    info: PageInfo,
    scratch: &'a mut FrameBuffer,
) -> ::tiff::TiffResult<FrameRef<'a>> {
    let buf = scratch.bytes_mut(info.bytes());
    decoder.read_image_bytes(buf)?;
    Ok(FrameRef::from_aligned_bytes(info.dtype, buf))
}

fn open_decoder(path: &Path) -> Result<Decoder<BufReader<File>>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut head = [0u8; 4];
    let n = (&file)
        .take(4)
        .read(&mut head)
        .map_err(|e| Error::io(path, e))?;
    if !is_tiff_magic(&head[..n]) {
        return Err(Error::format(
            path,
            format!("not a TIFF file (first bytes {:02x?})", &head[..n]),
        ));
    }
    let mut reader = BufReader::new(file);
    reader
        .seek(SeekFrom::Start(0))
        .map_err(|e| Error::io(path, e))?;
    Decoder::new(reader).map_err(|e| tiff_err(path, "cannot read the TIFF header", e))
}

// ---------------------------------------------------------------------------------------------
// Folder of single-frame TIFFs

/// A folder of TIFF files, one frame per file, in natural name order.
#[derive(Debug)]
pub struct TiffFolder {
    dir: PathBuf,
    files: Vec<PathBuf>,
    info: PageInfo,
}

/// Orders names the way people count: digit runs compare by value (`img_2` < `img_10`), other
/// characters case-insensitively; ties are broken by the plain byte order.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < ab.len() && j < bb.len() {
        if ab[i].is_ascii_digit() && bb[j].is_ascii_digit() {
            let (si, sj) = (i, j);
            while i < ab.len() && ab[i].is_ascii_digit() {
                i += 1;
            }
            while j < bb.len() && bb[j].is_ascii_digit() {
                j += 1;
            }
            let na = trim_zeros(&ab[si..i]);
            let nb = trim_zeros(&bb[sj..j]);
            let ord = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
            if ord != Ordering::Equal {
                return ord;
            }
        } else {
            let ord = ab[i].to_ascii_lowercase().cmp(&bb[j].to_ascii_lowercase());
            if ord != Ordering::Equal {
                return ord;
            }
            i += 1;
            j += 1;
        }
    }
    (ab.len() - i).cmp(&(bb.len() - j)).then_with(|| ab.cmp(bb))
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let start = digits
        .iter()
        .position(|&d| d != b'0')
        .unwrap_or(digits.len());
    &digits[start..]
}

/// The TIFF files of `dir` in natural name order (hidden files and other extensions skipped).
pub fn list_tiff_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') || !has_tiff_extension(&path) {
            continue;
        }
        let file_type = entry.file_type().map_err(|e| Error::io(&path, e))?;
        let is_file = file_type.is_file() || (file_type.is_symlink() && path.is_file());
        if is_file {
            files.push((name.to_string_lossy().into_owned(), path));
        }
    }
    files.sort_by(|a, b| natural_cmp(&a.0, &b.0));
    Ok(files.into_iter().map(|(_, p)| p).collect())
}

impl TiffFolder {
    /// Lists the folder and reads the first file's header (type and frame shape).
    pub fn open(dir: &Path) -> Result<TiffFolder> {
        let files = list_tiff_files(dir)?;
        let Some(first) = files.first() else {
            return Err(Error::format(
                dir,
                "the folder holds no .tif/.tiff files; a TIFF folder needs one file per scan \
                 position",
            ));
        };
        let (_, info) = read_single_header(first)?;
        Ok(TiffFolder {
            dir: dir.to_path_buf(),
            files,
            info,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The frame files, in scan order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Reads every file's header (not its pixels) and checks that all are single-page greyscale
    /// TIFFs of the first file's size and type. Returns the error of the first bad file in scan
    /// order.
    pub fn verify(&self) -> Result<()> {
        match self
            .files
            .par_iter()
            .find_map_first(|path| self.check_header(path).err())
        {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn check_header(&self, path: &Path) -> Result<Decoder<BufReader<File>>> {
        let (decoder, info) = read_single_header(path)?;
        if info != self.info {
            return Err(Error::format(
                path,
                format!(
                    "frame is {info} but the folder's first file {} is {}; every file of a TIFF \
                     folder must have the same size and type",
                    self.files[0].display(),
                    self.info
                ),
            ));
        }
        Ok(decoder)
    }
}

/// Opens one file of a folder: it must be a single-page greyscale TIFF.
fn read_single_header(path: &Path) -> Result<(Decoder<BufReader<File>>, PageInfo)> {
    let mut decoder = open_decoder(path)?;
    let info = page_info(&mut decoder).map_err(|m| Error::format(path, m))?;
    if decoder.more_images() {
        return Err(Error::format(
            path,
            "the file has more than one page; each file of a TIFF folder must hold one frame",
        ));
    }
    Ok((decoder, info))
}

impl FrameSource for TiffFolder {
    fn dtype(&self) -> DType {
        self.info.dtype
    }

    fn frame_count(&self) -> usize {
        self.files.len()
    }

    fn frame_shape(&self) -> [usize; 2] {
        self.info.shape
    }

    fn frame<'a>(&'a self, index: usize, scratch: &'a mut FrameBuffer) -> Result<FrameRef<'a>> {
        let path = self.files.get(index).ok_or_else(|| {
            Error::invalid(format!(
                "frame {index} is out of range: the folder has {} files",
                self.files.len()
            ))
        })?;
        let mut decoder = self.check_header(path)?;
        decode_page(&mut decoder, self.info, scratch)
            .map_err(|e| tiff_err(path, "cannot decode the image", e))
    }
}

/// Opens a folder of TIFF files (see the module documentation).
pub fn open_folder(dir: &Path) -> Result<Opened> {
    let folder = TiffFolder::open(dir)?;
    let scan_shape = square_shape(folder.files.len());
    let mut opened = Opened::new("tiff-folder", folder);
    opened.scan_shape = scan_shape;
    Ok(opened)
}

/// `[n, n]` if `count` is a perfect square.
fn square_shape(count: usize) -> Option<[usize; 2]> {
    let n = (count as f64).sqrt().round() as usize;
    (n.checked_mul(n) == Some(count)).then_some([n, n])
}

// ---------------------------------------------------------------------------------------------
// Multi-page TIFF

/// A multi-page TIFF whose pages are decoded one per call. Each call opens the file and starts
/// the decoder at the page's directory, so threads share nothing.
#[derive(Debug)]
pub struct TiffPages {
    path: PathBuf,
    info: PageInfo,
    /// The file's first bytes up to and including the first-directory offset (8, or 16 for
    /// BigTIFF), in which each call writes its page's directory offset.
    header: Vec<u8>,
    byte_order: ByteOrder,
    /// Offset of every page's directory.
    directories: Vec<u64>,
}

/// Where each page of a multi-page file is, as found at open.
struct PageIndex {
    info: PageInfo,
    endian: Endian,
    directories: Vec<u64>,
    /// Offset of each page's pixels when they are stored uncompressed and contiguous.
    raw_offsets: Vec<Option<u64>>,
    /// Scan shape from tifffile's JSON description, if any.
    described_shape: Option<Vec<usize>>,
}

/// Opens a multi-page (or single-page) TIFF file (see the module documentation).
pub fn open_pages(path: &Path) -> Result<Opened> {
    let index = index_pages(path)?;
    let count = index.directories.len();
    let described = index
        .described_shape
        .as_deref()
        .and_then(|shape| match *shape {
            [r, c, h, w] if r.checked_mul(c) == Some(count) && [h, w] == index.info.shape => {
                Some([r, c])
            }
            _ => None,
        });
    let scan_shape = described.or_else(|| square_shape(count));

    let frame_bytes = index.info.bytes();
    let mapped = match index
        .raw_offsets
        .iter()
        .copied()
        .collect::<Option<Vec<u64>>>()
    {
        Some(offsets) => fixed_stride(&offsets, frame_bytes).map(|stride| FrameLayout {
            dtype: index.info.dtype,
            endian: index.endian,
            frame_shape: index.info.shape,
            first_offset: offsets[0] as usize,
            stride,
            count,
        }),
        None => None,
    };
    let mut opened = match mapped {
        Some(layout) => Opened::new("tiff", MappedFrames::open(path, layout)?),
        None => {
            let mut header = read_header_bytes(path)?;
            let bigtiff = header[2] == 43 || header[3] == 43;
            header.truncate(if bigtiff { 16 } else { 8 });
            Opened::new(
                "tiff",
                TiffPages {
                    path: path.to_path_buf(),
                    info: index.info,
                    header,
                    byte_order: match index.endian {
                        Endian::Little => ByteOrder::LittleEndian,
                        Endian::Big => ByteOrder::BigEndian,
                    },
                    directories: index.directories,
                },
            )
        }
    };
    opened.scan_shape = scan_shape;
    Ok(opened)
}

/// The common stride of `offsets` if they are evenly spaced by at least one frame.
fn fixed_stride(offsets: &[u64], frame_bytes: usize) -> Option<usize> {
    if offsets.len() < 2 {
        return Some(frame_bytes);
    }
    let stride = offsets[1].checked_sub(offsets[0])?;
    let evenly = offsets
        .windows(2)
        .all(|w| w[1].checked_sub(w[0]) == Some(stride));
    let stride = usize::try_from(stride).ok()?;
    (evenly && stride >= frame_bytes).then_some(stride)
}

fn read_header_bytes(path: &Path) -> Result<Vec<u8>> {
    let mut head = Vec::with_capacity(16);
    File::open(path)
        .map_err(|e| Error::io(path, e))?
        .take(16)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(path, e))?;
    if head.len() < 16 {
        // Classic TIFF headers are 8 bytes; pad so both kinds can be sliced alike.
        head.resize(16, 0);
    }
    Ok(head)
}

fn index_pages(path: &Path) -> Result<PageIndex> {
    let mut decoder = open_decoder(path)?;
    let endian = match decoder.byte_order() {
        ByteOrder::LittleEndian => Endian::Little,
        ByteOrder::BigEndian => Endian::Big,
    };
    let described_shape = match decoder.find_tag(Tag::ImageDescription) {
        Ok(Some(::tiff::decoder::ifd::Value::Ascii(text))) => described_shape(&text),
        _ => None,
    };
    let mut info = None;
    let mut directories = Vec::new();
    let mut raw_offsets = Vec::new();
    loop {
        let page = directories.len();
        let here = page_info(&mut decoder)
            .map_err(|m| Error::format(path, format!("page {page}: {m}")))?;
        match info {
            None => info = Some(here),
            Some(first) if first != here => {
                return Err(Error::format(
                    path,
                    format!(
                        "page {page} is {here} but page 0 is {first}; every page must have the \
                         same size and type"
                    ),
                ))
            }
            Some(_) => {}
        }
        let directory = decoder
            .ifd_pointer()
            .ok_or_else(|| Error::format(path, format!("page {page} has no directory")))?;
        directories.push(directory.0);
        raw_offsets.push(raw_data_offset(&mut decoder, here));
        if !decoder.more_images() {
            break;
        }
        decoder
            .next_image()
            .map_err(|e| tiff_err(path, &format!("cannot read page {}", page + 1), e))?;
    }
    Ok(PageIndex {
        info: info.expect("the loop reads at least one page"),
        endian,
        directories,
        raw_offsets,
        described_shape,
    })
}

/// tifffile writes `{"shape": [...]}` as the first page's description.
fn described_shape(text: &str) -> Option<Vec<usize>> {
    let value: serde_json::Value = serde_json::from_str(text.trim_end_matches('\0')).ok()?;
    value
        .get("shape")?
        .as_array()?
        .iter()
        .map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok()))
        .collect()
}

/// Offset of the current page's pixels if they can be read straight from the file: uncompressed,
/// no predictor, black-is-zero, strips stored one after another and adding up to one frame.
fn raw_data_offset<R: Read + Seek>(decoder: &mut Decoder<R>, info: PageInfo) -> Option<u64> {
    let tag = |decoder: &mut Decoder<R>, tag: Tag, default: u64| -> Option<u64> {
        decoder
            .find_tag_unsigned::<u64>(tag)
            .ok()
            .map(|v| v.unwrap_or(default))
    };
    if tag(decoder, Tag::Compression, 1)? != 1
        || tag(decoder, Tag::Predictor, 1)? != 1
        || tag(decoder, Tag::PhotometricInterpretation, 1)? != 1
        || tag(decoder, Tag::FillOrder, 1)? != 1
        || decoder.find_tag(Tag::TileOffsets).ok()?.is_some()
    {
        return None;
    }
    let offsets = decoder.get_tag_u64_vec(Tag::StripOffsets).ok()?;
    let counts = decoder.get_tag_u64_vec(Tag::StripByteCounts).ok()?;
    if offsets.is_empty() || offsets.len() != counts.len() {
        return None;
    }
    let mut end = offsets[0];
    for (&offset, &count) in offsets.iter().zip(&counts) {
        if offset != end {
            return None;
        }
        end = end.checked_add(count)?;
    }
    (end - offsets[0] == info.bytes() as u64).then_some(offsets[0])
}

impl FrameSource for TiffPages {
    fn dtype(&self) -> DType {
        self.info.dtype
    }

    fn frame_count(&self) -> usize {
        self.directories.len()
    }

    fn frame_shape(&self) -> [usize; 2] {
        self.info.shape
    }

    fn frame<'a>(&'a self, index: usize, scratch: &'a mut FrameBuffer) -> Result<FrameRef<'a>> {
        let path = &self.path;
        let &directory = self.directories.get(index).ok_or_else(|| {
            Error::invalid(format!(
                "frame {index} is out of range: the file has {} pages",
                self.directories.len()
            ))
        })?;
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut header = self.header.clone();
        if header.len() == 16 {
            header[8..16].copy_from_slice(&match self.byte_order {
                ByteOrder::LittleEndian => directory.to_le_bytes(),
                ByteOrder::BigEndian => directory.to_be_bytes(),
            });
        } else {
            let directory = u32::try_from(directory).map_err(|_| {
                Error::format(path, "page directory beyond 4 GiB in a classic TIFF")
            })?;
            header[4..8].copy_from_slice(&match self.byte_order {
                ByteOrder::LittleEndian => directory.to_le_bytes(),
                ByteOrder::BigEndian => directory.to_be_bytes(),
            });
        }
        let reader = BufReader::new(PatchedHeader {
            inner: file,
            header,
            pos: 0,
            synced: true,
        });
        let what = format!("page {index}");
        let mut decoder = Decoder::new(reader).map_err(|e| tiff_err(path, &what, e))?;
        let info =
            page_info(&mut decoder).map_err(|m| Error::format(path, format!("{what}: {m}")))?;
        if info != self.info {
            return Err(Error::format(
                path,
                format!("{what} is {info} but page 0 is {}", self.info),
            ));
        }
        decode_page(&mut decoder, info, scratch).map_err(|e| tiff_err(path, &what, e))
    }
}

/// A file whose first bytes read as `header`: a TIFF header whose first-directory offset points
/// at the page to decode, so that a fresh decoder starts there without walking the chain.
struct PatchedHeader {
    inner: File,
    header: Vec<u8>,
    pos: u64,
    /// Whether `inner`'s position is `pos`.
    synced: bool,
}

impl Read for PatchedHeader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let hlen = self.header.len() as u64;
        if self.pos < hlen {
            let start = self.pos as usize;
            let n = buf.len().min(self.header.len() - start);
            buf[..n].copy_from_slice(&self.header[start..start + n]);
            self.pos += n as u64;
            self.synced = false;
            return Ok(n);
        }
        if !self.synced {
            self.inner.seek(SeekFrom::Start(self.pos))?;
            self.synced = true;
        }
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for PatchedHeader {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(_) => {
                let p = self.inner.seek(to)?;
                self.pos = p;
                self.synced = true;
                return Ok(p);
            }
        };
        let target = target.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start")
        })?;
        if target != self.pos {
            self.pos = target;
            self.synced = false;
        }
        Ok(self.pos)
    }
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Pixel types [`write_frame_tiff`] can write.
pub trait TiffPixel: Pixel {
    #[doc(hidden)]
    fn write(encoder: &mut TiffFileEncoder, width: u32, height: u32, data: &[Self]) -> WriteResult;
}

#[doc(hidden)]
pub type TiffFileEncoder = ::tiff::encoder::TiffEncoder<std::io::BufWriter<File>>;
#[doc(hidden)]
pub type WriteResult = ::tiff::TiffResult<()>;

macro_rules! tiff_pixel {
    ($($t:ty => $c:ident),*) => {$(
        impl TiffPixel for $t {
            fn write(encoder: &mut TiffFileEncoder, width: u32, height: u32, data: &[Self]) -> WriteResult {
                encoder.write_image::<::tiff::encoder::colortype::$c>(width, height, data)
            }
        }
    )*};
}
tiff_pixel!(u8 => Gray8, u16 => Gray16, u32 => Gray32, i16 => GrayI16, i32 => GrayI32,
            f32 => Gray32Float, f64 => Gray64Float);

/// Writes one greyscale frame (`shape` = `[rows, cols]`, row-major) as an uncompressed TIFF.
pub fn write_frame_tiff<T: TiffPixel>(path: &Path, frame: &[T], shape: [usize; 2]) -> Result<()> {
    write_pages_tiff(path, std::iter::once(frame), shape)
}

/// Writes frames as the pages of one uncompressed greyscale TIFF.
pub fn write_pages_tiff<'f, T: TiffPixel>(
    path: &Path,
    frames: impl IntoIterator<Item = &'f [T]>,
    shape: [usize; 2],
) -> Result<()> {
    let [rows, cols] = shape;
    let (Ok(height), Ok(width)) = (u32::try_from(rows), u32::try_from(cols)) else {
        return Err(Error::invalid(format!(
            "frame shape {rows}x{cols} is too large for TIFF"
        )));
    };
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    let mut encoder = ::tiff::encoder::TiffEncoder::new(std::io::BufWriter::new(file))
        .map_err(|e| Error::format(path, format!("cannot write TIFF: {e}")))?;
    for frame in frames {
        if frame.len() != rows * cols {
            return Err(Error::invalid(format!(
                "frame has {} pixels, not {rows}x{cols}",
                frame.len()
            )));
        }
        T::write(&mut encoder, width, height, frame)
            .map_err(|e| Error::format(path, format!("cannot write TIFF: {e}")))?;
    }
    Ok(())
}

/// Writes a scan as a TIFF folder in the paper's layout: one file per scan position named
/// `{prefix}{index:05}.tif` (zero-padded, row-major), all `frame_shape`. `frames` holds the frames
/// one after another. Returns the paths written.
pub fn write_tiff_folder<T: TiffPixel>(
    dir: &Path,
    prefix: &str,
    frames: &[T],
    frame_shape: [usize; 2],
) -> Result<Vec<PathBuf>> {
    let len = frame_shape[0] * frame_shape[1];
    if len == 0 || !frames.len().is_multiple_of(len) {
        return Err(Error::invalid(format!(
            "{} pixels are not a whole number of {}x{} frames",
            frames.len(),
            frame_shape[0],
            frame_shape[1]
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let width = (frames.len() / len)
        .saturating_sub(1)
        .to_string()
        .len()
        .max(5);
    frames
        .par_chunks(len)
        .enumerate()
        .map(|(i, frame)| {
            let path = dir.join(format!("{prefix}{i:0width$}.tif"));
            write_frame_tiff(&path, frame, frame_shape)?;
            Ok(path)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        let mut names = vec!["img_10", "img_2", "img_1", "IMG_3", "img_02", "a", "img_1b"];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            ["a", "img_1", "img_1b", "img_02", "img_2", "IMG_3", "img_10"]
        );
        assert_eq!(natural_cmp("r2_c10", "r10_c2"), Ordering::Less);
        assert_eq!(natural_cmp("r2_c10", "r2_c9"), Ordering::Greater);
        assert_eq!(natural_cmp("x", "x"), Ordering::Equal);
        assert_eq!(
            natural_cmp("frame_00099", "frame_00100"),
            "frame_00099".cmp("frame_00100")
        );
    }

    #[test]
    fn magic_and_extension() {
        assert!(is_tiff_magic(b"II*\0\x08\0\0\0"));
        assert!(is_tiff_magic(b"MM\0*"));
        assert!(is_tiff_magic(b"II+\0"));
        assert!(is_tiff_magic(b"MM\0+"));
        assert!(!is_tiff_magic(b"II"));
        assert!(!is_tiff_magic(b"\x93NUMPY"));
        assert!(has_tiff_extension(Path::new("a/b.TIF")));
        assert!(has_tiff_extension(Path::new("b.tiff")));
        assert!(!has_tiff_extension(Path::new("b.tif.meta.json")));
    }

    #[test]
    fn square_shapes() {
        assert_eq!(square_shape(16384), Some([128, 128]));
        assert_eq!(square_shape(1), Some([1, 1]));
        assert_eq!(square_shape(12), None);
    }

    #[test]
    fn fixed_strides() {
        assert_eq!(fixed_stride(&[8], 100), Some(100));
        assert_eq!(fixed_stride(&[8, 200, 392], 100), Some(192));
        assert_eq!(fixed_stride(&[8, 200, 393], 100), None);
        assert_eq!(fixed_stride(&[8, 50], 100), None);
        assert_eq!(fixed_stride(&[50, 8], 100), None);
    }
}

#[cfg(test)]
mod layout_tests {
    use super::*;

    fn data(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/data/tiff")
            .join(name)
    }

    /// Uncompressed stacks from tifffile are memory-mapped; compressed and tiled ones decoded.
    #[test]
    fn uncompressed_stacks_take_the_mapped_path() {
        for (name, mapped) in [
            ("pages_f32.tif", true),
            ("pages_be_i16.tif", true),
            ("pages_bigtiff_u16.tif", true),
            ("pages_4d_u16.tif", true),
            ("single_u32.tif", true),
            ("pages_u8_lzw.tif", false),
            ("pages_tiled_u16.tif", false),
        ] {
            let index = index_pages(&data(name)).unwrap();
            let offsets: Option<Vec<u64>> = index.raw_offsets.iter().copied().collect();
            let stride = offsets.and_then(|o| fixed_stride(&o, index.info.bytes()));
            assert_eq!(stride.is_some(), mapped, "{name}");
        }
    }
}
