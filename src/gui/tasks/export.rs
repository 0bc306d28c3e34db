//! Writing files: class map / CoM map / virtual image as PNG (native or upscaled, optional
//! legend strip and scale bar), the class map as CSV or NPY, the regions as JSON. The arrays are
//! the library's, written by `polarmap_core::export` on a task thread.

use super::Worker;
use crate::gui::data::Dataset;
use crate::gui::dialogs::export::{ExportKind, ExportRequest};
use crate::gui::views::domains::DomainFile;
use crate::gui::views::regions::RegionEntry;
use crate::gui::views::virtual_image::VirtualKind;
use polarmap_core::canvas::Canvas;
use polarmap_core::classes::Class;
use polarmap_core::export as files;
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
        let source = classes.ok_or_else(|| polarmap_core::Error::invalid("there is no class map"))?;
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
    } = shown;
    let step = data.calibration.scan_step_a;
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
        let png = |pixels: Vec<[u8; 3]>, legend: Legend| -> polarmap_core::Result<()> {
            let (w, h, px) = annotate(
                &pixels,
                cols,
                rows,
                r.scale,
                r.legend.then_some(legend),
                if r.scale_bar { step } else { None },
            );
            files::write_png_rgb(&r.path, w, h, &px, 1, r.overwrite)
        };
        match r.kind {
            ExportKind::ClassPng => {
                let c = classes.ok_or_else(|| missing("there is no class map"))?;
                png(files::class_pixels(&c.map.classes), Legend::Classes)?;
            }
            ExportKind::ComPng => {
                let a = analysis.ok_or_else(|| missing("the CoM field is not computed yet"))?;
                let field = if descan_removed {
                    &a.com_descan
                } else {
                    &a.com_raw
                };
                png(files::com_pixels(field), Legend::Wheel)?;
            }
            ExportKind::VirtualPng => {
                let values: Vec<f32> = virtual_kind
                    .values(analysis.as_deref(), custom.as_deref())
                    .ok_or_else(|| missing("the virtual image is not computed yet"))?
                    .iter()
                    .copied()
                    .collect();
                png(files::grey_pixels(&values), Legend::Grey)?;
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

/// What the legend strip of an exported PNG shows.
pub enum Legend {
    Classes,
    Wheel,
    Grey,
}

/// An upscaled image with an optional strip below it: legend (class swatches and names, the
/// colour wheel, or a grey ramp) and a scale bar. Returns (width, height, pixels).
pub fn annotate(
    pixels: &[[u8; 3]],
    width: usize,
    height: usize,
    scale: usize,
    legend: Option<Legend>,
    scale_bar: Option<f64>,
) -> (usize, usize, Vec<[u8; 3]>) {
    let scale = scale.max(1);
    let (w, h) = (width * scale, height * scale);
    let mut canvas = Canvas {
        width: w,
        pixels: Vec::with_capacity(w * h),
    };
    for y in 0..h {
        for x in 0..w {
            canvas.pixels.push(pixels[(y / scale) * width + x / scale]);
        }
    }
    if legend.is_none() && scale_bar.is_none() {
        return (w, h, canvas.pixels);
    }
    let g = if w >= 320 { 2 } else { 1 }; // glyph pixel size
                                          // Class legend entries (swatch + name) wrap onto as many lines as the width needs.
    let entry = polarmap_core::canvas::LEGEND_ENTRY * g;
    let per_line = ((w.saturating_sub(4)) / entry).clamp(1, Class::COUNT);
    let legend_rows = match legend {
        Some(Legend::Classes) => Class::COUNT.div_ceil(per_line) * 10 * g + 4,
        Some(_) => 10 * g + 4,
        None => 0,
    };
    let bar_rows = if scale_bar.is_some() { 10 * g + 4 } else { 0 };
    canvas
        .pixels
        .extend(std::iter::repeat_n([0, 0, 0], w * (legend_rows + bar_rows)));
    let mut y = h + 2;
    if let Some(legend) = legend {
        match legend {
            Legend::Classes => {
                canvas.class_legend(2, y, per_line, g);
            }
            Legend::Wheel => {
                let d = 8 * g;
                for dy in 0..d {
                    for dx in 0..d {
                        let (fx, fy) = (
                            (dx as f64 + 0.5) / d as f64 * 2.0 - 1.0,
                            1.0 - (dy as f64 + 0.5) / d as f64 * 2.0,
                        );
                        if fx.hypot(fy) <= 1.0 {
                            canvas.set(
                                2 + dx,
                                y + dy,
                                polarmap_core::colour::vector_colour(fx, fy, 1.0),
                            );
                        }
                    }
                }
            }
            Legend::Grey => {
                let ramp = (w / 3).max(8);
                for dx in 0..ramp {
                    let v = (dx * 255 / ramp.max(1)) as u8;
                    canvas.fill(2 + dx, y, 1, 8 * g, [v, v, v]);
                }
            }
        }
        y += legend_rows;
    }
    if let Some(angstrom_per_px) = scale_bar {
        // The longest "nice" length (1, 2, 5 × 10^k Å) up to a third of the width.
        let full = width as f64 * angstrom_per_px;
        let mut length = 10f64.powf((full / 3.0).log10().floor());
        for m in [5.0, 2.0] {
            if length * m <= full / 3.0 {
                length *= m;
                break;
            }
        }
        let bar = ((length / angstrom_per_px) * scale as f64).round() as usize;
        canvas.fill(
            2,
            y + 2 * g,
            bar.min(w.saturating_sub(4)),
            3 * g,
            [255, 255, 255],
        );
        let text = if length >= 10.0 {
            format!("{} nm", trim(length / 10.0))
        } else {
            format!("{} A", trim(length))
        };
        canvas.text(bar + 6, y + g, &text, g);
    }
    let total = canvas.pixels.len() / w;
    (w, total, canvas.pixels)
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotate_without_extras_is_a_plain_upscale() {
        let px = vec![[1, 2, 3], [4, 5, 6]];
        let (w, h, out) = annotate(&px, 2, 1, 3, None, None);
        assert_eq!((w, h), (6, 3));
        assert_eq!(out[0], [1, 2, 3]);
        assert_eq!(out[5], [4, 5, 6]);
        assert_eq!(out[17], [4, 5, 6]);
    }

    #[test]
    fn legend_and_scale_bar_add_a_strip_below() {
        let px = vec![[9, 9, 9]; 32 * 32];
        let (w, h, out) = annotate(&px, 32, 32, 4, Some(Legend::Classes), Some(0.5));
        assert_eq!(w, 128);
        assert!(h > 128);
        assert_eq!(out.len(), w * h);
        // The first class swatch sits in the strip.
        assert!(out[(128 + 4) * w + 4] == polarmap_core::colour::class_colour(Class::RM));
        // At native size the 8 entries wrap onto 8 lines instead of running off the edge.
        let (w, h, out) = annotate(&px, 32, 32, 1, Some(Legend::Classes), None);
        assert_eq!((w, h), (32, 32 + 8 * 10 + 4));
        let rd_swatch = (32 + 2 + 7 * 10 + 2) * w + 4;
        assert_eq!(
            out[rd_swatch],
            polarmap_core::colour::class_colour(Class::RD)
        );
    }
}
