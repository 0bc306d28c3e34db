//! Several files read as one scan, one after the other (TVIPS `_000`, `_001`...; Merlin series).

use super::{DType, FrameBuffer, FrameRef, FrameSource};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Frame sources joined end to end; all share the pixel type and frame shape.
pub struct SeriesFrames {
    parts: Vec<Box<dyn FrameSource>>,
    /// Index of the first frame of each part, plus the total at the end.
    starts: Vec<usize>,
}

impl SeriesFrames {
    /// Joins `parts` (opened from `paths`, same order), checking that they agree.
    pub fn new(paths: &[PathBuf], parts: Vec<Box<dyn FrameSource>>) -> Result<SeriesFrames> {
        let first = parts
            .first()
            .ok_or_else(|| Error::invalid("a series needs at least one file"))?;
        let (dtype, shape) = (first.dtype(), first.frame_shape());
        let mut starts = vec![0];
        for (part, path) in parts.iter().zip(paths) {
            if part.dtype() != dtype || part.frame_shape() != shape {
                let [r, c] = part.frame_shape();
                return Err(Error::format(
                    path,
                    format!(
                        "holds {r}x{c} {} frames, but the first file of the series {} holds \
                         {}x{} {dtype}",
                        part.dtype(),
                        paths[0].display(),
                        shape[0],
                        shape[1]
                    ),
                ));
            }
            let total = starts.last().copied().unwrap_or(0) + part.frame_count();
            starts.push(total);
        }
        Ok(SeriesFrames { parts, starts })
    }
}

impl FrameSource for SeriesFrames {
    fn dtype(&self) -> DType {
        self.parts[0].dtype()
    }

    fn frame_count(&self) -> usize {
        *self.starts.last().expect("starts holds the total")
    }

    fn frame_shape(&self) -> [usize; 2] {
        self.parts[0].frame_shape()
    }

    fn frame<'a>(&'a self, index: usize, scratch: &'a mut FrameBuffer) -> Result<FrameRef<'a>> {
        // The part whose range holds `index`: the last start <= index.
        let part = self.starts.partition_point(|&s| s <= index) - 1;
        self.parts[part].frame(index - self.starts[part], scratch)
    }

    fn advise_sequential(&self) {
        for p in &self.parts {
            p.advise_sequential();
        }
    }
}

/// `stem` split into a prefix and a numeric suffix of `digits` digits after `sep`
/// (`scan_002` → `("scan_", 2)`), if it has one.
pub fn numbered_stem(stem: &str, digits: usize) -> Option<(&str, usize)> {
    let split = stem.len().checked_sub(digits)?;
    let (prefix, number) = (stem.get(..split)?, stem.get(split..)?);
    if !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((prefix, number.parse().ok()?))
}

/// The files `prefix{first:0digits}.ext`, `prefix{first+1}.ext`... beside `path` that exist,
/// in order, stopping at the first gap.
pub fn consecutive_files(path: &Path, prefix: &str, first: usize, digits: usize) -> Vec<PathBuf> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let dir = path.parent().unwrap_or(Path::new(""));
    (first..)
        .map(|i| dir.join(format!("{prefix}{i:0digits$}.{ext}")))
        .take_while(|p| p.is_file())
        .collect()
}
