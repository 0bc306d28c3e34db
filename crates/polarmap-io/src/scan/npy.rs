//! NumPy `.npy` files (format versions 1–3), memory-mapped. Shapes: `(R, C, h, w)`, `(N, h, w)`
//! (no scan shape: reported as `[1, N, h, w]`) or a single frame `(h, w)`.

use super::mapped::{FrameLayout, MappedFrames};
use super::{DType, Endian, Opened};
use crate::error::{Error, Result};
use std::io::Read;
use std::path::Path;

pub const MAGIC: &[u8] = b"\x93NUMPY";

/// The parsed `.npy` header.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyHeader {
    pub dtype: DType,
    pub endian: Endian,
    pub fortran_order: bool,
    pub shape: Vec<usize>,
    /// Offset of the array data in the file.
    pub data_offset: usize,
}

/// Parses the header at the start of `bytes` (which must hold at least the whole header).
/// Where the header declared by the first bytes of a `.npy` file ends, if they say.
fn header_end(bytes: &[u8]) -> Option<usize> {
    match bytes.get(6)? {
        1 => Some(10 + u16::from_le_bytes([*bytes.get(8)?, *bytes.get(9)?]) as usize),
        2 | 3 => Some(12 + u32::from_le_bytes(bytes.get(8..12)?.try_into().ok()?) as usize),
        _ => None,
    }
}

pub fn parse_header(bytes: &[u8]) -> std::result::Result<NpyHeader, String> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("not a NumPy .npy file (bad magic)".into());
    }
    let major = bytes[6];
    let (len, start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err("header is truncated".into());
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => return Err(format!("unsupported .npy format version {v}")),
    };
    let end = start
        .checked_add(len)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| format!("header claims {len} bytes but the file is shorter"))?;
    let text = std::str::from_utf8(&bytes[start..end])
        .map_err(|_| "header is not valid text".to_string())?;
    let dict = parse_dict(text)?;
    let descr = dict
        .iter()
        .find(|(k, _)| k == "descr")
        .and_then(|(_, v)| v.as_str())
        .ok_or("header has no 'descr'")?;
    let fortran_order = match dict.iter().find(|(k, _)| k == "fortran_order") {
        Some((_, Value::Bool(b))) => *b,
        Some(_) => return Err("'fortran_order' is not True/False".into()),
        None => return Err("header has no 'fortran_order'".into()),
    };
    let shape = match dict.iter().find(|(k, _)| k == "shape") {
        Some((_, Value::Tuple(t))) => t.clone(),
        _ => return Err("header has no 'shape' tuple".into()),
    };
    let (dtype, endian) = parse_descr(descr)?;
    Ok(NpyHeader {
        dtype,
        endian,
        fortran_order,
        shape,
        data_offset: end,
    })
}

fn parse_descr(descr: &str) -> std::result::Result<(DType, Endian), String> {
    // The first character is the byte order (ASCII in any valid header; a multi-byte character
    // is simply not a valid order).
    let split = descr.chars().next().map_or(0, char::len_utf8);
    let (order, code) = descr.split_at(split);
    let endian = match order {
        "<" | "|" => Endian::Little,
        ">" => Endian::Big,
        "=" => {
            if cfg!(target_endian = "little") {
                Endian::Little
            } else {
                Endian::Big
            }
        }
        _ => return Err(format!("unsupported dtype '{descr}'")),
    };
    let dtype = DType::parse(code).ok_or_else(|| {
        format!("unsupported dtype '{descr}': polarmap reads u1, u2, u4, i2, i4, f4, f8")
    })?;
    Ok((dtype, endian))
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Str(String),
    Bool(bool),
    Tuple(Vec<usize>),
}

impl Value {
    fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Parses the Python dict literal NumPy writes: string keys; values are strings, booleans or
/// tuples of integers.
fn parse_dict(text: &str) -> std::result::Result<Vec<(String, Value)>, String> {
    let body = text
        .trim()
        .strip_prefix('{')
        .and_then(|t| t.trim_end().strip_suffix('}'))
        .ok_or("header is not a dict literal")?;
    let mut rest = body.trim();
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (key, after) = parse_string(rest)?;
        rest = after
            .trim_start()
            .strip_prefix(':')
            .ok_or("expected ':' in header")?
            .trim_start();
        let value;
        if rest.starts_with('\'') || rest.starts_with('"') {
            let (s, after) = parse_string(rest)?;
            value = Value::Str(s);
            rest = after;
        } else if let Some(after) = rest.strip_prefix("True") {
            value = Value::Bool(true);
            rest = after;
        } else if let Some(after) = rest.strip_prefix("False") {
            value = Value::Bool(false);
            rest = after;
        } else if let Some(after) = rest.strip_prefix('(') {
            let close = after.find(')').ok_or("unclosed tuple in header")?;
            let dims = after[..close]
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.trim_end_matches('L')
                        .parse::<usize>()
                        .map_err(|_| format!("bad dimension '{s}' in shape"))
                })
                .collect::<std::result::Result<Vec<_>, _>>()?;
            value = Value::Tuple(dims);
            rest = &after[close + 1..];
        } else {
            let near: String = rest.chars().take(20).collect();
            return Err(format!("unsupported value in header near '{near}'"));
        }
        out.push((key, value));
        rest = rest.trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    Ok(out)
}

fn parse_string(text: &str) -> std::result::Result<(String, &str), String> {
    let quote = text.chars().next().ok_or("expected a string in header")?;
    if quote != '\'' && quote != '"' {
        return Err("expected a quoted string in header".into());
    }
    let rest = &text[1..];
    let end = rest.find(quote).ok_or("unterminated string in header")?;
    Ok((rest[..end].to_string(), &rest[end + 1..]))
}

/// An array shape read as `(scan shape if known, frame count, frame shape)`.
type ScanLayout = (Option<[usize; 2]>, usize, [usize; 2]);

fn split_shape(shape: &[usize]) -> std::result::Result<ScanLayout, String> {
    match *shape {
        [r, c, h, w] => {
            let count = r
                .checked_mul(c)
                .ok_or_else(|| format!("array shape {shape:?} overflows: {r}x{c} scan positions"))?;
            Ok((Some([r, c]), count, [h, w]))
        }
        [n, h, w] => Ok((None, n, [h, w])),
        [h, w] => Ok((Some([1, 1]), 1, [h, w])),
        _ => Err(format!(
            "array has shape {shape:?}; a scan must be 4D (R, C, h, w), 3D (N, h, w) or one 2D frame"
        )),
    }
}

pub fn open(path: &Path) -> Result<Opened> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    // A header is usually 128 bytes: read a page, then the rest of a longer header (at most
    // 1 MiB; a longer one is reported as truncated by `parse_header`).
    let mut head = Vec::with_capacity(4096);
    (&mut file)
        .take(4096)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(path, e))?;
    if let Some(end) = header_end(&head).filter(|&end| end > head.len()) {
        (&mut file)
            .take((end.min(1 << 20) - head.len()) as u64)
            .read_to_end(&mut head)
            .map_err(|e| Error::io(path, e))?;
    }
    let header = parse_header(&head).map_err(|m| Error::format(path, m))?;
    if header.fortran_order && header.shape.iter().filter(|&&d| d > 1).count() > 1 {
        return Err(Error::format(
            path,
            "array is in Fortran order; polarmap reads C-ordered arrays \
             (save it with numpy.ascontiguousarray)",
        ));
    }
    let (scan_shape, count, frame_shape) =
        split_shape(&header.shape).map_err(|m| Error::format(path, m))?;
    let frame_bytes = frame_shape[0]
        .checked_mul(frame_shape[1])
        .and_then(|n| n.checked_mul(header.dtype.size()))
        .ok_or_else(|| {
            Error::format(
                path,
                format!(
                    "array shape {:?} overflows: {}x{} frames of {} are too large to address",
                    header.shape, frame_shape[0], frame_shape[1], header.dtype
                ),
            )
        })?;
    let frames = MappedFrames::open(
        path,
        FrameLayout {
            dtype: header.dtype,
            endian: header.endian,
            frame_shape,
            first_offset: header.data_offset,
            stride: frame_bytes,
            count,
        },
    )?;
    let mut opened = Opened::new("npy", frames);
    opened.scan_shape = scan_shape;
    Ok(opened)
}

/// Writes a C-ordered little-endian `.npy` header for `shape` and `dtype`, padded to 64 bytes.
pub fn header_bytes(dtype: DType, shape: &[usize]) -> Vec<u8> {
    let code = match dtype {
        DType::U8 => "|u1",
        DType::U16 => "<u2",
        DType::U32 => "<u4",
        DType::I16 => "<i2",
        DType::I32 => "<i4",
        DType::F32 => "<f4",
        DType::F64 => "<f8",
    };
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_text = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut dict =
        format!("{{'descr': '{code}', 'fortran_order': False, 'shape': {shape_text}, }}");
    let unpadded = 10 + dict.len() + 1;
    dict.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    dict.push('\n');
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_numpy_written_header() {
        let head = header_bytes(DType::U16, &[128, 128, 256, 256]);
        assert_eq!(head.len() % 64, 0);
        let h = parse_header(&head).unwrap();
        assert_eq!(h.dtype, DType::U16);
        assert_eq!(h.endian, Endian::Little);
        assert!(!h.fortran_order);
        assert_eq!(h.shape, vec![128, 128, 256, 256]);
        assert_eq!(h.data_offset, head.len());
    }

    #[test]
    fn parses_big_endian_and_version_2() {
        let dict = "{'descr': '>f8', 'fortran_order': False, 'shape': (3, 4, 5), }\n";
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[2, 0]);
        bytes.extend_from_slice(&(dict.len() as u32).to_le_bytes());
        bytes.extend_from_slice(dict.as_bytes());
        let h = parse_header(&bytes).unwrap();
        assert_eq!((h.dtype, h.endian), (DType::F64, Endian::Big));
        assert_eq!(h.shape, vec![3, 4, 5]);
    }

    #[test]
    fn rejects_unsupported_dtypes_clearly() {
        let dict = "{'descr': '<c8', 'fortran_order': False, 'shape': (2, 2), }";
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[1, 0]);
        bytes.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        bytes.extend_from_slice(dict.as_bytes());
        assert!(parse_header(&bytes).unwrap_err().contains("'<c8'"));
    }

    proptest! {
        // Any mutation of a valid header either parses or gives an error: never a panic.
        #[test]
        fn mutated_headers_never_panic(
            pos in 0usize..128, byte in any::<u8>(), cut in 0usize..140
        ) {
            let mut head = header_bytes(DType::F32, &[4, 4, 16, 16]);
            if pos < head.len() { head[pos] = byte; }
            head.truncate(cut.min(head.len()));
            let _ = parse_header(&head);
        }

        #[test]
        fn header_round_trips(dims in proptest::collection::vec(1usize..5000, 1..5)) {
            let h = parse_header(&header_bytes(DType::I32, &dims)).unwrap();
            prop_assert_eq!(h.shape, dims);
        }
    }
}
