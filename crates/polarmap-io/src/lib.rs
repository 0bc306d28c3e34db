//! polarmap-io: the data model of a 4D-STEM scan and its files.
//!
//! A [`Scan`] is a 4D array indexed `[scan_row, scan_col, det_row, det_col]`, row-major, row 0 at
//! the top, with its [`Calibration`]; the readers (one module per format under [`scan`]) open it
//! memory-mapped or chunked in its native dtype behind one [`open`]. The image plane has x to the
//! right and y up; angles are counter-clockwise from +x. This crate knows no model, GUI or CLI.

pub mod classes;
pub mod error;
pub mod filter;
pub mod progress;
pub mod scan;
pub mod write;

pub use classes::Class;
pub use error::{Error, Result};
pub use progress::Progress;
pub use scan::{open, Calibration, DType, Scan};
