//! The panels of the main window, one file each; `image_view` holds what the three linked views
//! share (zoom, pan, selection, region tools).

pub mod class_view;
pub mod com_view;
pub mod defects;
pub mod image_view;
pub mod inspector;
pub mod regions;
pub mod virtual_image;

use eframe::egui::{self, Color32, ColorImage, TextureHandle, TextureOptions};

/// A texture from row-major RGB pixels, shown without smoothing (one scan pixel, one square).
pub fn rgb_texture(
    ctx: &egui::Context,
    name: &str,
    width: usize,
    height: usize,
    pixels: &[[u8; 3]],
) -> TextureHandle {
    let image = ColorImage::new(
        [width, height],
        pixels
            .iter()
            .map(|&[r, g, b]| Color32::from_rgb(r, g, b))
            .collect(),
    );
    ctx.load_texture(name, image, TextureOptions::NEAREST)
}

/// `[r, g, b]` as an egui colour.
pub fn colour32([r, g, b]: [u8; 3]) -> Color32 {
    Color32::from_rgb(r, g, b)
}

/// A small filled square in a colour, for legends.
pub fn swatch(ui: &mut egui::Ui, colour: Color32) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
    ui.painter().rect_filled(rect, 2.0, colour);
}
