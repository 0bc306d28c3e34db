//! A trained model adapted to the user's scan from pixels they labelled ("this region is RD",
//! from their HAADF analysis, say). The labelled patterns go through the model's own input
//! ([`super::input::prepare_batch`] with the geometry of the scan's survey), then, by backend:
//!
//! - **PCA + kNN**: their projections join the kNN reference set, each voting with the weight
//!   k, so that a labelled pattern among a query's k nearest outvotes all the training points
//!   there ([`PcaKnn::with_references`]).
//! - **Prototype head**: each labelled class's prototype moves to the mean embedding of its
//!   labelled patterns; every other prototype moves by the count-weighted mean of those moves.
//!   Both are shrunk towards "no move" as a posterior mean with a prior worth
//!   [`AdaptOptions::prior_patterns`] patterns: the embeddings of one class vary over the unit
//!   cell (patterns between atom columns carry little polarization), so the mean of a handful of
//!   labelled patterns is a noisy prototype. A scan unlike the training data (thicker, noisier, another crystal) shifts the embeddings of
//!   all its patterns; the mean move of the labelled classes is the best estimate of that shift
//!   for a class the user did not label, and moving it keeps the prototypes' relative geometry
//!   (without the move, a class labelled alone would sit apart from the stale ones and could
//!   capture patterns of neighbouring unlabelled classes, or never reach them).
//! - **Classification and regression heads**: the last linear layer is refitted on the encoder's
//!   features of the labelled patterns (the head's own loss: cross-entropy, or the squared error
//!   of the tanh'd direction), with a ridge penalty pulling towards the original weights, so that
//!   directions of feature space the labels do not cover keep the trained behaviour.
//!
//! The adapted model carries an [`Adaptation`] in its header (and card): the method, the base
//! model, the source scan and the labelled pixels per class. Labels come from a region-labels
//! file ([`RegionLabels`], docs/formats.md) or, in the app, from drawn regions.

use super::nets::{Head, NetClassifier};
use super::pca_knn::PcaKnn;
use super::symmetry::transformed_copies;
use super::{input, Classifier};
use crate::classes::Class;
use crate::error::{Error, Result};
use crate::maps::Region;
use crate::progress::Progress;
use crate::session::Session;
use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// How a model was adapted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdaptMethod {
    /// Labelled patterns added to the kNN reference set.
    KnnReferences,
    /// Prototypes re-estimated from the labelled embeddings.
    Prototypes,
    /// The last linear layer refitted on the labelled features.
    LastLayer,
}

impl AdaptMethod {
    pub fn name(self) -> &'static str {
        match self {
            Self::KnnReferences => "knn-references",
            Self::Prototypes => "prototypes",
            Self::LastLayer => "last-layer",
        }
    }
}

/// The record of an adaptation, stored in the adapted model's header and card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adaptation {
    pub method: AdaptMethod,
    /// The base model's name ("Conv (Proto)") and file, when known.
    pub base_model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_model_file: Option<String>,
    /// The scan whose pixels were labelled.
    pub source_scan: String,
    /// Labelled pixels per class name (classes with at least one).
    pub labelled_pixels: BTreeMap<String, usize>,
    /// The method's settings and what it measured (vote weight; ridge, steps, loss; the shift
    /// of the unlabelled prototypes).
    #[serde(default)]
    pub details: serde_json::Value,
    /// The base model's own adaptation, when an adapted model was adapted again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_adaptation: Option<Box<Adaptation>>,
}

/// Settings of an adaptation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptOptions {
    /// Vote of a labelled pattern in the kNN; None: k (one labelled neighbour outvotes the
    /// k − 1 others).
    pub knn_weight: Option<f32>,
    /// Ridge towards the original head, relative to the largest curvature of the data term.
    /// Along the mean feature direction (the largest curvature), a ridge r lets the fit move a
    /// logit by about 1/r: 0.01 let the unsymmetrised Conv (Cls) (logit gaps of ~30 on the demo)
    /// be overruled by labels, 0.1 did not; a symmetrised model's head must be refitted on all
    /// 8 copies of each labelled pattern, and 0.01 left the symmetrised default unmoved on the
    /// demo where 0.001 moved the labelled domain and 0.0001 spilled into the next one
    /// (measured, docs/transfer.md). `None`: chosen among [`RIDGE_CANDIDATES`] by
    /// cross-validation over the labelled pixels ([`choose_ridge`]), since a fixed 0.001 let
    /// randomly placed labels of two classes overfit and cost accuracy on the rest of a scan.
    pub ridge: Option<f64>,
    /// Classification head: weight of a term that keeps the base model's class probabilities
    /// on up to [`ANCHOR_PIXELS`] unlabelled pixels of the scan (their cross-entropy against the
    /// base model's, beside the labelled pixels' loss). 0: labels alone. Without it a region
    /// labelled in one domain of a scan with several repaints the others with its class: the
    /// labels hold one class (and its symmetric copies) and say nothing about the rest.
    /// `None`: chosen among [`ANCHOR_CANDIDATES`] by cross-validation over the labelled pixels
    /// ([`choose_anchor`]; 0 with too few labelled pixels to hold any out). The default is 0:
    /// measured on two-domain scans, the cross-validation rarely took the anchor and a fixed
    /// weight costs scans where the base model is wrong everywhere (docs/transfer.md), so the
    /// anchor is the user's lever, not a default.
    pub anchor: Option<f64>,
    /// Prototype head: the weight, in patterns, of the old prototypes against the labelled
    /// means (and of "no shift" against the labelled classes' mean move).
    pub prior_patterns: f64,
    /// Gradient steps of the last-layer fit.
    pub steps: usize,
    /// At most this many labelled patterns enter the last-layer fit (evenly spaced over the
    /// labels when there are more).
    pub max_fit_patterns: usize,
}

impl Default for AdaptOptions {
    fn default() -> Self {
        AdaptOptions {
            knn_weight: None,
            ridge: None,
            anchor: Some(0.0),
            prior_patterns: 10.0,
            steps: 300,
            max_fit_patterns: 4096,
        }
    }
}

/// Unlabelled pixels (evenly spaced over the scan) that [`AdaptOptions::anchor`] keeps.
pub const ANCHOR_PIXELS: usize = 512;

/// The ridges [`choose_ridge`] tries, strongest first (a tie keeps the stronger).
pub const RIDGE_CANDIDATES: [f64; 3] = [0.1, 0.01, 0.001];
/// The ridge when there are too few labelled pixels to cross-validate: the weakest candidate,
/// so that a handful of labels still moves a confident map.
const FALLBACK_RIDGE: f64 = 0.001;
/// Folds of the cross-validation.
const RIDGE_FOLDS: usize = 3;

/// One labelled region of a region-labels file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelledRegion {
    pub class: Class,
    pub region: Region,
}

/// A region-labels file (`*.labels.json`, docs/formats.md): regions of a scan, each with the
/// class the user says it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionLabels {
    /// The scan the regions were drawn on (informative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan: Option<String>,
    pub regions: Vec<LabelledRegion>,
}

impl RegionLabels {
    pub fn read(path: &Path) -> Result<RegionLabels> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| {
            Error::format(
                path,
                format!("not a region-labels file (docs/formats.md): {e}"),
            )
        })
    }

    pub fn write(&self, path: &Path, overwrite: bool) -> Result<()> {
        crate::export::check_writable(path, overwrite)?;
        let text = serde_json::to_string_pretty(self).expect("labels serialise");
        std::fs::write(path, text + "\n").map_err(|e| Error::io(path, e))
    }

    /// The labelled pixels of a `shape` scan as (row-major pattern index, class), ascending.
    /// A pixel in two regions of different classes, or a region with no pixel in the scan, is
    /// an error.
    pub fn pixels(&self, shape: [usize; 2]) -> Result<Vec<(usize, Class)>> {
        let mut labels: BTreeMap<usize, Class> = BTreeMap::new();
        for (i, labelled) in self.regions.iter().enumerate() {
            let pixels = labelled.region.pixels((shape[0], shape[1]));
            if pixels.is_empty() {
                return Err(Error::invalid(format!(
                    "region {} ({}) holds no pixel of the {}x{} scan",
                    i + 1,
                    labelled.class,
                    shape[0],
                    shape[1]
                )));
            }
            for (r, c) in pixels {
                let old = labels.insert(r * shape[1] + c, labelled.class);
                if let Some(old) = old.filter(|&old| old != labelled.class) {
                    return Err(Error::invalid(format!(
                        "pixel (row {r}, col {c}) is labelled both {old} and {}",
                        labelled.class
                    )));
                }
            }
        }
        Ok(labels.into_iter().collect())
    }
}

/// Labelled pixels per class name.
pub fn counts_by_class(labels: &[(usize, Class)]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for (_, class) in labels {
        *counts.entry(class.name().to_string()).or_insert(0) += 1;
    }
    counts
}

/// `model` adapted to `session`'s scan from `labels` ((row-major pattern index, class) pairs).
/// `base_file` names the model's file in the record. Cancelled through `progress`.
pub fn adapt(
    model: &dyn Classifier,
    base_file: Option<&Path>,
    session: &Session,
    labels: &[(usize, Class)],
    options: &AdaptOptions,
    progress: &Progress,
) -> Result<Box<dyn Classifier>> {
    let scan = session.scan();
    let n = scan.n_frames();
    if labels.is_empty() {
        return Err(Error::invalid("no labelled pixels to adapt the model to"));
    }
    if let Some(w) = options.anchor.filter(|w| !(w.is_finite() && *w >= 0.0)) {
        return Err(Error::invalid(format!(
            "the anchor weight must be 0 or more, got {w}"
        )));
    }
    if let Some(&(i, _)) = labels.iter().find(|(i, _)| *i >= n) {
        return Err(Error::invalid(format!(
            "labelled pattern {i} is outside the scan's {n} patterns"
        )));
    }
    let spec = model.input();
    // The labelled patterns are seen as the map sees them: at the tilt found for the scan too.
    let (geometry, _) = super::tilt::input_geometry(scan, session.survey(), model, progress)?;
    let indices: Vec<usize> = labels.iter().map(|(i, _)| *i).collect();
    let classes: Vec<Class> = labels.iter().map(|(_, c)| *c).collect();
    progress.start("reading the labelled patterns", indices.len() as u64);
    let inputs = input::prepare_batch(scan, &indices, &geometry, spec.size, Some(progress), None)?;
    progress.check()?;
    let base = model.header();
    let record = |method: AdaptMethod, details: serde_json::Value| Adaptation {
        method,
        base_model: model.display_name(),
        base_model_file: base_file.map(|p| p.display().to_string()),
        source_scan: scan.path().display().to_string(),
        labelled_pixels: counts_by_class(labels),
        details,
        base_adaptation: base.adaptation.clone().map(Box::new),
    };
    let header_with = |adaptation: Adaptation| {
        let mut header = base.clone();
        header.adaptation = Some(adaptation);
        header
    };
    progress.start("adapting the model", 1);
    if let Some(knn) = model.as_any().downcast_ref::<PcaKnn>() {
        let weight = options
            .knn_weight
            .unwrap_or(knn.settings().k as f32)
            .max(f32::MIN_POSITIVE);
        let header = header_with(record(
            AdaptMethod::KnnReferences,
            serde_json::json!({"vote_weight": weight, "k": knn.settings().k}),
        ));
        return Ok(Box::new(knn.with_references(
            inputs.view(),
            &classes,
            weight,
            header,
        )?));
    }
    let net = model
        .as_any()
        .downcast_ref::<NetClassifier>()
        .ok_or_else(|| {
            Error::invalid(format!(
                "{} models cannot be adapted",
                model.header().backend
            ))
        })?;
    let mut class_indices: Vec<usize> = classes.iter().map(|c| c.index()).collect();
    let mut inputs = inputs;
    if net.symmetrised() {
        // The model averages over the 8 transformed copies of a pattern, so the head or the
        // prototypes are fitted on all 8, each with its transformed label.
        (inputs, class_indices) = transformed_copies(&inputs, &class_indices, spec.size);
    }
    match net.head() {
        Head::Proto => {
            let embeddings = batched(&inputs, progress, |rows| net.outputs(rows))?;
            let old = net.prototypes().unwrap_or_default();
            let prior = options.prior_patterns.max(0.0);
            let (prototypes, shift) =
                reestimate_prototypes(old, &embeddings, &class_indices, prior);
            let header = header_with(record(
                AdaptMethod::Prototypes,
                serde_json::json!({"prior_patterns": prior, "unlabelled_prototype_shift": shift}),
            ));
            Ok(Box::new(net.with_prototypes(prototypes, header)?))
        }
        head @ (Head::Cls | Head::Reg) => {
            // Evenly spaced labels when there are more than the fit takes.
            let stride = inputs.nrows().div_ceil(options.max_fit_patterns.max(1));
            let rows: Vec<usize> = (0..inputs.nrows()).step_by(stride.max(1)).collect();
            let inputs = inputs.select(Axis(0), &rows);
            let targets: Vec<usize> = rows.iter().map(|&r| class_indices[r]).collect();
            // A labelled pixel's transformed copies stay in one fold.
            let copies = class_indices.len() / labels.len();
            let pixels: Vec<usize> = rows.iter().map(|&r| r / copies).collect();
            let features = batched(&inputs, progress, |rows| net.features(rows))?;
            let (weight, bias) = net.head_weights()?;
            progress.check()?;
            let anchor = if head == Head::Cls && options.anchor != Some(0.0) {
                // Unlabelled pixels evenly spaced over the scan, in the model's input (and
                // its 8 copies for a symmetrised model, each kept at its own probabilities).
                let labelled: std::collections::HashSet<usize> = indices.iter().copied().collect();
                let free: Vec<usize> = (0..n).filter(|i| !labelled.contains(i)).collect();
                let step = free.len().div_ceil(ANCHOR_PIXELS).max(1);
                let kept: Vec<usize> = free.iter().copied().step_by(step).collect();
                let mut patterns =
                    input::prepare_batch(scan, &kept, &geometry, spec.size, None, None)?;
                if net.symmetrised() {
                    (patterns, _) = transformed_copies(&patterns, &vec![0; kept.len()], spec.size);
                }
                let kept_features = batched(&patterns, progress, |rows| net.features(rows))?;
                (!kept_features.is_empty()).then(|| Anchor::new(&kept_features, &weight, &bias))
            } else {
                None
            };
            let (ridge, validation) = match options.ridge {
                Some(r) => (r, serde_json::Value::Null),
                None => {
                    let choice = choose_ridge(
                        &features,
                        &targets,
                        &pixels,
                        head,
                        &weight,
                        &bias,
                        options.steps,
                        progress,
                    )?;
                    let json = serde_json::json!({
                        "folds": RIDGE_FOLDS,
                        "held_out_loss": choice.held_out_loss.iter()
                            .map(|(r, l)| serde_json::json!({"ridge": r, "loss": l}))
                            .collect::<Vec<_>>(),
                    });
                    (choice.ridge, json)
                }
            };
            let (anchor_weight, anchor_validation) = match (&anchor, options.anchor) {
                (None, _) => (0.0, serde_json::Value::Null),
                (Some(_), Some(w)) => (w, serde_json::Value::Null),
                (Some(a), None) => {
                    let choice = choose_anchor(
                        &features,
                        &targets,
                        &pixels,
                        &weight,
                        &bias,
                        ridge,
                        options.steps,
                        a,
                        progress,
                    )?;
                    let json = serde_json::json!({
                        "folds": RIDGE_FOLDS,
                        "held_out_loss": choice.held_out_loss.iter()
                            .map(|(w, l, se)| serde_json::json!({"weight": w, "loss": l, "standard_error": se}))
                            .collect::<Vec<_>>(),
                    });
                    (choice.weight, json)
                }
            };
            let fit = fit_last_layer(
                &features,
                &targets,
                head,
                &weight,
                &bias,
                ridge,
                options.steps,
                anchor.as_ref().map(|a| (a, anchor_weight)),
            )?;
            let header = header_with(record(
                AdaptMethod::LastLayer,
                serde_json::json!({
                    "head": head.name(),
                    "ridge": ridge,
                    "ridge_cross_validation": validation,
                    "anchor": anchor.as_ref().map(|a| serde_json::json!({
                        "weight": anchor_weight,
                        "patterns": a.x.nrows(),
                        "cross_validation": anchor_validation,
                    })),
                    "steps": fit.steps,
                    "fit_patterns": rows.len(),
                    "loss_before": fit.loss_before,
                    "loss_after": fit.loss_after,
                }),
            ));
            Ok(Box::new(net.with_head_weights(
                &fit.weight,
                &fit.bias,
                header,
            )?))
        }
    }
}

/// `f` over `inputs` in batches of [`super::predict::BATCH`], rows concatenated.
fn batched(
    inputs: &Array2<f32>,
    progress: &Progress,
    f: impl Fn(ndarray::ArrayView2<f32>) -> Result<Vec<Vec<f32>>>,
) -> Result<Vec<Vec<f32>>> {
    let mut out = Vec::with_capacity(inputs.nrows());
    for rows in inputs.axis_chunks_iter(Axis(0), super::predict::BATCH) {
        progress.check()?;
        out.extend(f(rows)?);
    }
    Ok(out)
}

/// New prototypes (see the module's comment): the common move δ = Σₖ nₖ(mₖ − oldₖ) / (Σₖ nₖ +
/// `prior`) of the labelled classes' means mₖ; a labelled class at (nₖ mₖ + `prior` (oldₖ + δ)) /
/// (nₖ + `prior`), the others at oldₖ + δ. `prior` = 0 puts the labelled classes at their means.
/// Returns the prototypes and the length of δ.
pub fn reestimate_prototypes(
    old: &[Vec<f32>],
    embeddings: &[Vec<f32>],
    labels: &[usize],
    prior: f64,
) -> (Vec<Vec<f32>>, f64) {
    let means = super::nets::heads::class_means(embeddings, labels);
    let mut counts = [0usize; Class::COUNT];
    labels.iter().for_each(|&l| counts[l] += 1);
    let width = old.first().map_or(0, Vec::len);
    let total: usize = counts.iter().sum();
    let mut shift = vec![0f64; width];
    for k in (0..Class::COUNT).filter(|&k| counts[k] > 0) {
        let w = counts[k] as f64 / (total as f64 + prior).max(1e-12);
        for (s, (m, o)) in shift.iter_mut().zip(means[k].iter().zip(&old[k])) {
            *s += w * (*m as f64 - *o as f64);
        }
    }
    let prototypes = (0..Class::COUNT)
        .map(|k| {
            let n = counts[k] as f64;
            old[k]
                .iter()
                .zip(&shift)
                .zip(&means[k])
                .map(|((o, s), m)| {
                    let moved = *o as f64 + s;
                    if n == 0.0 {
                        moved as f32
                    } else {
                        ((n * *m as f64 + prior * moved) / (n + prior)) as f32
                    }
                })
                .collect()
        })
        .collect();
    let length = shift.iter().map(|s| s * s).sum::<f64>().sqrt();
    (prototypes, length)
}

/// A refitted last layer.
#[derive(Debug, Clone)]
pub struct LastLayerFit {
    /// `[features × outputs]` row-major, as [`NetClassifier::head_weights`].
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub steps: usize,
    /// The data term (the head's loss on the labelled patterns) before and after.
    pub loss_before: f64,
    pub loss_after: f64,
}

/// The ridge [`choose_ridge`] picked and the held-out loss of each candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct RidgeChoice {
    pub ridge: f64,
    /// (ridge, mean held-out loss) per candidate; empty when there were too few labelled
    /// pixels to hold any out.
    pub held_out_loss: Vec<(f64, f64)>,
}

/// The ridge of [`RIDGE_CANDIDATES`] whose fits predict held-out labelled pixels best: the
/// labelled pixels (`pixels[i]` is row i's pixel; a pixel's rows stay together) are dealt into
/// [`RIDGE_FOLDS`] folds, each fold's rows scored by the head's loss after a fit on the
/// others. With fewer than 2 pixels per fold, [`FALLBACK_RIDGE`].
#[allow(clippy::too_many_arguments)]
pub fn choose_ridge(
    features: &[Vec<f32>],
    labels: &[usize],
    pixels: &[usize],
    head: Head,
    weight: &[f32],
    bias: &[f32],
    steps: usize,
    progress: &Progress,
) -> Result<RidgeChoice> {
    let Some((_, folds)) = folds(features, labels, pixels) else {
        return Ok(RidgeChoice {
            ridge: FALLBACK_RIDGE,
            held_out_loss: Vec::new(),
        });
    };
    // Each fold's split is made once and fitted with every candidate.
    let mut totals = [0.0; RIDGE_CANDIDATES.len()];
    for fold in &folds {
        for (total, ridge) in totals.iter_mut().zip(RIDGE_CANDIDATES) {
            progress.check()?;
            let fit = fit_last_layer(
                &fold.train_x,
                &fold.train_y,
                head,
                weight,
                bias,
                ridge,
                steps,
                None,
            )?;
            let theta = parameters(&fit.weight, &fit.bias, bias.len());
            *total += data_loss(&fold.test_x, &theta, &fold.test_y, head) * fold.test.len() as f64;
        }
    }
    let held_out_loss: Vec<(f64, f64)> = RIDGE_CANDIDATES
        .iter()
        .zip(totals)
        .map(|(&ridge, total)| (ridge, total / labels.len().max(1) as f64))
        .collect();
    let best = held_out_loss
        .iter()
        .fold(None::<(f64, f64)>, |best, &(r, l)| match best {
            Some((_, b)) if b <= l => best,
            _ => Some((r, l)),
        })
        .map_or(FALLBACK_RIDGE, |(r, _)| r);
    Ok(RidgeChoice {
        ridge: best,
        held_out_loss,
    })
}

/// The anchor weights [`choose_anchor`] tries.
pub const ANCHOR_CANDIDATES: [f64; 3] = [0.0, 0.2, 1.0];

/// The anchor weight [`choose_anchor`] picked; per candidate (weight, mean held-out loss per
/// labelled pixel, its standard error).
#[derive(Debug, Clone, PartialEq)]
pub struct AnchorChoice {
    pub weight: f64,
    pub held_out_loss: Vec<(f64, f64, f64)>,
}

/// The weight of the [`Anchor`] for a classification head's fit at `ridge`: the folds of
/// [`choose_ridge`], each labelled pixel's held-out loss (the mean over its rows) under each
/// of [`ANCHOR_CANDIDATES`], and the strongest anchor whose mean loss is within one standard
/// error of the best: keeping the base model where the labels do not say otherwise costs
/// nothing measurable on them. Labels that contradict the base model on pixels like the
/// unlabelled ones are predicted worse under a strong anchor, and it is not chosen. With too
/// few pixels to hold out, 0.
#[allow(clippy::too_many_arguments)]
pub fn choose_anchor(
    features: &[Vec<f32>],
    labels: &[usize],
    pixels: &[usize],
    weight: &[f32],
    bias: &[f32],
    ridge: f64,
    steps: usize,
    anchor: &Anchor,
    progress: &Progress,
) -> Result<AnchorChoice> {
    let Some((slot, folds)) = folds(features, labels, pixels) else {
        return Ok(AnchorChoice {
            weight: 0.0,
            held_out_loss: Vec::new(),
        });
    };
    // Per candidate, per pixel: (summed loss of its rows, rows).
    let distinct = slot.iter().max().map_or(0, |m| m + 1);
    let mut per_pixel = vec![vec![(0.0, 0usize); distinct]; ANCHOR_CANDIDATES.len()];
    for fold in &folds {
        for (c, &w) in ANCHOR_CANDIDATES.iter().enumerate() {
            progress.check()?;
            let fit = fit_last_layer(
                &fold.train_x,
                &fold.train_y,
                Head::Cls,
                weight,
                bias,
                ridge,
                steps,
                Some((anchor, w)),
            )?;
            let theta = parameters(&fit.weight, &fit.bias, bias.len());
            for (i, &r) in fold.test.iter().enumerate() {
                let row = fold.test_x.slice(ndarray::s![i..i + 1, ..]).to_owned();
                let loss = data_loss(&row, &theta, &[labels[r]], Head::Cls);
                let cell = &mut per_pixel[c][slot[r]];
                cell.0 += loss;
                cell.1 += 1;
            }
        }
    }
    let held_out_loss: Vec<(f64, f64, f64)> = ANCHOR_CANDIDATES
        .iter()
        .zip(&per_pixel)
        .map(|(&w, cells)| {
            let losses: Vec<f64> = cells
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(sum, n)| sum / *n as f64)
                .collect();
            let n = losses.len().max(1) as f64;
            let mean = losses.iter().sum::<f64>() / n;
            let var = losses.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
            (w, mean, (var / n).sqrt())
        })
        .collect();
    let best = held_out_loss
        .iter()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .copied()
        .unwrap_or((0.0, 0.0, 0.0));
    let weight = held_out_loss
        .iter()
        .filter(|(_, l, _)| *l <= best.1 + best.2)
        .map(|(w, _, _)| *w)
        .fold(0.0, f64::max);
    Ok(AnchorChoice {
        weight,
        held_out_loss,
    })
}

/// One cross-validation fold of the labelled rows: fitted on the others, scored on its own.
struct Fold {
    train_x: Vec<Vec<f32>>,
    train_y: Vec<usize>,
    /// The held-out rows (indices into the labelled rows), their design matrix and labels.
    test: Vec<usize>,
    test_x: Array2<f64>,
    test_y: Vec<usize>,
}

/// The labelled rows dealt into [`RIDGE_FOLDS`] folds by pixel (`pixels[i]` is row i's pixel;
/// a pixel's rows stay together; pixels are dealt in order, so neighbouring labelled pixels
/// fall in different folds), with each row's pixel as an index 0.. among the distinct pixels.
/// None with fewer than 2 pixels per fold.
fn folds(
    features: &[Vec<f32>],
    labels: &[usize],
    pixels: &[usize],
) -> Option<(Vec<usize>, Vec<Fold>)> {
    let mut distinct: Vec<usize> = pixels.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 2 * RIDGE_FOLDS {
        return None;
    }
    let slot: Vec<usize> = pixels
        .iter()
        .map(|p| distinct.binary_search(p).unwrap_or(0))
        .collect();
    let pick = |rows: &[usize]| -> (Vec<Vec<f32>>, Vec<usize>) {
        rows.iter()
            .map(|&r| (features[r].clone(), labels[r]))
            .unzip()
    };
    let folds = (0..RIDGE_FOLDS)
        .map(|fold| {
            let (train, test): (Vec<usize>, Vec<usize>) =
                (0..labels.len()).partition(|&r| slot[r] % RIDGE_FOLDS != fold);
            let ((train_x, train_y), (test_x, test_y)) = (pick(&train), pick(&test));
            Fold {
                train_x,
                train_y,
                test,
                test_x: design(&test_x),
                test_y,
            }
        })
        .collect();
    Some((slot, folds))
}

/// Features with a constant column for the bias: `[n, f + 1]`.
fn design(features: &[Vec<f32>]) -> Array2<f64> {
    let f = features.first().map_or(0, Vec::len);
    Array2::from_shape_fn((features.len(), f + 1), |(i, j)| {
        if j < f {
            features[i][j] as f64
        } else {
            1.0
        }
    })
}

/// A linear layer's `weight` `[F × M]` and `bias` `[M]` as one `[(F + 1) × M]` matrix.
fn parameters(weight: &[f32], bias: &[f32], m: usize) -> Array2<f64> {
    let f = weight.len() / m.max(1);
    Array2::from_shape_fn((f + 1, m), |(j, k)| {
        if j < f {
            weight[j * m + k] as f64
        } else {
            bias[k] as f64
        }
    })
}

/// Unlabelled patterns whose base-model class probabilities a last-layer fit keeps (the
/// term's weight: [`AdaptOptions::anchor`]).
pub struct Anchor {
    x: Array2<f64>,
    /// The base head's softmax on `x`.
    targets: Array2<f64>,
}

impl Anchor {
    /// The anchor of unlabelled `features` under the base head (`weight`, `bias`).
    pub fn new(features: &[Vec<f32>], weight: &[f32], bias: &[f32]) -> Anchor {
        let x = design(features);
        let mut targets = x.dot(&parameters(weight, bias, bias.len()));
        for mut row in targets.axis_iter_mut(Axis(0)) {
            softmax_in_place(&mut row);
        }
        Anchor { x, targets }
    }

    /// Cross-entropy of the head θ's probabilities against the targets, averaged.
    fn loss(&self, theta: &Array2<f64>) -> f64 {
        let z = self.x.dot(theta);
        let total: f64 = z
            .axis_iter(Axis(0))
            .zip(self.targets.axis_iter(Axis(0)))
            .map(|(row, p)| {
                let log_sum = log_sum_exp(row);
                log_sum - row.dot(&p)
            })
            .sum();
        total / self.x.nrows().max(1) as f64
    }

    fn gradient(&self, theta: &Array2<f64>) -> Array2<f64> {
        let mut dz = self.x.dot(theta);
        for (mut row, p) in dz
            .axis_iter_mut(Axis(0))
            .zip(self.targets.axis_iter(Axis(0)))
        {
            softmax_in_place(&mut row);
            row -= &p;
        }
        self.x.t().dot(&dz) / self.x.nrows().max(1) as f64
    }
}

/// Refits a head's linear layer (`weight` `[F × M]` row-major, `bias` `[M]`) on `features`
/// with class `labels`: minimises the head's loss plus (λ/2)·‖(W, b) − (W₀, b₀)‖², λ = `ridge` ×
/// the largest eigenvalue of the features' second-moment matrix (so `ridge` does not depend on
/// the features' scale), plus, for a classification head, an [`Anchor`] term of the given
/// weight, by gradient descent with a backtracking step.
#[allow(clippy::too_many_arguments)]
pub fn fit_last_layer(
    features: &[Vec<f32>],
    labels: &[usize],
    head: Head,
    weight: &[f32],
    bias: &[f32],
    ridge: f64,
    steps: usize,
    anchor: Option<(&Anchor, f64)>,
) -> Result<LastLayerFit> {
    let anchor = anchor.filter(|(a, w)| *w > 0.0 && head == Head::Cls && a.x.nrows() > 0);
    let n = features.len();
    let f = features.first().map_or(0, Vec::len);
    let m = bias.len();
    if n == 0 || n != labels.len() || weight.len() != f * m || m != head.outputs() {
        return Err(Error::invalid(format!(
            "last-layer fit: {n} feature rows, {} labels, {} weights and {m} biases do not fit \
             a {} head",
            labels.len(),
            weight.len(),
            head.name()
        )));
    }
    if !(ridge.is_finite() && ridge >= 0.0) {
        return Err(Error::invalid(format!(
            "the ridge must be 0 or more, got {ridge}"
        )));
    }
    let (x, theta0) = (design(features), parameters(weight, bias, m));
    let curvature = largest_eigenvalue(&x);
    let lambda = ridge * curvature;
    let objective = |theta: &Array2<f64>| {
        let data = data_loss(&x, theta, labels, head);
        let d = theta - &theta0;
        let kept = anchor.map_or(0.0, |(a, w)| w * a.loss(theta));
        (
            data,
            data + kept + 0.5 * lambda * d.iter().map(|v| v * v).sum::<f64>(),
        )
    };
    let mut theta = theta0.clone();
    let (loss_before, mut current) = objective(&theta);
    let mut step = 1.0 / (curvature + lambda).max(1e-12);
    let mut done = 0;
    for _ in 0..steps {
        let mut gradient = data_gradient(&x, &theta, labels, head) + (&theta - &theta0) * lambda;
        if let Some((a, w)) = anchor {
            gradient = gradient + a.gradient(&theta) * w;
        }
        let mut accepted = false;
        for _ in 0..40 {
            let trial = &theta - &(&gradient * step);
            let (_, value) = objective(&trial);
            if value <= current {
                theta = trial;
                let improvement = current - value;
                current = value;
                accepted = improvement > 1e-12 * current.abs().max(1e-12);
                step *= 1.25;
                break;
            }
            step *= 0.5;
        }
        if !accepted {
            break;
        }
        done += 1;
    }
    let (loss_after, _) = objective(&theta);
    let mut weight_out = vec![0f32; f * m];
    let mut bias_out = vec![0f32; m];
    for ((j, k), v) in theta.indexed_iter() {
        if j < f {
            weight_out[j * m + k] = *v as f32;
        } else {
            bias_out[k] = *v as f32;
        }
    }
    Ok(LastLayerFit {
        weight: weight_out,
        bias: bias_out,
        steps: done,
        loss_before,
        loss_after,
    })
}

/// The largest eigenvalue of XᵀX / n (power iteration).
fn largest_eigenvalue(x: &Array2<f64>) -> f64 {
    let n = x.nrows().max(1) as f64;
    let mut v = Array1::from_elem(x.ncols(), 1.0 / (x.ncols().max(1) as f64).sqrt());
    let mut value = 0.0;
    for _ in 0..50 {
        let w = x.t().dot(&x.dot(&v)) / n;
        let norm = w.dot(&w).sqrt();
        if norm < 1e-300 {
            return 0.0;
        }
        value = norm;
        v = w / norm;
    }
    value
}

/// A row of logits turned into probabilities, in place.
fn softmax_in_place(row: &mut ndarray::ArrayViewMut1<f64>) {
    let max = row.fold(f64::NEG_INFINITY, |a, &b| a.max(b));
    row.mapv_inplace(|v| (v - max).exp());
    let sum = row.sum();
    row.mapv_inplace(|v| v / sum);
}

/// log Σ exp of a row of logits, without overflow.
fn log_sum_exp(row: ndarray::ArrayView1<f64>) -> f64 {
    let max = row.fold(f64::NEG_INFINITY, |a, &b| a.max(b));
    row.iter().map(|v| (v - max).exp()).sum::<f64>().ln() + max
}

/// Unit vector (cos θk, sin θk) of class k.
fn direction(k: usize) -> [f64; 2] {
    let t = Class::ALL[k].angle_deg().to_radians();
    [t.cos(), t.sin()]
}

/// The head's training loss of outputs X·θ (cross-entropy; or half the squared error of the
/// tanh'd direction, summed over its two components), averaged over the patterns.
fn data_loss(x: &Array2<f64>, theta: &Array2<f64>, labels: &[usize], head: Head) -> f64 {
    let z = x.dot(theta);
    let total: f64 = z
        .axis_iter(Axis(0))
        .zip(labels)
        .map(|(row, &y)| match head {
            Head::Reg => {
                let t = direction(y);
                (0..2).map(|c| 0.5 * (row[c].tanh() - t[c]).powi(2)).sum()
            }
            _ => {
                let log_sum = log_sum_exp(row);
                log_sum - row[y]
            }
        })
        .sum();
    total / x.nrows() as f64
}

/// Gradient of [`data_loss`] with respect to θ.
fn data_gradient(
    x: &Array2<f64>,
    theta: &Array2<f64>,
    labels: &[usize],
    head: Head,
) -> Array2<f64> {
    let mut dz = x.dot(theta);
    for (mut row, &y) in dz.axis_iter_mut(Axis(0)).zip(labels) {
        match head {
            Head::Reg => {
                let t = direction(y);
                for c in 0..2 {
                    let o = row[c].tanh();
                    row[c] = (o - t[c]) * (1.0 - o * o);
                }
            }
            _ => {
                softmax_in_place(&mut row);
                row[y] -= 1.0;
            }
        }
    }
    x.t().dot(&dz) / x.nrows() as f64
}

/// Accuracy against the truth on the labelled and on the unlabelled pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SplitAccuracy {
    pub labelled: Option<f64>,
    pub unlabelled: Option<f64>,
    pub labelled_pixels: usize,
    pub unlabelled_pixels: usize,
}

/// How often `predicted` equals `truth` on the `labels`' pixels and on the others.
pub fn split_accuracy(
    truth: &Array2<crate::classes::Class>,
    predicted: &Array2<crate::classes::Class>,
    labels: &[(usize, Class)],
) -> Option<SplitAccuracy> {
    if truth.dim() != predicted.dim() {
        return None;
    }
    let (truth, predicted) = (truth.as_slice()?, predicted.as_slice()?);
    let mut labelled = vec![false; truth.len()];
    for &(i, _) in labels {
        *labelled.get_mut(i)? = true;
    }
    let (mut right, mut count) = ([0usize; 2], [0usize; 2]);
    for ((t, p), l) in truth.iter().zip(predicted).zip(&labelled) {
        let k = usize::from(!*l);
        count[k] += 1;
        right[k] += usize::from(t == p);
    }
    let fraction = |k: usize| (count[k] > 0).then(|| right[k] as f64 / count[k] as f64);
    Some(SplitAccuracy {
        labelled: fraction(0),
        unlabelled: fraction(1),
        labelled_pixels: count[0],
        unlabelled_pixels: count[1],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::nets::heads::prototype_scores;

    #[test]
    fn a_wrong_prototype_moved_to_the_labels_fixes_a_toy_map() {
        // Prototypes on the axes of an 8-d space; the scan's embeddings of class MU (2) sit
        // nearer RU's prototype (1), and those of LM (4) nearer LU's (3): the map is wrong.
        let e = |k: usize| -> Vec<f32> { (0..8).map(|j| (j == k) as u8 as f32).collect() };
        let old: Vec<Vec<f32>> = (0..8).map(e).collect();
        let scan = |k: usize, wrong: usize, t: f32| -> Vec<f32> {
            (0..8)
                .map(|j| 0.6 * (j == wrong) as u8 as f32 + 0.4 * (j == k) as u8 as f32 + t)
                .collect()
        };
        let pixels: Vec<(Vec<f32>, usize)> = (0..20)
            .map(|i| {
                let t = 0.01 * i as f32;
                if i % 2 == 0 {
                    (scan(2, 1, t), 2)
                } else {
                    (scan(4, 3, t), 4)
                }
            })
            .collect();
        let classify = |protos: &[Vec<f32>], v: &[f32]| prototype_scores(v, protos).0.index();
        let wrong = pixels
            .iter()
            .filter(|(v, k)| classify(&old, v) != *k)
            .count();
        assert_eq!(wrong, 20, "the toy map starts wrong everywhere");
        // Label two pixels of each class.
        let labelled: Vec<Vec<f32>> = pixels[..4].iter().map(|(v, _)| v.clone()).collect();
        let labels: Vec<usize> = pixels[..4].iter().map(|(_, k)| *k).collect();
        let (new, _) = reestimate_prototypes(&old, &labelled, &labels, 0.0);
        for (v, k) in &pixels[4..] {
            assert_eq!(classify(&new, v), *k, "unlabelled pixel of class {k}");
        }
        // The labelled classes' prototypes are their labelled means; the others moved by the
        // mean move, so they keep their distances to each other.
        let mean: Vec<f32> = (0..8)
            .map(|j| (pixels[0].0[j] + pixels[2].0[j]) / 2.0)
            .collect();
        assert!(new[2].iter().zip(&mean).all(|(a, b)| (a - b).abs() < 1e-6));
        let d =
            |a: &[f32], b: &[f32]| -> f32 { a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum() };
        assert!((d(&new[0], &new[7]) - d(&old[0], &old[7])).abs() < 1e-6);
        assert!(new[0] != old[0], "unlabelled prototypes follow the scan");
    }

    #[test]
    fn the_unlabelled_prototypes_move_by_the_mean_move_of_the_labelled_ones() {
        let old: Vec<Vec<f32>> = (0..8).map(|k| vec![k as f32, 0.0]).collect();
        // Class 0 labelled three times at (0, 1): moved by (0, 1); class 1 once at (1, -1):
        // moved by (0, -1). Weighted mean move: (0, 0.5).
        let embeddings = vec![
            vec![0.0, 1.0],
            vec![0.0, 1.0],
            vec![0.0, 1.0],
            vec![1.0, -1.0],
        ];
        let (new, shift) = reestimate_prototypes(&old, &embeddings, &[0, 0, 0, 1], 0.0);
        assert_eq!(new[0], vec![0.0, 1.0]);
        assert_eq!(new[1], vec![1.0, -1.0]);
        for (k, p) in new.iter().enumerate().skip(2) {
            assert_eq!(*p, vec![k as f32, 0.5]);
        }
        assert!((shift - 0.5).abs() < 1e-12);
        // A prior worth 4 patterns halves the common move (4 labels) and pulls the labelled
        // prototypes towards the moved old ones: class 1, one label at (1, -1) against 4 at
        // (1, 0.25), sits at (1, 0).
        let (new, shift) = reestimate_prototypes(&old, &embeddings, &[0, 0, 0, 1], 4.0);
        assert!((shift - 0.25).abs() < 1e-12);
        assert!((new[1][1] - 0.0).abs() < 1e-6, "{:?}", new[1]);
        assert!(
            (new[0][1] - (3.0 + 4.0 * 0.25) / 7.0).abs() < 1e-6,
            "{:?}",
            new[0]
        );
        assert_eq!(new[5], vec![5.0, 0.25]);
    }

    /// A toy Cls head on 3 features: W0 sends feature 0 to class 0 and feature 1 to class 1.
    fn toy_head() -> (Vec<f32>, Vec<f32>) {
        let (f, m) = (3, 8);
        let mut w = vec![0f32; f * m];
        w[0] = 4.0; // feature 0 → class 0
        w[m + 1] = 4.0; // feature 1 → class 1
        (w, vec![0.0; m])
    }

    /// Features of n class-2 patterns that [`toy_head`] reads as class 0: class 0's feature
    /// plus feature 2.
    fn misread_as_class_0(n: usize) -> Vec<Vec<f32>> {
        (0..n)
            .map(|i| vec![1.0 + 0.01 * i as f32, 0.0, 1.0])
            .collect()
    }

    fn decode(weight: &[f32], bias: &[f32], x: &[f32], head: Head) -> usize {
        let m = bias.len();
        let z: Vec<f32> = (0..m)
            .map(|k| {
                bias[k]
                    + x.iter()
                        .enumerate()
                        .map(|(j, v)| v * weight[j * m + k])
                        .sum::<f32>()
            })
            .collect();
        head.decode(&z, &[]).0.index()
    }

    #[test]
    fn a_last_layer_fit_moves_a_wrong_map_to_the_labels_and_keeps_the_rest() {
        let (w0, b0) = toy_head();
        // The scan: patterns of class 2 whose features look like class 0's plus feature 2.
        let scan = misread_as_class_0(30);
        assert!(scan.iter().all(|x| decode(&w0, &b0, x, Head::Cls) == 0));
        let labels = vec![2usize; 3];
        let fit = fit_last_layer(&scan[..3], &labels, Head::Cls, &w0, &b0, 0.1, 300, None).unwrap();
        assert!(fit.loss_after < fit.loss_before, "{fit:?}");
        for x in &scan[3..] {
            assert_eq!(decode(&fit.weight, &fit.bias, x, Head::Cls), 2, "{x:?}");
        }
        // A class-1 pattern, which the labels do not cover, keeps its class.
        assert_eq!(
            decode(&fit.weight, &fit.bias, &[0.0, 1.0, 0.0], Head::Cls),
            1
        );
        // A larger ridge keeps the weights nearer the original.
        let stiff =
            fit_last_layer(&scan[..3], &labels, Head::Cls, &w0, &b0, 10.0, 300, None).unwrap();
        let dist = |w: &[f32]| -> f32 { w.iter().zip(&w0).map(|(a, b)| (a - b).powi(2)).sum() };
        assert!(dist(&stiff.weight) < dist(&fit.weight));
    }

    #[test]
    fn an_anchor_keeps_the_domain_the_labels_do_not_cover() {
        let (w0, b0) = toy_head();
        // Domain A: class-2 patterns the head reads as class 0; domain B: class-1 patterns it
        // reads right. Both carry feature 2 (something the whole scan shares).
        let a = misread_as_class_0(30);
        let b: Vec<Vec<f32>> = (0..30)
            .map(|i| vec![0.2, 1.0 + 0.01 * i as f32, 1.0])
            .collect();
        assert!(b.iter().all(|x| decode(&w0, &b0, x, Head::Cls) == 1));
        let labels = vec![2usize; 10];
        let class_of_b = |w: &[f32], bias: &[f32]| {
            b.iter()
                .filter(|x| decode(w, bias, x, Head::Cls) == 1)
                .count()
        };
        // Labels alone, with a weak ridge: B follows the label.
        let alone =
            fit_last_layer(&a[..10], &labels, Head::Cls, &w0, &b0, 0.0001, 300, None).unwrap();
        assert_eq!(class_of_b(&alone.weight, &alone.bias), 0);
        // Anchored on the unlabelled pixels of both domains: B keeps its class and the
        // labelled patterns take their label (the unlabelled ones of A are pulled both ways:
        // the price of the anchor where the base model is wrong, which the cross-validation
        // weighs).
        let unlabelled: Vec<Vec<f32>> = a[10..].iter().chain(&b).cloned().collect();
        let anchor = Anchor::new(&unlabelled, &w0, &b0);
        let kept = fit_last_layer(
            &a[..10],
            &labels,
            Head::Cls,
            &w0,
            &b0,
            0.0001,
            300,
            Some((&anchor, 1.0)),
        )
        .unwrap();
        assert_eq!(class_of_b(&kept.weight, &kept.bias), b.len());
        assert!(a[..10]
            .iter()
            .all(|x| decode(&kept.weight, &kept.bias, x, Head::Cls) == 2));
        // The cross-validation tries every candidate, and needs 6 labelled pixels.
        let pixels: Vec<usize> = (0..10).collect();
        let progress = Progress::new();
        let choose = |n: usize| {
            choose_anchor(
                &a[..n],
                &labels[..n],
                &pixels[..n],
                &w0,
                &b0,
                0.0001,
                300,
                &anchor,
                &progress,
            )
            .unwrap()
        };
        let choice = choose(10);
        assert_eq!(choice.held_out_loss.len(), ANCHOR_CANDIDATES.len());
        assert!(ANCHOR_CANDIDATES.contains(&choice.weight));
        let few = choose(5);
        assert_eq!((few.weight, few.held_out_loss.len()), (0.0, 0));
    }

    #[test]
    fn cross_validation_lets_consistent_labels_overrule_the_map_and_needs_enough_pixels() {
        let (w0, b0) = toy_head();
        // Class-2 patterns the head reads as class 0; every labelled pixel says 2, with two
        // copies each (as a pixel's transformed copies), which must stay in one fold.
        let features: Vec<Vec<f32>> = (0..24)
            .map(|i| vec![1.0 + 0.01 * (i / 2) as f32, 0.0, 1.0])
            .collect();
        let labels = [2usize; 24];
        let pixels: Vec<usize> = (0..24).map(|i| i / 2).collect();
        let progress = Progress::default();
        let choose = |n: usize| {
            let (x, y, p) = (&features[..n], &labels[..n], &pixels[..n]);
            choose_ridge(x, y, p, Head::Cls, &w0, &b0, 300, &progress).unwrap()
        };
        let choice = choose(24);
        assert_eq!(choice.held_out_loss.len(), RIDGE_CANDIDATES.len());
        // Held-out pixels of the same class are predicted best by the fit that moves most.
        assert_eq!(choice.ridge, 0.001, "{choice:?}");
        let losses: Vec<f64> = choice.held_out_loss.iter().map(|&(_, l)| l).collect();
        assert!(losses.windows(2).all(|w| w[1] < w[0]), "{losses:?}");
        // Too few pixels to hold any out: the fallback, nothing measured.
        let few = choose(8);
        assert_eq!((few.ridge, few.held_out_loss.len()), (FALLBACK_RIDGE, 0));
    }

    #[test]
    fn a_regression_head_turns_towards_the_labelled_direction() {
        // Reg head: output (tanh(x0), tanh(x1)); features (1, 0, 1) decode as RM (0°).
        let (f, m) = (3, 2);
        let mut w0 = vec![0f32; f * m];
        w0[0] = 1.0;
        w0[m + 1] = 1.0;
        let b0 = vec![0.0; m];
        let x = vec![vec![1.0, 0.0, 1.0]; 4];
        assert_eq!(decode(&w0, &b0, &x[0], Head::Reg), 0);
        let fit = fit_last_layer(&x, &[2; 4], Head::Reg, &w0, &b0, 0.1, 300, None).unwrap();
        assert_eq!(
            decode(&fit.weight, &fit.bias, &x[0], Head::Reg),
            2,
            "{fit:?}"
        );
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = Array2::from_shape_fn((5, 3), |(i, j)| ((i * 3 + j) as f64 * 0.37).sin());
        let labels = [0usize, 3, 7, 2, 2];
        for head in [Head::Cls, Head::Reg] {
            let m = head.outputs();
            let theta = Array2::from_shape_fn((3, m), |(j, k)| ((j * m + k) as f64 * 0.61).cos());
            let g = data_gradient(&x, &theta, &labels, head);
            let h = 1e-6;
            for ((j, k), &gv) in g.indexed_iter() {
                let mut plus = theta.clone();
                plus[[j, k]] += h;
                let mut minus = theta.clone();
                minus[[j, k]] -= h;
                let numeric = (data_loss(&x, &plus, &labels, head)
                    - data_loss(&x, &minus, &labels, head))
                    / (2.0 * h);
                assert!(
                    (numeric - gv).abs() < 1e-6,
                    "{head:?} {j},{k}: {numeric} vs {gv}"
                );
            }
        }
    }

    #[test]
    fn region_labels_resolve_to_pixels_and_refuse_conflicts() {
        let labels: RegionLabels = serde_json::from_str(
            r#"{"scan": "demo.npy", "regions": [
                {"class": "RD", "region": {"kind": "rect", "row0": 0, "col0": 0, "row1": 2, "col1": 2}},
                {"class": "RM", "region": {"kind": "pixels", "pixels": [[3, 3], [0, 3]]}}
            ]}"#,
        )
        .unwrap();
        let pixels = labels.pixels([4, 4]).unwrap();
        assert_eq!(
            pixels,
            vec![
                (0, Class::RD),
                (1, Class::RD),
                (3, Class::RM),
                (4, Class::RD),
                (5, Class::RD),
                (15, Class::RM)
            ]
        );
        assert_eq!(counts_by_class(&pixels)["RD"], 4);
        let mut conflict = labels.clone();
        conflict.regions[1].region = Region::Pixels {
            pixels: vec![[1, 1]],
        };
        let err = conflict.pixels([4, 4]).unwrap_err().to_string();
        assert!(
            err.contains("row 1, col 1") && err.contains("RD") && err.contains("RM"),
            "{err}"
        );
        let err = labels.pixels([0, 0]).unwrap_err().to_string();
        assert!(err.contains("region 1"), "{err}");
        for bad in [
            r#"{"regions": [{"class": "XX", "region": {"kind": "pixels", "pixels": []}}]}"#,
            r#"{"regions": [], "extra": 1}"#,
            r#"{"regions": [{"class": "RD"}]}"#,
        ] {
            assert!(serde_json::from_str::<RegionLabels>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn split_accuracy_separates_labelled_and_unlabelled_pixels() {
        let truth = Array2::from_elem((2, 2), Class::RD);
        let mut predicted = truth.clone();
        predicted[[0, 0]] = Class::RM;
        predicted[[1, 1]] = Class::RM;
        let s = split_accuracy(&truth, &predicted, &[(0, Class::RD), (1, Class::RD)]).unwrap();
        assert_eq!((s.labelled, s.unlabelled), (Some(0.5), Some(0.5)));
        assert_eq!((s.labelled_pixels, s.unlabelled_pixels), (2, 2));
        let s = split_accuracy(&truth, &predicted, &[(1, Class::RD)]).unwrap();
        assert_eq!((s.labelled, s.unlabelled), (Some(1.0), Some(1.0 / 3.0)));
        assert!(split_accuracy(&truth, &predicted, &[(4, Class::RD)]).is_none());
    }
}
