//! A figure as a list of shapes in output pixels, rendered through plotters into a PNG (RGB, its
//! DPI recorded in the pHYs chunk) or an SVG (the same coordinates, its size given in mm).
//!
//! Text is set in Ubuntu Light, the font egui ships (`epaint_default_fonts`, Ubuntu Font
//! Licence 1.0), embedded in the binary and rasterised by ab_glyph: no system font is looked up,
//! so a figure looks the same on every machine and "Å" is a real Å.

use crate::error::{Error, Result};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;
use std::sync::OnceLock;

pub type Rgb = [u8; 3];

/// How a text sits on its anchor point, horizontally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Centre,
    Right,
}

/// One element of a drawing, in output pixels (x right, y down, from the top-left corner).
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// Columns `x..x + w`, rows `y..y + h`.
    Rect {
        x: i32,
        y: i32,
        w: i32,
        h: i32,
        colour: Rgb,
    },
    Polygon {
        points: Vec<(i32, i32)>,
        colour: Rgb,
    },
    /// A ring of `stroke` pixels around (x, y).
    Circle {
        x: i32,
        y: i32,
        r: i32,
        stroke: i32,
        colour: Rgb,
    },
    /// `text` with the top of its line at `y`; `size` is the em size in pixels.
    Text {
        x: i32,
        y: i32,
        text: String,
        size: f64,
        align: Align,
        colour: Rgb,
    },
    /// A `width`×`height` image (row-major) with each pixel a `scale`×`scale` square: nearest
    /// neighbour, never interpolated, so scan pixels stay crisp in both formats.
    Image {
        x: i32,
        y: i32,
        scale: i32,
        width: usize,
        height: usize,
        pixels: Vec<Rgb>,
    },
}

/// The two file formats a figure is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Png,
    Svg,
    Pdf,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Png, Format::Svg, Format::Pdf];

    pub fn name(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Svg => "svg",
            Format::Pdf => "pdf",
        }
    }

    /// The file name extension, which is also the name.
    pub fn extension(self) -> &'static str {
        self.name()
    }

    /// The format a file name asks for by its extension.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Format::ALL.into_iter().find(|f| f.extension() == ext)
    }
}

/// A figure to be rendered: its size in pixels, the DPI that size is meant for, and its shapes
/// in drawing order.
#[derive(Debug, Clone, PartialEq)]
pub struct Drawing {
    pub width: u32,
    pub height: u32,
    pub dpi: f64,
    pub background: Rgb,
    pub shapes: Vec<Shape>,
}

/// Registers the embedded font with plotters once (plotters keeps a process-wide font table).
fn font_family() -> Result<FontFamily<'static>> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            epaint_default_fonts::UBUNTU_LIGHT,
        )
        .is_ok()
    });
    if ok {
        Ok(FontFamily::SansSerif)
    } else {
        Err(Error::invalid("the embedded figure font cannot be read"))
    }
}

/// plotters' font size is the line height, 1.24 em (its SVG backend divides by that).
const LINE_PER_EM: f64 = 1.24;

/// Width in pixels of `text` at em size `size` (pixels) in the figures' font.
pub fn text_width(text: &str, size: f64) -> Result<i32> {
    let family = font_family()?;
    let font = FontDesc::new(family, size * LINE_PER_EM, FontStyle::Normal);
    let (w, _) = font
        .box_size(text)
        .map_err(|e| Error::invalid(format!("measuring text: {e}")))?;
    Ok(w as i32)
}

fn colour(c: Rgb) -> RGBColor {
    RGBColor(c[0], c[1], c[2])
}

impl Drawing {
    pub fn new(width: u32, height: u32, dpi: f64, background: Rgb) -> Drawing {
        Drawing {
            width,
            height,
            dpi,
            background,
            shapes: Vec::new(),
        }
    }

    /// Pixels of `points` (1/72 inch) at the drawing's DPI.
    pub fn pt(&self, points: f64) -> f64 {
        points / 72.0 * self.dpi
    }

    pub fn rect(&mut self, x: i32, y: i32, w: i32, h: i32, colour: Rgb) {
        if w > 0 && h > 0 {
            self.shapes.push(Shape::Rect { x, y, w, h, colour });
        }
    }

    pub fn text(&mut self, x: i32, y: i32, text: &str, size: f64, align: Align, colour: Rgb) {
        self.shapes.push(Shape::Text {
            x,
            y,
            text: text.to_string(),
            size,
            align,
            colour,
        });
    }

    /// The texts of the drawing, in order (what a reader of the figure can read).
    pub fn texts(&self) -> Vec<&str> {
        self.shapes
            .iter()
            .filter_map(|s| match s {
                Shape::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Physical size in mm at the drawing's DPI.
    pub fn size_mm(&self) -> [f64; 2] {
        let mm = |px: u32| px as f64 / self.dpi * 25.4;
        [mm(self.width), mm(self.height)]
    }

    /// Draws the shapes on `root`. With `seal`, each run of an image's pixels also covers one
    /// backend pixel of its right and lower neighbours (drawn over it afterwards): a vector
    /// format without a crisp-edges hint (PDF) otherwise shows hairline seams between scan
    /// pixels in anti-aliasing viewers. Nothing grows past the image's edge.
    fn paint<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, plotters::coord::Shift>,
        seal: bool,
    ) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let fail = |e: DrawingAreaErrorKind<DB::ErrorType>| {
            Error::invalid(format!("drawing the figure: {e}"))
        };
        let family = font_family()?;
        root.fill(&colour(self.background)).map_err(fail)?;
        for shape in &self.shapes {
            match shape {
                Shape::Rect {
                    x,
                    y,
                    w,
                    h,
                    colour: c,
                } => root
                    .draw(&Rectangle::new(
                        [(*x, *y), (x + w, y + h)],
                        colour(*c).filled(),
                    ))
                    .map_err(fail)?,
                Shape::Polygon { points, colour: c } => root
                    .draw(&Polygon::new(points.clone(), colour(*c).filled()))
                    .map_err(fail)?,
                Shape::Circle {
                    x,
                    y,
                    r,
                    stroke,
                    colour: c,
                } => root
                    .draw(&Circle::new(
                        (*x, *y),
                        *r,
                        colour(*c).stroke_width((*stroke).max(1) as u32),
                    ))
                    .map_err(fail)?,
                Shape::Text {
                    x,
                    y,
                    text,
                    size,
                    align,
                    colour: c,
                } => {
                    let h = match align {
                        Align::Left => HPos::Left,
                        Align::Centre => HPos::Center,
                        Align::Right => HPos::Right,
                    };
                    let ink = colour(*c);
                    let style = TextStyle::from(FontDesc::new(
                        family,
                        size * LINE_PER_EM,
                        FontStyle::Normal,
                    ))
                    .color(&ink)
                    .pos(Pos::new(h, VPos::Top));
                    root.draw_text(text, &style, (*x, *y)).map_err(fail)?
                }
                Shape::Image {
                    x,
                    y,
                    scale,
                    width,
                    height,
                    pixels,
                } => {
                    // One rectangle per run of equal pixels in a row: exact squares in the PNG,
                    // and a compact SVG.
                    for r in 0..*height {
                        let row = &pixels[r * width..(r + 1) * width];
                        let mut start = 0;
                        while start < *width {
                            let mut end = start + 1;
                            while end < *width && row[end] == row[start] {
                                end += 1;
                            }
                            let (x0, y0) = (x + start as i32 * scale, y + r as i32 * scale);
                            let (mut x1, mut y1) = (x + end as i32 * scale, y0 + scale);
                            if seal {
                                x1 += (end < *width) as i32;
                                y1 += (r + 1 < *height) as i32;
                            }
                            root.draw(&Rectangle::new(
                                [(x0, y0), (x1, y1)],
                                colour(row[start]).filled(),
                            ))
                            .map_err(fail)?;
                            start = end;
                        }
                    }
                }
            }
        }
        root.present().map_err(fail)
    }

    /// The drawing as RGB pixels, row-major, `width * height * 3` bytes.
    pub fn render_rgb(&self) -> Result<Vec<u8>> {
        let mut buffer = vec![0u8; self.width as usize * self.height as usize * 3];
        {
            let backend = BitMapBackend::with_buffer(&mut buffer, (self.width, self.height))
                .into_drawing_area();
            self.paint(backend, false)?;
        }
        Ok(buffer)
    }

    /// The drawing as an SVG document, `width`×`height` user units sized in mm at the DPI.
    pub fn to_svg(&self) -> Result<String> {
        self.svg(false)
    }

    /// [`Self::to_svg`], the images sealed (see [`Self::paint`]) when `seal`.
    fn svg(&self, seal: bool) -> Result<String> {
        let mut text = String::new();
        {
            let backend =
                SVGBackend::with_string(&mut text, (self.width, self.height)).into_drawing_area();
            self.paint(backend, seal)?;
        }
        let [w_mm, h_mm] = self.size_mm();
        let pixels = format!("width=\"{}\" height=\"{}\"", self.width, self.height);
        // Crisp edges: no hairline seams between neighbouring scan pixels in any renderer.
        let physical =
            format!("width=\"{w_mm:.2}mm\" height=\"{h_mm:.2}mm\" shape-rendering=\"crispEdges\"");
        Ok(text.replacen(&pixels, &physical, 1))
    }

    /// The drawing as a one-page PDF of the SVG's physical size, converted from the SVG as
    /// vectors: shapes stay shapes and text stays text, in the embedded font (subset into the
    /// file), so nothing is rasterised.
    pub fn to_pdf(&self) -> std::result::Result<Vec<u8>, String> {
        use svg2pdf::usvg;
        let svg = self.svg(true).map_err(|e| e.to_string())?;
        let mut options = usvg::Options::default();
        let fonts = options.fontdb_mut();
        fonts.load_font_data(epaint_default_fonts::UBUNTU_LIGHT.to_vec());
        // plotters writes font-family="sans-serif": that is the embedded font.
        let family = fonts
            .faces()
            .next()
            .and_then(|face| face.families.first())
            .map(|(name, _)| name.clone())
            .ok_or("the embedded figure font cannot be read")?;
        fonts.set_sans_serif_family(family);
        let tree = usvg::Tree::from_str(&svg, &options).map_err(|e| e.to_string())?;
        // usvg resolves the SVG's millimetres at its 96 px per inch: the same DPI gives the PDF
        // page the figure's size in points.
        let page = svg2pdf::PageOptions { dpi: options.dpi };
        svg2pdf::to_pdf(&tree, Default::default(), page).map_err(|e| e.to_string())
    }

    /// Writes the drawing as `format` (replacing `path` only if `overwrite`).
    pub fn write(&self, path: &Path, format: Format, overwrite: bool) -> Result<()> {
        crate::export::check_writable(path, overwrite)?;
        let bytes = match format {
            Format::Png => self
                .png_bytes()
                .map_err(|e| Error::format(path, format!("cannot encode PNG: {e}")))?,
            Format::Svg => self.to_svg()?.into_bytes(),
            Format::Pdf => self
                .to_pdf()
                .map_err(|m| Error::format(path, format!("cannot write PDF: {m}")))?,
        };
        std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
    }

    /// The PNG file's bytes, with the DPI in its pHYs chunk (pixels per metre), so that a
    /// typesetter places it at the intended size.
    fn png_bytes(&self) -> Result<Vec<u8>> {
        let rgb = self.render_rgb()?;
        let mut out = Vec::new();
        let per_metre = (self.dpi / 0.0254).round() as u32;
        let mut encoder = png::Encoder::new(&mut out, self.width, self.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_pixel_dims(Some(png::PixelDimensions {
            xppu: per_metre,
            yppu: per_metre,
            unit: png::Unit::Meter,
        }));
        let encoded = encoder
            .write_header()
            .and_then(|mut writer| writer.write_image_data(&rgb));
        encoded.map_err(|e| Error::invalid(e.to_string()))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rects_are_half_open_and_images_nearest_neighbour() {
        let mut d = Drawing::new(10, 6, 72.0, [255, 255, 255]);
        d.rect(1, 1, 2, 3, [0, 0, 0]);
        d.shapes.push(Shape::Image {
            x: 5,
            y: 0,
            scale: 2,
            width: 2,
            height: 1,
            pixels: vec![[10, 20, 30], [40, 50, 60]],
        });
        let rgb = d.render_rgb().unwrap();
        let at = |x: usize, y: usize| -> Rgb {
            let i = (y * 10 + x) * 3;
            [rgb[i], rgb[i + 1], rgb[i + 2]]
        };
        assert_eq!(at(1, 1), [0, 0, 0]);
        assert_eq!(at(2, 3), [0, 0, 0]);
        assert_eq!(at(3, 1), [255, 255, 255]);
        assert_eq!(at(1, 4), [255, 255, 255]);
        assert_eq!(at(5, 0), [10, 20, 30]);
        assert_eq!(at(6, 1), [10, 20, 30]);
        assert_eq!(at(7, 1), [40, 50, 60]);
        assert_eq!(at(9, 2), [255, 255, 255]);
    }

    #[test]
    fn text_is_drawn_in_the_embedded_font() {
        let mut d = Drawing::new(60, 30, 72.0, [255, 255, 255]);
        d.text(2, 2, "Å", 20.0, Align::Left, [0, 0, 0]);
        let rgb = d.render_rgb().unwrap();
        let dark = rgb.chunks(3).filter(|p| p[0] < 128).count();
        assert!(dark > 10, "the glyph must ink pixels ({dark})");
        assert!(text_width("ÅÅ", 20.0).unwrap() > text_width("Å", 20.0).unwrap());
        assert_eq!(Format::from_path(Path::new("a/b.SVG")), Some(Format::Svg));
        assert_eq!(Format::from_path(Path::new("a/b.PDF")), Some(Format::Pdf));
        assert_eq!(Format::from_path(Path::new("a/b.eps")), None);
    }

    #[test]
    fn sealed_image_runs_overlap_their_later_neighbours_and_stay_inside_the_image() {
        let mut d = Drawing::new(40, 40, 72.0, [255, 255, 255]);
        d.shapes.push(Shape::Image {
            x: 5,
            y: 5,
            scale: 10,
            width: 2,
            height: 2,
            pixels: vec![[1, 0, 0], [2, 0, 0], [3, 0, 0], [4, 0, 0]],
        });
        let sizes = |svg: &str| {
            let mut sizes: Vec<(String, String)> = svg
                .split("<rect")
                .skip(2) // the background
                .map(|r| {
                    let attr = |name: &str| {
                        let v = r.split(&format!(" {name}=\"")).nth(1).unwrap();
                        v.split('"').next().unwrap().to_string()
                    };
                    (attr("width"), attr("height"))
                })
                .collect();
            sizes.sort();
            sizes
        };
        let plain = sizes(&d.svg(false).unwrap());
        assert_eq!(plain, vec![("10".into(), "10".into()); 4]);
        let sealed = sizes(&d.svg(true).unwrap());
        let expect = [("10", "10"), ("10", "11"), ("11", "10"), ("11", "11")];
        let expect: Vec<(String, String)> = expect
            .iter()
            .map(|(w, h)| (w.to_string(), h.to_string()))
            .collect();
        assert_eq!(sealed, expect);
    }

    #[test]
    fn pdf_is_one_page_of_the_figures_size_with_its_text_in_the_embedded_font() {
        // 300 × 150 px at 300 DPI: 25.4 × 12.7 mm, 72 × 36 pt.
        let mut d = Drawing::new(300, 150, 300.0, [255, 255, 255]);
        d.rect(10, 10, 50, 50, [200, 30, 30]);
        d.text(70, 20, "RM 48.4 % 5 Å", 24.0, Align::Left, [0, 0, 0]);
        let pdf = d.to_pdf().unwrap();
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.starts_with("%PDF-"), "{}", &text[..20]);
        assert!(text.trim_end().ends_with("%%EOF"));
        assert_eq!(text.matches("/MediaBox").count(), 1, "one page");
        let media = text.split("/MediaBox [").nth(1).expect("a MediaBox");
        let numbers: Vec<f64> = media
            .split(']')
            .next()
            .unwrap()
            .split_whitespace()
            .map(|v| v.parse().unwrap())
            .collect();
        assert_eq!(numbers.len(), 4);
        assert!((numbers[2] - numbers[0] - 72.0).abs() < 0.01, "{numbers:?}");
        assert!((numbers[3] - numbers[1] - 36.0).abs() < 0.01, "{numbers:?}");
        // The text is set in an embedded (subset) font, not drawn as an image.
        assert!(text.contains("/FontFile"), "no embedded font");
        assert!(text.contains("Ubuntu"), "not the figures' font");
        assert!(!text.contains("/Subtype /Image"), "rasterised");
    }
}
