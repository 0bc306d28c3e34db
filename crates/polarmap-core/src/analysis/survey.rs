//! A quick look at a scan from a sample of its frames: mean pattern, BF disk and the paper's
//! global CoM. Reads at most a few hundred frames, so it answers in well under a second on any
//! scan size. The global CoM (a percentile per frame, the costliest part) is measured on first
//! use: `polarmap com` with its default plane descan never needs it.

use super::{detect_bf_disk, mean_pattern, paper_global_com, sample_indices, BfDisk};
use crate::error::Result;
use crate::progress::Progress;
use crate::scan::Scan;
use ndarray::Array2;
use serde::Serialize;

#[derive(Debug, Clone)]
pub struct Survey {
    pub mean_pattern: Array2<f64>,
    /// The BF disk of the mean pattern, or why none was found (e.g. a dark-field-only pattern).
    pub bf_disk: std::result::Result<BfDisk, String>,
    /// How many frames the mean pattern and global CoM are taken from.
    pub frames_sampled: usize,
    max_frames: Option<usize>,
    global_com: std::sync::OnceLock<[f64; 2]>,
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
        let bf_disk = detect_bf_disk(&mean).map_err(|e| e.to_string());
        Ok(Survey {
            mean_pattern: mean,
            bf_disk,
            frames_sampled: indices.len(),
            max_frames,
            global_com: Default::default(),
        })
    }

    /// The paper's global CoM (row, col) in detector pixels, over the survey's frames of `scan`
    /// (the scan this survey was made of), measured on the first call.
    pub fn global_com(&self, scan: &Scan, progress: &Progress) -> Result<[f64; 2]> {
        if let Some(com) = self.global_com.get() {
            return Ok(*com);
        }
        let com = paper_global_com(scan, self.max_frames, progress)?;
        Ok(*self.global_com.get_or_init(|| com))
    }

    /// The BF disk, or an error naming the file and why it was not found.
    pub fn require_disk(&self, scan: &Scan) -> Result<BfDisk> {
        self.bf_disk.clone().map_err(|why| {
            crate::Error::format(
                scan.path(),
                format!("cannot find the bright-field disk: {why}"),
            )
        })
    }

    /// The descan as the paper defines it: global CoM minus array centre.
    pub fn descan_offset(&self, global_com: [f64; 2]) -> Offset {
        let (rows, cols) = self.mean_pattern.dim();
        Offset {
            row: global_com[0] - (rows as f64 - 1.0) / 2.0,
            col: global_com[1] - (cols as f64 - 1.0) / 2.0,
        }
    }
}
