//! The defect study: on a simulated vacancy scan, run a model, rank candidate defect clusters
//! (comparing each pixel with the same lattice site in the other unit cells) from its class map,
//! from the CoM field alone and from both, and measure how far each top-ranked cluster lies from
//! the true vacancy site that the simulation recorded in the scan's sidecar
//! (`simulation.defect.scan_position`).

use ndarray::Array2;
use polarmap_core::analysis::ComField;
use polarmap_core::error::{Error, Result};
use polarmap_core::maps::{
    anomaly_scores, com_anomaly_scores, defect_clusters, joint_scores, ClassMap, DefectCluster,
    DefectSearch,
};
use polarmap_core::models::Classifier;
use polarmap_core::progress::Progress;
use polarmap_core::scan::Sidecar;
use polarmap_core::session::Session;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Where the vacancy is, and the scan geometry needed to measure distances to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DefectTruth {
    /// Vacancy position in scan pixels (row, col).
    pub position: [f64; 2],
    /// Scan step, Å per pixel (rows, cols).
    pub step_a: [f64; 2],
    /// Unit-cell edge, Å.
    pub lattice_a: f64,
    /// Unit-cell period in scan pixels (rows, cols), when the scan covers whole cells.
    pub period_px: Option<[usize; 2]>,
    /// When the scan covers the whole (periodic) supercell: its size in pixels, for
    /// minimum-image distances.
    pub wrap_px: Option<[f64; 2]>,
}

impl DefectTruth {
    /// The truth a simulated scan's sidecar records; an error naming the file if it has none.
    pub fn of_scan(path: &Path, scan_shape: [usize; 2]) -> Result<DefectTruth> {
        let sidecar = Sidecar::find_for(path)?
            .ok_or_else(|| Error::format(path, "has no sidecar (NAME.meta.json)"))?;
        let sim = sidecar.extra.get("simulation").ok_or_else(|| {
            Error::format(
                path,
                "its sidecar has no \"simulation\" record (not simulated?)",
            )
        })?;
        let position: [f64; 2] = serde_json::from_value(sim["defect"]["scan_position"].clone())
            .map_err(|_| {
                Error::format(
                    path,
                    "its sidecar records no defect (simulation.defect.scan_position)",
                )
            })?;
        let get = |key: &str| -> Result<serde_json::Value> {
            sim.get(key)
                .cloned()
                .ok_or_else(|| Error::format(path, format!("its sidecar lacks simulation.{key}")))
        };
        let bad = |key: &str| Error::format(path, format!("simulation.{key} is malformed"));
        // Steps and cells are (x, y); scan pixels are (row = -y, col = x).
        let step: [f64; 2] =
            serde_json::from_value(get("scan_step_a")?).map_err(|_| bad("scan_step_a"))?;
        let cells: [usize; 2] =
            serde_json::from_value(get("scan_cells")?).map_err(|_| bad("scan_cells"))?;
        let supercell: [usize; 3] =
            serde_json::from_value(get("supercell")?).map_err(|_| bad("supercell"))?;
        let lattice_a: f64 =
            serde_json::from_value(get("lattice_a")?).map_err(|_| bad("lattice_a"))?;
        let [rows, cols] = scan_shape;
        let period_px = (cells[0] > 0
            && cells[1] > 0
            && rows.is_multiple_of(cells[1])
            && cols.is_multiple_of(cells[0]))
        .then(|| [rows / cells[1], cols / cells[0]]);
        let wrap_px = (cells == [supercell[0], supercell[1]]).then_some([rows as f64, cols as f64]);
        Ok(DefectTruth {
            position,
            step_a: [step[1], step[0]],
            lattice_a,
            period_px,
            wrap_px,
        })
    }

    /// The defect search for this scan: lattice comparison at the unit-cell period.
    pub fn search(&self) -> DefectSearch {
        DefectSearch {
            lattice_period: self.period_px,
            ..DefectSearch::default()
        }
    }

    /// Distance from (row, col) to the vacancy in Å (minimum image over the supercell when the
    /// scan covers it).
    pub fn distance_a(&self, row: f64, col: f64) -> f64 {
        let mut d = [row - self.position[0], col - self.position[1]];
        if let Some(wrap) = self.wrap_px {
            for k in 0..2 {
                d[k] -= wrap[k] * (d[k] / wrap[k]).round();
            }
        }
        (d[0] * self.step_a[0]).hypot(d[1] * self.step_a[1])
    }
}

/// Where one kind of evidence put the defect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Located {
    /// How many candidate clusters the search found.
    pub clusters: usize,
    pub top: Option<DefectCluster>,
    pub distance_px: Option<f64>,
    pub distance_cells: Option<f64>,
    pub distance_nm: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DefectResult {
    pub scan: String,
    pub truth: DefectTruth,
    /// From the model's class map: pixels unlike their neighbourhood and their lattice site.
    pub class_map: Located,
    /// From the CoM field alone, no model: what is not periodic with the lattice.
    pub com: Option<Located>,
    /// Where the class map and the CoM field agree (geometric mean of the two scores).
    pub joint: Option<Located>,
    /// The mean distance from a scan pixel to the vacancy, in unit cells: what a cluster placed
    /// at random would score.
    pub chance_cells: f64,
}

/// Ranks the candidate defects of `map` (and of the CoM field `com` when given) and measures the
/// top one of each kind of evidence against `truth`.
pub fn locate(
    scan: &str,
    map: &ClassMap,
    com: Option<&ComField>,
    truth: &DefectTruth,
) -> DefectResult {
    let search = truth.search();
    let class_scores = anomaly_scores(map, &search);
    let com_scores = com.map(|f| com_anomaly_scores(f, &search));
    let (rows, cols) = map.dim();
    let total: f64 = (0..rows)
        .flat_map(|r| (0..cols).map(move |c| (r, c)))
        .map(|(r, c)| truth.distance_a(r as f64, c as f64))
        .sum();
    DefectResult {
        scan: scan.to_string(),
        truth: truth.clone(),
        class_map: located(&class_scores, map, &search, truth),
        com: com_scores.as_ref().map(|s| located(s, map, &search, truth)),
        joint: com_scores
            .as_ref()
            .map(|s| located(&joint_scores(&class_scores, s), map, &search, truth)),
        chance_cells: total / (rows * cols).max(1) as f64 / truth.lattice_a,
    }
}

fn located(
    scores: &Array2<f64>,
    map: &ClassMap,
    search: &DefectSearch,
    truth: &DefectTruth,
) -> Located {
    let clusters = defect_clusters(scores, map, search);
    let top = clusters.first().cloned();
    let distance_a = top
        .as_ref()
        .map(|c| truth.distance_a(c.center_row, c.center_col));
    let mean_step = (truth.step_a[0] + truth.step_a[1]) / 2.0;
    Located {
        clusters: clusters.len(),
        top,
        distance_px: distance_a.map(|d| d / mean_step),
        distance_cells: distance_a.map(|d| d / truth.lattice_a),
        distance_nm: distance_a.map(|d| d / 10.0),
    }
}

/// Runs `model` over the vacancy scan at `path`, measures its CoM field, and locates the defect.
pub fn study(model: &dyn Classifier, path: &Path, progress: &Progress) -> Result<DefectResult> {
    let session = Session::open(path, &Default::default(), progress)?;
    let truth = DefectTruth::of_scan(path, session.scan().scan_shape())?;
    let predictions = session.predict(model, progress, |_, _| {})?;
    let com = session.com_field(progress)?;
    Ok(locate(
        &path.display().to_string(),
        &predictions.class_map(),
        Some(&com),
        &truth,
    ))
}
