//! HDF5 / EMD reader: real files from Prismatic and emdfile (py4DSTEM layout) and h5py-written
//! fixtures, checked against h5py / RosettaSciIO (`scripts/crosscheck_hdf5_blo.py`).

use crate::common;
use crate::crosscheck;

use polarmap_core::scan::{self, hdf5, open, open_with, FrameBuffer, FrameRef, OpenOptions};
use polarmap_core::{DType, Error};
use std::path::{Path, PathBuf};

const CUBE0: &str = "/4DSTEM_simulation/data/datacubes/CBED_array_depth0000/datacube";
const CUBE1: &str = "/4DSTEM_simulation/data/datacubes/CBED_array_depth0001/datacube";

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn si100() -> PathBuf {
    common::testdata("other/Si100_4D.emd")
}

#[test]
fn prismatic_first_datacube_by_default() {
    let scan = open(si100()).unwrap();
    assert_eq!(scan.format(), "hdf5");
    assert_eq!(scan.shape(), [11, 11, 8, 8]);
    assert_eq!(scan.dtype(), DType::F32);
    crosscheck::assert_matches(&scan, &format!("Si100_4D.emd:{CUBE0}"));
    // Pinned from h5py / rsciio: frame (0, 0) pixel (0, 0) and an interior pixel.
    assert_eq!(
        scan.frame_f32(0, 0).unwrap()[0],
        1.061_423_446_913_067_9e-7_f64 as f32
    );
    assert_eq!(
        scan.frame_f32(1, 0).unwrap()[3 * 8 + 5],
        0.017_949_411_645_531_654_f64 as f32
    );
}

#[test]
fn prismatic_second_datacube_by_option() {
    let options = OpenOptions {
        dataset: Some(CUBE1.into()),
        ..Default::default()
    };
    let scan = open_with(si100(), &options).unwrap();
    crosscheck::assert_matches(&scan, &format!("Si100_4D.emd:{CUBE1}"));
    assert_eq!(
        scan.frame_f32(0, 0).unwrap()[0],
        9.818_247_053_772_211e-5_f64 as f32
    );
    // Without the leading slash too.
    let options = OpenOptions {
        dataset: Some(CUBE1.trim_start_matches('/').into()),
        ..Default::default()
    };
    assert_eq!(
        open_with(si100(), &options)
            .unwrap()
            .frame_f32(0, 0)
            .unwrap()[0],
        9.818_247_053_772_211e-5_f64 as f32
    );
}

#[test]
fn prismatic_calibration_in_angstrom() {
    let c = open(si100()).unwrap().calibration;
    // Probe step 0.5 Å (dim1), 100 keV, 30 mrad probe semi-angle.
    assert_eq!(c.scan_step_a, Some(0.5));
    assert_eq!(c.energy_kv, Some(100.0));
    assert_eq!(c.convergence_mrad, Some(30.0));
    // 0.184162 Å⁻¹ per pixel × λ(100 kV) = 0.0370144 Å → 6.8166 mrad per pixel.
    let mrad = c.mrad_per_px.unwrap();
    assert!((mrad - 6.8166).abs() < 1e-3, "{mrad}");
}

#[test]
fn lists_both_prismatic_datacubes() {
    let list = hdf5::list_candidates(&si100()).unwrap();
    let paths: Vec<&str> = list.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, [CUBE0, CUBE1]);
    assert!(list
        .iter()
        .all(|c| c.convention == hdf5::Convention::Prismatic));
    assert_eq!(list[0].shape, [11, 11, 8, 8]);
    assert_eq!(list[0].dtype, "float32");
}

#[test]
fn unknown_dataset_option_lists_the_datacubes() {
    let options = OpenOptions {
        dataset: Some("/nope".into()),
        ..Default::default()
    };
    let msg = open_with(si100(), &options).unwrap_err().to_string();
    assert!(msg.contains("Si100_4D.emd"), "{msg}");
    assert!(msg.contains("has no dataset /nope"), "{msg}");
    assert!(msg.contains(CUBE0) && msg.contains(CUBE1), "{msg}");
    // A dataset that exists but is not a cube.
    let options = OpenOptions {
        dataset: Some("/4DSTEM_simulation/data/datacubes/CBED_array_depth0000/dim1".into()),
        ..Default::default()
    };
    let msg = open_with(si100(), &options).unwrap_err().to_string();
    assert!(msg.contains("is not a 3D or 4D array"), "{msg}");
}

#[test]
fn emd1_py4dstem_chunked_gzip() {
    let scan = open(data("py4dstem_datacube.emd")).unwrap();
    assert_eq!(scan.shape(), [4, 3, 16, 16]);
    assert_eq!(scan.dtype(), DType::U16);
    crosscheck::assert_matches(&scan, "py4dstem_datacube.emd:/polarmap_test/datacube/data");
    assert_eq!(scan.frame_f32(0, 0).unwrap()[0], 52.0);
    assert_eq!(scan.frame_f32(3, 2).unwrap()[8 * 16 + 5], 1291.0);
    // Calibration from the root metadata: R_pixel_size 2.5 Å; Q in Å⁻¹ without an energy: unknown.
    assert_eq!(scan.calibration.scan_step_a, Some(2.5));
    assert_eq!(scan.calibration.mrad_per_px, None);
    let list = hdf5::list_candidates(&data("py4dstem_datacube.emd")).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].convention, hdf5::Convention::Emd1);
}

#[test]
fn py4dstem_012_contiguous_big_endian() {
    let scan = open(data("py4dstem012_datacube.h5")).unwrap();
    assert_eq!(scan.shape(), [2, 5, 8, 8]);
    crosscheck::assert_matches(
        &scan,
        "py4dstem012_datacube.h5:/4DSTEM_experiment/data/datacubes/scan/data",
    );
    assert_eq!(scan.frame_f32(0, 0).unwrap()[0], 3779.0);
    // dims in [n_m] and [mrad].
    assert_eq!(scan.calibration.scan_step_a, Some(4.0));
    assert_eq!(scan.calibration.mrad_per_px, Some(0.5));
    let list = hdf5::list_candidates(&data("py4dstem012_datacube.h5")).unwrap();
    assert_eq!(list[0].convention, hdf5::Convention::Emd0);
}

#[test]
fn stack_3d_after_user_block() {
    let path = data("stack3d_userblock.h5");
    assert!(hdf5::has_signature(&path).unwrap());
    let scan = open(&path).unwrap();
    assert_eq!(scan.shape(), [1, 6, 8, 8]);
    assert_eq!(scan.dtype(), DType::F64);
    crosscheck::assert_matches(&scan, "stack3d_userblock.h5:/entry/frames");
    // Contiguous and unfiltered: frames are views into the memory map, 8x8 f64 = 512 bytes apart.
    let (mut a, mut b) = (FrameBuffer::new(), FrameBuffer::new());
    let (fa, fb) = (
        scan.frame(0, &mut a).unwrap(),
        scan.frame(1, &mut b).unwrap(),
    );
    let (pa, pb) = match (fa, fb) {
        (FrameRef::F64(x), FrameRef::F64(y)) => (x.as_ptr() as usize, y.as_ptr() as usize),
        other => panic!("{other:?}"),
    };
    assert_eq!(pb - pa, 512);
    // Recognised by content even under an unrelated extension.
    let dir = tempfile::tempdir().unwrap();
    let renamed = dir.path().join("frames.dat");
    std::fs::copy(&path, &renamed).unwrap();
    assert_eq!(open(&renamed).unwrap().shape(), [1, 6, 8, 8]);
}

#[test]
fn frames_are_read_in_parallel() {
    use rayon::prelude::*;
    let scan = open(data("py4dstem_datacube.emd")).unwrap();
    let sums: Vec<f64> = (0..scan.n_frames())
        .into_par_iter()
        .map_init(FrameBuffer::new, |buf, i| {
            scan.frame(i, buf)
                .unwrap()
                .to_f32_vec()
                .iter()
                .map(|&v| v as f64)
                .sum()
        })
        .collect();
    let total: f64 = sums.iter().sum();
    assert_eq!(
        total,
        crosscheck::expected("py4dstem_datacube.emd:/polarmap_test/datacube/data")["sum"]
            .as_f64()
            .unwrap()
    );
}

// ------------------------------------------------------------------------------------------------
// Bad input: a clear error naming the file, never a panic.
// ------------------------------------------------------------------------------------------------

fn format_error(path: &Path) -> String {
    let err = open(path).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, Error::Format { .. } | Error::Io { .. }),
        "{err:?}"
    );
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(msg.contains(name), "error does not name the file: {msg}");
    msg
}

#[test]
fn no_datacube_is_a_clear_error() {
    let msg = format_error(&data("no_datacube.h5"));
    assert!(msg.contains("no 3D or 4D dataset"), "{msg}");
    assert!(msg.contains("/spectrum (1D 100)"), "{msg}");
    assert!(msg.contains("/images/haadf (2D 16x16)"), "{msg}");
}

#[test]
fn truncated_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (name, src) in [
        ("si.emd", si100()),
        ("cube.emd", data("py4dstem_datacube.emd")),
        ("old.h5", data("py4dstem012_datacube.h5")),
    ] {
        let bytes = std::fs::read(&src).unwrap();
        for cut in [0, 7, 8, 100, 1000, bytes.len() / 2, bytes.len() - 1] {
            let path = dir.path().join(format!("{cut}-{name}"));
            std::fs::write(&path, &bytes[..cut]).unwrap();
            // Opening may succeed if the metadata survived; reading every frame must then fail
            // or succeed cleanly.
            match open(&path) {
                Err(e) => assert!(e.to_string().contains(&format!("{cut}-{name}")), "{e}"),
                Ok(scan) => {
                    let mut buf = FrameBuffer::new();
                    for i in 0..scan.n_frames() {
                        if let Err(e) = scan.frame(i, &mut buf) {
                            assert!(e.to_string().contains(&format!("{cut}-{name}")), "{e}");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn layout_pointing_past_the_end_is_reported() {
    // The old py4DSTEM fixture stores its data contiguously at offset 6080, 1280 bytes (h5py's
    // `get_offset()` / `get_storage_size()`). Make the layout message lie: move the data address
    // so that the data would run past the end of the file.
    let mut bytes = std::fs::read(data("py4dstem012_datacube.h5")).unwrap();
    let mut needle = 6080u64.to_le_bytes().to_vec();
    needle.extend_from_slice(&1280u64.to_le_bytes());
    let at = bytes
        .windows(16)
        .position(|w| w == needle.as_slice())
        .expect("layout message of the fixture");
    let lie = (bytes.len() as u64 - 100).to_le_bytes();
    bytes[at..at + 8].copy_from_slice(&lie);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lying.h5");
    std::fs::write(&path, &bytes).unwrap();
    let msg = format_error(&path);
    assert!(msg.contains("truncated"), "{msg}");
}

#[test]
fn not_hdf5_with_h5_extension() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.h5");
    std::fs::write(&path, b"this is not an HDF5 file at all, just text").unwrap();
    let msg = format_error(&path);
    assert!(msg.contains("HDF5"), "{msg}");
    let empty = dir.path().join("empty.emd");
    std::fs::write(&empty, b"").unwrap();
    format_error(&empty);
}

#[test]
fn corrupt_superblock_and_headers() {
    let bytes = std::fs::read(si100()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Scribble over the superblock's root address, then over object headers.
    for (i, range) in [(8usize..96usize), (96..800), (800..4000)]
        .into_iter()
        .enumerate()
    {
        let mut b = bytes.clone();
        for (k, x) in b[range].iter_mut().enumerate() {
            *x ^= 0xA5u8.wrapping_add(k as u8);
        }
        let path = dir.path().join(format!("corrupt{i}.emd"));
        std::fs::write(&path, &b).unwrap();
        if let Err(e) = open(&path) {
            assert!(e.to_string().contains(&format!("corrupt{i}.emd")), "{e}");
        }
    }
}

#[test]
fn scan_open_picks_hdf5_by_signature() {
    // A module-level check that `scan::open` routes HDF5 without relying on the extension.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("noext");
    std::fs::copy(data("py4dstem_datacube.emd"), &path).unwrap();
    assert_eq!(scan::open(&path).unwrap().shape(), [4, 3, 16, 16]);
}

// ------------------------------------------------------------------------------------------------
// Fuzz: mutated and truncated real files open and read as Ok or Err, never a panic.
// ------------------------------------------------------------------------------------------------

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    /// Opens and reads the first 64 frames and the last. Not every frame: a mutated shape can
    /// legitimately declare millions of frames of a sparse chunked dataset (missing chunks read
    /// as the fill value), which would only make the test slow.
    fn open_and_read_all(path: &Path) {
        if let Ok(scan) = open(path) {
            let mut buf = FrameBuffer::new();
            let n = scan.n_frames();
            for i in (0..n.min(64)).chain([n - 1]) {
                let _ = scan.frame(i, &mut buf);
            }
        }
    }

    fn mutate_and_check(src: &Path, ext: &str, edits: &[(usize, u8)], cut: Option<usize>) {
        let mut bytes = std::fs::read(src).unwrap();
        for &(pos, byte) in edits {
            let n = bytes.len();
            bytes[pos % n] = byte;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut % (bytes.len() + 1));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("fuzz.{ext}"));
        std::fs::write(&path, &bytes).unwrap();
        // Nothing catches panics (the reader no longer wraps the decoder in catch_unwind): a
        // panic in the reader or in the HDF5 crate fails the test.
        open_and_read_all(&path);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

        // Edits concentrated in the metadata at the start of the file (superblock, root group,
        // object headers, B-trees), where a corrupt byte changes the structure.
        #[test]
        fn mutated_prismatic_header(
            edits in proptest::collection::vec((0usize..6000, any::<u8>()), 1..6),
            cut in proptest::option::of(0usize..200_000),
        ) {
            mutate_and_check(&si100(), "emd", &edits, cut);
        }

        #[test]
        fn mutated_emd1_gzip(
            edits in proptest::collection::vec((0usize..21_149, any::<u8>()), 1..6),
            cut in proptest::option::of(0usize..30_000),
        ) {
            mutate_and_check(&data("py4dstem_datacube.emd"), "emd", &edits, cut);
        }

        #[test]
        fn mutated_py4dstem_012(
            edits in proptest::collection::vec((0usize..10_000, any::<u8>()), 1..6),
            cut in proptest::option::of(0usize..10_000),
        ) {
            mutate_and_check(&data("py4dstem012_datacube.h5"), "h5", &edits, cut);
        }
    }
}
