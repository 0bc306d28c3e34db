//! Figures fit for a paper: one view of a scan (virtual image, CoM field or class map) or the
//! three side by side, laid out in physical units at a chosen DPI, with a heading per panel, the
//! legends (a grey ramp, the CoM colour wheel, the classes present with their fractions), a scale
//! bar from the scan step, and optionally region outlines, candidate-defect markers and a title.
//! [`drawing`] renders the layout as PNG or SVG.
//!
//! Scan pixels are squares of a whole number of output pixels, so a map stays crisp; the panel
//! width is the largest such multiple that fits the figure width.

pub mod drawing;

use crate::analysis::ComField;
use crate::classes::Class;
use crate::error::{Error, Result};
use crate::maps::{ClassMap, DefectCluster, Region};
use drawing::{text_width, Align, Drawing, Rgb, Shape};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

pub use drawing::Format;

/// What a figure shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum View {
    Virtual,
    Com,
    Classes,
    /// Virtual image | CoM field | class map.
    Composite,
}

impl View {
    pub const ALL: [View; 4] = [View::Composite, View::Virtual, View::Com, View::Classes];

    pub fn name(self) -> &'static str {
        match self {
            View::Virtual => "virtual",
            View::Com => "com",
            View::Classes => "classes",
            View::Composite => "composite",
        }
    }

    /// The panels of the view, left to right.
    pub fn panels(self) -> &'static [View] {
        match self {
            View::Virtual => &[View::Virtual],
            View::Com => &[View::Com],
            View::Classes => &[View::Classes],
            View::Composite => &[View::Virtual, View::Com, View::Classes],
        }
    }
}

/// How a figure is made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FigureOptions {
    pub view: View,
    pub dpi: f64,
    /// Figure width in mm; None: [`FigureOptions::default_width_mm`].
    pub width_mm: Option<f64>,
    pub title: Option<String>,
    pub legend: bool,
    pub scale_bar: bool,
    /// Outline the data's regions.
    pub regions: bool,
    /// Circle the data's candidate defects.
    pub defects: bool,
}

impl Default for FigureOptions {
    fn default() -> Self {
        FigureOptions {
            view: View::Composite,
            dpi: 300.0,
            width_mm: None,
            title: None,
            legend: true,
            scale_bar: true,
            regions: false,
            defects: false,
        }
    }
}

/// The widest a figure may be: 1 m (a poster), and at most 20,000 pixels a side.
pub const MAX_WIDTH_MM: f64 = 1000.0;
pub const MAX_PIXELS: f64 = 20_000.0;

impl FigureOptions {
    /// One journal column (85 mm) for one view, the full page width (180 mm) for the composite.
    pub fn default_width_mm(view: View) -> f64 {
        if view == View::Composite {
            180.0
        } else {
            85.0
        }
    }

    pub fn width_mm(&self) -> f64 {
        self.width_mm
            .unwrap_or_else(|| FigureOptions::default_width_mm(self.view))
    }

    /// The figure width in pixels at the DPI.
    pub fn width_px(&self) -> u32 {
        (self.width_mm() / 25.4 * self.dpi).round() as u32
    }

    fn check(&self) -> Result<()> {
        let w = self.width_mm();
        if !(self.dpi.is_finite() && (10.0..=2400.0).contains(&self.dpi)) {
            return Err(Error::invalid(format!(
                "figure DPI {} is outside 10 to 2400",
                self.dpi
            )));
        }
        if !(w.is_finite() && (10.0..=MAX_WIDTH_MM).contains(&w)) {
            return Err(Error::invalid(format!(
                "figure width {w} mm is outside 10 to {MAX_WIDTH_MM} mm"
            )));
        }
        if w / 25.4 * self.dpi > MAX_PIXELS {
            return Err(Error::invalid(format!(
                "a {w} mm figure at {} DPI would be wider than {MAX_PIXELS} pixels",
                self.dpi
            )));
        }
        Ok(())
    }
}

/// What a figure is drawn from: the library's maps of one scan. Each panel needs its map.
#[derive(Debug, Clone, Copy, Default)]
pub struct FigureData<'a> {
    /// The virtual image's name (BF, ADF, sum) and values.
    pub virtual_image: Option<(&'a str, &'a Array2<f32>)>,
    pub com: Option<&'a ComField>,
    /// Where the classes come from (a model's name, "ground truth") and the map.
    pub classes: Option<(&'a str, &'a ClassMap)>,
    /// Real-space scan step in Å (the calibration's); None: no scale bar.
    pub scan_step_a: Option<f64>,
    pub regions: &'a [Region],
    pub defects: &'a [DefectCluster],
}

/// One line of the class legend: a class present in the map (or the undetermined pixels), with
/// its fraction of all the map's pixels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LegendEntry {
    /// A class name, or "undetermined".
    pub label: String,
    pub colour: Rgb,
    pub fraction: f64,
}

/// The class legend of `map`: the classes that occur, in class order, then the undetermined
/// pixels if any; fractions of all pixels, so they sum to 1.
pub fn class_legend(map: &ClassMap) -> Vec<LegendEntry> {
    let stats = map.stats(None);
    let total = stats.pixels.max(1) as f64;
    let mut entries: Vec<LegendEntry> = Class::ALL
        .into_iter()
        .filter(|c| stats.counts[c.index()] > 0)
        .map(|c| LegendEntry {
            label: c.name().to_string(),
            colour: crate::colour::class_colour(c),
            fraction: stats.counts[c.index()] as f64 / total,
        })
        .collect();
    if stats.undetermined > 0 {
        entries.push(LegendEntry {
            label: "undetermined".into(),
            colour: crate::colour::UNDETERMINED,
            fraction: stats.undetermined as f64 / total,
        });
    }
    entries
}

/// A scale bar: a round length (1, 2 or 5 × 10ⁿ Å) of at most a third of the panel's width.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScaleBar {
    pub length_a: f64,
    /// "5 Å", "2 nm".
    pub label: String,
    /// Where the bar is drawn: columns `x..x + length_px`, rows `y..y + thickness`.
    pub x: i32,
    pub y: i32,
    pub length_px: i32,
    pub thickness: i32,
}

/// The round length and its label for a map `width_a` wide.
pub fn scale_length(width_a: f64) -> (f64, String) {
    let third = width_a / 3.0;
    let mut length = 10f64.powf(third.log10().floor());
    for m in [5.0, 2.0] {
        if length * m <= third {
            length *= m;
            break;
        }
    }
    let trim = |v: f64| {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    let label = if length >= 10.0 {
        format!("{} nm", trim(length / 10.0))
    } else {
        format!("{} Å", trim(length))
    };
    (length, label)
}

/// Where a panel's map sits in the figure: columns `x..x + scale * cols`, rows
/// `y..y + scale * rows`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PanelBox {
    pub view: View,
    pub x: i32,
    pub y: i32,
    pub scale: i32,
}

/// A laid-out figure: the drawing and where its parts are (tests and callers read them).
#[derive(Debug, Clone)]
pub struct Figure {
    pub drawing: Drawing,
    pub panels: Vec<PanelBox>,
    pub scale_bar: Option<ScaleBar>,
    /// The class legend drawn (empty when the figure has none).
    pub class_legend: Vec<LegendEntry>,
}

const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];
const OUTLINE: Rgb = [255, 255, 255];

/// The pixels of one panel, and its heading.
struct PanelImage {
    view: View,
    heading: String,
    pixels: Vec<Rgb>,
    /// The 0.5th and 99.5th percentiles of a virtual image (its grey ramp's ends).
    range: Option<(f64, f64)>,
}

fn panel_image(view: View, data: &FigureData) -> Result<PanelImage> {
    let missing = |what: &str| Error::invalid(format!("cannot draw the figure: {what}"));
    Ok(match view {
        View::Virtual => {
            let (name, values) = data
                .virtual_image
                .ok_or_else(|| missing("the virtual image is not computed"))?;
            let flat: Vec<f32> = values.iter().copied().collect();
            let (lo, hi) = crate::export::grey_range(&flat);
            PanelImage {
                view,
                heading: format!("virtual {name}"),
                pixels: crate::export::grey_pixels(&flat),
                range: Some((lo, hi)),
            }
        }
        View::Com => PanelImage {
            view,
            heading: "CoM field".into(),
            pixels: crate::export::com_pixels(
                data.com
                    .ok_or_else(|| missing("the CoM field is not computed"))?,
            ),
            range: None,
        },
        View::Classes => {
            let (source, map) = data
                .classes
                .ok_or_else(|| missing("there is no class map"))?;
            PanelImage {
                view,
                heading: format!("classes ({source})"),
                pixels: crate::export::class_map_pixels(map),
                range: None,
            }
        }
        View::Composite => unreachable!("a composite is made of panels"),
    })
}

/// Sizes of the text and the gaps, in pixels at the figure's DPI.
struct Metrics {
    text: f64,
    title: f64,
    line: i32,
    margin: i32,
    gap: i32,
}

impl Metrics {
    fn new(dpi: f64) -> Metrics {
        let pt = |p: f64| p / 72.0 * dpi;
        let mm = |m: f64| m / 25.4 * dpi;
        Metrics {
            text: pt(8.0),
            title: pt(10.0),
            line: pt(8.0 * 1.35).round() as i32,
            margin: mm(2.0).round() as i32,
            gap: mm(3.0).round() as i32,
        }
    }
}

/// Scan shape of the data's maps (all panels share it).
fn scan_dims(data: &FigureData) -> Option<(usize, usize)> {
    data.virtual_image
        .map(|(_, v)| v.dim())
        .or(data.com.map(|c| c.dim()))
        .or(data.classes.map(|(_, m)| m.dim()))
}

impl Figure {
    /// Lays out the figure `options` ask for from `data`.
    pub fn new(data: &FigureData, options: &FigureOptions) -> Result<Figure> {
        options.check()?;
        let (rows, cols) = scan_dims(data)
            .filter(|&(r, c)| r > 0 && c > 0)
            .ok_or_else(|| Error::invalid("cannot draw the figure: there is no map"))?;
        let images: Vec<PanelImage> = options
            .view
            .panels()
            .iter()
            .map(|&v| panel_image(v, data))
            .collect::<Result<_>>()?;
        if let Some((_, map)) = data.classes {
            if map.dim() != (rows, cols) {
                return Err(Error::invalid("the class map and the scan differ in shape"));
            }
        }
        let m = Metrics::new(options.dpi);
        let n = images.len() as i32;
        let requested = options.width_px() as i32;
        let column = (requested - 2 * m.margin - (n - 1) * m.gap) / n;
        // Whole output pixels per scan pixel; a figure too narrow for one each grows.
        let scale = (column / cols as i32).max(1);
        let panel_w = scale * cols as i32;
        let panel_h = scale * rows as i32;
        let column = column.max(panel_w);
        let width = requested.max(2 * m.margin + n * column + (n - 1) * m.gap);

        let mut y = m.margin;
        let title_y = y;
        if options.title.is_some() {
            y += (m.title * 1.4).round() as i32;
        }
        let heading_y = y;
        y += m.line;
        let panel_y = y;
        y += panel_h + m.gap / 2;
        let column_x = |i: i32| m.margin + i * (column + m.gap);
        let panels: Vec<PanelBox> = images
            .iter()
            .enumerate()
            .map(|(i, p)| PanelBox {
                view: p.view,
                x: column_x(i as i32) + (column - panel_w) / 2,
                y: panel_y,
                scale,
            })
            .collect();

        let mut notes = Vec::new();
        let mut scale_bar = None;
        if options.scale_bar {
            match data.scan_step_a.filter(|s| s.is_finite() && *s > 0.0) {
                Some(step) => {
                    let (length_a, label) = scale_length(cols as f64 * step);
                    let length_px = (length_a / step * scale as f64).round() as i32;
                    let thickness = (m.text * 0.35).round().max(2.0) as i32;
                    scale_bar = Some(ScaleBar {
                        length_a,
                        label,
                        x: panels[0].x,
                        y: y + (m.line - thickness) / 2,
                        length_px,
                        thickness,
                    });
                    y += m.line + m.gap / 2;
                }
                None => notes
                    .push("no real-space calibration (scan step): scale bar omitted".to_string()),
            }
        }
        let legend_y = y;
        let mut class_entries = Vec::new();
        if options.legend {
            let mut legend_h = 0;
            for p in &images {
                let h = match p.view {
                    View::Virtual => 2 * m.line,
                    View::Com => wheel_size(&m) + 2 * m.line,
                    View::Classes => {
                        let (_, map) = data.classes.expect("checked with the panel");
                        class_entries = class_legend(map);
                        let per_line = classes_per_line(&class_entries, column, &m)?;
                        class_entries.len().div_ceil(per_line) as i32 * m.line
                    }
                    View::Composite => 0,
                };
                legend_h = legend_h.max(h);
            }
            y += legend_h + m.gap / 2;
        }
        let notes_y = y;
        y += notes.len() as i32 * m.line;
        let height = y + m.margin;

        let mut d = Drawing::new(width as u32, height as u32, options.dpi, WHITE);
        if let Some(title) = &options.title {
            d.text(width / 2, title_y, title, m.title, Align::Centre, BLACK);
        }
        for (i, (p, b)) in images.iter().zip(&panels).enumerate() {
            let centre = b.x + panel_w / 2;
            d.text(centre, heading_y, &p.heading, m.text, Align::Centre, BLACK);
            d.shapes.push(Shape::Image {
                x: b.x,
                y: b.y,
                scale,
                width: cols,
                height: rows,
                pixels: p.pixels.clone(),
            });
            if options.regions {
                for region in data.regions {
                    outline(&mut d, region, (rows, cols), b, &m);
                }
            }
            if options.defects {
                for defect in data.defects {
                    marker(&mut d, defect, b);
                }
            }
            if options.legend {
                let x = column_x(i as i32);
                match p.view {
                    View::Virtual => grey_legend(&mut d, b.x, legend_y, panel_w, p.range, &m),
                    View::Com => wheel_legend(&mut d, b.x, legend_y, &m),
                    View::Classes => {
                        class_legend_draw(&mut d, x, legend_y, column, &class_entries, &m)?
                    }
                    View::Composite => {}
                }
            }
        }
        if let Some(bar) = &scale_bar {
            d.rect(bar.x, bar.y, bar.length_px, bar.thickness, BLACK);
            let text_y = bar.y + bar.thickness / 2 - (m.text * 0.55).round() as i32;
            d.text(
                bar.x + bar.length_px + m.margin,
                text_y,
                &bar.label,
                m.text,
                Align::Left,
                BLACK,
            );
        }
        for (i, note) in notes.iter().enumerate() {
            let y = notes_y + i as i32 * m.line;
            d.text(m.margin, y, note, m.text * 0.85, Align::Left, BLACK);
        }
        Ok(Figure {
            drawing: d,
            panels,
            scale_bar,
            class_legend: class_entries,
        })
    }

    /// Writes the figure (replacing `path` only if `overwrite`).
    pub fn write(&self, path: &std::path::Path, format: Format, overwrite: bool) -> Result<()> {
        self.drawing.write(path, format, overwrite)
    }
}

/// Diameter of the CoM colour wheel.
fn wheel_size(m: &Metrics) -> i32 {
    3 * m.line
}

/// The text of a class legend entry.
fn entry_text(e: &LegendEntry) -> String {
    format!("{} {:.1} %", e.label, 100.0 * e.fraction)
}

fn entry_width(e: &LegendEntry, m: &Metrics) -> Result<i32> {
    Ok(m.line + text_width(&entry_text(e), m.text)? + m.gap)
}

fn classes_per_line(entries: &[LegendEntry], column: i32, m: &Metrics) -> Result<usize> {
    let mut widest = 1;
    for e in entries {
        widest = widest.max(entry_width(e, m)?);
    }
    Ok(((column / widest) as usize).clamp(1, entries.len().max(1)))
}

/// Swatch, name and fraction of each class present, in a grid of equal cells.
fn class_legend_draw(
    d: &mut Drawing,
    x: i32,
    y: i32,
    column: i32,
    entries: &[LegendEntry],
    m: &Metrics,
) -> Result<()> {
    let per_line = classes_per_line(entries, column, m)?;
    let cell = column / per_line as i32;
    let swatch = (m.text * 0.8).round() as i32;
    for (i, e) in entries.iter().enumerate() {
        let ex = x + (i % per_line) as i32 * cell;
        let ey = y + (i / per_line) as i32 * m.line;
        let sy = ey + (m.line - swatch) / 2 - (m.text * 0.1) as i32;
        d.rect(ex, sy, swatch, swatch, e.colour);
        d.text(
            ex + swatch + (m.text * 0.4) as i32,
            ey,
            &entry_text(e),
            m.text,
            Align::Left,
            BLACK,
        );
    }
    Ok(())
}

/// The grey ramp of a virtual image, its ends labelled with the values they stand for.
fn grey_legend(
    d: &mut Drawing,
    x: i32,
    y: i32,
    width: i32,
    range: Option<(f64, f64)>,
    m: &Metrics,
) {
    let steps = 64;
    let cell = (width * 2 / 3 / steps).max(1);
    let h = (m.text * 0.7).round() as i32;
    for i in 0..steps {
        let g = (i * 255 / (steps - 1)) as u8;
        d.rect(x + i * cell, y, cell, h, [g, g, g]);
    }
    let bar_w = cell * steps;
    if let Some((lo, hi)) = range {
        let ty = y + h + 1;
        d.text(x, ty, &format_value(lo), m.text * 0.85, Align::Left, BLACK);
        d.text(
            x + bar_w,
            ty,
            &format_value(hi),
            m.text * 0.85,
            Align::Right,
            BLACK,
        );
    }
}

/// Three significant digits, no exponent for ordinary magnitudes.
fn format_value(v: f64) -> String {
    if v == 0.0 {
        "0".to_string()
    } else if (1e-2..1e5).contains(&v.abs()) {
        let digits = (2 - v.abs().max(1e-300).log10().floor() as i32).clamp(0, 4) as usize;
        format!("{v:.digits$}")
    } else {
        format!("{v:.2e}")
    }
}

/// The CoM colour wheel: hue is the direction (counter-clockwise from +x, y up), brightness the
/// magnitude (centre 0, rim the 99th percentile), drawn as ring sectors; the four axis directions
/// labelled with their classes.
fn wheel_legend(d: &mut Drawing, x: i32, y: i32, m: &Metrics) {
    let size = wheel_size(m);
    let r = size as f64 / 2.0;
    let label_w = (m.text * 2.0).round() as i32;
    let (cx, cy) = (x as f64 + label_w as f64 + r, (y + m.line) as f64 + r);
    let (sectors, rings) = (72, 8);
    for s in 0..sectors {
        let a0 = s as f64 / sectors as f64 * std::f64::consts::TAU;
        let a1 = (s + 1) as f64 / sectors as f64 * std::f64::consts::TAU;
        let mid = (a0 + a1) / 2.0;
        for k in 0..rings {
            let (r0, r1) = (
                k as f64 / rings as f64 * r,
                (k + 1) as f64 / rings as f64 * r,
            );
            let value = (k as f64 + 0.5) / rings as f64;
            let colour = crate::colour::vector_colour(mid.cos() * value, mid.sin() * value, 1.0);
            // Image frame: y up, so the drawing's rows go the other way.
            let p = |a: f64, rr: f64| {
                (
                    (cx + rr * a.cos()).round() as i32,
                    (cy - rr * a.sin()).round() as i32,
                )
            };
            d.shapes.push(Shape::Polygon {
                points: vec![p(a0, r0), p(a0, r1), p(a1, r1), p(a1, r0)],
                colour,
            });
        }
    }
    let t = m.text * 0.85;
    let half = (t * 0.6).round() as i32;
    let (icx, icy, ir) = (cx.round() as i32, cy.round() as i32, r.round() as i32);
    let pad = (m.text * 0.3).round() as i32;
    d.text(
        icx + ir + pad,
        icy - half,
        Class::RM.name(),
        t,
        Align::Left,
        BLACK,
    );
    d.text(
        icx - ir - pad,
        icy - half,
        Class::LM.name(),
        t,
        Align::Right,
        BLACK,
    );
    d.text(
        icx,
        icy - ir - m.line,
        Class::MU.name(),
        t,
        Align::Centre,
        BLACK,
    );
    d.text(
        icx,
        icy + ir + pad / 2,
        Class::MD.name(),
        t,
        Align::Centre,
        BLACK,
    );
    let tx = icx + ir + label_w + m.gap;
    d.text(tx, icy - m.line, "hue: direction", t, Align::Left, BLACK);
    d.text(tx, icy, "brightness: |CoM|", t, Align::Left, BLACK);
}

/// Outlines `region` on a panel: a stripe along the inside of each edge between a region pixel
/// and a pixel outside it (or the scan's border).
fn outline(
    d: &mut Drawing,
    region: &Region,
    (rows, cols): (usize, usize),
    b: &PanelBox,
    m: &Metrics,
) {
    let mut inside = Array2::from_elem((rows, cols), false);
    for (r, c) in region.pixels((rows, cols)) {
        inside[(r, c)] = true;
    }
    let k = b.scale;
    let t = ((m.text * 0.2).round() as i32).clamp(1, (k / 3).max(1));
    let out = |r: isize, c: isize| {
        r < 0
            || c < 0
            || r >= rows as isize
            || c >= cols as isize
            || !inside[(r as usize, c as usize)]
    };
    for ((r, c), &is_in) in inside.indexed_iter() {
        if !is_in {
            continue;
        }
        let (x, y) = (b.x + c as i32 * k, b.y + r as i32 * k);
        let (ri, ci) = (r as isize, c as isize);
        if out(ri - 1, ci) {
            d.rect(x, y, k, t, OUTLINE);
        }
        if out(ri + 1, ci) {
            d.rect(x, y + k - t, k, t, OUTLINE);
        }
        if out(ri, ci - 1) {
            d.rect(x, y, t, k, OUTLINE);
        }
        if out(ri, ci + 1) {
            d.rect(x + k - t, y, t, k, OUTLINE);
        }
    }
}

/// Circles a candidate defect: a white ring in a black one, visible on dark and bright maps.
fn marker(d: &mut Drawing, defect: &DefectCluster, b: &PanelBox) {
    let k = b.scale as f64;
    let x = (b.x as f64 + (defect.center_col + 0.5) * k).round() as i32;
    let y = (b.y as f64 + (defect.center_row + 0.5) * k).round() as i32;
    let radius = ((defect.pixels as f64 / std::f64::consts::PI).sqrt() + 1.5) * k;
    let stroke = ((k / 6.0).round() as i32).max(1);
    let r = radius.round() as i32;
    d.shapes.push(Shape::Circle {
        x,
        y,
        r: r + stroke,
        stroke,
        colour: BLACK,
    });
    d.shapes.push(Shape::Circle {
        x,
        y,
        r,
        stroke,
        colour: WHITE,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_lengths_are_round_and_labelled_in_angstrom_or_nm() {
        assert_eq!(scale_length(15.8), (5.0, "5 Å".to_string()));
        assert_eq!(scale_length(100.0), (20.0, "2 nm".to_string()));
        assert_eq!(scale_length(31.0), (10.0, "1 nm".to_string()));
        assert_eq!(scale_length(2.0).1, "0.5 Å");
    }

    #[test]
    fn values_print_with_three_digits() {
        assert_eq!(format_value(1234.4), "1234");
        assert_eq!(format_value(0.012345), "0.0123");
        assert_eq!(format_value(1.5e7), "1.50e7");
        assert_eq!(format_value(0.0), "0");
    }

    /// A 30×40 map: RM everywhere, RD in columns 30..40, rows 0..10 undetermined.
    fn map() -> ClassMap {
        let mut classes = Array2::from_elem((30, 40), Class::RM);
        classes.slice_mut(ndarray::s![.., 30..]).fill(Class::RD);
        let mut determined = Array2::from_elem((30, 40), true);
        determined.slice_mut(ndarray::s![..10, ..]).fill(false);
        ClassMap {
            classes,
            confidence: None,
            determined: Some(determined),
        }
    }

    const RED: Rgb = [255, 38, 38];

    fn pixel(rgb: &[u8], width: u32, x: i32, y: i32) -> Rgb {
        let i = (y as usize * width as usize + x as usize) * 3;
        [rgb[i], rgb[i + 1], rgb[i + 2]]
    }

    #[test]
    fn the_class_legend_lists_the_present_classes_with_fractions_of_all_pixels() {
        let legend = class_legend(&map());
        let labels: Vec<&str> = legend.iter().map(|e| e.label.as_str()).collect();
        assert_eq!(labels, ["RM", "RD", "undetermined"]);
        // 20 determined rows: 20×30 RM, 20×10 RD; 10 rows undetermined; of 1200 pixels.
        let fractions: Vec<f64> = legend.iter().map(|e| e.fraction).collect();
        assert_eq!(fractions, [600.0 / 1200.0, 200.0 / 1200.0, 400.0 / 1200.0]);
        assert!((fractions.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(legend[0].colour, crate::colour::class_colour(Class::RM));
    }

    #[test]
    fn scale_bar_outlines_and_pixels_land_where_the_scan_says() {
        let map = map();
        let region = Region::Rect {
            row0: 12,
            col0: 6,
            row1: 18,
            col1: 12,
        };
        let data = FigureData {
            classes: Some(("test", &map)),
            scan_step_a: Some(0.5),
            regions: std::slice::from_ref(&region),
            ..FigureData::default()
        };
        let options = FigureOptions {
            view: View::Classes,
            dpi: 200.0,
            width_mm: Some(60.0),
            regions: true,
            ..FigureOptions::default()
        };
        let figure = Figure::new(&data, &options).unwrap();
        let d = &figure.drawing;
        assert_eq!(d.width, (60.0f64 / 25.4 * 200.0).round() as u32);
        let rgb = d.render_rgb().unwrap();
        let at = |x: i32, y: i32| pixel(&rgb, d.width, x, y);
        let panel = figure.panels[0];
        let k = panel.scale;
        assert!(k >= 2, "scale {k}");
        // Every scan pixel is a k×k square of its colour: RM red, undetermined grey.
        assert_eq!(crate::colour::class_colour(Class::RM), RED);
        for (r, c) in [(15, 3), (29, 0), (12, 20)] {
            for (dx, dy) in [(0, 0), (k - 1, 0), (0, k - 1), (k - 1, k - 1)] {
                let (x, y) = (panel.x + c * k + dx, panel.y + r * k + dy);
                assert_eq!(at(x, y), RED, "pixel ({r}, {c})");
            }
        }
        assert_eq!(at(panel.x, panel.y), crate::colour::UNDETERMINED);
        // The outline: white along the inside of the region's border, the colours just
        // outside and in the middle untouched.
        let (x0, y0, x1, y1) = (
            panel.x + 6 * k,
            panel.y + 12 * k,
            panel.x + 12 * k,
            panel.y + 18 * k,
        );
        for c in 6..12 {
            let x = panel.x + c * k + k / 2;
            assert_eq!(at(x, y0), OUTLINE, "top edge, col {c}");
            assert_eq!(at(x, y1 - 1), OUTLINE, "bottom edge, col {c}");
            assert_eq!(at(x, y1), RED, "below the region, col {c}");
        }
        for r in 12..18 {
            let y = panel.y + r * k + k / 2;
            assert_eq!(at(x0, y), OUTLINE, "left edge, row {r}");
            assert_eq!(at(x1 - 1, y), OUTLINE, "right edge, row {r}");
            assert_eq!(at(x1, y), RED, "right of the region, row {r}");
        }
        assert_eq!(at(x0 - 1, y0 + k * 2), RED);
        assert_eq!(at(x0 + k, y0 - 1), RED);
        assert_eq!(at(panel.x + 9 * k, panel.y + 15 * k), RED, "inside");
        // The scale bar: 40 px × 0.5 Å = 20 Å wide, so 5 Å = 10 scan pixels = 10k output pixels,
        // black, below the panel.
        let bar = figure.scale_bar.as_ref().expect("calibrated");
        assert_eq!((bar.length_a, bar.label.as_str()), (5.0, "5 Å"));
        assert_eq!(bar.length_px, 10 * k);
        assert!(bar.y > panel.y + 30 * k);
        let row = bar.y + bar.thickness / 2;
        let black: Vec<i32> = (0..d.width as i32)
            .filter(|&x| at(x, row) == BLACK)
            .collect();
        let run = black.iter().take_while(|&&x| x - black[0] < 10 * k).count() as i32;
        assert_eq!(black[0], bar.x);
        assert_eq!(run, 10 * k, "the bar is 10k pixels of black");
        assert_ne!(at(bar.x + 10 * k, row), BLACK, "and no longer");
        assert!(d.texts().contains(&"5 Å"));
    }

    #[test]
    fn defects_are_circled_at_their_centre() {
        let map = ClassMap::new(Array2::from_elem((30, 40), Class::RM));
        let defect = DefectCluster {
            center_row: 15.0,
            center_col: 20.0,
            pixels: 4,
            score: 1.0,
            class: Class::RM,
        };
        let data = FigureData {
            classes: Some(("test", &map)),
            defects: std::slice::from_ref(&defect),
            ..FigureData::default()
        };
        let options = FigureOptions {
            view: View::Classes,
            defects: true,
            ..FigureOptions::default()
        };
        let figure = Figure::new(&data, &options).unwrap();
        let d = &figure.drawing;
        let rgb = d.render_rgb().unwrap();
        let at = |x: i32, y: i32| pixel(&rgb, d.width, x, y);
        let panel = figure.panels[0];
        let k = panel.scale;
        // The centre of scan pixel (15, 20), and the ring around it.
        let (cx, cy) = (panel.x + 20 * k + k / 2, panel.y + 15 * k + k / 2);
        assert_eq!(at(cx, cy), RED, "the defect itself stays visible");
        let r = (((4.0 / std::f64::consts::PI).sqrt() + 1.5) * k as f64).round() as i32;
        for (dx, dy) in [(1, 0), (-1, 0), (0, 1), (0, -1)] {
            let ring: Vec<Rgb> = (r - k / 2..=r + k / 2)
                .map(|t| at(cx + dx * t, cy + dy * t))
                .collect();
            assert!(
                ring.contains(&WHITE) && ring.contains(&BLACK),
                "{dx},{dy}: {ring:?}"
            );
        }
        // Far from the defect the map is untouched.
        assert_eq!(at(panel.x + 2 * k, panel.y + 2 * k), RED);
    }

    #[test]
    fn without_calibration_the_scale_bar_is_left_out_with_a_note() {
        let map = map();
        let data = FigureData {
            classes: Some(("test", &map)),
            ..FigureData::default()
        };
        let figure = Figure::new(
            &data,
            &FigureOptions {
                view: View::Classes,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(figure.scale_bar.is_none());
        assert!(figure
            .drawing
            .texts()
            .iter()
            .any(|t| t.contains("scale bar omitted")));
        // The composite needs all three maps, and says which is missing.
        let err = Figure::new(&data, &FigureOptions::default()).unwrap_err();
        assert!(err.to_string().contains("virtual image"), "{err}");
    }

    #[test]
    fn png_width_follows_the_dpi_and_the_svg_names_only_present_classes() {
        let map = map();
        let data = FigureData {
            classes: Some(("test", &map)),
            scan_step_a: Some(0.5),
            ..FigureData::default()
        };
        for dpi in [72.0, 150.0, 600.0] {
            let options = FigureOptions {
                view: View::Classes,
                dpi,
                ..FigureOptions::default()
            };
            let figure = Figure::new(&data, &options).unwrap();
            assert_eq!(figure.drawing.width, (85.0 / 25.4 * dpi).round() as u32);
            // Text scales with the DPI: same physical size.
            let [w_mm, h_mm] = figure.drawing.size_mm();
            assert!(
                (w_mm - 85.0).abs() < 0.5 && h_mm > 40.0,
                "{w_mm} × {h_mm} mm"
            );
        }
        let figure = Figure::new(
            &data,
            &FigureOptions {
                view: View::Classes,
                ..Default::default()
            },
        )
        .unwrap();
        let svg = figure.drawing.to_svg().unwrap();
        assert!(svg.starts_with("<svg width=\"85.0"), "{}", &svg[..80]);
        assert!(svg.contains("RM 50.0 %") && svg.contains("RD 16.7 %"));
        assert!(svg.contains("undetermined 33.3 %") && svg.contains("5 Å"));
        for absent in ["RU", "MU", "LU", "LM", "LD", "MD"] {
            assert!(!svg.contains(absent), "{absent} does not occur");
        }
    }
}
