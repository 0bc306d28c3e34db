//! The Domains pane: the domains of the class map on screen (class, pixels, fraction) and the
//! walls between them (type, angle, length), found by `polarmap_core::domains` on the task that
//! made the map; the toggle that draws the walls over every scan view; exports through the
//! library's writers (an existing file is replaced only after the user confirms).

use super::{colour32, swatch, View, ViewContext};
use crate::gui::request::Request;
use eframe::egui;
use polarmap_core::domains::wall_colour;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What the pane writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainFile {
    /// The class map enlarged with the walls drawn (`Domains::overlay`).
    OverlayPng,
    DomainsCsv,
    WallsCsv,
    Json,
}

impl DomainFile {
    pub const ALL: [DomainFile; 4] = [
        DomainFile::OverlayPng,
        DomainFile::DomainsCsv,
        DomainFile::WallsCsv,
        DomainFile::Json,
    ];

    pub fn button(self) -> &'static str {
        match self {
            DomainFile::OverlayPng => "Overlay PNG",
            DomainFile::DomainsCsv => "Domains CSV",
            DomainFile::WallsCsv => "Walls CSV",
            DomainFile::Json => "JSON",
        }
    }

    /// The file's name from the export prefix.
    pub fn path(self, prefix: &str) -> PathBuf {
        let suffix = match self {
            DomainFile::OverlayPng => "-walls.png",
            DomainFile::DomainsCsv => "-domains.csv",
            DomainFile::WallsCsv => "-walls.csv",
            DomainFile::Json => "-domains.json",
        };
        PathBuf::from(format!("{}{suffix}", prefix.trim()))
    }
}

#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DomainsPanel {
    /// Draw the walls over the virtual image, CoM and class views.
    pub show_walls: bool,
    /// Where exports go: PREFIX-domains.csv, PREFIX-walls.png, …
    #[serde(skip)]
    pub prefix: String,
    #[serde(skip)]
    confirm_overwrite: Option<(DomainFile, PathBuf)>,
}

impl View for DomainsPanel {
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ViewContext<'_>) {
        ui.checkbox(&mut self.show_walls, "Show walls on the views")
            .on_hover_text("draw the domain walls over every scan view");
        let Some(source) = ctx.data.and_then(|d| d.classes()) else {
            ui.label("Domains need a class map.");
            return;
        };
        let Some(domains) = source.domains.as_deref() else {
            ui.label("Domains are found once the class map is complete.");
            return;
        };
        let [l180, l90, other] = domains.wall_lengths();
        ui.label(format!(
            "{}: {} domains, {} walls; {} pixels in no domain",
            source.source,
            domains.domains.len(),
            domains.walls.len(),
            domains.unassigned
        ));
        ui.horizontal_wrapped(|ui| {
            ui.label("Wall length (px):");
            for (kind, len) in [
                (polarmap_core::domains::WallKind::Deg180, l180),
                (polarmap_core::domains::WallKind::Deg90, l90),
                (polarmap_core::domains::WallKind::Other, other),
            ] {
                swatch(ui, colour32(wall_colour(kind)));
                ui.label(format!("{} {len}", kind.name()));
            }
        });
        ui.separator();
        egui::Grid::new("domain list").striped(true).show(ui, |ui| {
            for h in ["#", "class", "pixels", "fraction"] {
                ui.strong(h);
            }
            ui.end_row();
            for d in &domains.domains {
                ui.label(d.id.to_string());
                ui.horizontal(|ui| {
                    swatch(ui, colour32(polarmap_core::colour::class_colour(d.class)));
                    ui.label(d.class.name());
                });
                ui.label(d.pixels.to_string());
                ui.label(format!("{:.1} %", 100.0 * d.fraction));
                ui.end_row();
            }
        });
        ui.separator();
        egui::Grid::new("wall list").striped(true).show(ui, |ui| {
            for h in ["wall", "type", "angle", "length"] {
                ui.strong(h);
            }
            ui.end_row();
            for w in &domains.walls {
                ui.label(format!("{}–{}", w.domains[0], w.domains[1]));
                ui.label(w.kind.name());
                ui.label(format!("{:.0}°", w.angle_deg));
                ui.label(format!("{} px", w.length_px));
                ui.end_row();
            }
        });
        ui.separator();
        self.export(ui, ctx);
    }
}

impl DomainsPanel {
    /// The export prefix and one button per file, asking before replacing a file.
    fn export(&mut self, ui: &mut egui::Ui, ctx: &mut ViewContext<'_>) {
        if self.prefix.is_empty() {
            if let Some(d) = ctx.data {
                let stem = d.path.file_stem().unwrap_or_default().to_string_lossy();
                let dir = d.path.parent().unwrap_or(Path::new("."));
                self.prefix = dir.join(stem.as_ref()).display().to_string();
            }
        }
        ui.horizontal_wrapped(|ui| {
            let label = ui.label("Export to");
            ui.add(egui::TextEdit::singleline(&mut self.prefix).desired_width(220.0))
                .labelled_by(label.id)
                .on_hover_text(
                    "PREFIX-walls.png, PREFIX-domains.csv, PREFIX-walls.csv, PREFIX-domains.json",
                );
        });
        ui.horizontal_wrapped(|ui| {
            for file in DomainFile::ALL {
                if ui.button(file.button()).clicked() {
                    let path = file.path(&self.prefix);
                    if path.exists() {
                        self.confirm_overwrite = Some((file, path));
                    } else {
                        ctx.requests.push(Request::ExportDomains(file, path, false));
                    }
                }
            }
        });
        if let Some((file, path)) = self.confirm_overwrite.clone() {
            ui.horizontal(|ui| {
                ui.label(format!("{} exists.", crate::gui::file_name(&path)));
                if ui.button("Replace").clicked() {
                    ctx.requests.push(Request::ExportDomains(file, path, true));
                    self.confirm_overwrite = None;
                }
                if ui.button("Keep it").clicked() {
                    self.confirm_overwrite = None;
                }
            });
        }
    }
}
