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

    /// Bytes from one frame to the next (header, pixels, footer), or None on overflow.
    fn stride(&self) -> Option<usize> {
        self.frame_shape[0]
            .checked_mul(self.frame_shape[1])?
            .checked_mul(self.dtype.size())?
            .checked_add(self.frame_header_bytes)?
            .checked_add(self.frame_footer_bytes)
    }
}

pub fn open(path: &Path, layout: &RawLayout) -> Result<Opened> {
    let len = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    let len = usize::try_from(len)
        .map_err(|_| Error::format(path, "file is too large for this platform"))?;
    let [rows, cols] = layout.frame_shape;
    if rows == 0 || cols == 0 {
        return Err(Error::format(
            path,
            format!("raw frame shape {rows}x{cols} is empty"),
        ));
    }
    // Non-zero: the frame shape is not empty and every pixel type has a size.
    let stride = layout.stride().ok_or_else(|| {
        Error::format(
            path,
            format!(
                "raw layout overflows: {rows}x{cols} {} frames with {}+{} bytes around each are \
                 too large to address",
                layout.dtype, layout.frame_header_bytes, layout.frame_footer_bytes
            ),
        )
    })?;
    let first_offset = layout
        .header_bytes
        .checked_add(layout.frame_header_bytes)
        .ok_or_else(|| {
            Error::format(
                path,
                format!(
                    "raw layout overflows: a {}-byte file header plus a {}-byte frame header",
                    layout.header_bytes, layout.frame_header_bytes
                ),
            )
        })?;
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
            first_offset,
            stride,
            count: body / stride,
        },
    )?;
    Ok(Opened::new("raw", frames))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::{open_with, FrameBuffer, OpenOptions};

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

    /// Layouts whose sizes overflow are errors naming the file, decided without allocating.
    #[test]
    fn overflowing_layouts_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.raw");
        std::fs::write(&path, vec![0u8; 64]).unwrap();
        let base = RawLayout {
            dtype: DType::F64,
            frame_shape: [4, 2],
            endian: Endian::Little,
            header_bytes: 0,
            frame_header_bytes: 0,
            frame_footer_bytes: 0,
        };
        let cases = [
            RawLayout {
                frame_shape: [usize::MAX / 2, 3],
                ..base.clone()
            },
            RawLayout {
                frame_footer_bytes: usize::MAX - 10,
                ..base.clone()
            },
            RawLayout {
                header_bytes: usize::MAX - 1,
                frame_header_bytes: 8,
                ..base.clone()
            },
            RawLayout {
                header_bytes: usize::MAX,
                ..base.clone()
            },
        ];
        for layout in cases {
            let err = open(&path, &layout).err().unwrap().to_string();
            assert!(err.contains("o.raw"), "{layout:?}: {err}");
        }
        assert!(open(&path, &base).is_ok());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Fuzz smoke (`scripts/fuzz.sh` runs the libFuzzer target `raw_sidecar`): a sidecar
        /// whose numbers are replaced by any value, including ones that overflow, opens and
        /// reads as Ok or Err naming a file, never a panic.
        #[test]
        fn any_sidecar_layout_opens_or_errs(
            values in proptest::collection::vec(
                proptest::prop_oneof![0u64..40, proptest::prelude::any::<u64>()], 7),
            dtype in proptest::sample::select(vec!["u1", "u2", "i4", "f8", "c8", ""]),
            len in 0usize..300,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("p.raw");
            std::fs::write(&path, vec![7u8; len]).unwrap();
            let v = &values;
            std::fs::write(
                dir.path().join("p.meta.json"),
                format!(
                    r#"{{"dtype": "{dtype}", "frame_shape": [{}, {}], "scan_shape": [{}, {}],
                        "header_bytes": {}, "frame_header_bytes": {}, "frame_footer_bytes": {}}}"#,
                    v[0], v[1], v[2], v[3], v[4], v[5], v[6]
                ),
            )
            .unwrap();
            match open_with(&path, &OpenOptions::default()) {
                Ok(scan) => {
                    let mut buf = FrameBuffer::new();
                    for i in 0..scan.n_frames().min(8) {
                        let frame = scan.frame(i, &mut buf).unwrap();
                        proptest::prop_assert_eq!(frame.len(), scan.frame_len());
                    }
                }
                Err(e) => proptest::prop_assert!(e.to_string().contains(".raw")
                    || e.to_string().contains("p.meta.json"), "{}", e),
            }
        }
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
