//! A quick look at a scan from a sample of its frames: mean pattern, BF disk and the paper's
//! global CoM. Reads at most a few hundred frames, so it answers in well under a second on any
//! scan size.

use super::{detect_bf_disk, mean_pattern, paper_global_com, sample_indices, BfDisk};
use crate::error::Result;
use crate::progress::Progress;
use crate::scan::Scan;
use ndarray::Array2;
use serde::Serialize;

#[derive(Debug, Clone)]
pub struct Survey {
    pub mean_pattern: Array2<f64>,
    pub bf_disk: BfDisk,
    /// The paper's global CoM (row, col) in detector pixels.
    pub global_com: [f64; 2],
    /// How many frames the mean pattern and global CoM were taken from.
    pub frames_sampled: usize,
}

/// Offset of a position from the array centre ((n − 1) / 2 on each axis), in pixels.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Offset {
    pub row: f64,
    pub col: f64,
}

impl Survey {
    /// Surveys `scan` from at most `max_frames` evenly spaced frames (all when None).
    pub fn run(scan: &Scan, max_frames: Option<usize>, progress: &Progress) -> Result<Survey> {
        let indices = sample_indices(scan.n_frames(), max_frames);
        let mean = mean_pattern(scan, &indices, progress)?;
        let bf_disk = detect_bf_disk(&mean).map_err(|e| {
            crate::Error::format(
                scan.path(),
                format!("cannot find the bright-field disk: {e}"),
            )
        })?;
        let global_com = paper_global_com(scan, max_frames, progress)?;
        Ok(Survey {
            mean_pattern: mean,
            bf_disk,
            global_com,
            frames_sampled: indices.len(),
        })
    }

    /// The descan as the paper defines it: global CoM minus array centre.
    pub fn descan_offset(&self) -> Offset {
        let (rows, cols) = self.mean_pattern.dim();
        Offset {
            row: self.global_com[0] - (rows as f64 - 1.0) / 2.0,
            col: self.global_com[1] - (cols as f64 - 1.0) / 2.0,
        }
    }
}
