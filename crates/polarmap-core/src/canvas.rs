//! A small RGB raster with filled rectangles, lines and a 3×5 pixel font: what legends, scale
//! bars, figure grids and bar charts are drawn with (no plotting crate).

use crate::classes::Class;
use crate::colour::class_colour;

/// Width of one class-legend entry (swatch and name) at glyph size 1.
pub const LEGEND_ENTRY: usize = 20;

/// Row-major RGB pixels, `width` per row.
pub struct Canvas {
    pub width: usize,
    pub pixels: Vec<[u8; 3]>,
}

/// Width in pixels of `text` drawn at glyph size `g`.
pub fn text_width(text: &str, g: usize) -> usize {
    text.chars().count() * 4 * g
}

impl Canvas {
    /// A `width`×`height` canvas filled with `background`.
    pub fn new(width: usize, height: usize, background: [u8; 3]) -> Canvas {
        Canvas {
            width,
            pixels: vec![background; width * height],
        }
    }

    pub fn height(&self) -> usize {
        self.pixels.len() / self.width.max(1)
    }

    pub fn set(&mut self, x: usize, y: usize, c: [u8; 3]) {
        if x < self.width {
            if let Some(p) = self.pixels.get_mut(y * self.width + x) {
                *p = c;
            }
        }
    }

    pub fn fill(&mut self, x: usize, y: usize, w: usize, h: usize, c: [u8; 3]) {
        for dy in 0..h {
            for dx in 0..w {
                self.set(x + dx, y + dy, c);
            }
        }
    }

    /// Copies a `width`×`height` image (row-major), each pixel enlarged to `scale`×`scale`, with
    /// its top-left corner at (x, y).
    pub fn blit(
        &mut self,
        x: usize,
        y: usize,
        image: &[[u8; 3]],
        width: usize,
        height: usize,
        scale: usize,
    ) {
        for yy in 0..height * scale {
            for xx in 0..width * scale {
                self.set(x + xx, y + yy, image[(yy / scale) * width + xx / scale]);
            }
        }
    }

    /// Draws `text` in a 3×5 pixel font (each font pixel g×g) in `colour`; returns the x after it.
    pub fn text_in(
        &mut self,
        mut x: usize,
        y: usize,
        text: &str,
        g: usize,
        colour: [u8; 3],
    ) -> usize {
        for ch in text.chars() {
            let rows = glyph(ch);
            for (r, bits) in rows.iter().enumerate() {
                for c in 0..3 {
                    if bits & (0b100 >> c) != 0 {
                        self.fill(x + c * g, y + r * g, g, g, colour);
                    }
                }
            }
            x += 4 * g;
        }
        x
    }

    /// The class legend: a swatch and the name of each class, `per_line` entries per line of
    /// `10 * g` pixels, from (x, y). Returns the height used.
    pub fn class_legend(&mut self, x: usize, y: usize, per_line: usize, g: usize) -> usize {
        let per_line = per_line.clamp(1, Class::COUNT);
        for (i, class) in Class::ALL.into_iter().enumerate() {
            let ex = x + (i % per_line) * LEGEND_ENTRY * g;
            let top = y + (i / per_line) * 10 * g;
            self.fill(ex, top, 8 * g, 8 * g, class_colour(class));
            self.text(ex + 9 * g, top + g, class.name(), g);
        }
        Class::COUNT.div_ceil(per_line) * 10 * g
    }

    /// Writes the canvas as a PNG (replacing `path` only if `overwrite`).
    pub fn save_png(&self, path: &std::path::Path, overwrite: bool) -> crate::Result<()> {
        crate::export::write_png_rgb(path, self.width, self.height(), &self.pixels, 1, overwrite)
    }

    /// Draws `text` in white; returns the x after it.
    pub fn text(&mut self, x: usize, y: usize, text: &str, g: usize) -> usize {
        self.text_in(x, y, text, g, [255, 255, 255])
    }
}

/// 3×5 glyphs (rows top to bottom, bit 2 = left column): digits, letters (upper case) and the
/// punctuation that labels need; anything else is blank.
fn glyph(ch: char) -> [u8; 5] {
    match ch.to_ascii_uppercase() {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 2, 2],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        '.' => [0, 0, 0, 0, 2],
        '-' => [0, 0, 7, 0, 0],
        '+' => [0, 2, 7, 2, 0],
        '%' => [5, 1, 2, 4, 5],
        '/' => [1, 1, 2, 4, 4],
        ':' => [0, 2, 0, 2, 0],
        '(' => [1, 2, 2, 2, 1],
        ')' => [4, 2, 2, 2, 4],
        'A' => [2, 5, 7, 5, 5],
        'B' => [6, 5, 6, 5, 6],
        'C' => [7, 4, 4, 4, 7],
        'D' => [6, 5, 5, 5, 6],
        'E' => [7, 4, 6, 4, 7],
        'F' => [7, 4, 6, 4, 4],
        'G' => [7, 4, 5, 5, 7],
        'H' => [5, 5, 7, 5, 5],
        'I' => [7, 2, 2, 2, 7],
        'J' => [1, 1, 1, 5, 7],
        'K' => [5, 5, 6, 5, 5],
        'L' => [4, 4, 4, 4, 7],
        'M' => [5, 7, 7, 5, 5],
        'N' => [6, 5, 5, 5, 5],
        'O' => [7, 5, 5, 5, 7],
        'P' => [7, 5, 7, 4, 4],
        'Q' => [7, 5, 5, 7, 1],
        'R' => [6, 5, 6, 5, 5],
        'S' => [7, 4, 7, 1, 7],
        'T' => [7, 2, 2, 2, 2],
        'U' => [5, 5, 5, 5, 7],
        'V' => [5, 5, 5, 5, 2],
        'W' => [5, 5, 7, 7, 5],
        'X' => [5, 5, 2, 5, 5],
        'Y' => [5, 5, 2, 2, 2],
        'Z' => [7, 1, 2, 4, 7],
        _ => [0, 0, 0, 0, 0],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_draws_glyph_pixels_and_advances() {
        let mut c = Canvas::new(20, 6, [0, 0, 0]);
        let end = c.text(0, 0, "1-", 1);
        assert_eq!(end, 8);
        assert_eq!(text_width("1-", 1), 8);
        // '1': top row has only the middle column lit.
        assert_eq!(c.pixels[0], [0, 0, 0]);
        assert_eq!(c.pixels[1], [255, 255, 255]);
        // '-': the middle row of the second glyph.
        assert_eq!(c.pixels[2 * 20 + 4], [255, 255, 255]);
        assert_eq!(c.height(), 6);
    }
}
