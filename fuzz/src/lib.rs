//! What the fuzz targets share: a scratch folder per process, and reading a scan the way the app
//! does (open, then frames) with the invariants every reader must keep.

use polarmap_io::scan::{FrameBuffer, OpenOptions, Scan};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A folder of this process's own (`target` and the process id in its name), emptied of what
/// earlier inputs left in it.
pub fn workdir(target: &str) -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("polarmap-fuzz-{target}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("cannot create the fuzz scratch folder");
        dir
    });
    for entry in std::fs::read_dir(dir).expect("cannot list the fuzz scratch folder") {
        let path = entry.expect("cannot list the fuzz scratch folder").path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path).expect("cannot clean the fuzz scratch folder");
        } else {
            std::fs::remove_file(&path).expect("cannot clean the fuzz scratch folder");
        }
    }
    dir
}

/// Writes `bytes` as `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("cannot write the fuzz input");
    path
}

/// Opens `path` as the app does and, if it opens, reads its first frames and its last one.
/// An error is a fine answer to a corrupt file; a panic (including the checks below) is a bug.
pub fn open_and_read(path: &Path, options: &OpenOptions) {
    if let Ok(scan) = polarmap_io::scan::open_with(path, options) {
        read_some(&scan);
    }
}

/// Reads up to 16 frames and the last, checking that each has the scan's frame length.
pub fn read_some(scan: &Scan) {
    let n = scan.n_frames();
    assert_eq!(n, scan.scan_shape()[0] * scan.scan_shape()[1]);
    let mut buf = FrameBuffer::new();
    for index in (0..n.min(16)).chain([n - 1]) {
        if let Ok(frame) = scan.frame(index, &mut buf) {
            assert_eq!(frame.len(), scan.frame_len(), "frame {index}");
            assert_eq!(frame.dtype(), scan.dtype(), "frame {index}");
        }
    }
    // Out of range is an error, never a panic.
    assert!(scan.frame(n, &mut buf).is_err());
}

/// `data` cut at the first occurrence of each separator in turn (the separators removed): one
/// part more than separators found.
pub fn split<'a>(data: &'a [u8], separators: &[&[u8]]) -> Vec<&'a [u8]> {
    let mut parts = Vec::new();
    let mut rest = data;
    for sep in separators {
        match rest.windows(sep.len()).position(|w| w == *sep) {
            Some(at) => {
                parts.push(&rest[..at]);
                rest = &rest[at + sep.len()..];
            }
            None => break,
        }
    }
    parts.push(rest);
    parts
}
