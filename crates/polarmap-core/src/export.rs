//! Writing results: NumPy arrays and PNG images. Existing files are never overwritten unless the
//! caller says so.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::Path;

pub use polarmap_io::write::{check_writable, write_npy_f32};

/// Writes a class map as CSV: one line per pixel, `row,col,class,index`, plus one column per
/// class score when given (`scores` is `[rows, cols, 8]`), `determined` (1 or 0) when the map
/// has a determined mask, and `ood` (the pixel's OOD score) when given.
pub fn write_classes_csv(
    path: &Path,
    map: &crate::maps::ClassMap,
    scores: Option<&ndarray::Array3<f32>>,
    ood: Option<&ndarray::Array2<f32>>,
    overwrite: bool,
) -> Result<()> {
    check_writable(path, overwrite)?;
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut out = std::io::BufWriter::new(file);
    let determined = map.determined.as_ref();
    let write = |out: &mut std::io::BufWriter<std::fs::File>| -> std::io::Result<()> {
        write!(out, "row,col,class,index")?;
        if scores.is_some() {
            for c in crate::Class::ALL {
                write!(out, ",score_{}", c.name())?;
            }
        }
        if determined.is_some() {
            write!(out, ",determined")?;
        }
        if ood.is_some() {
            write!(out, ",ood")?;
        }
        writeln!(out)?;
        for ((r, c), class) in map.classes.indexed_iter() {
            write!(out, "{r},{c},{},{}", class.name(), class.index())?;
            if let Some(s) = scores {
                for k in 0..crate::Class::COUNT {
                    write!(out, ",{}", s[(r, c, k)])?;
                }
            }
            if let Some(d) = determined {
                write!(out, ",{}", d[(r, c)] as u8)?;
            }
            if let Some(o) = ood {
                write!(out, ",{}", o[(r, c)])?;
            }
            writeln!(out)?;
        }
        out.flush()
    };
    write(&mut out).map_err(|e| Error::io(path, e))
}

/// Writes an RGB image (row-major `[r, g, b]` pixels), each pixel enlarged to `scale`×`scale`
/// without blurring.
pub fn write_png_rgb(
    path: &Path,
    width: usize,
    height: usize,
    pixels: &[[u8; 3]],
    scale: usize,
    overwrite: bool,
) -> Result<()> {
    assert_eq!(pixels.len(), width * height, "pixel count must match size");
    check_writable(path, overwrite)?;
    let scale = scale.max(1);
    let img = image::RgbImage::from_fn((width * scale) as u32, (height * scale) as u32, |x, y| {
        image::Rgb(pixels[(y as usize / scale) * width + x as usize / scale])
    });
    img.save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| Error::format(path, format!("cannot write PNG: {e}")))
}

/// Writes a greyscale image scaled linearly between the 0.5th and 99.5th percentiles.
pub fn write_png_grey(
    path: &Path,
    width: usize,
    height: usize,
    values: &[f32],
    scale: usize,
    overwrite: bool,
) -> Result<()> {
    let pixels = grey_pixels(values);
    write_png_rgb(path, width, height, &pixels, scale, overwrite)
}

/// The 0.5th and 99.5th percentiles of the finite `values`: the black and white of
/// [`grey_pixels`].
pub fn grey_range(values: &[f32]) -> (f64, f64) {
    let finite: Vec<f64> = values
        .iter()
        .filter(|v| v.is_finite())
        .map(|&v| v as f64)
        .collect();
    (
        crate::analysis::disk::percentile(finite.clone(), 0.005),
        crate::analysis::disk::percentile(finite, 0.995),
    )
}

/// Grey levels of `values` scaled linearly between their 0.5th and 99.5th percentiles (the
/// colours of [`write_png_grey`] and of the app's virtual images).
pub fn grey_pixels(values: &[f32]) -> Vec<[u8; 3]> {
    let (lo, hi) = grey_range(values);
    let range = if hi > lo { hi - lo } else { 1.0 };
    values
        .iter()
        .map(|&v| {
            let g = (((v as f64 - lo) / range).clamp(0.0, 1.0) * 255.0).round() as u8;
            [g, g, g]
        })
        .collect()
}

/// Colours of a CoM field, row-major: hue from the direction, brightness from the magnitude
/// relative to its 99th percentile (the colour wheel of the class maps).
pub fn com_pixels(field: &crate::analysis::ComField) -> Vec<[u8; 3]> {
    let magnitude = field.magnitude();
    let reference =
        crate::analysis::disk::percentile(magnitude.iter().map(|&v| v as f64).collect(), 0.99);
    field
        .x
        .iter()
        .zip(field.y.iter())
        .map(|(&x, &y)| crate::colour::vector_colour(x as f64, y as f64, reference))
        .collect()
}

/// Colours of a class map with its determination, row-major: the class colours, undetermined
/// pixels grey.
pub fn class_map_pixels(map: &crate::maps::ClassMap) -> Vec<[u8; 3]> {
    let mut colours = class_pixels(&map.classes);
    if let Some(determined) = &map.determined {
        for (colour, &d) in colours.iter_mut().zip(determined) {
            if !d {
                *colour = crate::colour::UNDETERMINED;
            }
        }
    }
    colours
}

/// Colours of a class map, row-major (the class colours of `colour`).
pub fn class_pixels(classes: &ndarray::Array2<crate::Class>) -> Vec<[u8; 3]> {
    classes
        .iter()
        .map(|&c| crate::colour::class_colour(c))
        .collect()
}
