//! Writing files without losing data: nothing is overwritten unless the caller says so.

use crate::error::{Error, Result};
use crate::scan::{npy, DType};
use std::io::Write;
use std::path::Path;

/// Fails if `path` exists and `overwrite` is false.
pub fn check_writable(path: &Path, overwrite: bool) -> Result<()> {
    if !overwrite && path.exists() {
        return Err(Error::invalid(format!(
            "{} already exists; not overwriting it (use --overwrite to replace it)",
            path.display()
        )));
    }
    Ok(())
}

/// Writes a C-ordered little-endian float32 `.npy`.
pub fn write_npy_f32(path: &Path, shape: &[usize], data: &[f32], overwrite: bool) -> Result<()> {
    if shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) != Some(data.len()) {
        return Err(Error::invalid(format!(
            "{}: shape {shape:?} does not hold {} values",
            path.display(),
            data.len()
        )));
    }
    check_writable(path, overwrite)?;
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut out = std::io::BufWriter::new(file);
    let write = |out: &mut std::io::BufWriter<std::fs::File>| -> std::io::Result<()> {
        out.write_all(&npy::header_bytes(DType::F32, shape))?;
        for v in data {
            out.write_all(&v.to_le_bytes())?;
        }
        out.flush()
    };
    write(&mut out).map_err(|e| Error::io(path, e))
}
