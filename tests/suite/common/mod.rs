//! Helpers shared by the integration tests: the real files in `../shared/testdata/`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Path of a file under the shared test data folder (`../shared/testdata/` beside the repo).
/// Panics with a clear message if the folder is missing: these tests must not silently pass.
pub fn testdata(relative: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata");
    let path = root.join(relative);
    assert!(
        path.exists(),
        "test data {} is missing: the tests expect ../shared/testdata beside the repository",
        path.display()
    );
    path
}

/// Extracts a zip from the test data into a fresh temporary folder and returns the folder.
pub fn unzip_testdata(relative: &str) -> tempfile::TempDir {
    let zip_path = testdata(relative);
    let file = std::fs::File::open(&zip_path).expect("open test zip");
    let mut archive = zip::ZipArchive::new(file).expect("read test zip");
    let dir = tempfile::tempdir().expect("temp dir");
    archive.extract(dir.path()).expect("extract test zip");
    dir
}

/// Runs the `polarmap` binary with `args`: (success, stdout, stderr).
pub fn polarmap(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_polarmap"))
        .args(args)
        .output()
        .expect("run polarmap");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A figure PDF's page width in points, after checking that the file is one whole PDF page with
/// an embedded font (a vector figure, text kept as text).
pub fn pdf_page_width_pt(bytes: &[u8]) -> f64 {
    let text = String::from_utf8_lossy(bytes);
    assert!(text.starts_with("%PDF-") && text.trim_end().ends_with("%%EOF"));
    assert_eq!(text.matches("/MediaBox").count(), 1, "one page");
    assert!(text.contains("/FontFile"), "an embedded font");
    let media = text.split("/MediaBox [").nth(1).unwrap();
    media.split_whitespace().nth(2).unwrap().parse().unwrap()
}
