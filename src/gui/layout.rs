//! The window's panes as dockable, resizable tiles (`egui_tiles`): the three linked image views,
//! the inspector, the regions (list and table), the model, the candidate defects and the log.
//! The user may drag a pane's tab to another place, resize the splits, close a pane and open it
//! again from View > Panes; the tree is saved between runs (serde, under its own key).

use crate::gui::views::{View, ViewContext, Views};
use eframe::egui;
use egui_tiles::{Container, Linear, LinearDir, SimplificationOptions, Tile, TileId, Tiles, Tree};
use serde::{Deserialize, Serialize};

/// One pane of the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Pane {
    VirtualImage,
    Com,
    Classes,
    Inspector,
    Regions,
    RegionTable,
    Model,
    Defects,
    Domains,
    Log,
}

impl Pane {
    pub const ALL: [Pane; 10] = [
        Pane::VirtualImage,
        Pane::Com,
        Pane::Classes,
        Pane::Inspector,
        Pane::Regions,
        Pane::RegionTable,
        Pane::Model,
        Pane::Defects,
        Pane::Domains,
        Pane::Log,
    ];

    /// The pane's tab title.
    pub fn title(self) -> &'static str {
        match self {
            Pane::VirtualImage => "Virtual image",
            Pane::Com => "CoM field",
            Pane::Classes => "Class map",
            Pane::Inspector => "Inspector",
            Pane::Regions => "Regions",
            Pane::RegionTable => "Region table",
            Pane::Model => "Model",
            Pane::Defects => "Candidate defects",
            Pane::Domains => "Domains",
            Pane::Log => "Log",
        }
    }

    /// The image views draw their own fitted image; the others scroll.
    fn is_image(self) -> bool {
        matches!(self, Pane::VirtualImage | Pane::Com | Pane::Classes)
    }
}

/// The tree of panes.
#[derive(Clone, Serialize, Deserialize)]
pub struct Layout {
    tree: Tree<Pane>,
}

impl Default for Layout {
    /// The three image views side by side over the log and the region table (tabs); on the
    /// right the inspector over regions / model / defects (tabs).
    fn default() -> Self {
        let mut tiles = Tiles::default();
        let images = [Pane::VirtualImage, Pane::Com, Pane::Classes].map(|p| tabs(&mut tiles, &[p]));
        let images = tiles.insert_horizontal_tile(images.to_vec());
        let below = tabs(&mut tiles, &[Pane::Log, Pane::RegionTable]);
        let left = linear(
            &mut tiles,
            LinearDir::Vertical,
            [(images, 2.6), (below, 1.0)],
        );
        let inspector = tabs(&mut tiles, &[Pane::Inspector]);
        let side = tabs(
            &mut tiles,
            &[Pane::Regions, Pane::Model, Pane::Defects, Pane::Domains],
        );
        let right = linear(
            &mut tiles,
            LinearDir::Vertical,
            [(inspector, 1.2), (side, 1.0)],
        );
        let root = linear(
            &mut tiles,
            LinearDir::Horizontal,
            [(left, 3.0), (right, 1.1)],
        );
        Layout {
            tree: Tree::new(egui::Id::unique("polarmap panes"), root, tiles),
        }
    }
}

/// A tabs container of `panes`.
fn tabs(tiles: &mut Tiles<Pane>, panes: &[Pane]) -> TileId {
    let ids = panes.iter().map(|&p| tiles.insert_pane(p)).collect();
    tiles.insert_tab_tile(ids)
}

/// A linear container of two tiles with the given shares.
fn linear(tiles: &mut Tiles<Pane>, dir: LinearDir, children: [(TileId, f32); 2]) -> TileId {
    let mut linear = Linear::new(dir, children.iter().map(|c| c.0).collect());
    for (id, share) in children {
        linear.shares.set_share(id, share);
    }
    tiles.insert_container(Container::Linear(linear))
}

impl Layout {
    /// Draws every pane; what the views ask for is left in `ctx.requests`.
    pub fn ui(&mut self, ui: &mut egui::Ui, views: &mut Views, ctx: &mut ViewContext<'_>) {
        let mut behavior = Panes { views, ctx };
        self.tree.ui(&mut behavior, ui);
    }

    fn find(&self, pane: Pane) -> Option<TileId> {
        self.tree.tiles.find_pane(&pane)
    }

    /// Whether the pane is in the window (possibly behind another tab).
    pub fn is_open(&self, pane: Pane) -> bool {
        self.find(pane).is_some()
    }

    /// The pane's area on screen the last frame it was shown (None: closed or behind a tab).
    pub fn rect(&self, pane: Pane) -> Option<egui::Rect> {
        let id = self.find(pane)?;
        self.tree
            .is_visible(id)
            .then(|| self.tree.tiles.rect(id))
            .flatten()
            .filter(|_| self.tree.active_tiles().contains(&id))
    }

    /// Brings the pane to the front of its tabs, opening it again if it was closed.
    pub fn show(&mut self, pane: Pane) {
        if self.find(pane).is_none() {
            self.open(pane);
        }
        self.tree
            .make_active(|_, tile| matches!(tile, Tile::Pane(p) if *p == pane));
    }

    /// Puts a closed pane back: as a tab beside the first tabs found, else beside the root.
    fn open(&mut self, pane: Pane) {
        let id = self.tree.tiles.insert_pane(pane);
        let tabs = self.tree.tiles.iter().find_map(|(tid, t)| match t {
            Tile::Container(Container::Tabs(_)) => Some(*tid),
            _ => None,
        });
        match (tabs, self.tree.root) {
            (Some(tabs), _) => {
                if let Some(Tile::Container(c)) = self.tree.tiles.get_mut(tabs) {
                    c.add_child(id);
                }
            }
            (None, Some(root)) => {
                let new_root = self.tree.tiles.insert_horizontal_tile(vec![root, id]);
                self.tree.root = Some(new_root);
            }
            (None, None) => self.tree.root = Some(id),
        }
    }

    /// Closes the pane (View > Panes opens it again).
    pub fn close(&mut self, pane: Pane) {
        if let Some(id) = self.find(pane) {
            self.tree.remove_recursively(id);
        }
    }
}

/// Draws the panes from the views.
struct Panes<'a, 'b> {
    views: &'a mut Views,
    ctx: &'a mut ViewContext<'b>,
}

impl egui_tiles::Behavior<Pane> for Panes<'_, '_> {
    fn pane_ui(
        &mut self,
        ui: &mut egui::Ui,
        _id: TileId,
        pane: &mut Pane,
    ) -> egui_tiles::UiResponse {
        let pane = *pane;
        let (views, ctx) = (&mut *self.views, &mut *self.ctx);
        egui::Frame::new().inner_margin(4.0).show(ui, |ui| {
            if pane.is_image() {
                // Each image view fits its image into what is left after its own lines.
                ui.set_min_size(ui.available_size());
                if ctx.data.is_none() {
                    if pane == Pane::VirtualImage {
                        ui.label(match ctx.opening {
                            Some(p) => format!("Opening {}…", p.display()),
                            None => "Open a scan: File > Open, or drop a file here.".into(),
                        });
                    }
                    return;
                }
            }
            let view: &mut dyn View = match pane {
                Pane::VirtualImage => &mut views.virtual_image,
                Pane::Com => &mut views.com,
                Pane::Classes => &mut views.classes,
                Pane::Inspector => &mut views.inspector,
                Pane::Regions => &mut views.regions,
                Pane::RegionTable => &mut views.region_table,
                Pane::Model => &mut views.model,
                Pane::Defects => &mut views.defects,
                Pane::Domains => &mut views.domains,
                Pane::Log => &mut views.log,
            };
            if pane.is_image() {
                view.ui(ui, ctx);
            } else {
                egui::ScrollArea::both()
                    .id_salt(pane.title())
                    .auto_shrink(false)
                    .show(ui, |ui| view.ui(ui, ctx));
            }
        });
        egui_tiles::UiResponse::None
    }

    fn tab_title_for_pane(&mut self, pane: &Pane) -> egui::WidgetText {
        pane.title().into()
    }

    fn is_tab_closable(&self, _tiles: &Tiles<Pane>, _id: TileId) -> bool {
        true
    }

    fn simplification_options(&self) -> SimplificationOptions {
        SimplificationOptions {
            all_panes_must_have_tabs: true,
            ..SimplificationOptions::default()
        }
    }

    fn gap_width(&self, _style: &egui::Style) -> f32 {
        2.0
    }

    fn min_size(&self) -> f32 {
        60.0
    }
}

/// The height an image view may take: the width of its pane (square images stay whole), less
/// `reserve` points of the height for the lines under it.
pub fn image_height(ui: &egui::Ui, reserve: f32) -> f32 {
    (ui.available_height() - reserve)
        .min(ui.available_width())
        .max(40.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout survives a save and a restart, closed panes included, and a closed pane
    /// comes back when asked for.
    #[test]
    fn the_layout_round_trips_and_closed_panes_reopen() {
        let mut layout = Layout::default();
        assert!(Pane::ALL.iter().all(|&p| layout.is_open(p)));
        layout.close(Pane::Defects);
        assert!(!layout.is_open(Pane::Defects));
        let text = serde_json::to_string(&layout).unwrap();
        let mut back: Layout = serde_json::from_str(&text).unwrap();
        assert!(!back.is_open(Pane::Defects) && back.is_open(Pane::Log));
        back.show(Pane::Defects);
        assert!(back.is_open(Pane::Defects));
    }
}
