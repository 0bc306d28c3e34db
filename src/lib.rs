//! polarmap: polarization mapping of ferroelectrics from 4D-STEM data.
//!
//! Conventions (see DESIGN.md): a scan is indexed `[scan_row, scan_col, det_row, det_col]`,
//! row-major, row 0 at the top; the image plane has x to the right and y up; angles are
//! counter-clockwise from +x.

pub mod analysis;
pub mod bench;
pub mod canvas;
pub mod classes;
pub mod cli;
pub mod colour;
pub mod error;
pub mod export;
#[cfg(feature = "gui")]
pub mod gui;
pub mod maps;
pub mod models;
pub mod preprocess;
pub mod progress;
pub mod scan;
pub mod simulate;

pub use classes::Class;
pub use error::{Error, Result};
pub use progress::Progress;
pub use scan::{open, Calibration, DType, Scan};
