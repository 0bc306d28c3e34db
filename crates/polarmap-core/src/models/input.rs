//! What a model sees of a pattern, and how a scan recorded differently from the training data is
//! brought to it: the pattern is centred (on the paper's global CoM, or on the BF disk) and, when
//! the scan's camera length differs from the training data's, resampled so that one input pixel
//! spans the same angle as in training. Then cropped to `size`×`size` and min-max normalised.

use crate::analysis::Survey;
use crate::error::{Error, Result};
use crate::preprocess::{paper_input, resampled_input};
use crate::progress::Progress;
use crate::scan::{FrameBuffer, Scan};
use ndarray::Array2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Where the crop is centred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Centring {
    /// The paper's global CoM: mean centroid of each pattern's brightest 5 % (descan-corrected).
    GlobalCom,
    /// The centre of the BF disk found in the mean pattern.
    BfDisk,
}

/// The input a model was trained on. Stored in the model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    /// Side of the square input image in pixels (the paper: 64).
    pub size: usize,
    pub centring: Centring,
    /// Detector angle per input pixel in the training data, when known.
    pub mrad_per_px: Option<f64>,
    /// BF disk radius in input pixels in the training data, when known. Used to match the scale
    /// of an uncalibrated scan, and as the fixed radius of [`Centring::BfDisk`] inputs.
    pub disk_radius_px: Option<f64>,
    /// Whether the crop follows the specimen tilt on every scan: the tilt the calibration
    /// states, or else the one [`super::tilt`] finds (calibrated scans; `polarmap calibrate
    /// --find-tilt` sets it). Off in older model files.
    #[serde(default)]
    pub find_tilt: bool,
}

impl InputSpec {
    /// The paper's input: 64×64 crop around the global CoM, at the training data's camera length.
    pub fn paper(mrad_per_px: Option<f64>, disk_radius_px: Option<f64>) -> InputSpec {
        InputSpec {
            size: crate::preprocess::PAPER_CROP,
            centring: Centring::GlobalCom,
            mrad_per_px,
            disk_radius_px,
            find_tilt: false,
        }
    }

    /// Values per pattern.
    pub fn len(&self) -> usize {
        self.size * self.size
    }

    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// How `scan` maps onto this input: centre from `survey`, scale from calibration (both
    /// mrad/px known) or else from the BF disk radius; 1 when neither is known.
    pub fn geometry(&self, scan: &Scan, survey: &Survey) -> Result<InputGeometry> {
        let [rows, cols] = scan.frame_shape();
        let disk = survey.bf_disk.as_ref().ok();
        let scale = match (self.mrad_per_px, scan.calibration.mrad_per_px, disk) {
            (Some(model), Some(data), _) => model / data,
            (_, _, Some(disk)) if self.disk_radius_px.is_some() => {
                disk.radius_px / self.disk_radius_px.unwrap_or(1.0)
            }
            _ => 1.0,
        };
        if !(scale.is_finite() && scale > 0.0) {
            return Err(Error::format(
                scan.path(),
                format!("cannot match the model's input scale (scale factor {scale})"),
            ));
        }
        let center = match self.centring {
            Centring::GlobalCom => survey.global_com(scan, &crate::progress::Progress::new())?,
            Centring::BfDisk => {
                let disk = survey.require_disk(scan)?;
                [disk.center_row, disk.center_col]
            }
        };
        // A stated tilt moves the crystal's pattern off the disk centre by the tilt angle; the
        // crop follows it (x right = columns, y up = minus rows).
        let center = match scan.calibration.tilt_mrad {
            Some([x, y]) => {
                let mrad_per_px = scan.calibration.mrad_per_px.ok_or_else(|| {
                    Error::format(
                        scan.path(),
                        "a stated tilt needs the detector calibration (mrad/px)",
                    )
                })?;
                [center[0] - y / mrad_per_px, center[1] + x / mrad_per_px]
            }
            None => center,
        };
        // A pattern smaller than the crop at the model's scale cannot be shown to the model.
        let needed = self.size as f64 * scale;
        if (rows as f64) < needed.floor() || (cols as f64) < needed.floor() {
            return Err(Error::format(
                scan.path(),
                format!(
                    "{rows}x{cols} patterns are smaller than the model's {0}x{0} input at this \
                     camera length ({needed:.0} px needed)",
                    self.size
                ),
            ));
        }
        Ok(InputGeometry {
            frame_shape: [rows, cols],
            center,
            scale,
        })
    }
}

/// How one scan's frames become model inputs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputGeometry {
    pub frame_shape: [usize; 2],
    /// Crop centre (row, col) in detector pixels.
    pub center: [f64; 2],
    /// Detector pixels per input pixel.
    pub scale: f64,
}

impl InputGeometry {
    /// The model input of one frame (f32 values, row-major).
    pub fn prepare(&self, frame: &[f32], size: usize) -> Result<Vec<f32>> {
        // At the training scale the paper's integer crop is exact; resampling would blur.
        if (self.scale - 1.0).abs() < 1e-3 {
            paper_input(frame, self.frame_shape, self.center, size)
        } else {
            Ok(resampled_input(
                frame,
                self.frame_shape,
                self.center,
                self.scale,
                size,
            ))
        }
    }
}

/// Model inputs of the frames at `indices` (one row each), prepared in parallel. With `sum`
/// (frame-sized), every frame read is also added into it: a caller that needs the summed
/// pattern too (the centrosymmetry test of a prediction) does not read the scan twice.
pub fn prepare_batch(
    scan: &Scan,
    indices: &[usize],
    geometry: &InputGeometry,
    size: usize,
    progress: Option<&Progress>,
    sum: Option<&mut [f64]>,
) -> Result<Array2<f32>> {
    let len = size * size;
    let summing = sum.is_some();
    let mut out = Array2::<f32>::zeros((indices.len(), len));
    let rows: Vec<&mut [f32]> = out
        .as_slice_mut()
        .expect("a new array is contiguous")
        .chunks_mut(len)
        .collect();
    let partial = rows
        .into_par_iter()
        .zip(indices.par_iter())
        .try_fold(
            || (FrameBuffer::new(), Vec::new(), Vec::new()),
            |(mut scratch, mut frame, mut acc), (row, &index)| {
                if let Some(p) = progress {
                    p.check()?;
                }
                let f = scan.frame(index, &mut scratch)?;
                frame.resize(f.len(), 0.0);
                f.copy_to_f32(&mut frame);
                if frame.iter().any(|v| !v.is_finite()) {
                    return Err(scan.non_finite_error(index));
                }
                row.copy_from_slice(&geometry.prepare(&frame, size)?);
                if summing {
                    add_into(&mut acc, frame.iter().map(|&v| f64::from(v)));
                }
                Ok((scratch, frame, acc))
            },
        )
        .map(|r| r.map(|(_, _, acc)| acc))
        .try_reduce(Vec::new, |mut a, b| {
            add_into(&mut a, b);
            Ok(a)
        })?;
    if let Some(sum) = sum {
        for (s, p) in sum.iter_mut().zip(partial) {
            *s += p;
        }
    }
    Ok(out)
}

/// Adds `values` into `acc`, which starts empty (it takes the values' length then).
fn add_into(acc: &mut Vec<f64>, values: impl IntoIterator<Item = f64>) {
    if acc.is_empty() {
        acc.extend(values);
    } else {
        acc.iter_mut().zip(values).for_each(|(a, v)| *a += v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_scale_is_the_papers_integer_crop() {
        let shape = [8, 8];
        let frame: Vec<f32> = (0..64).map(|v| v as f32).collect();
        let g = InputGeometry {
            frame_shape: shape,
            center: [3.5, 3.5],
            scale: 1.0,
        };
        let out = g.prepare(&frame, 2).unwrap();
        // rows 3..5, cols 3..5 → values 27, 28, 35, 36 normalised
        assert_eq!(out, vec![0.0, 1.0 / 9.0, 8.0 / 9.0, 1.0]);
    }

    #[test]
    fn half_scale_samples_every_other_pixel_region() {
        let shape = [16, 16];
        // a bright square 8 px wide centred on the frame
        let frame: Vec<f32> = (0..256)
            .map(|i| {
                let (r, c) = (i / 16, i % 16);
                ((4..12).contains(&r) && (4..12).contains(&c)) as u8 as f32
            })
            .collect();
        let g = InputGeometry {
            frame_shape: shape,
            center: [7.5, 7.5],
            scale: 2.0,
        };
        let out = g.prepare(&frame, 8).unwrap();
        // at half size the square is 4 px wide: rows/cols 2..6 bright
        for i in 0..8 {
            for j in 0..8 {
                let inside = (2..6).contains(&i) && (2..6).contains(&j);
                assert_eq!(out[i * 8 + j] > 0.5, inside, "pixel {i},{j}");
            }
        }
    }
}
