//! Frames laid out at a fixed stride in one file, read through a memory map. Used by every
//! reader whose frames are stored uncompressed (npy, raw, Merlin, blockfile...): frames in native
//! byte order and alignment are returned without a copy; others are byte-swapped per frame.

use super::{DType, Endian, FrameBuffer, FrameRef, FrameSource};
use crate::error::{Error, Result};
use memmap2::Mmap;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct MappedFrames {
    path: PathBuf,
    map: Mmap,
    dtype: DType,
    endian: Endian,
    frame_shape: [usize; 2],
    first_offset: usize,
    stride: usize,
    count: usize,
}

/// Where the frames lie in the file.
#[derive(Debug, Clone, Copy)]
pub struct FrameLayout {
    pub dtype: DType,
    pub endian: Endian,
    pub frame_shape: [usize; 2],
    /// Byte offset of the first pixel of frame 0.
    pub first_offset: usize,
    /// Bytes from the first pixel of one frame to the first pixel of the next.
    pub stride: usize,
    pub count: usize,
}

impl FrameLayout {
    /// Bytes of one frame's pixels, or None on overflow.
    pub fn frame_bytes(&self) -> Option<usize> {
        self.frame_shape[0]
            .checked_mul(self.frame_shape[1])?
            .checked_mul(self.dtype.size())
    }

    /// Bytes the file must have to hold every frame, or None on overflow.
    pub fn required_len(&self) -> Option<usize> {
        if self.count == 0 {
            return Some(self.first_offset);
        }
        (self.count - 1)
            .checked_mul(self.stride)?
            .checked_add(self.first_offset)?
            .checked_add(self.frame_bytes()?)
    }
}

impl MappedFrames {
    /// Maps `path` and checks that it is long enough for `layout`.
    pub fn open(path: &Path, layout: FrameLayout) -> Result<MappedFrames> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        // SAFETY: the map is read-only; a file shrunk by another process while mapped can fault,
        // which every memory-mapping reader (NumPy's memmap included) accepts.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        Self::from_map(path, map, layout)
    }

    /// Frames of `layout` in an existing map of `path` (a reader that has mapped the file to
    /// parse its headers hands its map over: a second map of the same file would double the
    /// kernel's page-table work on every pass). Checks that the map is long enough.
    pub fn from_map(path: &Path, map: Mmap, layout: FrameLayout) -> Result<MappedFrames> {
        let len = map.len();
        let overflow = || {
            Error::format(
                path,
                format!(
                    "the declared layout ({} frames of {}x{} {} at a {}-byte stride from byte {}) \
                     overflows the address space",
                    layout.count,
                    layout.frame_shape[0],
                    layout.frame_shape[1],
                    layout.dtype,
                    layout.stride,
                    layout.first_offset
                ),
            )
        };
        let frame_bytes = layout.frame_bytes().ok_or_else(overflow)?;
        let required = layout.required_len().ok_or_else(overflow)?;
        if layout.stride < frame_bytes {
            return Err(Error::format(
                path,
                format!(
                    "frame stride {} bytes is smaller than a frame ({frame_bytes} bytes)",
                    layout.stride,
                ),
            ));
        }
        if len < required {
            return Err(Error::format(
                path,
                format!(
                    "file is truncated: {} frames of {}x{} {} need {required} bytes, the file has {len}",
                    layout.count, layout.frame_shape[0], layout.frame_shape[1], layout.dtype
                ),
            ));
        }
        Ok(MappedFrames {
            path: path.to_path_buf(),
            map,
            dtype: layout.dtype,
            endian: layout.endian,
            frame_shape: layout.frame_shape,
            first_offset: layout.first_offset,
            stride: layout.stride,
            count: layout.count,
        })
    }

    /// The whole mapped file.
    pub fn file_bytes(&self) -> &[u8] {
        &self.map
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The raw bytes of frame `index` as stored.
    pub fn frame_bytes(&self, index: usize) -> &[u8] {
        let start = self.first_offset + index * self.stride;
        &self.map[start..start + self.frame_len()]
    }

    /// Bytes of one frame's pixels (checked against overflow when the layout was accepted).
    fn frame_len(&self) -> usize {
        self.frame_shape[0] * self.frame_shape[1] * self.dtype.size()
    }
}

impl FrameSource for MappedFrames {
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
        let bytes = self.frame_bytes(index);
        let aligned = (bytes.as_ptr() as usize).is_multiple_of(self.dtype.size());
        if aligned && self.endian.is_native() {
            return Ok(FrameRef::from_aligned_bytes(self.dtype, bytes));
        }
        // Other byte orders are swapped into the scratch buffer: measured faster than
        // converting in place while summing (the swap of an L2-resident copy vectorises).
        Ok(scratch.decode(self.dtype, self.endian, bytes))
    }

    fn advise_sequential(&self) {
        // Only a hint; failure changes nothing but speed.
        #[cfg(unix)]
        let _ = self.map.advise(memmap2::Advice::Sequential);
    }

    fn release(&self, first: usize, count: usize) {
        let Some(last) = (first + count).checked_sub(1).filter(|&l| l < self.count) else {
            return;
        };
        // Whole pages inside the frames only: a page shared with a neighbouring frame may still
        // be in use by another thread (dropping it would only cost a re-fault, not correctness).
        const PAGE: usize = 4096;
        let start = (self.first_offset + first * self.stride).next_multiple_of(PAGE);
        let end = (self.first_offset + last * self.stride + self.frame_len()) / PAGE * PAGE;
        if end > start {
            // SAFETY: the map is a read-only shared map of a file: MADV_DONTNEED drops page-table
            // entries only, and the next read of those pages faults them back in from the page
            // cache with the same contents. Only a hint: failure changes nothing but speed.
            #[cfg(unix)]
            let _ = unsafe {
                self.map.unchecked_advise_range(
                    memmap2::UncheckedAdvice::DontNeed,
                    start,
                    end - start,
                )
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn released_frames_read_back_unchanged() {
        // 8 KiB frames after a 100-byte header: releases cover whole pages inside frames only.
        let frame_len = 64 * 64;
        let mut file = tempfile::NamedTempFile::new().unwrap();
        let header = vec![7u8; 100];
        let pixels: Vec<u16> = (0..4 * frame_len).map(|i| (i * 7 % 65521) as u16).collect();
        file.write_all(&header).unwrap();
        file.write_all(bytemuck::cast_slice(&pixels)).unwrap();
        file.flush().unwrap();
        let frames = MappedFrames::open(
            file.path(),
            FrameLayout {
                dtype: DType::U16,
                endian: Endian::Little,
                frame_shape: [64, 64],
                first_offset: 100,
                stride: frame_len * 2,
                count: 4,
            },
        )
        .unwrap();
        let read = |i: usize| frames.frame_bytes(i).to_vec();
        let before: Vec<_> = (0..4).map(read).collect();
        frames.release(0, 3);
        frames.release(3, 5); // past the end: ignored
        for (i, expected) in before.iter().enumerate() {
            assert_eq!(&read(i), expected, "frame {i}");
            let start = 100 + i * frame_len * 2;
            let file_bytes = &std::fs::read(file.path()).unwrap()[start..start + frame_len * 2];
            assert_eq!(&read(i), file_bytes, "frame {i} against the file");
        }
    }
}
