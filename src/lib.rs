//! The polarmap application: the command line ([`cli`]) and the desktop app (`gui`), two thin
//! shells over `polarmap-core` (analysis, models, maps, export), `polarmap-io` (scans and their
//! files), `polarmap-sim` (the simulator) and `polarmap-bench` (the paper's protocol).

pub mod assets;
pub mod cli;
#[cfg(feature = "gui")]
pub mod gui;
