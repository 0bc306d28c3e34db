//! Per-pixel detector corrections a file describes: a mask of unusable pixels (dead, cold, hot,
//! noisy, gaps between chips) and a flatfield (per-pixel gain factors).
//!
//! polarmap's rule, the same for every consumer of the frames (mean pattern, CoM, virtual
//! detectors, model input, views): **a masked pixel reads as 0**. For the centre of mass and any
//! detector sum that is the same as leaving the pixel out (it adds nothing to the numerator or the
//! denominator), and it is the only value that is right whether the detector applied its mask or
//! not: an unapplied mask leaves the raw (possibly hot) counts in place, and an applied one writes
//! the type's maximum (e.g. 4 294 967 295 in uint32 frames), either of which would dominate a
//! CoM. The pixels are not filled from their neighbours: polarmap does not invent counts.
//!
//! A flatfield the detector has not applied is applied here (frames multiplied by it, read as
//! float32); one it has applied, or one that is 1 everywhere, leaves the frames in their stored
//! type. A flatfield factor that is not a finite positive number masks its pixel.

use super::{DType, FrameBuffer, FrameRef, Pixel};
use serde::Serialize;

/// What was found in the file and what polarmap does with it (reported by `polarmap info`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Corrections {
    /// Pixels that read as 0: flagged in the mask (any non-zero value), or with an unusable
    /// flatfield factor.
    pub masked_pixels: usize,
    /// Whether the detector had already applied the mask (its flagged pixels then hold the type's
    /// maximum value on disk); `None` when the file does not say.
    pub mask_applied_by_detector: Option<bool>,
    /// Whether polarmap multiplies the frames by the file's flatfield (the detector had not).
    pub flatfield_applied_here: bool,
    /// Whether the file has a flatfield (applied or not, 1 everywhere or not).
    pub flatfield_in_file: bool,
    /// Whether the detector had already applied the flatfield; `None` when the file has none or
    /// does not say.
    pub flatfield_applied_by_detector: Option<bool>,
    /// Anything in the file's corrections polarmap could not use, in words.
    pub notes: Vec<String>,
}

/// The corrections, rasterised for the frame loop.
#[derive(Debug, Clone)]
pub(crate) struct PixelCorrection {
    /// Flat indices of the pixels that read as 0, ascending.
    excluded: Vec<usize>,
    /// Gain per pixel, when the frames are to be multiplied by the flatfield.
    gain: Option<Vec<f32>>,
    pub(crate) info: Corrections,
}

impl PixelCorrection {
    /// `mask`: the detector's pixel mask (non-zero = unusable); `flatfield` with whether the
    /// detector applied it. Both have the frames' pixel count (the caller checks the shapes).
    pub(crate) fn new(
        mask: Option<&[f64]>,
        mask_applied: Option<bool>,
        flatfield: Option<&[f64]>,
        flatfield_applied: Option<bool>,
        mut notes: Vec<String>,
    ) -> PixelCorrection {
        let mut excluded: Vec<usize> = mask
            .map(|m| {
                m.iter()
                    .enumerate()
                    .filter(|(_, &v)| v != 0.0)
                    .map(|(i, _)| i)
                    .collect()
            })
            .unwrap_or_default();
        let mut gain = None;
        if let Some(ff) = flatfield {
            if flatfield_applied == Some(true) {
                // Already in the counts.
            } else if ff.iter().all(|&g| g == 1.0) {
                // A unit flatfield changes nothing; keep the stored type.
            } else {
                if flatfield_applied.is_none() {
                    notes.push(
                        "the file does not say whether its flatfield was applied: applied here"
                            .into(),
                    );
                }
                let mut bad = Vec::new();
                let g: Vec<f32> = ff
                    .iter()
                    .enumerate()
                    .map(|(i, &g)| {
                        let f = g as f32;
                        if f.is_finite() && f > 0.0 {
                            f
                        } else {
                            bad.push(i);
                            0.0
                        }
                    })
                    .collect();
                excluded.extend(bad);
                excluded.sort_unstable();
                excluded.dedup();
                gain = Some(g);
            }
        }
        let info = Corrections {
            masked_pixels: excluded.len(),
            mask_applied_by_detector: mask.and(mask_applied),
            flatfield_applied_here: gain.is_some(),
            flatfield_in_file: flatfield.is_some(),
            flatfield_applied_by_detector: flatfield.and(flatfield_applied),
            notes,
        };
        PixelCorrection {
            excluded,
            gain,
            info,
        }
    }

    /// Whether the frames read as stored.
    pub(crate) fn is_identity(&self) -> bool {
        self.excluded.is_empty() && self.gain.is_none()
    }

    /// The pixel type of corrected frames of `stored` type.
    pub(crate) fn dtype(&self, stored: DType) -> DType {
        if self.gain.is_some() {
            DType::F32
        } else {
            stored
        }
    }

    /// Corrects one frame given as native-endian bytes of `stored` pixels, into `scratch`.
    pub(crate) fn apply<'a>(
        &self,
        stored: DType,
        native: &[u8],
        scratch: &'a mut FrameBuffer,
    ) -> FrameRef<'a> {
        match stored {
            DType::U8 => self.apply_typed::<u8>(native, scratch),
            DType::U16 => self.apply_typed::<u16>(native, scratch),
            DType::U32 => self.apply_typed::<u32>(native, scratch),
            DType::I16 => self.apply_typed::<i16>(native, scratch),
            DType::I32 => self.apply_typed::<i32>(native, scratch),
            DType::F32 => self.apply_typed::<f32>(native, scratch),
            DType::F64 => self.apply_typed::<f64>(native, scratch),
        }
    }

    fn apply_typed<'a, T: Pixel>(
        &self,
        native: &[u8],
        scratch: &'a mut FrameBuffer,
    ) -> FrameRef<'a> {
        let n = native.len() / std::mem::size_of::<T>();
        match &self.gain {
            Some(gain) => {
                let out = scratch.typed_mut::<f32>(n);
                let size = std::mem::size_of::<T>();
                for ((o, chunk), &g) in out.iter_mut().zip(native.chunks_exact(size)).zip(gain) {
                    *o = bytemuck::pod_read_unaligned::<T>(chunk).to_f32() * g;
                }
                for &i in &self.excluded {
                    out[i] = 0.0;
                }
                FrameRef::from_slice(out)
            }
            None => {
                let out = scratch.typed_mut::<T>(n);
                bytemuck::cast_slice_mut::<T, u8>(out).copy_from_slice(native);
                for &i in &self.excluded {
                    out[i] = bytemuck::Zeroable::zeroed();
                }
                FrameRef::from_slice(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes<T: Pixel>(v: &[T]) -> Vec<u8> {
        bytemuck::cast_slice(v).to_vec()
    }

    #[test]
    fn masked_pixels_read_zero_in_the_stored_type() {
        let mask = [0.0, 1.0, 0.0, 8.0];
        let c = PixelCorrection::new(
            Some(&mask),
            Some(true),
            Some(&[1.0; 4]),
            Some(false),
            vec![],
        );
        assert_eq!(c.info.masked_pixels, 2);
        assert!(!c.info.flatfield_applied_here);
        assert_eq!(c.dtype(DType::U32), DType::U32);
        let mut s = FrameBuffer::new();
        let f = c.apply(DType::U32, &bytes(&[5u32, u32::MAX, 7, u32::MAX]), &mut s);
        match f {
            FrameRef::U32(p) => assert_eq!(p, &[5, 0, 7, 0]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unapplied_flatfield_multiplies_and_bad_factors_mask() {
        let ff = [2.0, 0.5, f64::NAN, 1.0];
        let c = PixelCorrection::new(None, None, Some(&ff), Some(false), vec![]);
        assert_eq!(c.info.masked_pixels, 1);
        assert!(c.info.flatfield_applied_here);
        assert_eq!(c.dtype(DType::U16), DType::F32);
        let mut s = FrameBuffer::new();
        let f = c.apply(DType::U16, &bytes(&[3u16, 3, 3, 3]), &mut s);
        assert_eq!(f.to_f32_vec(), vec![6.0, 1.5, 0.0, 3.0]);
        // Applied by the detector: nothing to do.
        let c = PixelCorrection::new(None, None, Some(&ff), Some(true), vec![]);
        assert!(c.is_identity());
    }
}
