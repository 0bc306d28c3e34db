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

    fn release(&self, first: usize, count: usize) {
        // Each part releases its share of the range.
        let end = first + count;
        for (part, (&start, p)) in self.starts.iter().zip(&self.parts).enumerate() {
            let stop = self
                .starts
                .get(part + 1)
                .copied()
                .unwrap_or(start + p.frame_count());
            let (lo, hi) = (first.max(start), end.min(stop));
            if lo < hi {
                p.release(lo - start, hi - lo);
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::{FrameBuffer, FrameRef};
    use std::sync::Mutex;

    /// A part that records what it is asked to release.
    struct Part {
        count: usize,
        released: Mutex<Vec<(usize, usize)>>,
    }

    impl FrameSource for std::sync::Arc<Part> {
        fn dtype(&self) -> DType {
            DType::U8
        }
        fn frame_count(&self) -> usize {
            self.count
        }
        fn frame_shape(&self) -> [usize; 2] {
            [1, 1]
        }
        fn frame<'a>(&'a self, _: usize, scratch: &'a mut FrameBuffer) -> Result<FrameRef<'a>> {
            Ok(scratch.decode(DType::U8, crate::scan::Endian::Little, &[0]))
        }
        fn release(&self, first: usize, count: usize) {
            self.released.lock().unwrap().push((first, count));
        }
    }

    #[test]
    fn a_release_across_parts_reaches_each_part_in_its_own_indices() {
        let parts: Vec<_> = [5, 3, 4]
            .map(|count| {
                std::sync::Arc::new(Part {
                    count,
                    released: Mutex::default(),
                })
            })
            .into();
        let boxed = parts
            .iter()
            .map(|p| Box::new(p.clone()) as Box<dyn FrameSource>)
            .collect();
        let paths = vec![PathBuf::from("a"), PathBuf::from("b"), PathBuf::from("c")];
        let series = SeriesFrames::new(&paths, boxed).unwrap();
        // Frames 3..10: the last two of part 0, all of part 1, the first two of part 2.
        series.release(3, 7);
        let got: Vec<_> = parts
            .iter()
            .map(|p| p.released.lock().unwrap().clone())
            .collect();
        assert_eq!(got, vec![vec![(3, 2)], vec![(0, 3)], vec![(0, 2)]]);
    }
}
