//! `NAME.meta.json` beside a data file: calibration, ground truth and, for raw binary files, the
//! layout. Keys polarmap does not know are kept, so that rewriting a sidecar loses nothing.

use super::{Calibration, DType, Endian, RawLayout};
use crate::classes::Class;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Ground truth for a scan.
#[derive(Debug, Clone, PartialEq)]
pub enum Labels {
    /// One class for every pattern of the scan.
    Class(Class),
    /// A per-pixel label array (a `.npy` of class indices), path resolved against the sidecar.
    PerPixel(PathBuf),
}

impl Labels {
    /// The class of every scan position: a `[rows, cols]` map. A per-pixel label file must be
    /// a 2D array of the scan's shape holding class indices 0–7.
    pub fn resolve(&self, scan_shape: [usize; 2]) -> Result<ndarray::Array2<Class>> {
        let path = match self {
            Labels::Class(class) => return Ok(ndarray::Array2::from_elem(scan_shape, *class)),
            Labels::PerPixel(path) => path,
        };
        let array = super::open(path)?;
        if array.frame_shape() != scan_shape || array.n_frames() != 1 {
            let [_, _, r, c] = array.shape();
            return Err(Error::format(
                path,
                format!(
                    "label array is {r}x{c} ({} frames) but the scan is {}x{}",
                    array.n_frames(),
                    scan_shape[0],
                    scan_shape[1]
                ),
            ));
        }
        let values = array.frame_f32(0, 0)?;
        let classes = values
            .iter()
            .map(|&v| {
                Some(v)
                    .filter(|v| v.fract() == 0.0 && *v >= 0.0)
                    .and_then(|v| Class::from_index(v as usize))
                    .ok_or_else(|| {
                        Error::format(path, format!("label {v} is not a class index 0-7"))
                    })
            })
            .collect::<Result<Vec<Class>>>()?;
        Ok(ndarray::Array2::from_shape_vec(scan_shape, classes).expect("shape checked"))
    }
}

/// The key that marks a sidecar polarmap wrote (its value: "polarmap VERSION").
pub const WRITTEN_BY_KEY: &str = "written_by";

/// What [`Sidecar::save_calibration`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedSidecar {
    pub path: PathBuf,
    /// Where the sidecar it replaced was copied (one polarmap had not written).
    pub backup: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Sidecar {
    #[serde(flatten)]
    pub calibration: Calibration,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_shape: Option<[usize; 2]>,
    /// Raw layout keys (only read for raw binary files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtype: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_shape: Option<[usize; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endian: Option<Endian>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_bytes: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_header_bytes: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_footer_bytes: Option<usize>,
    #[serde(skip)]
    pub labels: Option<Labels>,
    /// `labels` as written in the file: a class name or a path.
    #[serde(rename = "labels", default, skip_serializing_if = "Option::is_none")]
    pub labels_text: Option<String>,
    /// Everything else (e.g. the simulator's ground-truth details), preserved verbatim.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Sidecar {
    /// Where the sidecar of `data` would be: `NAME.meta.json` with NAME the file stem, or the full
    /// file name plus `.meta.json`.
    pub fn candidates(data: &Path) -> Vec<PathBuf> {
        let mut out = vec![data.with_extension("meta.json")];
        let mut full = data.as_os_str().to_owned();
        full.push(".meta.json");
        let full = PathBuf::from(full);
        if !out.contains(&full) {
            out.push(full);
        }
        out
    }

    /// Reads the sidecar of `data` if one exists. A sidecar that exists but is invalid is an error.
    pub fn find_for(data: &Path) -> Result<Option<Sidecar>> {
        let data = data.components().as_path();
        for candidate in Self::candidates(data) {
            if candidate.is_file() {
                return Self::read(&candidate).map(Some);
            }
        }
        Ok(None)
    }

    pub fn read(path: &Path) -> Result<Sidecar> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut sidecar: Sidecar = serde_json::from_str(&text)
            .map_err(|e| Error::format(path, format!("invalid sidecar JSON: {e}")))?;
        sidecar
            .calibration
            .validate()
            .map_err(|m| Error::format(path, m))?;
        if let Some(text) = &sidecar.labels_text {
            sidecar.labels = Some(match Class::from_name(text) {
                Some(class) => Labels::Class(class),
                None => {
                    let p = Path::new(text);
                    let base = path.parent().unwrap_or(Path::new("."));
                    Labels::PerPixel(if p.is_absolute() {
                        p.to_path_buf()
                    } else {
                        base.join(p)
                    })
                }
            });
        }
        for (key, shape) in [
            ("scan_shape", sidecar.scan_shape),
            ("frame_shape", sidecar.frame_shape),
        ] {
            if let Some([r, c]) = shape {
                if r == 0 || c == 0 || r.checked_mul(c).is_none() {
                    return Err(Error::format(
                        path,
                        format!("{key} [{r}, {c}] is not a shape: sides must be positive and their product must fit"),
                    ));
                }
            }
        }
        if let Some(name) = &sidecar.dtype {
            if DType::parse(name).is_none() {
                return Err(Error::format(path, format!("unknown dtype '{name}'")));
            }
        }
        Ok(sidecar)
    }

    /// Writes the sidecar as pretty JSON.
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).expect("a sidecar always serialises");
        std::fs::write(path, text + "\n").map_err(|e| Error::io(path, e))
    }

    /// Whether polarmap wrote this sidecar (`save_calibration` marks what it writes).
    pub fn written_by_polarmap(&self) -> bool {
        self.extra
            .get(WRITTEN_BY_KEY)
            .and_then(|v| v.as_str())
            .is_some_and(|v| v.starts_with("polarmap"))
    }

    /// Saves `calibration` into the sidecar of `data` (the one found, else `NAME.meta.json`),
    /// keeping its other keys. An existing sidecar is replaced only when `replace` (the caller
    /// asked the user); one polarmap did not write is first copied to `NAME.meta.json.bak`, and
    /// if that backup exists too nothing is written. Returns what was written.
    pub fn save_calibration(
        data: &Path,
        calibration: &Calibration,
        replace: bool,
    ) -> Result<SavedSidecar> {
        calibration
            .validate()
            .map_err(|m| Error::invalid(format!("{}: calibration: {m}", data.display())))?;
        let candidates = Self::candidates(data.components().as_path());
        let existing = candidates.iter().find(|c| c.is_file()).cloned();
        let path = existing.clone().unwrap_or_else(|| candidates[0].clone());
        let mut backup = None;
        let mut sidecar = match &existing {
            None => Sidecar::default(),
            Some(p) => {
                if !replace {
                    return Err(Error::invalid(format!(
                        "{} already exists; not overwriting it unasked",
                        p.display()
                    )));
                }
                let old = Self::read(p)?;
                if !old.written_by_polarmap() {
                    let mut name = p.as_os_str().to_owned();
                    name.push(".bak");
                    let bak = PathBuf::from(name);
                    if bak.exists() {
                        return Err(Error::invalid(format!(
                            "{} was not written by polarmap and its backup {} exists; not \
                             overwriting either",
                            p.display(),
                            bak.display()
                        )));
                    }
                    std::fs::copy(p, &bak).map_err(|e| Error::io(&bak, e))?;
                    backup = Some(bak);
                }
                old
            }
        };
        sidecar.calibration = *calibration;
        sidecar.extra.insert(
            WRITTEN_BY_KEY.into(),
            format!("polarmap {}", env!("CARGO_PKG_VERSION")).into(),
        );
        sidecar.write(&path)?;
        Ok(SavedSidecar { path, backup })
    }

    /// The raw binary layout, if the sidecar gives at least dtype and frame shape.
    pub fn raw_layout(&self) -> Option<RawLayout> {
        Some(RawLayout {
            dtype: DType::parse(self.dtype.as_deref()?)?,
            frame_shape: self.frame_shape?,
            endian: self.endian.unwrap_or_default(),
            header_bytes: self.header_bytes.unwrap_or(0),
            frame_header_bytes: self.frame_header_bytes.unwrap_or(0),
            frame_footer_bytes: self.frame_footer_bytes.unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_calibration_labels_and_keeps_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scan.meta.json");
        std::fs::write(
            &path,
            r#"{"energy_kv": 200, "convergence_mrad": 24, "labels": "RD", "thickness_a": 200.5}"#,
        )
        .unwrap();
        let s = Sidecar::read(&path).unwrap();
        assert_eq!(s.calibration.energy_kv, Some(200.0));
        assert_eq!(s.labels, Some(Labels::Class(Class::RD)));
        assert_eq!(s.extra["thickness_a"], 200.5);
        s.write(&path).unwrap();
        let again = Sidecar::read(&path).unwrap();
        assert_eq!(again.extra["thickness_a"], 200.5);
        assert_eq!(again.labels, Some(Labels::Class(Class::RD)));
    }

    /// Saving a calibration: a new sidecar is written; an existing one only when asked, with
    /// its other keys kept; a foreign one backed up first, and never over an existing backup.
    #[test]
    fn save_calibration_asks_keeps_keys_and_backs_up_foreign_sidecars() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("scan.npy");
        let cal = Calibration {
            energy_kv: Some(300.0),
            scan_rotation_deg: Some(12.5),
            ..Default::default()
        };
        // No sidecar yet: written, marked as polarmap's, no backup.
        let saved = Sidecar::save_calibration(&data, &cal, false).unwrap();
        assert_eq!(saved.path, dir.path().join("scan.meta.json"));
        assert_eq!(saved.backup, None);
        let s = Sidecar::read(&saved.path).unwrap();
        assert_eq!(s.calibration, cal);
        assert!(s.written_by_polarmap());
        // Again: refused unless asked; asked, replaced without a backup (it is polarmap's).
        assert!(Sidecar::save_calibration(&data, &cal, false).is_err());
        let again = Sidecar::save_calibration(&data, &Calibration::default(), true).unwrap();
        assert_eq!(again.backup, None);

        // A sidecar someone else wrote: copied to .bak first, its other keys kept.
        let foreign = r#"{"energy_kv": 200, "labels": "RD", "operator": "ana"}"#;
        std::fs::write(&saved.path, foreign).unwrap();
        let saved = Sidecar::save_calibration(&data, &cal, true).unwrap();
        let bak = dir.path().join("scan.meta.json.bak");
        assert_eq!(saved.backup.as_deref(), Some(bak.as_path()));
        assert_eq!(std::fs::read_to_string(&bak).unwrap(), foreign);
        let s = Sidecar::read(&saved.path).unwrap();
        assert_eq!(s.calibration.energy_kv, Some(300.0));
        assert_eq!(s.calibration.scan_rotation_deg, Some(12.5));
        assert_eq!(s.labels, Some(Labels::Class(Class::RD)));
        assert_eq!(s.extra["operator"], "ana");
        // Another foreign sidecar while the backup exists: nothing is written.
        std::fs::write(&saved.path, foreign).unwrap();
        assert!(Sidecar::save_calibration(&data, &cal, true).is_err());
        assert_eq!(std::fs::read_to_string(&saved.path).unwrap(), foreign);
        assert_eq!(std::fs::read_to_string(&bak).unwrap(), foreign);
    }

    #[test]
    fn label_path_is_resolved_against_sidecar() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.meta.json");
        std::fs::write(&path, r#"{"labels": "a_labels.npy"}"#).unwrap();
        let s = Sidecar::read(&path).unwrap();
        assert_eq!(
            s.labels,
            Some(Labels::PerPixel(dir.path().join("a_labels.npy")))
        );
    }

    #[test]
    fn invalid_sidecar_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.meta.json");
        std::fs::write(&path, r#"{"energy_kv": "lots"}"#).unwrap();
        let err = Sidecar::read(&path).unwrap_err().to_string();
        assert!(err.contains("b.meta.json"), "{err}");
        std::fs::write(&path, r#"{"mrad_per_px": -2}"#).unwrap();
        let err = Sidecar::read(&path).unwrap_err().to_string();
        assert!(err.contains("mrad_per_px"), "{err}");
    }

    #[test]
    fn empty_or_overflowing_shapes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.meta.json");
        for text in [
            r#"{"scan_shape": [0, 4]}"#,
            r#"{"frame_shape": [4, 0]}"#,
            r#"{"scan_shape": [18446744073709551615, 2]}"#,
        ] {
            std::fs::write(&path, text).unwrap();
            let err = Sidecar::read(&path).unwrap_err().to_string();
            assert!(
                err.contains("s.meta.json") && err.contains("shape"),
                "{err}"
            );
        }
        std::fs::write(
            &path,
            r#"{"scan_shape": [3, 4], "scan_rotation_deg": -1e308}"#,
        )
        .unwrap();
        assert_eq!(Sidecar::read(&path).unwrap().scan_shape, Some([3, 4]));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Fuzz smoke (`scripts/fuzz.sh` runs the libFuzzer target `sidecar`): a real sidecar
        /// with bytes changed reads as Ok or as an error naming it; what reads, rewrites the same.
        #[test]
        fn mutated_sidecars(
            edits in proptest::collection::vec(
                (0usize..200, proptest::sample::select(b"0123456789-.e,[]{}\":tfn ".to_vec())),
                1..5,
            ),
        ) {
            let mut bytes = br#"{"energy_kv": 200, "convergence_mrad": 24.5, "mrad_per_px": 0.5, "scan_step_a": 4, "scan_rotation_deg": -12, "scan_shape": [3, 4], "frame_shape": [8, 8], "dtype": "u2", "header_bytes": 16, "labels": "RD", "note": 1}"#.to_vec();
            for &(at, b) in &edits {
                let n = bytes.len();
                bytes[at % n] = b;
            }
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("m.meta.json");
            std::fs::write(&path, &bytes).unwrap();
            match Sidecar::read(&path) {
                Ok(s) => {
                    s.write(&path).unwrap();
                    let again = Sidecar::read(&path).unwrap();
                    proptest::prop_assert_eq!(again.calibration, s.calibration);
                    proptest::prop_assert_eq!(again.scan_shape, s.scan_shape);
                    proptest::prop_assert_eq!(again.raw_layout(), s.raw_layout());
                }
                Err(e) => proptest::prop_assert!(e.to_string().contains("m.meta.json"), "{}", e),
            }
        }
    }

    #[test]
    fn candidates_cover_stem_and_full_name() {
        let c = Sidecar::candidates(Path::new("/d/scan.npy"));
        assert_eq!(
            c,
            vec![
                PathBuf::from("/d/scan.meta.json"),
                PathBuf::from("/d/scan.npy.meta.json")
            ]
        );
    }
}
