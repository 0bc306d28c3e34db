//! Runs polarmap's multislice simulator on one job and writes everything an independent
//! simulator (abTEM, `bench/abtem_compare.py`) needs to redo the same job:
//!
//! - `OUT/polarmap.npy`: the 4D intensities `[scan_row, scan_col, det_row, det_col]` (f32);
//! - `OUT/atoms.csv`: every atom as `Z,x,y,z` in Å (x right, y up, z depth from the entrance);
//! - `OUT/job.json`: cell, grid, slices, probe, detector, the probe positions (Å) and timings.
//!
//! ```text
//! cargo run --release --example sim_compare -- --out DIR [--class RD] [--cells 2x2x10]
//!     [--scan 8x8] [--scan-cells 2x2] [--sampling 0.05] [--detector 128] [--max-mrad 40]
//!     [--a-site K] [--nb-shift 0.15] [--kv 200] [--convergence-mrad 24] [--repeat 1]
//! ```
//!
//! Timings: `prepare_s` (grid, potentials, transmission functions), `scan_s` (all positions,
//! rayon over positions; `RAYON_NUM_THREADS=1` for one thread), best of `--repeat` runs.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use polarmap_core::classes::Class;
use polarmap_core::export::write_npy_f32;
use polarmap_core::Progress;
use polarmap_sim::{
    crystal::KNN_A, ASite, DetectorSpec, Perovskite, ProbeParams, ScanSpec, SimParams, Simulation,
};

fn parse_dims<const N: usize>(s: &str, what: &str) -> [usize; N] {
    let v: Vec<usize> = s
        .split(['x', 'X', '×'])
        .map(|p| {
            p.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{what}: bad number in {s:?}"))
        })
        .collect();
    v.try_into()
        .unwrap_or_else(|_| panic!("{what}: expected {N} numbers separated by x, got {s:?}"))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut out: Option<PathBuf> = None;
    let mut class = Some(Class::RD);
    let mut cells = [2usize, 2, 10];
    let mut scan_dims = [8usize, 8];
    let mut scan_cells = [2usize, 2];
    let mut sampling = 0.05;
    let mut pixels = 128usize;
    let mut max_mrad = 40.0;
    let mut a_site = ASite::K;
    let mut nb_shift = 0.15;
    let mut kv = 200.0;
    let mut conv = 24.0;
    let mut repeat = 1usize;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut val = || {
            it.next()
                .unwrap_or_else(|| panic!("{flag} needs a value"))
                .as_str()
        };
        match flag.as_str() {
            "--out" => out = Some(PathBuf::from(val())),
            "--class" => {
                let v = val();
                class = if v.eq_ignore_ascii_case("none") {
                    None
                } else {
                    Some(Class::from_name(v).ok_or(format!("unknown class {v}"))?)
                }
            }
            "--cells" => cells = parse_dims(val(), "--cells"),
            "--scan" => scan_dims = parse_dims(val(), "--scan"),
            "--scan-cells" => scan_cells = parse_dims(val(), "--scan-cells"),
            "--sampling" => sampling = val().parse()?,
            "--detector" => pixels = val().parse()?,
            "--max-mrad" => max_mrad = val().parse()?,
            "--a-site" => {
                let v = val();
                a_site = ASite::from_name(v).ok_or(format!("unknown A site {v}"))?
            }
            "--nb-shift" => nb_shift = val().parse()?,
            "--kv" => kv = val().parse()?,
            "--convergence-mrad" => conv = val().parse()?,
            "--repeat" => repeat = val().parse::<usize>()?.max(1),
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    let out = out.ok_or("--out DIR is required")?;
    std::fs::create_dir_all(&out)?;

    let crystal = Perovskite {
        a_site,
        ..Perovskite::knn(class, nb_shift, cells)
    }
    .build()?;
    let params = SimParams {
        probe: ProbeParams {
            energy_kev: kv,
            convergence_mrad: conv,
            ..ProbeParams::default()
        },
        sampling_a: sampling,
        slice_thickness: None,
        detector: DetectorSpec { pixels, max_mrad },
        phonons: None,
        ..SimParams::default()
    };
    let scan = ScanSpec::over_cells(scan_dims[0], scan_dims[1], scan_cells, KNN_A);
    let progress = Progress::new();
    let n = pixels;
    let mut data = vec![0f32; scan.len() * n * n];
    let (mut prepare_s, mut scan_s) = (f64::INFINITY, f64::INFINITY);
    let mut sim_info = None;
    for _ in 0..repeat {
        let t0 = Instant::now();
        let sim = Simulation::new(&crystal, &params, &progress)?;
        let t1 = Instant::now();
        let row_len = scan.cols * n * n;
        sim.run_rows(&scan, &progress, |r, row| {
            data[r * row_len..(r + 1) * row_len].copy_from_slice(row);
            Ok(())
        })?;
        let t2 = Instant::now();
        prepare_s = prepare_s.min((t1 - t0).as_secs_f64());
        scan_s = scan_s.min((t2 - t1).as_secs_f64());
        sim_info = Some((sim.grid, sim.slices, sim.thickness_a, sim.band_limit_mrad()));
    }
    let (grid, slices, thickness, band_limit) = sim_info.expect("at least one run");
    write_npy_f32(
        &out.join("polarmap.npy"),
        &[scan.rows, scan.cols, n, n],
        &data,
        true,
    )?;

    let mut csv = std::io::BufWriter::new(std::fs::File::create(out.join("atoms.csv"))?);
    writeln!(csv, "Z,x,y,z")?;
    for a in &crystal.atoms {
        writeln!(
            csv,
            "{},{:.10},{:.10},{:.10}",
            a.z, a.pos[0], a.pos[1], a.pos[2]
        )?;
    }
    csv.flush()?;

    let positions: Vec<[f64; 2]> = (0..scan.rows)
        .flat_map(|i| (0..scan.cols).map(move |j| (i, j)))
        .map(|(i, j)| {
            let (x, y) = scan.position(i, j);
            [x, y]
        })
        .collect();
    let threads = rayon::current_num_threads();
    let job = serde_json::json!({
        "tool": "polarmap",
        "version": env!("CARGO_PKG_VERSION"),
        "class": class.map(|c| c.name()),
        "cells": cells,
        "a_site": format!("{a_site:?}"),
        "nb_shift_a": nb_shift,
        "extent_a": crystal.extent,
        "slice_thickness_a": crystal.slice_thickness,
        "slices": slices,
        "thickness_a": thickness,
        "grid": {"rows": grid.rows, "cols": grid.cols, "dx": grid.dx(), "dy": grid.dy()},
        "band_limit_mrad": band_limit,
        "energy_kev": kv,
        "convergence_mrad": conv,
        "soft_aperture": params.probe.soft_edge,
        "detector": {"pixels": n, "max_mrad": max_mrad, "mrad_per_px": params.detector.mrad_per_px()},
        "scan": {"rows": scan.rows, "cols": scan.cols, "origin": scan.origin, "step": scan.step},
        "positions_xy_a": positions,
        "timing": {
            "threads": threads,
            "repeat": repeat,
            "prepare_s": prepare_s,
            "scan_s": scan_s,
            "positions": scan.len(),
            "per_position_s": scan_s / scan.len() as f64,
        },
    });
    std::fs::write(out.join("job.json"), serde_json::to_string_pretty(&job)?)?;
    println!(
        "polarmap: grid {}x{}, {} slices, prepare {:.3} s, scan {:.3} s ({} positions, {} threads, {:.4} s/position)",
        grid.rows,
        grid.cols,
        slices,
        prepare_s,
        scan_s,
        scan.len(),
        threads,
        scan_s / scan.len() as f64
    );
    Ok(())
}
