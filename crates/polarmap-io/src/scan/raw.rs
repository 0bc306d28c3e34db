//! Raw binary frames: a layout given by the sidecar or the command line (dtype, frame shape,
//! byte order, a file header, and header/footer bytes around each frame).

use super::mapped::{FrameLayout, MappedFrames};
use super::{DType, Endian, Opened};
use crate::error::{Error, Result};
use std::path::Path;

#[derive(Debug, Clone, PartialEq)]
pub struct RawLayout {
    pub dtype: DType,
    /// `[rows, cols]` of the pixels of one frame (without footer rows).
    pub frame_shape: [usize; 2],
    pub endian: Endian,
    /// Bytes before the first frame.
    pub header_bytes: usize,
    /// Bytes before each frame's pixels.
    pub frame_header_bytes: usize,
    /// Bytes after each frame's pixels.
    pub frame_footer_bytes: usize,
}

impl RawLayout {
    /// EMPAD: 128×130 float32 frames whose last 2 rows are a metadata footer.
    pub fn empad() -> RawLayout {
        RawLayout {
            dtype: DType::F32,
            frame_shape: [128, 128],
            endian: Endian::Little,
            header_bytes: 0,
            frame_header_bytes: 0,
            frame_footer_bytes: 2 * 128 * 4,
        }
    }

    fn stride(&self) -> usize {
        self.frame_header_bytes
            + self.frame_shape[0] * self.frame_shape[1] * self.dtype.size()
            + self.frame_footer_bytes
    }
}

pub fn open(path: &Path, layout: &RawLayout) -> Result<Opened> {
    let len = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len() as usize;
    let [rows, cols] = layout.frame_shape;
    if rows == 0 || cols == 0 {
        return Err(Error::format(
            path,
            format!("raw frame shape {rows}x{cols} is empty"),
        ));
    }
    let stride = layout.stride();
    let body = len.checked_sub(layout.header_bytes).ok_or_else(|| {
        Error::format(
            path,
            format!(
                "file has {len} bytes, less than its {}-byte header",
                layout.header_bytes
            ),
        )
    })?;
    if body % stride != 0 {
        return Err(Error::format(
            path,
            format!(
                "file size {len} is not the {}-byte header plus a whole number of {stride}-byte \
                 frames ({rows}x{cols} {} with {}+{} bytes around each): truncated, or wrong layout",
                layout.header_bytes, layout.dtype, layout.frame_header_bytes, layout.frame_footer_bytes
            ),
        ));
    }
    let frames = MappedFrames::open(
        path,
        FrameLayout {
            dtype: layout.dtype,
            endian: layout.endian,
            frame_shape: layout.frame_shape,
            first_offset: layout.header_bytes + layout.frame_header_bytes,
            stride,
            count: body / stride,
        },
    )?;
    Ok(Opened::new("raw", frames))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::{open_with, OpenOptions};

    #[test]
    fn empad_footer_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scan_x2_y3.raw");
        let mut bytes = Vec::new();
        for frame in 0..6u32 {
            for px in 0..128 * 130u32 {
                let row = px / 128;
                let v = if row >= 128 {
                    -1.0f32
                } else {
                    (frame * 1000 + px) as f32
                };
                bytes.extend_from_slice(&v.to_le_bytes());
            }
        }
        std::fs::write(&path, &bytes).unwrap();
        let options = OpenOptions {
            scan_shape: Some([3, 2]),
            raw: Some(RawLayout::empad()),
            ..Default::default()
        };
        let scan = open_with(&path, &options).unwrap();
        assert_eq!(scan.shape(), [3, 2, 128, 128]);
        let f = scan.frame_f32(2, 1).unwrap();
        assert_eq!(f[0], 5000.0);
        assert_eq!(f[128 * 128 - 1], (5000 + 128 * 128 - 1) as f32);
        assert!(f.iter().all(|&v| v >= 0.0), "footer leaked into the frame");
    }

    #[test]
    fn size_mismatch_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.raw");
        std::fs::write(&path, vec![0u8; 100]).unwrap();
        let layout = RawLayout {
            dtype: DType::U16,
            frame_shape: [4, 4],
            endian: Endian::Big,
            header_bytes: 0,
            frame_header_bytes: 0,
            frame_footer_bytes: 0,
        };
        let err = open(&path, &layout).err().unwrap().to_string();
        assert!(err.contains("bad.raw") && err.contains("100"), "{err}");
    }

    #[test]
    fn big_endian_with_frame_headers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("be.bin");
        let mut bytes = vec![0xAAu8; 7]; // file header
        for frame in 0..4u16 {
            bytes.extend_from_slice(&[0xEE; 3]); // per-frame header
            for px in 0..6u16 {
                bytes.extend_from_slice(&(frame * 100 + px).to_be_bytes());
            }
        }
        std::fs::write(&path, &bytes).unwrap();
        let options = OpenOptions {
            raw: Some(RawLayout {
                dtype: DType::U16,
                frame_shape: [2, 3],
                endian: Endian::Big,
                header_bytes: 7,
                frame_header_bytes: 3,
                frame_footer_bytes: 0,
            }),
            ..Default::default()
        };
        let scan = open_with(&path, &options).unwrap();
        assert_eq!(scan.shape(), [1, 4, 2, 3]);
        assert_eq!(
            scan.frame_f32(0, 3).unwrap(),
            vec![300., 301., 302., 303., 304., 305.]
        );
    }
}
