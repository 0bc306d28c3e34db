//! Writing files: a figure (`polarmap_core::figure`: one view or the composite, PNG or SVG),
//! the class map as CSV or NPY, the regions as JSON. The arrays are the library's, written by
//! `polarmap_core` on a task thread.

use super::Worker;
use crate::gui::data::Dataset;
use crate::gui::dialogs::export::{ExportKind, ExportRequest};
use crate::gui::views::domains::DomainFile;
use crate::gui::views::regions::RegionEntry;
use crate::gui::views::virtual_image::VirtualKind;
use polarmap_core::export as files;
use polarmap_core::figure::{Figure, FigureData};
use polarmap_core::maps::{DefectCluster, Region};
use std::path::PathBuf;

/// Writes the domains of the class map on screen as `file` (the library's writers; the
/// overlay is the class map enlarged 8× with the walls drawn, undetermined pixels grey).
pub fn start_domains(
    worker: &mut Worker<PathBuf>,
    data: &Dataset,
    file: DomainFile,
    path: PathBuf,
    overwrite: bool,
) {
    let classes = data.classes().cloned();
    let label = format!("exporting {}", crate::gui::file_name(&path));
    worker.spawn_alongside(label, data.generation, move |_, _| {
        let source =
            classes.ok_or_else(|| polarmap_core::Error::invalid("there is no class map"))?;
        let domains = source.domains.as_deref().ok_or_else(|| {
            polarmap_core::Error::invalid("the class map is not complete: no domains yet")
        })?;
        match file {
            DomainFile::OverlayPng => {
                let map = &source.map;
                let (rows, cols) = map.dim();
                let mut base = files::class_pixels(&map.classes);
                if let Some(determined) = &map.determined {
                    for (colour, &d) in base.iter_mut().zip(determined) {
                        if !d {
                            *colour = polarmap_core::colour::UNDETERMINED;
                        }
                    }
                }
                let (w, h, px) = domains.overlay(&base, rows, cols, 8);
                files::write_png_rgb(&path, w, h, &px, 1, overwrite)?;
            }
            DomainFile::DomainsCsv => domains.write_domains_csv(&path, overwrite)?,
            DomainFile::WallsCsv => domains.write_walls_csv(&path, overwrite)?,
            DomainFile::Json => domains.write_json(&path, overwrite)?,
        }
        Ok(path)
    });
}

/// What the views show, where an export depends on it.
pub struct Shown<'a> {
    pub virtual_kind: VirtualKind,
    pub descan_removed: bool,
    pub regions: &'a [RegionEntry],
    /// The candidate defects found on the class map on screen.
    pub defects: &'a [DefectCluster],
}

/// Writes what `request` asks for from `data` (exports run alongside each other).
pub fn start(worker: &mut Worker<PathBuf>, request: ExportRequest, data: &Dataset, shown: Shown) {
    let (rows, cols) = data.scan_dims();
    let classes = data.classes().cloned();
    let analysis = data.analysis.clone();
    let custom = data.custom.clone();
    let Shown {
        virtual_kind,
        descan_removed,
        regions,
        defects,
    } = shown;
    let step = data.calibration().scan_step_a;
    let outlines: Vec<Region> = regions.iter().map(|e| e.region.clone()).collect();
    let defects = defects.to_vec();
    let regions_json = serde_json::json!({
        "scan": data.path,
        "shape": data.scan().shape(),
        "class_source": classes.as_ref().map(|c| c.source.clone()),
        "regions": regions,
    });
    let label = format!("exporting {}", crate::gui::file_name(&request.path));
    worker.spawn_alongside(label, data.generation, move |_, _| {
        let r = &request;
        let missing = |what: &str| polarmap_core::Error::invalid(format!("cannot export: {what}"));
        match r.kind {
            ExportKind::Figure => {
                let com = analysis.as_ref().map(|a| {
                    if descan_removed {
                        &a.com_descan
                    } else {
                        &a.com_raw
                    }
                });
                let figure_data = FigureData {
                    virtual_image: virtual_kind
                        .values(analysis.as_deref(), custom.as_deref())
                        .map(|v| (virtual_kind.name(), v)),
                    com,
                    classes: classes.as_ref().map(|c| (c.source.as_str(), &c.map)),
                    scan_step_a: step,
                    regions: &outlines,
                    defects: &defects,
                };
                Figure::new(&figure_data, &r.figure)?.write(&r.path, r.format, r.overwrite)?;
            }
            ExportKind::PredictionsCsv => {
                let c = classes.ok_or_else(|| missing("there is no class map"))?;
                files::write_classes_csv(
                    &r.path,
                    &c.map,
                    c.scores.as_ref(),
                    c.ood.as_ref(),
                    r.overwrite,
                )?;
            }
            ExportKind::PredictionsNpy => {
                let c = classes.ok_or_else(|| missing("there is no class map"))?;
                let values: Vec<f32> = c.map.classes.iter().map(|k| k.index() as f32).collect();
                files::write_npy_f32(&r.path, &[rows, cols], &values, r.overwrite)?;
            }
            ExportKind::RegionsJson => {
                files::check_writable(&r.path, r.overwrite)?;
                let text = serde_json::to_string_pretty(&regions_json)
                    .map_err(|e| polarmap_core::Error::invalid(e.to_string()))?;
                std::fs::write(&r.path, text + "\n")
                    .map_err(|e| polarmap_core::Error::io(&r.path, e))?;
            }
        }
        Ok(request.path.clone())
    });
}
