//! Physics tests of the multislice simulator (small grids, thin crystals, few positions).

use std::sync::Arc;

use ndarray::Array4;
use polarmap_core::classes::Class;
use polarmap_core::{Error, Progress};
use polarmap_sim::{
    simulate_scan, ASite, Crystal, DetectorSpec, FrozenPhonons, Grid, Multislice, Perovskite,
    ProbeParams, ScanSpec, SimParams, Simulation, Specimen,
};

const A: f64 = 3.95;

fn params() -> SimParams {
    SimParams {
        sampling_a: 0.1, // 2 cells → 80 px, band limit ≈ 85 mrad
        detector: DetectorSpec {
            pixels: 24,
            max_mrad: 40.0,
        },
        ..SimParams::default()
    }
}

fn knn_k(class: Option<Class>, shift: [f64; 3], cells: [usize; 3]) -> Crystal {
    let mut p = Perovskite::knn(class, 0.15, cells);
    if class.is_none() {
        p.b_shift = shift;
    }
    p.a_site = ASite::K;
    p.build().unwrap()
}

fn run(crystal: &Crystal, n: usize) -> Array4<f32> {
    let scan = ScanSpec::over_cells(n, n, [2, 2], A);
    simulate_scan(crystal, &params(), &scan, &Progress::new())
        .unwrap()
        .data
}

/// CoM of every pattern relative to the detector centre, in pixels (x right, y up).
fn com(data: &Array4<f32>) -> Vec<[f64; 2]> {
    let (sr, sc, dr, dc) = data.dim();
    let (c_r, c_c) = ((dr as f64 - 1.0) / 2.0, (dc as f64 - 1.0) / 2.0);
    let mut out = Vec::new();
    for i in 0..sr {
        for j in 0..sc {
            let (mut x, mut y, mut s) = (0.0, 0.0, 0.0);
            for p in 0..dr {
                for q in 0..dc {
                    let v = data[[i, j, p, q]] as f64;
                    x += v * (q as f64 - c_c);
                    y += v * (c_r - p as f64);
                    s += v;
                }
            }
            out.push([x / s, y / s]);
        }
    }
    out
}

fn max_abs(a: &Array4<f32>) -> f32 {
    a.iter().fold(0f32, |m, v| m.max(v.abs()))
}

/// Largest |a − f(b)| relative to max |a|, where `map` gives, for an index of `a`, the index of
/// `b` it should equal.
fn rel_diff(a: &Array4<f32>, b: &Array4<f32>, map: impl Fn([usize; 4]) -> [usize; 4]) -> f32 {
    let mut worst = 0f32;
    for ((i, j, p, q), v) in a.indexed_iter() {
        worst = worst.max((v - b[map([i, j, p, q])]).abs());
    }
    worst / max_abs(a)
}

#[test]
fn probe_is_normalised() {
    let crystal = knn_k(None, [0.0; 3], [2, 2, 1]);
    let grid = Grid::with_sampling(2.0 * A, 2.0 * A, 0.1).unwrap();
    let specimen =
        Arc::new(Specimen::build(&crystal, grid, A / 2.0, 200.0, &Progress::new()).unwrap());
    for probe in [
        ProbeParams::default(),
        ProbeParams {
            defocus_a: 50.0,
            cs_a: 1e7,
            ..ProbeParams::default()
        },
        ProbeParams {
            soft_edge: false,
            ..ProbeParams::default()
        },
    ] {
        let ms = Multislice::new(specimen.clone(), probe).unwrap();
        let mut ws = ms.workspace();
        for (x, y) in [(0.0, 0.0), (1.3, -2.1), (7.0, 3.3)] {
            let psi = ms.probe_at(x, y, &mut ws);
            let total: f64 = psi.iter().map(|c| c.norm_sqr() as f64).sum();
            assert!((total - 1.0).abs() < 1e-5, "Σ|ψ|² = {total}");
        }
    }
}

#[test]
fn intensity_is_conserved_up_to_the_antialiasing_loss() {
    let progress = Progress::new();
    let grid = Grid::with_sampling(2.0 * A, 2.0 * A, 0.1).unwrap();
    // Vacuum: nothing is lost.
    let vacuum = Crystal {
        atoms: Vec::new(),
        extent: [2.0 * A, 2.0 * A, 4.0 * A],
        slice_thickness: A / 2.0,
    };
    let crystal = Perovskite::knn(Some(Class::RD), 0.15, [2, 2, 4])
        .build()
        .unwrap();
    for (name, c, bound) in [("vacuum", &vacuum, 1e-5), ("KNN 4 cells", &crystal, 0.05)] {
        let sp = Arc::new(Specimen::build(c, grid, A / 2.0, 200.0, &progress).unwrap());
        assert_eq!(sp.slices.len(), 8);
        let ms = Multislice::new(sp, ProbeParams::default()).unwrap();
        let mut ws = ms.workspace();
        let mut full = vec![0f32; grid.len()];
        for (x, y) in [(0.0, 0.0), (A / 2.0, A / 2.0), (1.0, -0.4)] {
            ms.run(x, y, &mut ws, &mut full);
            let total: f64 = full.iter().map(|&v| v as f64).sum();
            let loss = 1.0 - total;
            eprintln!("{name}: probe at ({x}, {y}) Å, anti-aliasing loss {loss:.2e}");
            assert!(loss > -1e-5 && loss < bound, "{name}: loss {loss}");
        }
    }
}

#[test]
fn undisplaced_structure_has_zero_mean_com() {
    let data = run(&knn_k(None, [0.0; 3], [2, 2, 2]), 6);
    let c = com(&data);
    let mean = c.iter().fold([0.0, 0.0], |m, v| [m[0] + v[0], m[1] + v[1]]);
    let mean = [mean[0] / c.len() as f64, mean[1] / c.len() as f64];
    let biggest = c.iter().map(|v| v[0].hypot(v[1])).fold(0.0, f64::max);
    assert!(
        biggest > 0.05,
        "the CoM field should not be trivial: {biggest}"
    );
    assert!(
        mean[0].hypot(mean[1]) < 1e-3 * biggest,
        "mean CoM {mean:?} vs max {biggest}"
    );
}

#[test]
fn rotating_class_k_by_90_degrees_gives_class_k_plus_2() {
    let n = 4;
    let scans: Vec<Array4<f32>> = Class::ALL
        .iter()
        .map(|&c| run(&knn_k(Some(c), [0.0; 3], [2, 2, 2]), n))
        .collect();
    let d = params().detector.pixels;
    for k in 0..8 {
        // Rotating CCW (y up): new[i'][j'] = old[j'][(n − i') mod n] on the scan,
        // new[p'][q'] = old[q'][N − 1 − p'] on the detector (numpy's rot90).
        let diff = rel_diff(&scans[(k + 2) % 8], &scans[k], |[i, j, p, q]| {
            [j, (n - i) % n, q, d - 1 - p]
        });
        assert!(
            diff < 1e-4,
            "class {k} rotated vs class {}: {diff}",
            (k + 2) % 8
        );
        // And not by chance: the unrotated scans differ.
        let plain = rel_diff(&scans[(k + 2) % 8], &scans[k], |idx| idx);
        assert!(
            plain > 1e-3,
            "classes {k} and {} look alike: {plain}",
            (k + 2) % 8
        );
    }
}

#[test]
fn opposite_and_mirrored_displacements_give_mirrored_patterns() {
    let n = 4;
    let d = params().detector.pixels;
    let s = 0.15 / 2f64.sqrt();
    // Opposite in-plane displacements: related by a 180° rotation (x → −x and y → −y).
    let plus = run(&knn_k(None, [s, s, 0.0], [2, 2, 2]), n);
    let minus = run(&knn_k(None, [-s, -s, 0.0], [2, 2, 2]), n);
    let diff = rel_diff(&plus, &minus, |[i, j, p, q]| {
        [(n - i) % n, (n - j) % n, d - 1 - p, d - 1 - q]
    });
    assert!(diff < 1e-4, "d vs −d: {diff}");
    // Opposite x components, same beam component: related by the mirror x → −x.
    let rm = run(&knn_k(Some(Class::RM), [0.0; 3], [2, 2, 2]), n);
    let lm = run(&knn_k(Some(Class::LM), [0.0; 3], [2, 2, 2]), n);
    let diff = rel_diff(&rm, &lm, |[i, j, p, q]| [i, (n - j) % n, p, d - 1 - q]);
    assert!(diff < 1e-4, "RM vs mirrored LM: {diff}");
    // The CoM x components flip, the y components stay.
    let (a, b) = (com(&rm), com(&lm));
    for i in 0..n {
        for j in 0..n {
            let u = a[i * n + j];
            let v = b[i * n + (n - j) % n];
            assert!((u[0] + v[0]).abs() < 1e-3 && (u[1] - v[1]).abs() < 1e-3);
        }
    }
}

#[test]
fn simulate_scan_shape_calibration_and_cancel() {
    let crystal = knn_k(Some(Class::RU), [0.0; 3], [2, 2, 1]);
    let scan = ScanSpec::over_cells(3, 2, [2, 2], A);
    let out = simulate_scan(&crystal, &params(), &scan, &Progress::new()).unwrap();
    assert_eq!(out.data.shape(), &[3, 2, 24, 24]);
    assert!((out.mrad_per_px - 80.0 / 24.0).abs() < 1e-12);
    assert_eq!(out.slices, 2);
    assert_eq!((out.grid.rows, out.grid.cols), (80, 80));
    // The bright-field disk (24 mrad) lies inside the ±40 mrad detector: most counts land on it.
    let sum: f32 = out.data.iter().sum::<f32>() / 6.0;
    assert!(sum > 0.8 && sum <= 1.0, "{sum}");
    // Streaming row by row gives the same rows, in order; a sink error stops the run.
    let sim = Simulation::new(&crystal, &params(), &Progress::new()).unwrap();
    let mut seen = Vec::new();
    sim.run_rows(&scan, &Progress::new(), |r, row| {
        assert_eq!(row.len(), 2 * 24 * 24);
        let want = out.data.index_axis(ndarray::Axis(0), r);
        assert_eq!(want.as_slice().unwrap(), row);
        seen.push(r);
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, [0, 1, 2]);
    let err = sim.run_rows(&scan, &Progress::new(), |_, _| {
        Err(Error::invalid("disk full"))
    });
    assert!(matches!(err, Err(Error::Invalid(_))));
    // A non-square supercell (3×2 cells → 120×80 grid) works too.
    let wide = knn_k(Some(Class::LD), [0.0; 3], [3, 2, 1]);
    let out = simulate_scan(
        &wide,
        &params(),
        &ScanSpec::over_cells(2, 3, [3, 2], A),
        &Progress::new(),
    )
    .unwrap();
    assert_eq!((out.grid.rows, out.grid.cols), (80, 120));
    assert!(out.data.iter().all(|v| v.is_finite() && *v >= 0.0));
    let progress = Progress::new();
    progress.cancel();
    assert!(matches!(
        simulate_scan(&crystal, &params(), &scan, &progress),
        Err(Error::Cancelled)
    ));
}

#[test]
fn frozen_phonons_are_reproducible_and_blur_the_static_pattern() {
    let crystal = knn_k(Some(Class::RD), [0.0; 3], [2, 2, 2]);
    let scan = ScanSpec::over_cells(2, 2, [2, 2], A);
    let mut p = params();
    let fixed = simulate_scan(&crystal, &p, &scan, &Progress::new())
        .unwrap()
        .data;
    p.phonons = Some(FrozenPhonons::new(3, 0.08, 11));
    let a = simulate_scan(&crystal, &p, &scan, &Progress::new())
        .unwrap()
        .data;
    let b = simulate_scan(&crystal, &p, &scan, &Progress::new())
        .unwrap()
        .data;
    assert_eq!(a, b, "same seed, same result");
    let diff = rel_diff(&a, &fixed, |i| i);
    assert!(
        diff > 1e-3 && diff < 0.5,
        "phonons change the patterns a little: {diff}"
    );
    for (sa, sf) in a
        .outer_iter()
        .flat_map(|r| r.outer_iter().map(|x| x.sum()).collect::<Vec<_>>())
        .zip(
            fixed
                .outer_iter()
                .flat_map(|r| r.outer_iter().map(|x| x.sum()).collect::<Vec<_>>()),
        )
    {
        assert!(
            sa > 0.8 && sa <= 1.0 && (sa - sf).abs() < 0.05,
            "{sa} vs {sf}"
        );
    }
}

/// Timing of plain multislice on the benchmark grid: KNN 10×10×50 cells (19.75 nm),
/// 0.062 Å sampling (640×640), 100 half-cell slices, 200 kV, 24 mrad. Run with
/// `cargo test --release --test simulate -- --ignored --nocapture timing`; the environment
/// variables POLARMAP_TIMING_POSITIONS, POLARMAP_TIMING_CELLS (lateral cells, default 10) and
/// POLARMAP_TIMING_SAMPLING (Å, default 0.062) change the job.
#[test]
#[ignore]
fn timing_benchmark_grid() {
    let positions: usize = std::env::var("POLARMAP_TIMING_POSITIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let env = |name: &str, default: f64| {
        std::env::var(name)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    };
    let cells = env("POLARMAP_TIMING_CELLS", 10.0) as usize;
    let sampling = env("POLARMAP_TIMING_SAMPLING", 0.062);
    let crystal = Perovskite::knn(Some(Class::RD), 0.15, [cells, cells, 50])
        .build()
        .unwrap();
    let grid = Grid::with_sampling(cells as f64 * A, cells as f64 * A, sampling).unwrap();
    let t0 = std::time::Instant::now();
    let sp = Arc::new(Specimen::build(&crystal, grid, A / 2.0, 200.0, &Progress::new()).unwrap());
    let t_pot = t0.elapsed().as_secs_f64();
    let ms = Multislice::new(sp.clone(), ProbeParams::default()).unwrap();
    let mut ws = ms.workspace();
    let mut full = vec![0f32; grid.len()];
    let t1 = std::time::Instant::now();
    let mut losses = Vec::new();
    for i in 0..positions {
        // Along the diagonal from an A column to the Nb/O column.
        let t = i as f64 / positions.max(1) as f64 * A / 2.0;
        ms.run(t, t, &mut ws, &mut full);
        losses.push(1.0 - full.iter().map(|&v| v as f64).sum::<f64>());
    }
    let per_serial = t1.elapsed().as_secs_f64() / positions as f64;
    let loss = (
        losses.iter().cloned().fold(f64::INFINITY, f64::min),
        losses.iter().cloned().fold(0.0, f64::max),
    );
    let params = SimParams {
        sampling_a: sampling,
        ..SimParams::default()
    };
    let side = (positions as f64).sqrt().ceil() as usize;
    let scan = ScanSpec::over_cells(side, side, [2, 2], A);
    let t2 = std::time::Instant::now();
    simulate_scan(&crystal, &params, &scan, &Progress::new()).unwrap();
    let total = t2.elapsed().as_secs_f64();
    eprintln!(
        "grid {}×{}, {} slices ({} distinct), {} threads\n\
         potentials + transmissions: {t_pot:.2} s\n\
         one thread: {per_serial:.3} s per probe position\n\
         simulate_scan {side}×{side} (incl. potentials, 256² detector): {total:.2} s = {:.3} s per position\n\
         anti-aliasing loss over the positions: {:.2e} to {:.2e}",
        grid.rows,
        grid.cols,
        sp.slices.len(),
        sp.distinct,
        rayon::current_num_threads(),
        total / (side * side) as f64,
        loss.0,
        loss.1,
    );
}

/// Electrons are pulled towards the nuclei, so with the probe on the ideal Nb column of a thin
/// crystal the pattern's CoM points along the Nb displacement: the class direction, y up.
#[test]
fn com_on_the_nb_column_points_along_the_class() {
    for class in Class::ALL {
        let crystal = knn_k(Some(class), [0.0; 3], [2, 2, 1]);
        let scan = ScanSpec {
            rows: 1,
            cols: 1,
            origin: [A / 2.0, A / 2.0],
            step: [1.0, 1.0],
        };
        let out = simulate_scan(&crystal, &params(), &scan, &Progress::new()).unwrap();
        let c = com(&out.data)[0];
        let got = Class::nearest(c[1].atan2(c[0]));
        assert_eq!(got, class, "CoM {c:?}");
    }
}

/// In vacuum the pattern is the probe's aperture: a uniform disk of the convergence semi-angle,
/// centred on the detector, whose radius the detector's mrad/px calibration must reproduce.
#[test]
fn vacuum_pattern_is_the_aperture_disk() {
    let vacuum = Crystal {
        atoms: Vec::new(),
        extent: [20.0, 20.0, 2.0],
        slice_thickness: 1.0,
    };
    let params = SimParams {
        sampling_a: 0.1,
        detector: DetectorSpec {
            pixels: 48,
            max_mrad: 48.0,
        },
        ..SimParams::default()
    };
    let scan = ScanSpec {
        rows: 1,
        cols: 1,
        origin: [3.0, 5.0],
        step: [1.0, 1.0],
    };
    let out = simulate_scan(&vacuum, &params, &scan, &Progress::new()).unwrap();
    let c = com(&out.data)[0];
    assert!(c[0].abs() < 1e-4 && c[1].abs() < 1e-4, "{c:?}");
    // Uniform disk of radius R: <r²> = R²/2.
    let (mut m2, mut s) = (0.0, 0.0);
    let centre = 23.5;
    for ((_, _, p, q), &v) in out.data.indexed_iter() {
        let r2 =
            ((p as f64 - centre).powi(2) + (q as f64 - centre).powi(2)) * out.mrad_per_px.powi(2);
        m2 += v as f64 * r2;
        s += v as f64;
    }
    let radius = (2.0 * m2 / s).sqrt();
    assert!((s - 1.0).abs() < 1e-4, "all counts on the detector: {s}");
    assert!((radius - 24.0).abs() < 0.5, "disk radius {radius} mrad");
}

/// Mean normalised cross-correlation of corresponding patterns.
fn mean_ncc(a: &Array4<f32>, b: &Array4<f32>) -> f64 {
    let (sr, sc, _, _) = a.dim();
    let mut total = 0.0;
    for i in 0..sr {
        for j in 0..sc {
            let (x, y) = (
                a.slice(ndarray::s![i, j, .., ..]),
                b.slice(ndarray::s![i, j, .., ..]),
            );
            let (mx, my) = (x.mean().unwrap() as f64, y.mean().unwrap() as f64);
            let (mut xy, mut xx, mut yy) = (0.0, 0.0, 0.0);
            for (&p, &q) in x.iter().zip(y.iter()) {
                let (p, q) = (p as f64 - mx, q as f64 - my);
                xy += p * q;
                xx += p * p;
                yy += q * q;
            }
            total += xy / (xx * yy).sqrt();
        }
    }
    total / (sr * sc) as f64
}

#[test]
fn patterns_converge_with_the_lateral_window_and_two_cells_are_too_few() {
    // The same probe positions in periodic crystals of 2×2, 4×4 and 6×6 cells (identical columns,
    // A sites all K): only the simulation window differs. A 2×2-cell window (7.9 Å) wraps the
    // probe's tails and samples the pattern at 3.2 mrad; the models' training set (`wide-train`)
    // uses 4×4 cells because that is close to the wide-specimen answer.
    let fine = SimParams {
        detector: DetectorSpec {
            pixels: 32,
            max_mrad: 15.0,
        },
        ..params()
    };
    let scan = ScanSpec::over_cells(3, 3, [2, 2], A);
    let patterns = |lateral: usize| {
        let crystal = knn_k(Some(Class::RD), [0.0; 3], [lateral, lateral, 10]);
        simulate_scan(&crystal, &fine, &scan, &Progress::new())
            .unwrap()
            .data
    };
    let (two, four, six) = (patterns(2), patterns(4), patterns(6));
    let error_two = 1.0 - mean_ncc(&two, &six);
    let error_four = 1.0 - mean_ncc(&four, &six);
    eprintln!("1 - NCC against 6×6 cells: 2×2 {error_two:.5}, 4×4 {error_four:.5}");
    assert!(error_two > 0.01, "2×2 cells already converged: {error_two}");
    assert!(
        error_four < 0.3 * error_two,
        "4×4 {error_four} vs 2×2 {error_two}"
    );
}

/// `--preset-positions`: the same scans' areas with fewer positions (and the draw's descan
/// across the positions made); zero positions are refused.
#[test]
fn preset_positions_scan_the_same_area_more_coarsely() {
    use polarmap_sim::job::{preset, preset_with, PresetOptions};
    let full = preset("dr-train").unwrap();
    let coarse = PresetOptions {
        positions: Some([8, 8]),
        ..Default::default()
    };
    let small = preset_with("dr-train", coarse).unwrap();
    assert_eq!(full.len(), small.len());
    for (a, b) in full.iter().zip(&small) {
        assert_eq!((b.scan.rows, b.scan.cols), (8, 8));
        assert_eq!(a.name, b.name);
        for axis in 0..2 {
            let extent = |j: &polarmap_sim::Job, n: usize| j.scan.step[axis] * n as f64;
            assert!((extent(a, 32) - extent(b, 8)).abs() < 1e-9, "{}", a.name);
        }
    }
    let none = PresetOptions {
        positions: Some([0, 4]),
        ..Default::default()
    };
    assert!(preset_with("quick", none).is_err());
    // More draws per class: the first six are the preset's own, the rest new seeds, every
    // name and seed distinct and none of the suite's (201–299).
    let draws = |name, n| {
        preset_with(
            name,
            PresetOptions {
                draws_per_class: Some(n),
                ..Default::default()
            },
        )
    };
    let many = draws("dr-fast", 40).unwrap();
    assert_eq!(many.len(), 320);
    let names =
        |jobs: &[polarmap_sim::Job]| jobs.iter().map(|j| j.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&many[..48]), names(&preset("dr-fast").unwrap()));
    let seeds: std::collections::HashSet<_> = many.iter().map(|j| j.acquisition.seed).collect();
    assert_eq!(seeds.len(), 320);
    assert!(seeds.iter().all(|&s| s >= 1101), "{seeds:?}");
    let most = draws("dr-train", 12).unwrap();
    let theirs: std::collections::HashSet<_> = most.iter().map(|j| j.acquisition.seed).collect();
    assert!(theirs.is_disjoint(&seeds));
    // dr-aligned's seeds start above the most dr-fast takes.
    let aligned = draws("dr-aligned", 2).unwrap();
    let most_fast = polarmap_sim::job::DR_FAST_FIRST_SEED + 8 * polarmap_sim::job::DR_MAX_PER_CLASS;
    assert!(aligned.iter().all(|j| j.acquisition.seed >= most_fast));
    // dr-single's above dr-aligned's; its draw k changes the k-th nuisance of the cycle.
    let single = draws("dr-single", 13).unwrap();
    let most_aligned =
        polarmap_sim::job::DR_ALIGNED_FIRST_SEED + 8 * polarmap_sim::job::DR_MAX_PER_CLASS;
    assert!(single.iter().all(|j| j.acquisition.seed >= most_aligned));
    assert!(single[0].name.starts_with("drs-") && single[0].name.contains("-none-"));
    assert!(
        single[8 * 6].name.contains("-defocus-"),
        "{}",
        single[48].name
    );
    assert_eq!(single[8 * 6].params.probe.defocus_a, {
        let s = single[8 * 6].acquisition.seed;
        match polarmap_sim::nuisance::Ranges::training().draw(s, [32, 32])[7] {
            polarmap_sim::nuisance::Nuisance::Defocus(d) => d,
            other => panic!("{other:?}"),
        }
    });
    assert!(single[8 * 12].name.contains("-none-"));
    // Each draw's grid starts somewhere else within one step; the other presets' at the origin.
    let origins: std::collections::HashSet<_> = single
        .iter()
        .map(|j| {
            let [x, y] = j.scan.origin;
            assert!(x >= 0.0 && x < j.scan.step[0] && y <= 0.0 && -y < j.scan.step[1]);
            (x.to_bits(), y.to_bits())
        })
        .collect();
    assert_eq!(origins.len(), single.len());
    assert!(aligned.iter().all(|j| j.scan.origin == [0.0, 0.0]));
    // dr-optics: thickness, defocus and tilt in turn, above dr-single's seeds.
    let optics = draws("dr-optics", 4).unwrap();
    let most_single =
        polarmap_sim::job::DR_SINGLE_FIRST_SEED + 8 * polarmap_sim::job::DR_MAX_PER_CLASS;
    assert!(optics.iter().all(|j| j.acquisition.seed >= most_single));
    for (k, kind) in ["thickness", "defocus", "tilt", "thickness"]
        .iter()
        .enumerate()
    {
        assert!(
            optics[8 * k].name.contains(&format!("-{kind}-")),
            "{}",
            optics[8 * k].name
        );
    }
    let edges = draws("dr-optics-edges", 3).unwrap();
    let most_optics =
        polarmap_sim::job::DR_OPTICS_FIRST_SEED + 8 * polarmap_sim::job::DR_MAX_PER_CLASS;
    assert!(edges.iter().all(|j| j.acquisition.seed >= most_optics));
    assert!(edges[8].name.starts_with("droe-") && edges[8].name.contains("-defocus-"));
    // dr-thick: every nuisance at once, 35-60 nm, above dr-optics-edges' seeds.
    let thick = draws("dr-thick", 4).unwrap();
    let most_edges =
        polarmap_sim::job::DR_OPTICS_EDGES_FIRST_SEED + 8 * polarmap_sim::job::DR_MAX_PER_CLASS;
    assert!(thick.iter().all(|j| j.acquisition.seed >= most_edges));
    assert!(thick.iter().all(|j| j.name.starts_with("drt-")));
    let nm = |j: &polarmap_sim::job::Job| {
        j.crystal.cells[2] as f64 * polarmap_sim::crystal::KNN_A / 10.0
    };
    assert!(
        thick.iter().all(|j| (34.0..61.0).contains(&nm(j))),
        "{:?}",
        thick.iter().map(nm).collect::<Vec<_>>()
    );
    // dr-narrow: as dr-thick in 2x2 and 3x3 cells, above dr-thick's seeds.
    let narrow = draws("dr-narrow", 4).unwrap();
    let most_thick =
        polarmap_sim::job::DR_THICK_FIRST_SEED + 8 * polarmap_sim::job::DR_MAX_PER_CLASS;
    assert!(narrow.iter().all(|j| j.acquisition.seed >= most_thick));
    assert!(narrow.iter().all(|j| j.name.starts_with("drn-")));
    assert!(narrow.iter().all(|j| (34.0..61.0).contains(&nm(j))));
    assert!(
        narrow
            .iter()
            .all(|j| j.crystal.cells[0] == j.crystal.cells[1]
                && (2..=3).contains(&j.crystal.cells[0]))
    );
    assert!(
        narrow.iter().any(|j| j.crystal.cells[0] == 2)
            && narrow.iter().any(|j| j.crystal.cells[0] == 3)
    );
    // dr-unpolarised: no displacement, above dr-narrow's seeds.
    let unpolarised = draws("dr-unpolarised", 2).unwrap();
    let most_narrow =
        polarmap_sim::job::DR_NARROW_FIRST_SEED + 8 * polarmap_sim::job::DR_MAX_PER_CLASS;
    assert_eq!(unpolarised.len(), 16);
    assert!(unpolarised
        .iter()
        .all(|j| j.acquisition.seed >= most_narrow));
    assert!(unpolarised
        .iter()
        .all(|j| j.name.starts_with("dru-none-s") && j.class.is_none()));
    assert_eq!(single[8 * 12].params.probe.defocus_a, 0.0);
    assert!(draws("dr-fast", polarmap_sim::job::DR_MAX_PER_CLASS + 1).is_err());
    for refused in [
        draws("dr-train", 13),
        draws("dr-fast", 0),
        draws("quick", 2),
    ] {
        assert!(refused.is_err());
    }
}

#[test]
fn every_preset_has_unique_names_and_seeds_train_has_four_unseen_crystals_per_class() {
    use polarmap_sim::job::{preset, PRESETS};
    for name in PRESETS {
        let jobs = preset(name).unwrap();
        let names: std::collections::HashSet<_> = jobs.iter().map(|j| j.name.clone()).collect();
        assert_eq!(
            names.len(),
            jobs.len(),
            "{name}: two jobs write the same file"
        );
    }
    let jobs = preset("seeds-train").unwrap();
    assert_eq!(jobs.len(), 32);
    for class in Class::ALL {
        let mut seeds: Vec<u64> = jobs
            .iter()
            .filter(|j| j.class == Some(class))
            .map(|j| j.crystal.seed)
            .collect();
        seeds.sort_unstable();
        seeds.dedup();
        assert_eq!(seeds.len(), 4, "{class}: four distinct crystals");
        // Not the crystal of the other presets (0) nor of the held-out sets (7).
        assert!(seeds.iter().all(|s| ![0, 7].contains(s)), "{seeds:?}");
    }
    // The four crystals really differ in their K/Na arrangement.
    let species = |j: &polarmap_sim::job::Job| {
        j.crystal
            .build()
            .unwrap()
            .atoms
            .iter()
            .map(|a| a.z)
            .collect::<Vec<_>>()
    };
    let rd: Vec<_> = jobs.iter().filter(|j| j.class == Some(Class::RD)).collect();
    assert_ne!(species(rd[0]), species(rd[1]));
}

/// A specimen tilt θ (tilted propagator) is, for the diffraction intensities, the untilted
/// propagator through a sheared specimen whose slice n sits n·Δz·tan θ further along the lean.
/// With the lean an exact number of grid pixels per slice the shear is exact on the grid, so
/// the two agree to rounding; +1 px in x and −2 px in y per slice pin both axes and both signs.
#[test]
fn specimen_tilt_equals_the_sheared_specimen() {
    let crystal = knn_k(Some(Class::RD), [0.0; 3], [2, 2, 4]);
    let mut p = params();
    let scan = ScanSpec::over_cells(3, 3, [2, 2], A);
    let grid = p
        .engine
        .grid(crystal.extent[0], crystal.extent[1], p.sampling_a)
        .unwrap();
    let dz = crystal.slice_thickness;
    let lean = [grid.dx(), -2.0 * grid.dy()]; // Å per slice, x right and y up
    let sheared = Crystal {
        atoms: crystal
            .atoms
            .iter()
            .map(|a| {
                let s = (a.pos[2] / dz).floor();
                let mut b = *a;
                b.pos[0] += s * lean[0];
                b.pos[1] += s * lean[1];
                b
            })
            .collect(),
        ..crystal.clone()
    };
    let straight = simulate_scan(&sheared, &p, &scan, &Progress::new())
        .unwrap()
        .data;
    p.tilt_mrad = lean.map(|l| (l / dz).atan() * 1e3);
    let tilted = simulate_scan(&crystal, &p, &scan, &Progress::new())
        .unwrap()
        .data;
    let d = rel_diff(&tilted, &straight, |i| i);
    assert!(d < 1e-4, "tilted vs sheared: {d}");
    // The opposite tilt is a different specimen: the test can tell the signs apart.
    p.tilt_mrad = p.tilt_mrad.map(|t| -t);
    let opposite = simulate_scan(&crystal, &p, &scan, &Progress::new())
        .unwrap()
        .data;
    assert!(rel_diff(&opposite, &straight, |i| i) > 1e-2);
}

/// Zero tilt leaves every pattern bit for bit as before; in vacuum a tilt changes nothing
/// (a specimen tilt moves no disk); a tilt along x keeps the mirror y → −y of an undisplaced
/// crystal, so its scan-mean CoM lies along x, and one along y along y.
#[test]
fn specimen_tilt_zero_vacuum_and_mirror_symmetry() {
    let crystal = knn_k(None, [0.0; 3], [2, 2, 6]);
    // 5×5 positions: off the symmetric sites (on them every CoM vanishes), and a set the
    // mirror y → −y maps onto itself.
    let scan = ScanSpec::over_cells(5, 5, [2, 2], A);
    let mut p = params();
    let base = simulate_scan(&crystal, &p, &scan, &Progress::new())
        .unwrap()
        .data;
    p.tilt_mrad = [0.0, 0.0];
    let zero = simulate_scan(&crystal, &p, &scan, &Progress::new())
        .unwrap()
        .data;
    assert_eq!(base, zero);

    let vacuum = Crystal {
        atoms: Vec::new(),
        ..crystal.clone()
    };
    let v0 = simulate_scan(&vacuum, &params(), &scan, &Progress::new())
        .unwrap()
        .data;
    p.tilt_mrad = [12.0, -7.0];
    let v1 = simulate_scan(&vacuum, &p, &scan, &Progress::new())
        .unwrap()
        .data;
    assert!(rel_diff(&v1, &v0, |i| i) < 1e-5);

    let mean_com = |tilt: [f64; 2]| {
        let p = SimParams {
            tilt_mrad: tilt,
            ..params()
        };
        let data = simulate_scan(&crystal, &p, &scan, &Progress::new())
            .unwrap()
            .data;
        let c = com(&data);
        let n = c.len() as f64;
        [
            c.iter().map(|v| v[0]).sum::<f64>() / n,
            c.iter().map(|v| v[1]).sum::<f64>() / n,
        ]
    };
    let largest = com(&base)
        .iter()
        .map(|v| v[0].hypot(v[1]))
        .fold(0.0, f64::max);
    let [x0, y0] = mean_com([0.0, 0.0]);
    assert!(
        x0.abs() < 1e-3 * largest && y0.abs() < 1e-3 * largest,
        "{x0} {y0}"
    );
    let [x, y] = mean_com([20.0, 0.0]);
    assert!(
        x.abs() > 1e-2 * largest && y.abs() < 1e-3 * largest,
        "tilt x: {x} {y}"
    );
    let [x, y] = mean_com([0.0, 20.0]);
    assert!(
        y.abs() > 1e-2 * largest && x.abs() < 1e-3 * largest,
        "tilt y: {x} {y}"
    );
}

/// A preset run refuses to replace a scan unless told to, and `Existing::Keep` (`--resume`)
/// simulates only what is missing: a scan without its sidecar (written last, so an interrupted
/// write) is made again, a whole one is left as it is.
#[test]
fn preset_runs_refuse_existing_scans_or_resume_past_them() {
    use polarmap_sim::job::{run_preset, Existing, PresetOptions};
    let dir = tempfile::tempdir().unwrap();
    let options = PresetOptions {
        positions: Some([2, 2]),
        ..Default::default()
    };
    let run = |existing| {
        let mut seen = Vec::new();
        let paths = run_preset(
            "quick",
            options,
            dir.path(),
            false,
            existing,
            &Progress::new(),
            |_, _, name, _| seen.push(name.to_string()),
        );
        (paths, seen)
    };
    let (paths, _) = run(Existing::Refuse);
    let paths = paths.unwrap();
    assert_eq!(paths.len(), 1);
    let npy = &paths[0];
    let sidecar = npy.with_extension("meta.json");
    let original = std::fs::read(npy).unwrap();

    let (again, _) = run(Existing::Refuse);
    let message = again.unwrap_err().to_string();
    assert!(message.contains("quick-RD"), "{message}");

    // A marker in the data shows whether the scan was simulated again.
    let mut marked = original.clone();
    *marked.last_mut().unwrap() ^= 0xff;
    std::fs::write(npy, &marked).unwrap();
    let (kept, seen) = run(Existing::Keep);
    assert_eq!(kept.unwrap(), paths);
    assert_eq!(seen, ["quick-RD"]);
    assert_eq!(
        std::fs::read(npy).unwrap(),
        marked,
        "a whole scan was redone"
    );

    std::fs::remove_file(&sidecar).unwrap();
    let (redone, _) = run(Existing::Keep);
    assert_eq!(redone.unwrap(), paths);
    assert!(sidecar.exists());
    assert_eq!(
        std::fs::read(npy).unwrap(),
        original,
        "the interrupted scan was not redone"
    );

    std::fs::write(npy, &marked).unwrap();
    run(Existing::Overwrite).0.unwrap();
    assert_eq!(std::fs::read(npy).unwrap(), original);
}
