//! Pixels for the screen: colour-maps arrays into RGBA images. Called by the background tasks
//! that computed the arrays (never on the UI thread, which only uploads the images as textures).
//! The colours are the library's (`polarmap_core::export`, `polarmap_core::colour`), the same as
//! in exported files.

use eframe::egui::{Color32, ColorImage};
use polarmap_core::maps::ClassMap;
use std::sync::Arc;

/// An image from row-major RGB pixels (a 1×1 black image when the sizes disagree).
pub fn rgb(width: usize, height: usize, pixels: &[[u8; 3]]) -> Arc<ColorImage> {
    if pixels.len() != width * height {
        return Arc::new(ColorImage::filled([1, 1], Color32::BLACK));
    }
    let pixels = pixels
        .iter()
        .map(|&[r, g, b]| Color32::from_rgb(r, g, b))
        .collect();
    Arc::new(ColorImage::new([width, height], pixels))
}

/// Grey levels between the 0.5th and 99.5th percentiles (a virtual image).
pub fn grey(values: &ndarray::Array2<f32>) -> Arc<ColorImage> {
    let (rows, cols) = values.dim();
    let flat: Vec<f32> = values.iter().copied().collect();
    rgb(cols, rows, &polarmap_core::export::grey_pixels(&flat))
}

/// A CoM field on the colour wheel (hue: direction, brightness: magnitude).
pub fn com(field: &polarmap_core::analysis::ComField) -> Arc<ColorImage> {
    let (rows, cols) = field.dim();
    rgb(cols, rows, &polarmap_core::export::com_pixels(field))
}

/// A class map in the class colours, undetermined pixels grey; with `confidence`, the model's
/// score of its class as opacity. Pixels from `done` on (row-major; a model still running) stay
/// transparent.
pub fn classes(map: &ClassMap, done: usize, confidence: bool) -> Arc<ColorImage> {
    let (rows, cols) = map.dim();
    let colours = polarmap_core::export::class_map_pixels(map);
    let alpha: Vec<u8> = match (&map.confidence, confidence) {
        (Some(conf), true) => conf
            .iter()
            .map(|&c| (c.clamp(0.0, 1.0) * 255.0).round() as u8)
            .collect(),
        _ => vec![255; rows * cols],
    };
    let pixels = colours
        .iter()
        .zip(alpha)
        .enumerate()
        .map(|(i, (&[r, g, b], a))| {
            let a = if i < done { a } else { 0 };
            Color32::from_rgba_unmultiplied(r, g, b, a)
        })
        .collect();
    Arc::new(ColorImage::new([cols, rows], pixels))
}

/// A diffraction pattern in grey, linear or log (`ln(1 + v - min)`), scaled to its maximum.
pub fn pattern(values: &[f32], rows: usize, cols: usize, log: bool) -> Arc<ColorImage> {
    if values.len() != rows * cols {
        return Arc::new(ColorImage::filled([1, 1], Color32::BLACK));
    }
    let lo = values.iter().copied().fold(f32::INFINITY, f32::min);
    let map = |v: f32| {
        let v = if v.is_finite() { v - lo } else { 0.0 };
        if log {
            v.max(0.0).ln_1p()
        } else {
            v.max(0.0)
        }
    };
    let hi = values.iter().map(|&v| map(v)).fold(0f32, f32::max);
    let pixels = values
        .iter()
        .map(|&v| {
            let g = if hi > 0.0 {
                (map(v) / hi * 255.0) as u8
            } else {
                0
            };
            Color32::from_gray(g)
        })
        .collect();
    Arc::new(ColorImage::new([cols, rows], pixels))
}

/// The colour wheel of CoM directions, `n`×`n`, for the legend.
pub fn wheel(n: usize) -> Arc<ColorImage> {
    let half = (n as f64 - 1.0) / 2.0;
    let pixels: Vec<[u8; 3]> = (0..n * n)
        .map(|i| {
            let (r, c) = (i / n, i % n);
            let (dx, dy) = ((c as f64 - half) / half, (half - r as f64) / half);
            if dx.hypot(dy) > 1.0 {
                [24, 24, 24]
            } else {
                polarmap_core::colour::vector_colour(dx, dy, 1.0)
            }
        })
        .collect();
    rgb(n, n, &pixels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use polarmap_core::Class;

    #[test]
    fn class_images_use_the_class_colours_and_hide_pixels_not_yet_predicted() {
        let mut map = ClassMap::new(ndarray::Array2::from_elem((2, 3), Class::RD));
        map.classes[(0, 1)] = Class::MU;
        let image = classes(&map, 4, false);
        assert_eq!(image.size, [3, 2]);
        let [r, g, b] = polarmap_core::colour::class_colour(Class::MU);
        assert_eq!(image.pixels[1], Color32::from_rgb(r, g, b));
        assert_eq!(image.pixels[3].a(), 255);
        assert_eq!(image.pixels[4].a(), 0);
        assert_eq!(image.pixels[5].a(), 0);
    }

    #[test]
    fn patterns_scale_to_their_maximum() {
        let image = pattern(&[0.0, 1.0, 3.0, 3.0], 2, 2, false);
        assert_eq!(image.pixels[0], Color32::from_gray(0));
        assert_eq!(image.pixels[2], Color32::from_gray(255));
        let log = pattern(&[0.0, 1.0, 3.0, 3.0], 2, 2, true);
        assert!(log.pixels[1].r() > image.pixels[1].r());
        // A frame of the wrong size is a black dot, not a panic.
        assert_eq!(pattern(&[1.0], 2, 2, true).size, [1, 1]);
    }
}
