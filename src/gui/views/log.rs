//! The Log pane: every error, warning and notice of the session, oldest first, in its level's
//! colour (errors and warnings were also shown once as toasts, which fade).

use super::{View, ViewContext};
use crate::gui::request::Request;
use crate::gui::state::Level;
use eframe::egui;
use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LogView {
    /// Show the notices too (else errors and warnings only).
    pub notices: bool,
}

impl View for LogView {
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ViewContext<'_>) {
        ui.horizontal(|ui| {
            ui.checkbox(&mut self.notices, "notices");
            if ui
                .add_enabled(!ctx.log.is_empty(), egui::Button::new("Clear log"))
                .clicked()
            {
                ctx.requests.push(Request::ClearLog);
            }
        });
        let shown = ctx
            .log
            .iter()
            .filter(|e| self.notices || e.level != Level::Info);
        let mut any = false;
        for entry in shown {
            any = true;
            let colour = match entry.level {
                Level::Error => ui.visuals().error_fg_color,
                Level::Warning => ui.visuals().warn_fg_color,
                Level::Info => ui.visuals().text_color(),
            };
            ui.add(
                egui::Label::new(
                    egui::RichText::new(format!(
                        "{} {}: {}",
                        entry.time,
                        entry.level.name(),
                        entry.message
                    ))
                    .color(colour),
                )
                .wrap(),
            );
        }
        if !any {
            ui.label("No errors or warnings.");
        }
    }
}
