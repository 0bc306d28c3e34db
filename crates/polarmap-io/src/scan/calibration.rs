//! Physical calibration of a scan. Every value is optional: unknown stays unknown.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Beam energy in keV.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_kv: Option<f64>,
    /// Probe convergence semi-angle in mrad.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convergence_mrad: Option<f64>,
    /// Detector sampling in mrad per pixel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mrad_per_px: Option<f64>,
    /// Scan step in Å.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_step_a: Option<f64>,
    /// Rotation of the detector axes relative to the scan axes, degrees counter-clockwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_rotation_deg: Option<f64>,
    /// Whether the detector is mirrored relative to the scan (applied before the rotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_flip: Option<bool>,
    /// Specimen (or beam) tilt away from the zone axis, mrad, (x, y) in the image frame (x
    /// right, y up), when the user knows it: a tilt moves the crystal's pattern inside the BF
    /// disk by the tilt angle, and the models' crop is moved onto it (docs/transfer.md, "What a
    /// known tilt is worth"). Needs `mrad_per_px`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tilt_mrad: Option<[f64; 2]>,
}

/// The largest tilt a calibration may state, mrad.
pub const MAX_TILT_MRAD: f64 = 20.0;

/// Relativistic electron wavelength in Å for an accelerating voltage in kV.
pub fn electron_wavelength_a(kv: f64) -> f64 {
    let v = kv * 1e3;
    12.264_259_8 / (v * (1.0 + 0.978_475_7e-6 * v)).sqrt()
}

impl Calibration {
    /// Detector sampling in reciprocal space, Å⁻¹ per pixel (k = θ / λ, small angles); needs
    /// the detector sampling and the beam energy.
    pub fn inverse_angstrom_per_px(&self) -> Option<f64> {
        Some(self.mrad_per_px? * 1e-3 / electron_wavelength_a(self.energy_kv?))
    }

    /// Each value of `self`, or `fallback`'s where `self` has none.
    pub fn or(&self, fallback: &Calibration) -> Calibration {
        Calibration {
            energy_kv: self.energy_kv.or(fallback.energy_kv),
            convergence_mrad: self.convergence_mrad.or(fallback.convergence_mrad),
            mrad_per_px: self.mrad_per_px.or(fallback.mrad_per_px),
            scan_step_a: self.scan_step_a.or(fallback.scan_step_a),
            scan_rotation_deg: self.scan_rotation_deg.or(fallback.scan_rotation_deg),
            scan_flip: self.scan_flip.or(fallback.scan_flip),
            tilt_mrad: self.tilt_mrad.or(fallback.tilt_mrad),
        }
    }

    /// Checks that the values given are physical (positive, finite).
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("energy_kv", self.energy_kv),
            ("convergence_mrad", self.convergence_mrad),
            ("mrad_per_px", self.mrad_per_px),
            ("scan_step_a", self.scan_step_a),
        ];
        for (name, value) in positive {
            if let Some(v) = value {
                if !(v.is_finite() && v > 0.0) {
                    return Err(format!("{name} must be a positive number, got {v}"));
                }
            }
        }
        if let Some(r) = self.scan_rotation_deg {
            if !r.is_finite() {
                return Err(format!("scan_rotation_deg must be finite, got {r}"));
            }
        }
        if let Some([x, y]) = self.tilt_mrad {
            // Beyond the BF disk's radius (20-30 mrad) no crop could follow the crystal.
            if !(x.is_finite() && y.is_finite() && x.hypot(y) <= MAX_TILT_MRAD) {
                return Err(format!(
                    "tilt_mrad must be finite and within {MAX_TILT_MRAD} mrad, got ({x}, {y})"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wavelength_matches_tables() {
        // 100 kV: 0.037014 Å; 200 kV: 0.025079 Å; 300 kV: 0.019687 Å.
        assert!((electron_wavelength_a(100.0) - 0.037014).abs() < 2e-6);
        assert!((electron_wavelength_a(200.0) - 0.025079).abs() < 2e-6);
        assert!((electron_wavelength_a(300.0) - 0.019687).abs() < 2e-6);
    }

    #[test]
    fn reciprocal_sampling_needs_energy_and_sampling() {
        let mut c = Calibration {
            mrad_per_px: Some(1.0),
            ..Default::default()
        };
        assert_eq!(c.inverse_angstrom_per_px(), None);
        c.energy_kv = Some(200.0);
        // 1 mrad at λ = 0.025079 Å is 0.039874 Å⁻¹.
        let k = c.inverse_angstrom_per_px().unwrap();
        assert!((k - 0.039_874).abs() < 1e-5, "{k}");
    }

    #[test]
    fn or_prefers_self_and_fills_gaps() {
        let a = Calibration {
            energy_kv: Some(200.0),
            ..Default::default()
        };
        let b = Calibration {
            energy_kv: Some(300.0),
            mrad_per_px: Some(0.5),
            ..Default::default()
        };
        let c = a.or(&b);
        assert_eq!(c.energy_kv, Some(200.0));
        assert_eq!(c.mrad_per_px, Some(0.5));
        assert_eq!(c.convergence_mrad, None);
    }

    #[test]
    fn validate_rejects_nonphysical() {
        let bad = Calibration {
            mrad_per_px: Some(-1.0),
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("mrad_per_px"));
        let nan = Calibration {
            energy_kv: Some(f64::NAN),
            ..Default::default()
        };
        assert!(nan.validate().is_err());
        assert!(Calibration::default().validate().is_ok());
    }
}
