//! polarmap-core: everything between an open scan and a result — the CoM/virtual-detector pass
//! ([`analysis`]), the model input ([`preprocess`]), the classifiers and their training
//! ([`models`]), class maps and region statistics ([`maps`]), images and files ([`export`]), and
//! the [`session`] that chains them for the GUI, the CLI and the bench alike.
//!
//! It re-exports the data model of `polarmap-io`, so that a binding or a script can depend on this
//! crate alone. It knows no GUI and no command line.

pub mod analysis;
pub mod colour;
pub mod domains;
pub mod export;
pub mod figure;
pub mod maps;
pub mod models;
pub mod preprocess;
pub mod region_table;
pub mod session;

pub use polarmap_io::{classes, error, filter, progress, scan, write};
pub use polarmap_io::{open, Calibration, Class, DType, Error, Progress, Result, Scan};
pub use session::Session;
