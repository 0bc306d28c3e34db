//! The scans a bench reads: labelled `.npy` files (with `NAME.meta.json` sidecars) given one by
//! one or as directories, and the file names the simulator's `paper-train` and `paper-tests`
//! presets write.

use polarmap_core::error::{Error, Result};
use polarmap_sim::job::{job_path, preset};
use std::path::{Path, PathBuf};

/// A labelled test scan and the name its column carries (the file stem).
#[derive(Debug, Clone, PartialEq)]
pub struct TestSet {
    pub name: String,
    pub path: PathBuf,
}

/// Files as given, directories replaced by their labelled scans (`*.npy` with a sidecar), sorted.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| Error::io(path, e))?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "npy") && has_sidecar(p))
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(Error::format(
                    path,
                    "holds no labelled scan (NAME.npy with NAME.meta.json)",
                ));
            }
            out.extend(found);
        } else if path.exists() {
            out.push(path.clone());
        } else {
            return Err(Error::io(
                path,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            ));
        }
    }
    Ok(out)
}

fn has_sidecar(path: &Path) -> bool {
    polarmap_core::scan::Sidecar::candidates(path)
        .iter()
        .any(|p| p.is_file())
}

/// The files a preset writes into `dir` (`polarmap simulate --preset NAME --out-dir DIR`) that
/// exist there.
pub fn preset_files(name: &str, dir: &Path) -> Result<Vec<PathBuf>> {
    let all: Vec<PathBuf> = preset(name)?
        .iter()
        .map(|job| job_path(dir, job, false))
        .collect();
    let present: Vec<PathBuf> = all.iter().filter(|p| p.exists()).cloned().collect();
    if present.is_empty() {
        return Err(Error::invalid(format!(
            "none of the '{name}' preset's scans is in {} (make them with `polarmap simulate \
             --preset {name} --out-dir {}`, or name the scans)",
            dir.display(),
            dir.display()
        )));
    }
    Ok(present)
}

/// Test sets named by their file stems; two scans with one stem are refused.
pub fn test_sets(paths: &[PathBuf]) -> Result<Vec<TestSet>> {
    let mut sets: Vec<TestSet> = Vec::new();
    for path in paths {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("scan")
            .to_string();
        if sets.iter().any(|s| s.name == name) {
            return Err(Error::invalid(format!(
                "two test scans are named '{name}'; test sets are named by file stem"
            )));
        }
        sets.push(TestSet {
            name,
            path: path.clone(),
        });
    }
    Ok(sets)
}
