//! One scan-sized image on screen, with the zoom, pan, selected pixel and region tools that all
//! three linked views share. Coordinates: scan pixel (row, col) covers `[col, col+1) × [row,
//! row+1)` in image units; regions use pixel-centre coordinates (centre of (r, c) at (r, c)), as
//! `maps::Region` does.

use eframe::egui::{self, Color32, Pos2, Rect, Sense, Stroke, TextureHandle, Vec2};
use polarmap_core::maps::Region;
use serde::{Deserialize, Serialize};

/// Zoom and pan shared by the linked views.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ViewTransform {
    /// Magnification relative to "fit the whole scan into the view".
    pub zoom: f32,
    /// Image point (x = col, y = row, image units) at the centre of the view.
    pub center: [f32; 2],
}

impl ViewTransform {
    pub fn fit(rows: usize, cols: usize) -> ViewTransform {
        ViewTransform {
            zoom: 1.0,
            center: [cols as f32 / 2.0, rows as f32 / 2.0],
        }
    }
}

/// What the pointer does on a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tool {
    /// Click selects a pixel; drag pans.
    Select,
    /// Drag a rectangle region.
    Rect,
    /// Drag a free-hand (lasso) region.
    Lasso,
    /// Click polygon vertices; double-click (or click the first vertex) closes it.
    Polygon,
}

impl Tool {
    pub const ALL: [Tool; 4] = [Tool::Select, Tool::Rect, Tool::Lasso, Tool::Polygon];

    pub fn name(self) -> &'static str {
        match self {
            Tool::Select => "Select / pan",
            Tool::Rect => "Rectangle",
            Tool::Lasso => "Lasso",
            Tool::Polygon => "Polygon",
        }
    }

    /// How the tool is used, shown beside the tools.
    pub fn hint(self) -> &'static str {
        match self {
            Tool::Select => {
                "click: select a pixel, drag or right-drag: pan, scroll: zoom, arrows: move the selection"
            }
            Tool::Rect => "drag from corner to corner; release to finish, Esc cancels",
            Tool::Lasso => "drag around the area; release to close it, Esc cancels",
            Tool::Polygon => {
                "click to add vertices, double-click or click the first vertex to close, Esc cancels"
            }
        }
    }
}

/// State shared by the linked views.
#[derive(Debug, Clone)]
pub struct Linked {
    pub dims: (usize, usize),
    pub transform: ViewTransform,
    pub selected: Option<[usize; 2]>,
    pub hovered: Option<[usize; 2]>,
    pub tool: Tool,
    /// A region being drawn: points in image units (x, y).
    pub drawing: Vec<Pos2>,
    drag_origin: Option<Pos2>,
    /// The axes drawn on every linked view (set each frame from the chosen units).
    pub axis: Option<super::axes::Axis>,
}

impl Linked {
    pub fn new(rows: usize, cols: usize) -> Linked {
        Linked {
            dims: (rows, cols),
            transform: ViewTransform::fit(rows, cols),
            selected: None,
            hovered: None,
            tool: Tool::Select,
            drawing: Vec::new(),
            drag_origin: None,
            axis: None,
        }
    }

    /// Moves the selection by (drow, dcol), clamped to the scan.
    pub fn step_selection(&mut self, drow: isize, dcol: isize) {
        let (rows, cols) = self.dims;
        let [r, c] = self.selected.unwrap_or([rows / 2, cols / 2]);
        let r = (r as isize + drow).clamp(0, rows as isize - 1) as usize;
        let c = (c as isize + dcol).clamp(0, cols as isize - 1) as usize;
        self.selected = Some([r, c]);
    }

    /// Centres the views on (row, col) at magnification `zoom`.
    pub fn zoom_to(&mut self, row: f64, col: f64, zoom: f32) {
        self.transform.center = [col as f32 + 0.5, row as f32 + 0.5];
        self.transform.zoom = zoom.clamp(1.0, 64.0);
    }
}

/// Screen ↔ image mapping of one view this frame.
#[derive(Debug, Clone, Copy)]
pub struct Mapping {
    /// The widget's area.
    pub viewport: Rect,
    /// Screen points per image unit.
    pub scale: f32,
    /// Screen position of image point (0, 0).
    pub origin: Pos2,
}

impl Mapping {
    fn new(viewport: Rect, dims: (usize, usize), t: &ViewTransform) -> Mapping {
        let (rows, cols) = dims;
        let fit =
            (viewport.width() / cols.max(1) as f32).min(viewport.height() / rows.max(1) as f32);
        let scale = fit * t.zoom;
        let origin = viewport.center() - Vec2::new(t.center[0], t.center[1]) * scale;
        Mapping {
            viewport,
            scale,
            origin,
        }
    }

    /// Screen position of image point (x = col, y = row).
    pub fn to_screen(&self, image: Pos2) -> Pos2 {
        self.origin + image.to_vec2() * self.scale
    }

    pub fn to_image(&self, screen: Pos2) -> Pos2 {
        ((screen - self.origin) / self.scale).to_pos2()
    }

    /// Screen position of the centre of pixel (row, col) (fractional rows/cols allowed).
    pub fn pixel_center(&self, row: f64, col: f64) -> Pos2 {
        self.to_screen(Pos2::new(col as f32 + 0.5, row as f32 + 0.5))
    }

    /// Screen rectangle of pixel (row, col).
    pub fn pixel_rect(&self, row: usize, col: usize) -> Rect {
        Rect::from_min_max(
            self.to_screen(Pos2::new(col as f32, row as f32)),
            self.to_screen(Pos2::new(col as f32 + 1.0, row as f32 + 1.0)),
        )
    }

    pub fn image_rect(&self, dims: (usize, usize)) -> Rect {
        Rect::from_min_max(
            self.to_screen(Pos2::ZERO),
            self.to_screen(Pos2::new(dims.1 as f32, dims.0 as f32)),
        )
    }
}

/// The pixel under an image point, if inside the scan.
fn pixel_at(image: Pos2, dims: (usize, usize)) -> Option<[usize; 2]> {
    let (rows, cols) = dims;
    (image.x >= 0.0 && image.y >= 0.0 && image.x < cols as f32 && image.y < rows as f32)
        .then_some([image.y as usize, image.x as usize])
}

/// A region from a drawn rectangle (image units): the pixels whose centres lie inside.
pub fn rect_region(a: Pos2, b: Pos2, dims: (usize, usize)) -> Region {
    let (rows, cols) = dims;
    let lo = |v: f32, n: usize| ((v - 0.5).ceil().max(0.0) as usize).min(n);
    let hi = |v: f32, n: usize| (((v - 0.5).floor() + 1.0).max(0.0) as usize).min(n);
    let (x0, x1) = (a.x.min(b.x), a.x.max(b.x));
    let (y0, y1) = (a.y.min(b.y), a.y.max(b.y));
    Region::Rect {
        row0: lo(y0, rows),
        col0: lo(x0, cols),
        row1: hi(y1, rows),
        col1: hi(x1, cols),
    }
}

/// A polygon region from image-unit points.
pub fn polygon_region(points: &[Pos2]) -> Region {
    Region::Polygon {
        vertices: points
            .iter()
            .map(|p| [p.y as f64 - 0.5, p.x as f64 - 0.5])
            .collect(),
    }
}

/// What a view reports back this frame.
#[derive(Default)]
pub struct ViewResponse {
    /// A region the user finished drawing.
    pub region: Option<Region>,
    /// The mapping, for overlays drawn after the image.
    pub mapping: Option<Mapping>,
    pub response: Option<egui::Response>,
}

/// Draws `texture` (scan-sized) filling the available space and handles the shared
/// interactions. `label` names the view for screen readers and tests.
pub fn show(
    ui: &mut egui::Ui,
    label: &str,
    texture: Option<&TextureHandle>,
    linked: &mut Linked,
    height: f32,
    overlay: impl FnOnce(&egui::Painter, &Mapping),
) -> ViewResponse {
    let size = Vec2::new(ui.available_width(), height.max(50.0));
    let (response, painter) = ui.allocate_painter(size, Sense::click_and_drag());
    let label_text = label.to_string();
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, &label_text));
    let viewport = response.rect;
    let painter = painter.with_clip_rect(viewport);
    painter.rect_filled(viewport, 0.0, Color32::from_gray(16));
    let dims = linked.dims;

    // Zoom around the pointer with the scroll wheel (or pinch), before mapping this frame.
    if let Some(pointer) = response.hover_pos() {
        let (scroll, zoom) = ui.input(|i| (i.smooth_scroll_delta.y, i.zoom_delta()));
        let factor = zoom * (scroll / 200.0).exp();
        if (factor - 1.0).abs() > 1e-4 {
            let before = Mapping::new(viewport, dims, &linked.transform).to_image(pointer);
            linked.transform.zoom = (linked.transform.zoom * factor).clamp(0.25, 64.0);
            let after = Mapping::new(viewport, dims, &linked.transform).to_image(pointer);
            linked.transform.center[0] += before.x - after.x;
            linked.transform.center[1] += before.y - after.y;
        }
        // The wheel zoomed the image: a scrolling pane around it must not scroll too.
        ui.input_mut(|i| i.smooth_scroll_delta = Vec2::ZERO);
    }
    let mut mapping = Mapping::new(viewport, dims, &linked.transform);

    // Esc abandons the region being drawn (the drag, if any, then draws nothing).
    if ui.input(|i| i.key_pressed(egui::Key::Escape)) {
        linked.drawing.clear();
        linked.drag_origin = None;
    }

    // Pan: secondary/middle drag always, primary drag with the select tool.
    let pans = response.dragged_by(egui::PointerButton::Secondary)
        || response.dragged_by(egui::PointerButton::Middle)
        || (linked.tool == Tool::Select && response.dragged_by(egui::PointerButton::Primary));
    if pans {
        let d = response.drag_delta() / mapping.scale;
        linked.transform.center[0] -= d.x;
        linked.transform.center[1] -= d.y;
        mapping = Mapping::new(viewport, dims, &linked.transform);
    }

    let image_rect = mapping.image_rect(dims);
    if let Some(texture) = texture {
        painter.image(
            texture.id(),
            image_rect,
            Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
            Color32::WHITE,
        );
    } else {
        painter.text(
            viewport.center(),
            egui::Align2::CENTER_CENTER,
            "computing…",
            egui::FontId::proportional(14.0),
            Color32::GRAY,
        );
    }
    overlay(&painter, &mapping);
    if let Some(axis) = &linked.axis {
        let visible = image_rect.intersect(viewport);
        super::axes::draw(&painter, visible, mapping.origin, mapping.scale, axis);
    }

    linked.hovered = response
        .hover_pos()
        .and_then(|p| pixel_at(mapping.to_image(p), dims));

    let mut out = ViewResponse::default();
    let pointer_image = response
        .interact_pointer_pos()
        .or(response.hover_pos())
        .map(|p| mapping.to_image(p));
    match linked.tool {
        Tool::Select => {
            if response.clicked() {
                if let Some(p) = pointer_image.and_then(|p| pixel_at(p, dims)) {
                    linked.selected = Some(p);
                }
            }
            if response.double_clicked() {
                linked.transform = ViewTransform::fit(dims.0, dims.1);
            }
        }
        Tool::Rect => {
            if response.drag_started_by(egui::PointerButton::Primary) {
                // The press position, not where the drag was recognised.
                let press = ui.input(|i| i.pointer.press_origin());
                linked.drag_origin = press
                    .or(response.interact_pointer_pos())
                    .map(|p| mapping.to_image(p));
            }
            if let (Some(a), Some(b)) = (linked.drag_origin, pointer_image) {
                if response.dragged_by(egui::PointerButton::Primary) {
                    linked.drawing = vec![a, b];
                }
                if response.drag_stopped_by(egui::PointerButton::Primary) {
                    out.region = Some(rect_region(a, b, dims));
                    linked.drawing.clear();
                    linked.drag_origin = None;
                }
            }
            if let [a, b] = linked.drawing[..] {
                let r = Rect::from_two_pos(mapping.to_screen(a), mapping.to_screen(b));
                painter.rect_stroke(
                    r,
                    0.0,
                    Stroke::new(2.0, Color32::WHITE),
                    egui::StrokeKind::Middle,
                );
            }
        }
        Tool::Lasso => {
            if response.drag_started_by(egui::PointerButton::Primary) {
                linked.drawing.clear();
                if let Some(p) = ui.input(|i| i.pointer.press_origin()) {
                    linked.drawing.push(mapping.to_image(p));
                    linked.drag_origin = Some(mapping.to_image(p));
                }
            }
            // Without an origin the lasso was abandoned (Esc) during this drag.
            if response.dragged_by(egui::PointerButton::Primary) && linked.drag_origin.is_some() {
                if let Some(p) = pointer_image {
                    if linked
                        .drawing
                        .last()
                        .is_none_or(|q| q.distance(p) * mapping.scale > 2.0)
                    {
                        linked.drawing.push(p);
                    }
                }
            }
            if response.drag_stopped_by(egui::PointerButton::Primary) {
                if linked.drawing.len() >= 3 && linked.drag_origin.is_some() {
                    out.region = Some(polygon_region(&linked.drawing));
                }
                linked.drawing.clear();
                linked.drag_origin = None;
            }
            draw_path(&painter, &mapping, &linked.drawing, true);
        }
        Tool::Polygon => {
            if response.clicked() {
                if let Some(p) = pointer_image {
                    let closes = linked.drawing.len() >= 3
                        && linked.drawing[0].distance(p) * mapping.scale < 8.0;
                    if closes {
                        out.region = Some(polygon_region(&linked.drawing));
                        linked.drawing.clear();
                    } else {
                        linked.drawing.push(p);
                    }
                }
            }
            if response.double_clicked() && linked.drawing.len() >= 3 {
                out.region = Some(polygon_region(&linked.drawing));
                linked.drawing.clear();
            }
            let mut path = linked.drawing.clone();
            if let (false, Some(p)) = (path.is_empty(), response.hover_pos()) {
                path.push(mapping.to_image(p));
            }
            draw_path(&painter, &mapping, &path, false);
        }
    }

    // Selected and hovered pixels, the same on every view.
    if let Some([r, c]) = linked.hovered {
        painter.rect_stroke(
            mapping.pixel_rect(r, c),
            0.0,
            Stroke::new(1.0, Color32::from_white_alpha(160)),
            egui::StrokeKind::Outside,
        );
    }
    if let Some([r, c]) = linked.selected {
        let px = mapping.pixel_rect(r, c);
        painter.rect_stroke(
            px,
            0.0,
            Stroke::new(2.0, Color32::BLACK),
            egui::StrokeKind::Outside,
        );
        painter.rect_stroke(
            px.expand(2.0),
            0.0,
            Stroke::new(1.5, Color32::WHITE),
            egui::StrokeKind::Outside,
        );
    }
    out.mapping = Some(mapping);
    out.response = Some(response);
    out
}

fn draw_path(painter: &egui::Painter, mapping: &Mapping, points: &[Pos2], closed: bool) {
    if points.len() < 2 {
        return;
    }
    let mut screen: Vec<Pos2> = points.iter().map(|&p| mapping.to_screen(p)).collect();
    if closed {
        screen.push(screen[0]);
    }
    painter.add(egui::Shape::line(screen, Stroke::new(2.0, Color32::WHITE)));
}

/// Outline of a region on a view.
pub fn draw_region(painter: &egui::Painter, mapping: &Mapping, region: &Region, colour: Color32) {
    let stroke = Stroke::new(2.0, colour);
    match region {
        Region::Rect {
            row0,
            col0,
            row1,
            col1,
        } => {
            let r = Rect::from_min_max(
                mapping.to_screen(Pos2::new(*col0 as f32, *row0 as f32)),
                mapping.to_screen(Pos2::new(*col1 as f32, *row1 as f32)),
            );
            painter.rect_stroke(r, 0.0, stroke, egui::StrokeKind::Middle);
        }
        Region::Polygon { vertices } => {
            let pts: Vec<Pos2> = vertices
                .iter()
                .map(|[r, c]| mapping.pixel_center(*r, *c))
                .collect();
            if pts.len() >= 2 {
                painter.add(egui::Shape::closed_line(pts, stroke));
            }
        }
        Region::Pixels { pixels } => {
            for &[row, col] in pixels {
                let r = Rect::from_min_max(
                    mapping.to_screen(Pos2::new(col as f32, row as f32)),
                    mapping.to_screen(Pos2::new(col as f32 + 1.0, row as f32 + 1.0)),
                );
                painter.rect_stroke(r, 0.0, Stroke::new(1.0, colour), egui::StrokeKind::Inside);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rect_region_takes_pixels_whose_centres_are_inside() {
        // From the corner of pixel (1, 2) to the corner of pixel (3, 4): pixels 1..3 × 2..4.
        let r = rect_region(Pos2::new(2.0, 1.0), Pos2::new(4.0, 3.0), (10, 10));
        assert_eq!(
            r,
            Region::Rect {
                row0: 1,
                col0: 2,
                row1: 3,
                col1: 4
            }
        );
        // Dragged backwards and past the edge: clamped.
        let r = rect_region(Pos2::new(12.0, 12.0), Pos2::new(8.2, 9.0), (10, 10));
        assert_eq!(
            r,
            Region::Rect {
                row0: 9,
                col0: 8,
                row1: 10,
                col1: 10
            }
        );
    }

    #[test]
    fn mapping_round_trips_and_fits() {
        let t = ViewTransform::fit(32, 64);
        let m = Mapping::new(
            Rect::from_min_size(Pos2::new(10.0, 20.0), Vec2::new(640.0, 640.0)),
            (32, 64),
            &t,
        );
        assert!((m.scale - 10.0).abs() < 1e-4);
        let p = Pos2::new(3.25, 7.5);
        assert!(m.to_image(m.to_screen(p)).distance(p) < 1e-3);
        let ir = m.image_rect((32, 64));
        assert!((ir.width() - 640.0).abs() < 1e-3 && (ir.height() - 320.0).abs() < 1e-3);
    }
}
