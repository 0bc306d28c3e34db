//! The panels of the main window, one file each; `image_view` holds what the three linked views
//! share (zoom, pan, selection, region tools).

pub mod class_view;
pub mod com_view;
pub mod defects;
pub mod image_view;
pub mod inspector;
pub mod model_panel;
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

/// A running job's progress bar with a Cancel button; true when Cancel was clicked.
pub fn job_progress(ui: &mut egui::Ui, job: &crate::gui::jobs::RunningJob) -> bool {
    let p = &job.progress;
    let text = match p.total() {
        0 => job.label.clone(),
        _ => format!("{}: {}", job.label, p.stage()),
    };
    ui.horizontal(|ui| {
        ui.add(
            egui::ProgressBar::new(p.fraction() as f32)
                .desired_width(160.0)
                .text(text),
        );
        ui.small_button("Cancel")
            .on_hover_text(format!("cancel {}", job.label))
            .clicked()
    })
    .inner
}
