//! Thermo Fisher Velox EMD files (HDF5): every image Velox records is a group
//! `/Data/Image/<uuid>` holding `Data`, an array `(rows, cols, frames)` (frames last), and
//! `Metadata`, one column of UTF-8 JSON bytes per frame (`BinaryResult`, `Detectors`, `Optics`, …).
//!
//! What is a 4D-STEM scan here: a stack of camera frames recorded in diffraction (the image's
//! pixel unit is `1/m`), frame `i` being `Data[:, :, i]`, in scan order (the scan shape is not in
//! the file: 1×N unless the caller or a sidecar gives it). What is not, and is refused with the
//! reason: STEM images (one value per scan position, from a scanning detector such as HAADF, DF4
//! or DPC segments), complex FFT/DPC results, and real-space camera images. A real-space camera
//! stack can still be read frame by frame by naming its dataset (`OpenOptions::dataset`).
//!
//! Calibration: beam energy from `Optics/AccelerationVoltage`; for diffraction frames, mrad per
//! pixel = `BinaryResult/PixelSize` (1/m) × electron wavelength.

use super::hdf5::{electron_wavelength_a, h5err, map_dtype};
use super::{Calibration, DType, Endian, FrameBuffer, FrameRef, FrameSource, OpenOptions, Opened};
use crate::error::{Error, Result};
use hdf5_reader::{Dataset, Datatype, Hdf5File, SliceInfo, SliceInfoElem};
use serde_json::Value;
use std::path::{Path, PathBuf};

const IMAGES: &str = "/Data/Image";

/// Largest metadata column read (Velox writes 60000 bytes).
const MAX_METADATA_BYTES: u64 = 16 << 20;

/// Largest frame decoded (as for the other chunked readers).
const MAX_FRAME_BYTES: usize = 256 << 20;

/// Whether an opened HDF5 file is a Velox EMD: a root `Version` dataset and a `/Data` group, the
/// layout every Velox version writes.
pub fn is_velox(file: &Hdf5File) -> bool {
    file.dataset("/Version").is_ok() && file.group("/Data").is_ok()
}

/// What one `/Data/Image/<uuid>` holds.
#[derive(Debug, Clone)]
struct Image {
    dataset_path: String,
    shape: Vec<u64>,
    detector: String,
    kind: Kind,
    energy_kv: Option<f64>,
    /// `BinaryResult/PixelSize/width` and its unit.
    pixel: Option<(f64, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Camera frames in diffraction: a 4D-STEM scan.
    Diffraction,
    /// Camera frames in real space (TEM images).
    RealSpace,
    /// One value per scan position from a scanning detector.
    Stem,
    /// Real and imaginary parts (FFT, DPC).
    Complex,
    /// Not a `(rows, cols, frames)` array.
    Other,
}

impl Image {
    fn describe(&self) -> String {
        let shape: Vec<String> = self.shape.iter().map(|d| d.to_string()).collect();
        let what = match self.kind {
            Kind::Diffraction => "diffraction frames",
            Kind::RealSpace => "a real-space camera image stack (TEM images, not diffraction)",
            Kind::Stem => "a STEM image (one value per scan position)",
            Kind::Complex => "a complex image (FFT or DPC result)",
            Kind::Other => "not a (rows, cols, frames) image",
        };
        format!(
            "{} ({}, {}): {what}",
            self.dataset_path,
            shape.join("x"),
            if self.detector.is_empty() {
                "unknown detector"
            } else {
                &self.detector
            }
        )
    }
}

fn json_str<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut v = v;
    for key in path {
        v = v.get(key)?;
    }
    v.as_str()
}

fn json_f64(v: &Value, path: &[&str]) -> Option<f64> {
    json_str(v, path)
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|x| x.is_finite())
}

/// The first frame's metadata JSON.
fn metadata(group_path: &str, file: &Hdf5File) -> Option<Value> {
    let ds = file.dataset(&format!("{group_path}/Metadata")).ok()?;
    let shape = ds.shape().to_vec();
    if shape.len() != 2 || shape[0] == 0 || shape[0] > MAX_METADATA_BYTES || shape[1] == 0 {
        return None;
    }
    let sel = SliceInfo {
        selections: vec![
            SliceInfoElem::Slice {
                start: 0,
                end: shape[0],
                step: 1,
            },
            SliceInfoElem::Index(0),
        ],
    };
    let bytes = ds.read_slice::<u8>(&sel).ok()?;
    let bytes: Vec<u8> = bytes.iter().copied().take_while(|&b| b != 0).collect();
    serde_json::from_slice(&bytes).ok()
}

fn classify(file: &Hdf5File, group_path: &str) -> Option<Image> {
    let dataset_path = format!("{group_path}/Data");
    let ds = file.dataset(&dataset_path).ok()?;
    let meta = metadata(group_path, file).unwrap_or(Value::Null);
    let detector = json_str(&meta, &["BinaryResult", "Detector"])
        .unwrap_or("")
        .to_string();
    let detector_type = json_str(&meta, &["BinaryResult", "DetectorIndex"])
        .and_then(|i| {
            json_str(
                &meta,
                &["Detectors", &format!("Detector-{i}"), "DetectorType"],
            )
        })
        .unwrap_or("");
    let pixel = json_f64(&meta, &["BinaryResult", "PixelSize", "width"]).map(|w| {
        (
            w,
            json_str(&meta, &["BinaryResult", "PixelUnitX"])
                .unwrap_or("")
                .to_string(),
        )
    });
    let kind = if ds.ndim() != 3 {
        Kind::Other
    } else if matches!(ds.dtype(), Datatype::Compound { .. }) {
        Kind::Complex
    } else if detector_type == "ScanningDetector" {
        Kind::Stem
    } else if pixel.as_ref().is_some_and(|(_, u)| u == "1/m") {
        Kind::Diffraction
    } else {
        Kind::RealSpace
    };
    Some(Image {
        dataset_path,
        shape: ds.shape().to_vec(),
        detector,
        kind,
        energy_kv: json_f64(&meta, &["Optics", "AccelerationVoltage"])
            .filter(|v| *v > 0.0)
            .map(|v| v / 1e3),
        pixel,
    })
}

fn images(path: &Path, file: &Hdf5File) -> Result<Vec<Image>> {
    let Ok(group) = file.group(IMAGES) else {
        return Ok(Vec::new());
    };
    let (mut names, _) = group
        .member_names()
        .map_err(|e| h5err(path, &format!("group {IMAGES}"), e))?;
    names.sort();
    Ok(names
        .iter()
        .take(10_000)
        .filter_map(|n| classify(file, &format!("{IMAGES}/{n}")))
        .collect())
}

/// Opens the diffraction stack of a Velox file, or the image named by `options.dataset`.
pub fn open(path: &Path, file: &Hdf5File, options: &OpenOptions) -> Result<Opened> {
    let images = images(path, file)?;
    let listing = || {
        if images.is_empty() {
            format!("no images under {IMAGES}")
        } else {
            images
                .iter()
                .map(Image::describe)
                .collect::<Vec<_>>()
                .join("; ")
        }
    };
    let image = match &options.dataset {
        Some(name) => {
            let wanted = format!("/{}", name.trim_start_matches('/'));
            let image = images
                .iter()
                .find(|i| {
                    i.dataset_path == wanted || i.dataset_path.trim_end_matches("/Data") == wanted
                })
                .ok_or_else(|| {
                    Error::format(
                        path,
                        format!("has no Velox image {wanted}; it holds: {}", listing()),
                    )
                })?;
            if !matches!(image.kind, Kind::Diffraction | Kind::RealSpace) {
                return Err(Error::format(
                    path,
                    format!("{} is not a stack of camera frames", image.describe()),
                ));
            }
            image
        }
        None => images
            .iter()
            .find(|i| i.kind == Kind::Diffraction)
            .ok_or_else(|| {
                Error::format(
                    path,
                    format!(
                        "is a Velox EMD file without a 4D-STEM scan (no stack of diffraction \
                         frames); it holds: {}. A camera image stack can be read frame by frame \
                         by naming its dataset",
                        listing()
                    ),
                )
            })?,
    };
    let dataset = file
        .dataset(&image.dataset_path)
        .map_err(|e| h5err(path, &format!("dataset {}", image.dataset_path), e))?;
    let (dtype, _) = map_dtype(dataset.dtype()).map_err(|name| {
        Error::format(
            path,
            format!(
                "{} holds {name} elements; polarmap reads uint8, uint16, uint32, int16, int32, \
                 float32 and float64",
                image.dataset_path
            ),
        )
    })?;
    let dims: Vec<usize> = image
        .shape
        .iter()
        .map(|&d| usize::try_from(d).unwrap_or(usize::MAX))
        .collect();
    let [h, w, n] = dims[..] else {
        return Err(Error::format(
            path,
            format!("{} is not 3D", image.dataset_path),
        ));
    };
    h.checked_mul(w)
        .and_then(|p| p.checked_mul(dtype.size()))
        .filter(|&b| b > 0 && b <= MAX_FRAME_BYTES)
        .ok_or_else(|| {
            Error::format(
                path,
                format!(
                    "{} has {h}x{w} frames: empty, or more than the {} MiB polarmap decodes per \
                     frame",
                    image.dataset_path,
                    MAX_FRAME_BYTES >> 20
                ),
            )
        })?;
    let mrad_per_px = match (&image.pixel, image.energy_kv, image.kind) {
        (Some((inv_m, _)), Some(kv), Kind::Diffraction) => {
            Some(inv_m * electron_wavelength_a(kv) * 1e-10 * 1e3).filter(|v| *v > 0.0)
        }
        _ => None,
    };
    let mut opened = Opened::new(
        "velox",
        VeloxFrames {
            path: path.to_path_buf(),
            dataset,
            dataset_path: image.dataset_path.clone(),
            dtype,
            frame_shape: [h, w],
            count: n,
        },
    );
    opened.calibration = Calibration {
        energy_kv: image.energy_kv,
        mrad_per_px,
        ..Calibration::default()
    };
    Ok(opened)
}

/// Frames `Data[:, :, i]` of a Velox image stack, one hyperslab each.
struct VeloxFrames {
    path: PathBuf,
    dataset: Dataset,
    dataset_path: String,
    dtype: DType,
    frame_shape: [usize; 2],
    count: usize,
}

impl VeloxFrames {
    fn read<T>(&self, index: usize) -> Result<Vec<T>>
    where
        T: hdf5_reader::H5Type + super::Pixel,
    {
        let [h, w] = self.frame_shape;
        let all = |n: usize| SliceInfoElem::Slice {
            start: 0,
            end: n as u64,
            step: 1,
        };
        let sel = SliceInfo {
            selections: vec![all(h), all(w), SliceInfoElem::Index(index as u64)],
        };
        let array = self.dataset.read_slice::<T>(&sel).map_err(|e| {
            Error::format(
                &self.path,
                format!("cannot read frame {index} of {}: {e}", self.dataset_path),
            )
        })?;
        if array.len() != h * w {
            return Err(Error::format(
                &self.path,
                format!(
                    "frame {index} of {} decoded to {} pixels, expected {}",
                    self.dataset_path,
                    array.len(),
                    h * w
                ),
            ));
        }
        Ok(array.iter().copied().collect())
    }
}

impl FrameSource for VeloxFrames {
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
        fn bytes<T: bytemuck::Pod>(v: Vec<T>) -> Vec<u8> {
            bytemuck::cast_slice::<T, u8>(&v).to_vec()
        }
        let raw = match self.dtype {
            DType::U8 => bytes(self.read::<u8>(index)?),
            DType::U16 => bytes(self.read::<u16>(index)?),
            DType::U32 => bytes(self.read::<u32>(index)?),
            DType::I16 => bytes(self.read::<i16>(index)?),
            DType::I32 => bytes(self.read::<i32>(index)?),
            DType::F32 => bytes(self.read::<f32>(index)?),
            DType::F64 => bytes(self.read::<f64>(index)?),
        };
        let native = if cfg!(target_endian = "little") {
            Endian::Little
        } else {
            Endian::Big
        };
        Ok(scratch.decode(self.dtype, native, &raw))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{open as open_scan, open_with, OpenOptions};
    use serde_json::Value;
    use std::path::{Path, PathBuf};

    fn velox(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/testdata/velox")
            .join(name)
    }

    const JSON: &str = "crosscheck_dectris_velox.json";

    fn expected(key: &str) -> Value {
        super::super::crosscheck::expected(JSON, key)
    }

    #[test]
    fn stem_and_complex_images_are_refused_with_what_they_are() {
        let e = open_scan(velox("fei_example_dpc_titles.emd"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("fei_example_dpc_titles.emd"), "{e}");
        assert!(e.contains("without a 4D-STEM scan"), "{e}");
        assert!(e.contains("STEM image") && e.contains("DF4"), "{e}");
        assert!(e.contains("complex image"), "{e}");
        let e = open_scan(velox("fei_example_complex_fft.emd"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("complex image (FFT or DPC result)"), "{e}");
        // Named explicitly, a STEM image is still not a stack of camera frames.
        let options = OpenOptions {
            dataset: Some("/Data/Image/15c7bc815fc74329b0dbe36f041c17ed/Data".into()),
            ..Default::default()
        };
        let e = open_with(velox("fei_example_dpc_titles.emd"), &options)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a stack of camera frames"), "{e}");
    }

    #[test]
    fn camera_stack_is_refused_by_default_and_read_when_named() {
        let path = velox("fei_example_tem_stack.emd");
        let e = open_scan(&path).unwrap_err().to_string();
        assert!(e.contains("real-space camera image stack"), "{e}");
        assert!(e.contains("BM-Ceta"), "{e}");
        let want = expected("fei_example_tem_stack.emd");
        let options = OpenOptions {
            dataset: Some(want["dataset"].as_str().unwrap().into()),
            ..Default::default()
        };
        let scan = open_with(&path, &options).unwrap();
        assert_eq!(scan.format(), "velox");
        assert_eq!(scan.shape(), [1, 2, 3, 3]);
        assert_eq!(scan.dtype().name(), want["dtype"].as_str().unwrap());
        assert_eq!(scan.calibration.energy_kv, Some(300.0));
        // Real-space frames: no angle per pixel.
        assert_eq!(scan.calibration.mrad_per_px, None);
        super::super::crosscheck::assert_matches(&scan, JSON, "fei_example_tem_stack.emd");
    }

    #[test]
    fn diffraction_stack_opens_by_default_with_its_calibration() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/data/velox/velox_diffraction_stack.emd");
        let want = expected("velox_diffraction_stack.emd");
        let scan = open_scan(&path).unwrap();
        assert_eq!(scan.format(), "velox");
        assert_eq!(scan.shape(), [1, 6, 16, 16]);
        assert_eq!(scan.dtype().name(), "uint16");
        // 2e8 1/m per pixel x 1.9687 pm at 300 kV = 0.394 mrad.
        let mrad = scan.calibration.mrad_per_px.unwrap();
        assert!((mrad - 2e8 * 0.019_687e-10 * 1e3).abs() < 1e-5, "{mrad}");
        super::super::crosscheck::assert_matches(&scan, JSON, "velox_diffraction_stack.emd");
        assert!(want["sum"].as_f64().unwrap() > 0.0);
    }
}
