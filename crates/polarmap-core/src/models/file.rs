//! The model file (`NAME.pmm`): one file holding what a model is and its weights.
//!
//! Layout: the magic `POLARMAP-MODEL\n`, a little-endian u32 header length, a JSON
//! [`ModelHeader`], a little-endian u64 payload length, then the backend's payload (burnpack
//! weights for networks; PCA basis and training embeddings for PCA + kNN). Every length is
//! checked against the file, so a truncated or corrupt file is an error naming it, never a panic.

use super::input::InputSpec;
use crate::classes::Class;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const MAGIC: &[u8] = b"POLARMAP-MODEL\n";
pub const EXTENSION: &str = "pmm";
/// Bumped when the layout or header meaning changes incompatibly.
pub const FORMAT_VERSION: u32 = 1;

/// What a model is. Written as JSON at the start of the model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelHeader {
    pub format_version: u32,
    /// Backend that reads the payload ("pca-knn", "burn").
    pub backend: String,
    /// Encoder ("pca", "conv", "vgg16", "resnet50").
    pub architecture: String,
    /// Head ("knn", "cls", "reg", "proto").
    pub head: String,
    pub input: InputSpec,
    /// Class names in output order; must be DESIGN.md's order.
    pub classes: Vec<String>,
    /// Backend-specific settings (layer sizes, k, components...).
    #[serde(default)]
    pub settings: serde_json::Value,
    /// How the model was made: data, preprocessing configuration, seed, epochs, command.
    #[serde(default)]
    pub training: serde_json::Value,
    /// Probability calibration and OOD reference (`polarmap calibrate`); absent in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<super::confidence::ConfidenceModel>,
    /// How a trained model was adapted to a user's scan, for adapted models (absent in older
    /// files, which stay readable, and in trained ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptation: Option<super::adapt::Adaptation>,
}

impl ModelHeader {
    pub fn new(backend: &str, architecture: &str, head: &str, input: InputSpec) -> ModelHeader {
        ModelHeader {
            format_version: FORMAT_VERSION,
            backend: backend.into(),
            architecture: architecture.into(),
            head: head.into(),
            input,
            classes: Class::ALL.iter().map(|c| c.name().to_string()).collect(),
            settings: serde_json::Value::Null,
            training: serde_json::Value::Null,
            confidence: None,
            adaptation: None,
        }
    }

    /// The paper's row name, e.g. "Conv (Proto)", "PCA".
    pub fn display_name(&self) -> String {
        let arch = match self.architecture.as_str() {
            "pca" => return "PCA".into(),
            "conv" => "Conv",
            "vgg16" => "VGG16",
            "resnet50" => "ResNet",
            other => other,
        };
        let head = match self.head.as_str() {
            "cls" => "Cls",
            "reg" => "Reg",
            "proto" => "Proto",
            other => other,
        };
        format!("{arch} ({head})")
    }

    fn check(&self, path: &Path) -> Result<()> {
        if self.format_version != FORMAT_VERSION {
            return Err(Error::format(
                path,
                format!(
                    "model file format version {} is not supported (this polarmap reads {})",
                    self.format_version, FORMAT_VERSION
                ),
            ));
        }
        let expected: Vec<&str> = Class::ALL.iter().map(|c| c.name()).collect();
        if self.classes != expected {
            return Err(Error::format(
                path,
                format!(
                    "the model's classes {:?} are not polarmap's {:?}",
                    self.classes, expected
                ),
            ));
        }
        if self.input.size == 0 || self.input.size > MAX_INPUT_SIZE {
            return Err(Error::format(
                path,
                format!(
                    "input size {} is not plausible (1 to {MAX_INPUT_SIZE})",
                    self.input.size
                ),
            ));
        }
        for (name, value) in [
            ("input.mrad_per_px", self.input.mrad_per_px),
            ("input.disk_radius_px", self.input.disk_radius_px),
        ] {
            if let Some(v) = value {
                if !(v.is_finite() && v > 0.0) {
                    return Err(Error::format(
                        path,
                        format!("{name} must be a positive number, got {v}"),
                    ));
                }
            }
        }
        if let Some(confidence) = &self.confidence {
            confidence
                .check()
                .map_err(|m| Error::format(path, format!("the model's calibration: {m}")))?;
        }
        Ok(())
    }

    /// The fewest weight bytes a model of this header can have, from the parts of it whose size
    /// the header sets: the paper's CNN's last layer grows with the square of the input size
    /// (a 1024-pixel input would be 8 GB of weights), stored as at least 2-byte (f16) values.
    /// Checked against the file before any network is built, so that a header cannot make the
    /// loader allocate more than the file could hold.
    pub fn min_weight_bytes(&self) -> u64 {
        if self.backend != "burn" || self.architecture != "conv" {
            return 0;
        }
        let side = conv_feature_side(self.input.size) as u64;
        // Conv's fully connected layer: 64 channels x side² inputs x 512 outputs, 2 bytes each.
        64 * side * side * 512 * 2
    }
}

/// The largest input side a model file may give.
pub const MAX_INPUT_SIZE: usize = 1024;

/// Side of the paper's CNN's last feature map for `size` inputs (two valid 3x3 convolutions, a
/// 2x2 pool, a valid 3x3 convolution, a 2x2 pool), 0 where the input is too small for it.
fn conv_feature_side(size: usize) -> usize {
    (size.saturating_sub(4) / 2).saturating_sub(2) / 2
}

/// A model file read into memory.
#[derive(Debug, Clone)]
pub struct ModelFile {
    pub header: ModelHeader,
    pub payload: Vec<u8>,
}

impl ModelFile {
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let header = serde_json::to_vec_pretty(&self.header)
            .map_err(|e| Error::invalid(format!("cannot encode the model header: {e}")))?;
        let mut out = Vec::with_capacity(MAGIC.len() + 12 + header.len() + self.payload.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(&(self.payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&self.payload);
        Ok(out)
    }

    /// Parses a model file's bytes; `path` names the file in errors.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<ModelFile> {
        let bad = |m: String| Error::format(path, m);
        let rest = bytes.strip_prefix(MAGIC).ok_or_else(|| {
            bad("not a polarmap model file (it does not start with POLARMAP-MODEL)".into())
        })?;
        let (len, rest) = split_len::<4>(rest).ok_or_else(|| bad("truncated header".into()))?;
        let header_bytes = rest
            .get(..len)
            .ok_or_else(|| bad(format!("header of {len} bytes is truncated")))?;
        let header: ModelHeader = serde_json::from_slice(header_bytes)
            .map_err(|e| bad(format!("the model header is not valid: {e}")))?;
        header.check(path)?;
        let (len, rest) =
            split_len::<8>(&rest[len..]).ok_or_else(|| bad("truncated weights".into()))?;
        if rest.len() != len {
            return Err(bad(format!(
                "weights should be {len} bytes but {} follow the header",
                rest.len()
            )));
        }
        let needed = header.min_weight_bytes();
        if (len as u64) < needed {
            return Err(bad(format!(
                "the weights are {len} bytes, but a {} network for {}x{} inputs has at least \
                 {needed}: the header does not describe these weights",
                header.architecture, header.input.size, header.input.size
            )));
        }
        Ok(ModelFile {
            header,
            payload: rest.to_vec(),
        })
    }

    pub fn read(path: &Path) -> Result<ModelFile> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(path, &bytes)
    }

    /// Writes the file (refusing to replace one unless `overwrite`) through a temporary file,
    /// so that an interrupted write never leaves a half model behind.
    pub fn write(&self, path: &Path, overwrite: bool) -> Result<()> {
        crate::export::check_writable(path, overwrite)?;
        let tmp = path.with_extension("pmm.partial");
        std::fs::write(&tmp, self.to_bytes()?).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    }
}

/// A little-endian length of `N` bytes (4 or 8) and the bytes after it.
fn split_len<const N: usize>(bytes: &[u8]) -> Option<(usize, &[u8])> {
    let head: [u8; N] = bytes.get(..N)?.try_into().ok()?;
    let mut wide = [0u8; 8];
    wide[..N].copy_from_slice(&head);
    Some((usize::try_from(u64::from_le_bytes(wide)).ok()?, &bytes[N..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> ModelFile {
        let mut header =
            ModelHeader::new("pca-knn", "pca", "knn", InputSpec::paper(Some(0.4), None));
        header.settings = serde_json::json!({"k": 5});
        ModelFile {
            header,
            payload: (0..200u8).collect(),
        }
    }

    #[test]
    fn round_trip() {
        let file = sample();
        let bytes = file.to_bytes().unwrap();
        let back = ModelFile::from_bytes(Path::new("m.pmm"), &bytes).unwrap();
        assert_eq!(back.header, file.header);
        assert_eq!(back.payload, file.payload);
    }

    #[test]
    fn wrong_class_order_is_refused() {
        let mut file = sample();
        file.header.classes.swap(0, 1);
        let bytes = file.to_bytes().unwrap();
        let err = ModelFile::from_bytes(Path::new("m.pmm"), &bytes).unwrap_err();
        assert!(err.to_string().contains("m.pmm"), "{err}");
        assert!(err.to_string().contains("classes"), "{err}");
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = sample().to_bytes().unwrap();
        for cut in 0..bytes.len() {
            let err = ModelFile::from_bytes(Path::new("m.pmm"), &bytes[..cut]).unwrap_err();
            assert!(err.to_string().starts_with("m.pmm"), "{err}");
        }
    }

    #[test]
    fn header_sizes_are_bounded_by_the_weights() {
        // A Conv header claiming 1024-pixel inputs needs gigabytes of weights: refused from
        // the file's length, before anything is built.
        let mut file = sample();
        file.header.backend = "burn".into();
        file.header.architecture = "conv".into();
        file.header.input.size = 1024;
        let bytes = file.to_bytes().unwrap();
        let err = ModelFile::from_bytes(Path::new("big.pmm"), &bytes)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("big.pmm") && err.contains("1024x1024"),
            "{err}"
        );
        // The shipped size (32: 6x6x64 features into 512) needs 2.4 MB of f16 weights.
        file.header.input.size = 32;
        assert_eq!(file.header.min_weight_bytes(), 64 * 36 * 512 * 2);
        file.payload = vec![0; 64 * 36 * 512 * 2];
        let bytes = file.to_bytes().unwrap();
        assert!(ModelFile::from_bytes(Path::new("ok.pmm"), &bytes).is_ok());
        file.header.input.size = 1025;
        let bytes = file.to_bytes().unwrap();
        let err = ModelFile::from_bytes(Path::new("m.pmm"), &bytes).unwrap_err();
        assert!(err.to_string().contains("input size 1025"), "{err}");
    }

    #[test]
    fn nonphysical_input_calibration_is_refused() {
        for (mrad, radius) in [(Some(-1.0), None), (Some(0.0), None), (None, Some(-3.0))] {
            let mut file = sample();
            file.header.input.mrad_per_px = mrad;
            file.header.input.disk_radius_px = radius;
            let bytes = file.to_bytes().unwrap();
            let err = ModelFile::from_bytes(Path::new("m.pmm"), &bytes).unwrap_err();
            assert!(
                err.to_string().contains("must be a positive number"),
                "{err}"
            );
        }
    }

    #[test]
    fn conv_feature_sides() {
        assert_eq!(conv_feature_side(64), 14);
        assert_eq!(conv_feature_side(32), 6);
        assert_eq!(conv_feature_side(12), 1);
        assert_eq!(conv_feature_side(11), 0);
        assert_eq!(conv_feature_side(0), 0);
        // The same as the network's own, wherever the network can be built.
        for size in 12..=MAX_INPUT_SIZE {
            assert_eq!(
                conv_feature_side(size),
                super::super::nets::encoders::ConvEncoder::feature_side(size),
                "{size}"
            );
        }
    }

    proptest! {
        #[test]
        fn corrupted_bytes_never_panic(pos in 0usize..400, value: u8) {
            let mut bytes = sample().to_bytes().unwrap();
            let pos = pos % bytes.len();
            bytes[pos] = value;
            let _ = ModelFile::from_bytes(Path::new("m.pmm"), &bytes);
        }
    }
}
