//! The integration tests, one binary: every module links the whole stack once, not once per file.

mod adapt;
mod analysis;
mod bench;
mod blockfile;
mod cli;
mod common;
mod confidence;
mod crosscheck;
mod dectris;
mod dm_mrc_tvips;
mod domains;
mod gui;
mod hdf5;
mod mib;
mod models;
mod models_cli;
mod nets;
mod npy;
mod prism;
mod simulate;
mod simulate_cli;
mod smoke;
mod tiff;
mod transfer;
