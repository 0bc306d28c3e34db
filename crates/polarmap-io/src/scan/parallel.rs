//! Parallel passes over frames: the one place where frames are spread over threads, each with its
//! own scratch buffer, with progress reported and cancellation checked between small batches.

use super::{FrameBuffer, FrameRef, Scan};
use crate::error::{Error, Result};
use crate::progress::Progress;
use rayon::prelude::*;

/// Frames per unit of parallel work: large enough to amortise scheduling, small enough to
/// balance two cores and to react to cancellation within milliseconds.
const BATCH: usize = 16;

impl Scan {
    /// Folds the frames at `indices` in parallel: `fold` adds one frame to a per-thread
    /// accumulator made by `init`; `combine` merges accumulators. Starts a progress stage
    /// `stage`; returns `Err(Cancelled)` once `progress` is cancelled.
    pub fn fold_frames<A, I, F, C>(
        &self,
        indices: &[usize],
        stage: &str,
        progress: &Progress,
        init: I,
        fold: F,
        combine: C,
    ) -> Result<A>
    where
        A: Send,
        I: Fn() -> A + Sync + Send,
        F: Fn(&mut A, usize, FrameRef) -> Result<()> + Sync + Send,
        C: Fn(A, A) -> A + Sync + Send,
    {
        progress.start(stage, indices.len() as u64);
        if indices.len() == self.n_frames() {
            self.advise_sequential();
        }
        indices
            .par_chunks(BATCH)
            .try_fold(
                || (FrameBuffer::new(), init()),
                |(mut scratch, mut acc), batch| {
                    progress.check()?;
                    for &index in batch {
                        let frame = self.frame(index, &mut scratch)?;
                        fold(&mut acc, index, frame)?;
                    }
                    progress.advance(batch.len() as u64);
                    Ok::<_, Error>((scratch, acc))
                },
            )
            .map(|r| r.map(|(_, acc)| acc))
            .try_reduce(&init, |a, b| Ok(combine(a, b)))
    }

    /// Maps every frame to a value in parallel, returning values in frame order.
    pub fn map_frames<R, F>(&self, stage: &str, progress: &Progress, map: F) -> Result<Vec<R>>
    where
        R: Send + Default + Clone,
        F: Fn(usize, FrameRef) -> Result<R> + Sync + Send,
    {
        let n = self.n_frames();
        progress.start(stage, n as u64);
        self.advise_sequential();
        let mut out = vec![R::default(); n];
        out.par_chunks_mut(BATCH).enumerate().try_for_each_init(
            FrameBuffer::new,
            |scratch, (batch, slots)| {
                progress.check()?;
                for (k, slot) in slots.iter_mut().enumerate() {
                    let index = batch * BATCH + k;
                    *slot = map(index, self.frame(index, scratch)?)?;
                }
                self.release(batch * BATCH, slots.len());
                progress.advance(slots.len() as u64);
                Ok::<_, Error>(())
            },
        )?;
        Ok(out)
    }

    /// The error for a frame with NaN or infinite values, naming the file and scan position.
    pub fn non_finite_error(&self, index: usize) -> Error {
        let cols = self.scan_shape()[1];
        Error::format(
            self.path(),
            format!(
                "pattern at scan position ({}, {}) contains NaN or infinite values",
                index / cols,
                index % cols
            ),
        )
    }
}
