//! Nuisances: everything about a scan that is not its polarization — dose, descan, detector
//! blur, thickness, lateral supercell, A-site arrangement, defocus, convergence, camera length,
//! real-space sampling, frozen phonons, specimen tilt — as changes to a [`Job`], one at a time
//! or all drawn at random from [`Ranges`] (domain randomisation). The transfer suite
//! (`polarmap bench --suite transfer`) and the `dr-train` preset both build their jobs here, so
//! that the conditions a model is tested under and those it can be trained under are the same
//! definitions.

use super::crystal::ASite;
use super::job::{cells_for_thickness_nm, Job};
use super::{Engine, FrozenPhonons};
use polarmap_io::classes::Class;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// One change to a job.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Nuisance {
    /// Poisson counting noise at this many electrons per pattern.
    Dose(f64),
    /// Constant descan shift (row, col), detector pixels.
    Descan([f64; 2]),
    /// Descan varying linearly over the scan: `[[d_row/d_r, d_row/d_c], [d_col/d_r,
    /// d_col/d_c]]`, pixels per scan pixel.
    DescanGradient([[f64; 2]; 2]),
    /// Gaussian detector blur, σ in detector pixels.
    Blur(f64),
    /// Specimen thickness, nm (rounded to whole unit cells).
    ThicknessNm(f64),
    /// Lateral supercell, n×n unit cells (the periodic box the wave sees).
    Lateral(usize),
    /// A-site occupation and the seed of its random arrangement.
    ASite { a_site: ASite, seed: u64 },
    /// Probe defocus, Å (positive: focus inside the specimen).
    Defocus(f64),
    /// Probe convergence semi-angle, mrad.
    Convergence(f64),
    /// Camera length: detector angle per pixel times this factor (same pixel count, so the
    /// detector spans a proportionally wider or narrower angle; the sidecar records the true
    /// mrad per pixel).
    CameraScale(f64),
    /// Real-space sampling, Å per pixel.
    Sampling(f64),
    /// Frozen phonons: configurations, σ per axis in Å, seed.
    Phonons {
        configurations: usize,
        sigma_a: f64,
        seed: u64,
    },
    /// Specimen tilt off the zone axis, (θx, θy) mrad.
    Tilt([f64; 2]),
    /// No Nb displacement: the job loses its class (no labels).
    Unpolarised,
}

impl Nuisance {
    /// Applies the change to `job`.
    pub fn apply(&self, job: &mut Job) {
        match *self {
            Nuisance::Dose(d) => job.acquisition.dose_per_pattern = Some(d),
            Nuisance::Descan(d) => job.acquisition.descan_px = d,
            Nuisance::DescanGradient(g) => job.acquisition.descan_gradient = g,
            Nuisance::Blur(s) => job.acquisition.blur_px = Some(s),
            Nuisance::ThicknessNm(nm) => job.crystal.cells[2] = cells_for_thickness_nm(nm),
            Nuisance::Lateral(n) => {
                job.crystal.cells[0] = n;
                job.crystal.cells[1] = n;
            }
            Nuisance::ASite { a_site, seed } => {
                job.crystal.a_site = a_site;
                job.crystal.seed = seed;
            }
            Nuisance::Defocus(df) => job.params.probe.defocus_a = df,
            Nuisance::Convergence(a) => job.params.probe.convergence_mrad = a,
            Nuisance::CameraScale(f) => job.params.detector.max_mrad *= f,
            Nuisance::Sampling(s) => job.params.sampling_a = s,
            Nuisance::Phonons {
                configurations,
                sigma_a,
                seed,
            } => job.params.phonons = Some(FrozenPhonons::new(configurations, sigma_a, seed)),
            Nuisance::Tilt(t) => job.params.tilt_mrad = t,
            Nuisance::Unpolarised => {
                job.class = None;
                job.crystal.b_shift = [0.0; 3];
            }
        }
    }
}

/// The ranges of issue 19 that [`Ranges::draw`] samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ranges {
    /// Electrons per pattern, drawn log-uniformly.
    pub dose: [f64; 2],
    /// Largest constant descan per axis, and largest change of the descan across the scan
    /// (linear part), detector pixels.
    pub descan_px: f64,
    /// Detector blur σ, pixels.
    pub blur_px: [f64; 2],
    pub thickness_nm: [f64; 2],
    /// Lateral supercell n×n, n inclusive.
    pub lateral: [usize; 2],
    /// Fraction of K on the A sites (the rest Na), arranged at random.
    pub k_fraction: [f64; 2],
    pub defocus_a: [f64; 2],
    pub convergence_mrad: [f64; 2],
    pub camera_scale: [f64; 2],
    pub sampling_a: [f64; 2],
    /// Probability of frozen phonons, their configurations and σ range (Å).
    pub phonon_probability: f64,
    pub phonon_configurations: usize,
    pub phonon_sigma_a: [f64; 2],
    /// Largest specimen tilt, mrad (direction uniform).
    pub tilt_mrad: f64,
    /// Draw each value from the arcsine distribution over its range instead of uniformly: as
    /// many draws within the outer tenth of a range as in its middle third, where a uniform
    /// draw puts fewest examples at the ends.
    #[serde(default)]
    pub edges: bool,
}

impl Default for Ranges {
    /// Issue 19's ranges: dose 5×10³–10⁵ e⁻, descan up to ±5 px (constant and linear), blur
    /// σ 0–2 px, 10–60 nm, 2×2 to 8×8 cells, K fraction 0.3–0.7, defocus ±100 Å, 20–30 mrad,
    /// camera length ±30 %, sampling 0.02–0.06 Å, phonons half the time (3 configurations,
    /// σ 0.05–0.10 Å), tilt up to 8 mrad.
    fn default() -> Self {
        Ranges {
            dose: [5e3, 1e5],
            descan_px: 5.0,
            blur_px: [0.0, 2.0],
            thickness_nm: [10.0, 60.0],
            lateral: [2, 8],
            k_fraction: [0.3, 0.7],
            defocus_a: [-100.0, 100.0],
            convergence_mrad: [20.0, 30.0],
            camera_scale: [0.7, 1.3],
            sampling_a: [0.02, 0.06],
            phonon_probability: 0.5,
            phonon_configurations: 3,
            phonon_sigma_a: [0.05, 0.10],
            tilt_mrad: 8.0,
            edges: false,
        }
    }
}

impl Ranges {
    /// Issue 19's ranges with the numerical nuisances narrowed to what costs little on the
    /// transfer suite and keeps a scan cheap to simulate: sampling 0.04–0.06 Å, 2×2 to 4×4
    /// cells, no frozen phonons (the suite's one-at-a-time conditions for 0.02 Å, 8×8 cells and
    /// phonons cost the models little, and those are the draws that take minutes). Every
    /// physical nuisance keeps its full range.
    pub fn training() -> Ranges {
        Ranges {
            lateral: [2, 4],
            sampling_a: [0.04, 0.06],
            phonon_probability: 0.0,
            ..Ranges::default()
        }
    }

    /// [`Ranges::training`] with the optics of an aligned microscope: specimen tilt up to
    /// 2 mrad and defocus ±30 Å (the draws' full ±100 Å and 8 mrad, together with thickness,
    /// left a network trained on 800 draws at 24 % on held-out draws).
    pub fn aligned() -> Ranges {
        Ranges {
            defocus_a: [-30.0, 30.0],
            tilt_mrad: 2.0,
            ..Ranges::training()
        }
    }

    /// [`Ranges::training`] at 35–60 nm only: every nuisance at once on a thick specimen, where
    /// the transfer suite's randomised draws were still lost (docs/transfer.md).
    pub fn thick() -> Ranges {
        Ranges {
            thickness_nm: [35.0, 60.0],
            ..Ranges::training()
        }
    }

    /// [`Ranges::thick`] in 2×2 and 3×3 cells only: the narrow boxes where thick randomised
    /// draws were still lost (a 7.9 Å box is narrower than the probe spreads through 40 nm, and
    /// its reciprocal lattice is 3.2 mrad coarse).
    pub fn narrow() -> Ranges {
        Ranges {
            lateral: [2, 3],
            ..Ranges::thick()
        }
    }

    /// [`Ranges::training`] drawn towards the ends of each range ([`Ranges::edges`]).
    pub fn training_edges() -> Ranges {
        Ranges {
            edges: true,
            ..Ranges::training()
        }
    }

    /// Every nuisance drawn at random from `seed` for a scan of `scan` = [rows, cols] positions
    /// (the linear descan changes by at most ±`descan_px` across it). Reproducible.
    pub fn draw(&self, seed: u64, scan: [usize; 2]) -> Vec<Nuisance> {
        let mut rng = StdRng::seed_from_u64(seed ^ 0x7472_616e_7366_6572);
        let edges = self.edges;
        let mut u = |r: [f64; 2]| {
            if r[1] > r[0] && edges {
                // Arcsine: the position of a uniformly turning point projected on a diameter.
                let t: f64 = rng.random_range(0.0..1.0);
                r[0] + (0.5 - 0.5 * (std::f64::consts::PI * t).cos()) * (r[1] - r[0])
            } else if r[1] > r[0] {
                rng.random_range(r[0]..r[1])
            } else {
                r[0]
            }
        };
        let d = self.descan_px;
        let dose = (u([self.dose[0].ln(), self.dose[1].ln()])).exp();
        let descan = [u([-d, d]), u([-d, d])];
        // Total change across the scan within ±d on each axis, split over rows and columns.
        let (rows, cols) = (scan[0].max(2) - 1, scan[1].max(2) - 1);
        let gradient = [
            [
                u([-d, d]) / 2.0 / rows as f64,
                u([-d, d]) / 2.0 / cols as f64,
            ],
            [
                u([-d, d]) / 2.0 / rows as f64,
                u([-d, d]) / 2.0 / cols as f64,
            ],
        ];
        let blur = u(self.blur_px);
        let thickness = u(self.thickness_nm);
        let lateral = u([self.lateral[0] as f64, self.lateral[1] as f64 + 1.0]).floor() as usize;
        let k_fraction = u(self.k_fraction);
        let defocus = u(self.defocus_a);
        let convergence = u(self.convergence_mrad);
        let camera = u(self.camera_scale);
        let sampling = u(self.sampling_a);
        let phonons = u([0.0, 1.0]) < self.phonon_probability;
        let sigma = u(self.phonon_sigma_a);
        let (tilt, azimuth) = (u([0.0, self.tilt_mrad]), u([0.0, std::f64::consts::TAU]));
        let mut out = vec![
            Nuisance::Dose(dose),
            Nuisance::Descan(descan),
            Nuisance::DescanGradient(gradient),
            Nuisance::Blur(blur),
            Nuisance::ThicknessNm(thickness),
            Nuisance::Lateral(lateral.clamp(self.lateral[0], self.lateral[1])),
            Nuisance::ASite {
                a_site: ASite::Random {
                    first: super::crystal::Z_K,
                    second: super::crystal::Z_NA,
                    fraction_first: k_fraction,
                },
                seed,
            },
            Nuisance::Defocus(defocus),
            Nuisance::Convergence(convergence),
            Nuisance::CameraScale(camera),
            Nuisance::Sampling(sampling),
            Nuisance::Tilt([tilt * azimuth.cos(), tilt * azimuth.sin()]),
        ];
        if phonons {
            out.push(Nuisance::Phonons {
                configurations: self.phonon_configurations,
                sigma_a: sigma,
                seed,
            });
        }
        out
    }
}

/// The nuisances [`Ranges::draw_one`] changes one at a time; `none` is the reference itself.
pub const SINGLE: [&str; 12] = [
    "none",
    "dose",
    "descan",
    "blur",
    "thickness",
    "a-site",
    "defocus",
    "convergence",
    "camera",
    "tilt",
    "lateral",
    "sampling",
];

/// Every kind of [`SINGLE`] in order, the cycle of `dr-single` (derived, so that a kind added
/// to [`SINGLE`] joins it).
pub const ALL_SINGLE: [usize; SINGLE.len()] = {
    let mut kinds = [0; SINGLE.len()];
    let mut i = 0;
    while i < kinds.len() {
        kinds[i] = i;
        i += 1;
    }
    kinds
};

impl Ranges {
    /// One nuisance, [`SINGLE`]`[kind % 12]`, drawn from these ranges with `seed` (the same value
    /// [`Ranges::draw`] gives it for that seed); every other nuisance stays at the reference.
    /// The crystal is the reference's K/Na 50/50 arranged from `seed` unless the kind is
    /// `a-site`. `descan` is the constant shift and the change across the scan together.
    pub fn draw_one(&self, kind: usize, seed: u64, scan: [usize; 2]) -> Vec<Nuisance> {
        let name = SINGLE[kind % SINGLE.len()];
        self.draw(seed, scan)
            .into_iter()
            .filter(|n| {
                name == match n {
                    Nuisance::Dose(_) => "dose",
                    Nuisance::Descan(_) | Nuisance::DescanGradient(_) => "descan",
                    Nuisance::Blur(_) => "blur",
                    Nuisance::ThicknessNm(_) => "thickness",
                    Nuisance::ASite { .. } => "a-site",
                    Nuisance::Defocus(_) => "defocus",
                    Nuisance::Convergence(_) => "convergence",
                    Nuisance::CameraScale(_) => "camera",
                    Nuisance::Tilt(_) => "tilt",
                    Nuisance::Lateral(_) => "lateral",
                    Nuisance::Sampling(_) => "sampling",
                    Nuisance::Phonons { .. } | Nuisance::Unpolarised => "",
                }
            })
            .collect()
    }
}

/// The reference every nuisance is applied to: KNN, `class` (None: unpolarised), 4×4×50 cells
/// (20 nm; wide enough that the periodic box does not shape the pattern), K/Na 50/50 from
/// `seed`, 200 kV, 24 mrad, 0.05 Å, `scan` positions over 2×2 cells, a 96-px detector at the
/// models' 0.469 mrad/px (±22.5 mrad: the models' ±15 mrad window with room for descan and
/// camera length), no noise; acquisition seeded from `seed`.
pub fn reference_job(name: &str, class: Option<Class>, seed: u64, scan: [usize; 2]) -> Job {
    let mut job = Job::knn(
        name,
        class,
        [4, 4, cells_for_thickness_nm(20.0)],
        scan,
        [2, 2],
    );
    job.params.detector.pixels = 96;
    job.params.detector.max_mrad = 22.5;
    job.crystal.seed = seed;
    job.acquisition.seed = seed;
    job
}

/// `reference_job` with `nuisances` applied in order and the faster exact engine chosen.
pub fn job_with(
    name: &str,
    class: Option<Class>,
    seed: u64,
    scan: [usize; 2],
    nuisances: &[Nuisance],
) -> Job {
    let mut job = reference_job(name, class, seed, scan);
    for n in nuisances {
        n.apply(&mut job);
    }
    job.params.engine = fastest_exact_engine(&job);
    job
}

/// PRISM without interpolation (exact) when its plane waves are fewer than the probe positions,
/// else plain multislice: both cost about one multislice per plane wave or per position.
pub fn fastest_exact_engine(job: &Job) -> Engine {
    let lambda = job.params.probe.wavelength_a();
    let k = job.params.probe.convergence_mrad * 1e-3 / lambda;
    let [w, h] = [
        job.crystal.cells[0] as f64 * job.crystal.a,
        job.crystal.cells[1] as f64 * job.crystal.a,
    ];
    let beams = std::f64::consts::PI * k * k * w * h;
    if beams < job.scan.len() as f64 {
        Engine::Prism { interpolation: 1 }
    } else {
        Engine::Multislice
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_reproducible_and_inside_the_ranges() {
        let r = Ranges::default();
        assert_eq!(r.draw(5, [32, 32]), r.draw(5, [32, 32]));
        assert_ne!(r.draw(5, [32, 32]), r.draw(6, [32, 32]));
        for seed in 0..200 {
            let job = job_with(
                "x",
                Some(Class::RD),
                seed,
                [32, 32],
                &r.draw(seed, [32, 32]),
            );
            let dose = job.acquisition.dose_per_pattern.unwrap();
            assert!((5e3..=1e5).contains(&dose));
            let corners = [(0, 0), (0, 31), (31, 0), (31, 31)].map(|(a, b)| {
                let s = job.acquisition.shift_at(a, b);
                s[0].abs().max(s[1].abs())
            });
            assert!(corners.iter().all(|&s| s <= 10.0 + 1e-9), "{corners:?}");
            assert!((2..=8).contains(&job.crystal.cells[0]));
            let nm = job.crystal.cells[2] as f64 * job.crystal.a / 10.0;
            assert!((9.8..=60.2).contains(&nm), "{nm}");
            let p = &job.params;
            assert!((-100.0..=100.0).contains(&p.probe.defocus_a));
            assert!((20.0..=30.0).contains(&p.probe.convergence_mrad));
            assert!((0.02..=0.06).contains(&p.sampling_a));
            let scale = p.detector.mrad_per_px() / (22.5 * 2.0 / 96.0);
            assert!((0.7..=1.3).contains(&scale), "{scale}");
            assert!(p.tilt_mrad[0].hypot(p.tilt_mrad[1]) <= 8.0);
            assert_eq!(job.class, Some(Class::RD));
        }
    }

    #[test]
    fn a_single_draw_changes_its_one_nuisance_and_leaves_the_reference() {
        let r = Ranges::training();
        let reference = reference_job("x", Some(Class::MU), 9, [5, 5]);
        assert!(r.draw_one(0, 9, [5, 5]).is_empty());
        for (kind, name) in SINGLE.iter().enumerate().skip(1) {
            let one = r.draw_one(kind, 9, [5, 5]);
            let all = r.draw(9, [5, 5]);
            assert!(
                !one.is_empty() && one.iter().all(|n| all.contains(n)),
                "{one:?}"
            );
            let job = job_with("x", Some(Class::MU), 9, [5, 5], &one);
            let changed = [
                job.acquisition.dose_per_pattern != reference.acquisition.dose_per_pattern,
                job.acquisition.descan_px != reference.acquisition.descan_px,
                job.acquisition.blur_px != reference.acquisition.blur_px,
                job.crystal.cells[2] != reference.crystal.cells[2],
                job.crystal.a_site != reference.crystal.a_site,
                job.params.probe.defocus_a != reference.params.probe.defocus_a,
                job.params.probe.convergence_mrad != reference.params.probe.convergence_mrad,
                job.params.detector.max_mrad != reference.params.detector.max_mrad,
                job.params.tilt_mrad != reference.params.tilt_mrad,
                job.crystal.cells[0] != reference.crystal.cells[0],
                job.params.sampling_a != reference.params.sampling_a,
            ];
            // The kind's own change only (a drawn lateral box or thickness may equal the
            // reference's; then nothing changed).
            let others = changed
                .iter()
                .enumerate()
                .filter(|&(i, &c)| c && i + 1 != kind)
                .count();
            assert_eq!(others, 0, "{name} changed {changed:?}");
        }
        assert_eq!(
            r.draw_one(6, 9, [5, 5]),
            r.draw_one(6 + SINGLE.len(), 9, [5, 5])
        );
    }

    #[test]
    fn edge_draws_stay_inside_the_ranges_and_favour_their_ends() {
        let thickness = |r: Ranges, seed| match r.draw(seed, [5, 5])[4] {
            Nuisance::ThicknessNm(nm) => nm,
            other => panic!("{other:?}"),
        };
        let outer = |r: Ranges| {
            (0..400)
                .map(|seed| thickness(r, seed))
                .inspect(|nm| assert!((10.0..=60.0).contains(nm), "{nm}"))
                .filter(|nm| !(15.0..=55.0).contains(nm))
                .count()
        };
        // The outer fifth of the range: a uniform draw puts 20 % there, the arcsine 41 %.
        let (uniform, edges) = (outer(Ranges::training()), outer(Ranges::training_edges()));
        assert!((50..110).contains(&uniform), "{uniform}");
        assert!((130..200).contains(&edges), "{edges}");
        // The other draws of a seed do not move with it: the flag changes values, not order.
        assert_eq!(
            Ranges::training().draw(3, [5, 5]).len(),
            Ranges::training_edges().draw(3, [5, 5]).len()
        );
    }

    #[test]
    fn training_draws_keep_the_physics_and_narrow_the_numerics() {
        let r = Ranges::training();
        let mut thick = 0.0f64;
        for seed in 0..200 {
            let job = job_with("x", Some(Class::LU), seed, [8, 8], &r.draw(seed, [8, 8]));
            assert!((2..=4).contains(&job.crystal.cells[0]));
            assert!((0.04..=0.06).contains(&job.params.sampling_a));
            assert!(job.params.phonons.is_none());
            thick = thick.max(job.crystal.cells[2] as f64 * job.crystal.a / 10.0);
        }
        // The thickness keeps its whole range.
        assert!(thick > 55.0, "{thick}");
    }

    #[test]
    fn aligned_draws_keep_tilt_and_defocus_small() {
        let r = Ranges::aligned();
        let (mut defocus, mut tilt) = (0.0f64, 0.0f64);
        for seed in 0..200 {
            let job = job_with("x", Some(Class::LU), seed, [8, 8], &r.draw(seed, [8, 8]));
            defocus = defocus.max(job.params.probe.defocus_a.abs());
            tilt = tilt.max(job.params.tilt_mrad[0].hypot(job.params.tilt_mrad[1]));
            assert!((2..=4).contains(&job.crystal.cells[0]));
        }
        assert!((20.0..=30.0).contains(&defocus), "{defocus}");
        assert!((1.0..=2.0).contains(&tilt), "{tilt}");
    }

    #[test]
    fn unpolarised_removes_the_displacement_and_the_label() {
        let job = job_with("u", Some(Class::RM), 1, [4, 4], &[Nuisance::Unpolarised]);
        assert_eq!(job.class, None);
        assert_eq!(job.crystal.b_shift, [0.0; 3]);
    }
}
