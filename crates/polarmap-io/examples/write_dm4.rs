//! Writes a uint16 scan that polarmap can open as a DM4 file laid out as GMS 3.4+ stores STEMx
//! data, for cross-checks against RosettaSciIO and LiberTEM and for the speed comparison
//! (`scripts/crosscheck_dm_mrc_tvips.py`, docs/formats.md).
//!
//! Usage: cargo run --release -p polarmap-io --example write_dm4 -- IN OUT.dm4
//!        [DETECTOR_SCALE DETECTOR_UNITS SCAN_SCALE SCAN_UNITS VOLTAGE_V]

use polarmap_io::scan::dm::{write_dm4, Dm4Meta};
use polarmap_io::scan::{FrameBuffer, FrameRef};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 2 && args.len() != 7 {
        return Err(
            "usage: write_dm4 IN OUT.dm4 [DET_SCALE DET_UNITS SCAN_SCALE SCAN_UNITS VOLTAGE_V]"
                .into(),
        );
    }
    let scan = polarmap_io::scan::open(&args[0])?;
    let (detector, scan_axis, voltage) = if args.len() == 7 {
        (
            (args[2].parse()?, args[3].clone()),
            (args[4].parse()?, args[5].clone()),
            Some(args[6].parse()?),
        )
    } else {
        ((1.0, String::new()), (1.0, String::new()), None)
    };
    let meta = Dm4Meta {
        shape: scan.shape(),
        detector,
        scan: scan_axis,
        voltage,
    };
    let mut scratch = FrameBuffer::new();
    let mut failure = None;
    let frames = (0..scan.n_frames()).map_while(|i| match scan.frame(i, &mut scratch) {
        Ok(FrameRef::U16(p)) => Some(p.to_vec()),
        Ok(other) => {
            failure = Some(format!(
                "{} frames are {}, not uint16",
                args[0],
                other.dtype()
            ));
            None
        }
        Err(e) => {
            failure = Some(e.to_string());
            None
        }
    });
    let written = write_dm4::<u16, _, _>(std::path::Path::new(&args[1]), &meta, frames);
    if let Some(f) = failure {
        return Err(f.into());
    }
    written?;
    Ok(())
}
