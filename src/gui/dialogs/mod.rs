//! Dialog windows: calibration, open by path, about.

pub mod calibration;
pub mod open_path;
pub mod simulate;
pub mod train;
