//! The library's error type: every error about user input names the file it concerns.

use std::path::{Path, PathBuf};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read at the operating-system level. The cause is part of the
    /// message and deliberately not a `source()`: error reporters that print the chain (anyhow,
    /// the command line) would otherwise print it twice.
    #[error("{}: {cause}", path.display())]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// The file was read but its content is not what the format requires.
    #[error("{}: {message}", path.display())]
    Format { path: PathBuf, message: String },
    /// The request itself is invalid (bad shape, bad argument), independent of a file.
    #[error("{0}")]
    Invalid(String),
    /// Work was cancelled by the caller.
    #[error("cancelled")]
    Cancelled,
}

impl Error {
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            cause: source,
        }
    }

    pub fn format(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        Error::Format {
            path: path.as_ref().to_path_buf(),
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }
}
