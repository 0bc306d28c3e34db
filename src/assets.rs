//! The demo scan and the shipped models travel inside the binary, so that an installed
//! `polarmap` (`cargo install --path .`) finds them wherever it runs. They are written once into
//! a folder of the user's data directory named after the version and the embedded content, and
//! read from there like any other file.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The embedded files, by their path relative to the install folder.
const FILES: &[(&str, &[u8])] = &[
    ("assets/demo.npy", include_bytes!("../assets/demo.npy")),
    (
        "assets/demo.meta.json",
        include_bytes!("../assets/demo.meta.json"),
    ),
    (
        "assets/demo_labels.npy",
        include_bytes!("../assets/demo_labels.npy"),
    ),
    (
        "models/pca-knn.pmm",
        include_bytes!("../models/pca-knn.pmm"),
    ),
    (
        "models/pca-knn.card.json",
        include_bytes!("../models/pca-knn.card.json"),
    ),
    (
        "models/conv-cls.pmm",
        include_bytes!("../models/conv-cls.pmm"),
    ),
    (
        "models/conv-cls.card.json",
        include_bytes!("../models/conv-cls.card.json"),
    ),
    (
        "models/conv-proto.pmm",
        include_bytes!("../models/conv-proto.pmm"),
    ),
    (
        "models/conv-proto.card.json",
        include_bytes!("../models/conv-proto.card.json"),
    ),
    (
        "models/conv-cls-dr.pmm",
        include_bytes!("../models/conv-cls-dr.pmm"),
    ),
    (
        "models/conv-cls-dr.card.json",
        include_bytes!("../models/conv-cls-dr.card.json"),
    ),
];

/// A short fingerprint of the embedded content (FNV-1a over every file), so that a binary with
/// other models never reads an older binary's copies.
fn fingerprint() -> u64 {
    FILES
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, (name, bytes)| {
            name.bytes()
                .chain(bytes.iter().copied())
                .fold(h, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
        })
}

/// Writes the embedded files into `root` (those already there with the right size are kept);
/// each file is written beside its final name and renamed, so no reader sees half a file.
pub fn install_into(root: &Path) -> Result<()> {
    for (name, bytes) in FILES {
        let path = root.join(name);
        if std::fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64) {
            continue;
        }
        let dir = path.parent().expect("a relative path with a folder");
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let partial = path.with_extension(format!("partial-{}", std::process::id()));
        std::fs::write(&partial, bytes)
            .with_context(|| format!("cannot write {}", partial.display()))?;
        std::fs::rename(&partial, &path)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// The install folder, its files written on first use: `$XDG_DATA_HOME/polarmap/VERSION-HASH`
/// (`~/.local/share/...` on Linux), else the temporary directory.
pub fn root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let name = format!("{}-{:016x}", env!("CARGO_PKG_VERSION"), fingerprint());
        let candidates = dirs::data_dir()
            .map(|d| d.join("polarmap"))
            .into_iter()
            .chain([std::env::temp_dir().join("polarmap")]);
        let mut last_error = None;
        for base in candidates {
            let root = base.join(&name);
            match install_into(&root) {
                Ok(()) => return root,
                Err(e) => last_error = Some(e),
            }
        }
        // Nowhere writable: the paths below then name files that cannot be read, and opening
        // them reports the file and the reason.
        eprintln!(
            "warning: cannot write the demo scan and shipped models: {:#}",
            last_error.expect("at least one candidate folder")
        );
        std::env::temp_dir().join("polarmap").join(name)
    })
}

/// The built-in demo scan.
pub fn demo_path() -> PathBuf {
    root().join("assets/demo.npy")
}

/// The user's models folder, where the app writes the models it trains or adapts:
/// `$XDG_DATA_HOME/polarmap/models` (`~/.local/share/polarmap/models` on Linux), beside the
/// versioned install folder of the shipped models, so that a newer polarmap still finds them;
/// the temporary directory where there is no data folder. Created when a model is written.
pub fn user_models_dir() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("polarmap")
        .join("models")
}

/// The folder of the shipped models.
pub fn models_dir() -> PathBuf {
    root().join("models")
}
