//! The pattern inspector: the diffraction pattern of the selected (or hovered) pixel, log or
//! linear, with the virtual detector rings (drag them to change the radii), the pattern's CoM and
//! the model's crop box; the pixel's class and its 8 class scores as a bar chart. Patterns come
//! rendered from the pattern loader (`tasks::patterns`).

use super::axes::Units;
use super::image_view::Linked;
use super::{Texture, View, ViewContext};
use crate::gui::request::Request;
use crate::gui::tasks::patterns::PatternImages;
use eframe::egui::{self, Color32, Pos2, Rect, Sense, Stroke, Vec2};
use egui_plot::{Bar, BarChart, Plot, PlotPoint, Text};
use polarmap_core::analysis::{DetectorGeometry, VirtualDetector};
use polarmap_core::classes::Class;
use polarmap_core::maps::Region;
use serde::{Deserialize, Serialize};

/// The crop box a model sees, in detector pixels (row, col of the centre; side length).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CropBox {
    pub center: [f64; 2],
    pub side: f64,
}

#[derive(Serialize, Deserialize)]
#[serde(default)]
pub struct Inspector {
    pub log_scale: bool,
    /// Show the hovered pixel while the pointer is over a view (else only the selected one).
    pub follow_hover: bool,
    /// The pattern on screen: generation, pixel, images.
    #[serde(skip)]
    pattern: Option<(u64, [usize; 2], PatternImages)>,
    #[serde(skip)]
    texture: Texture,
    #[serde(skip)]
    pub error: Option<String>,
    /// The detector geometry being edited (applied to the pass when the user lets go).
    #[serde(skip)]
    pub edit: Option<DetectorGeometry>,
    #[serde(skip)]
    dragging_ring: Option<usize>,
    /// Show the survey's mean pattern instead of the pixel's.
    #[serde(skip)]
    pub mean: bool,
    /// The mask being drawn on the pattern (a custom virtual detector).
    #[serde(skip)]
    pub mask: MaskDrawing,
    /// The pattern's axes (mrad, Å⁻¹ or none).
    pub axes: Units,
}

/// How a detector mask is drawn on the pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MaskTool {
    /// Dragging moves the detector rings.
    #[default]
    Off,
    /// Each click adds a vertex (detector row, col); three or more make the mask.
    Polygon,
    /// Press at the centre, drag out the radius.
    Circle,
}

/// A mask on the pattern, in detector pixels (pixel centres at integers).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MaskDrawing {
    pub tool: MaskTool,
    pub vertices: Vec<[f64; 2]>,
    /// Centre (row, col) and radius.
    pub circle: Option<([f64; 2], f64)>,
}

impl MaskDrawing {
    /// The drawn shape as a `VirtualDetector::Mask` of a `rows × cols` detector (a pixel
    /// belongs to it when its centre is inside), with a description; None when nothing
    /// complete is drawn or no pixel is inside.
    pub fn detector(&self, rows: usize, cols: usize) -> Option<(VirtualDetector, String)> {
        let (inside, what): (Box<dyn Fn(usize, usize) -> bool>, String) = match self.tool {
            MaskTool::Polygon if self.vertices.len() >= 3 => {
                let region = Region::Polygon {
                    vertices: self.vertices.clone(),
                };
                let n = self.vertices.len();
                (
                    Box::new(move |r, c| region.contains(r, c)),
                    format!("polygon of {n} vertices"),
                )
            }
            MaskTool::Circle => {
                let ([cr, cc], radius) = self.circle.filter(|c| c.1 > 0.0)?;
                (
                    Box::new(move |r, c| (r as f64 - cr).hypot(c as f64 - cc) <= radius),
                    format!("circle r {radius:.1} px at ({cr:.1}, {cc:.1})"),
                )
            }
            _ => return None,
        };
        let pixels: Vec<bool> = (0..rows * cols)
            .map(|i| inside(i / cols, i % cols))
            .collect();
        let count = pixels.iter().filter(|&&p| p).count();
        (count > 0).then(|| {
            (
                VirtualDetector::Mask { rows, cols, pixels },
                format!("mask: {what}, {count} px"),
            )
        })
    }
}

impl Default for Inspector {
    fn default() -> Self {
        Inspector {
            log_scale: true,
            follow_hover: true,
            pattern: None,
            texture: Texture::default(),
            error: None,
            edit: None,
            dragging_ring: None,
            mean: false,
            mask: MaskDrawing::default(),
            axes: Units::Off,
        }
    }
}

impl Inspector {
    /// Forgets the pattern and the edits (a new dataset).
    pub fn reset(&mut self) {
        self.pattern = None;
        self.error = None;
        self.edit = None;
    }

    /// The pixel whose pattern is (or is being) shown.
    pub fn shown_pixel(&self) -> Option<[usize; 2]> {
        self.pattern.as_ref().map(|(_, p, _)| *p)
    }

    /// The pixel to inspect: hovered (when following the pointer) or selected.
    pub fn pixel(&self, linked: &Linked) -> Option<[usize; 2]> {
        let hovered = linked.hovered.filter(|_| self.follow_hover);
        hovered.or(linked.selected)
    }

    pub fn set_pattern(
        &mut self,
        generation: u64,
        pixel: [usize; 2],
        images: Result<PatternImages, String>,
    ) {
        match images {
            Ok(images) => {
                self.pattern = Some((generation, pixel, images));
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
    }
}

impl View for Inspector {
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ViewContext<'_>) {
        let Some(data) = ctx.data else { return };
        ui.horizontal_wrapped(|ui| {
            ui.heading("Pattern");
            ui.checkbox(&mut self.log_scale, "log");
            ui.checkbox(&mut self.follow_hover, "follow pointer");
            ui.checkbox(&mut self.mean, "mean pattern")
                .on_hover_text("the mean of the surveyed patterns (draw masks on it)");
            Units::choose(ui, "pattern axes", &mut self.axes, &Units::PATTERN);
        });
        self.axes.warn_missing(ui, data.calibration());
        let Some([row, col]) = self.pixel(ctx.linked) else {
            ui.label("Click a pixel on any view (arrow keys move the selection).");
            return;
        };
        let crop = data
            .prediction
            .as_ref()
            .and_then(|p| p.input)
            .map(|(g, size)| CropBox {
                center: g.center,
                side: size as f64 * g.scale,
            });
        let shown = data.classes();
        let class = shown.and_then(|c| c.class_at([row, col]));
        match class {
            Some(class) => ui.label(format!("Pixel (row {row}, col {col}) — class {class}")),
            None => ui.label(format!("Pixel (row {row}, col {col})")),
        };
        // The other source too, so model and ground truth can be compared pixel by pixel.
        let other = [&data.prediction, &data.truth]
            .into_iter()
            .flatten()
            .find(|c| shown.is_none_or(|s| !std::sync::Arc::ptr_eq(s, c)));
        if let Some(c) = other.and_then(|o| o.class_at([row, col]).map(|k| (o.kind, k))) {
            ui.label(format!("{}: {}", c.0.name(), c.1));
        }
        if let Some(a) = &data.analysis {
            let m = &a.maps;
            let com = &a.com_descan;
            let (x, y) = (com.x[(row, col)], com.y[(row, col)]);
            let angle = (y as f64).atan2(x as f64);
            ui.label(format!(
                "BF {:.4}  ADF {:.4}  sum {:.4}\nCoM ({x:+.3}, {y:+.3}) px, {:.0}° (nearest {})",
                m.bf[(row, col)],
                m.adf[(row, col)],
                m.sum[(row, col)],
                angle.to_degrees().rem_euclid(360.0),
                Class::nearest(angle)
            ));
        }
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }

        self.mask_tools(ui, ctx, data.scan().frame_shape());

        // The pattern, if the loader has answered for this pixel.
        let current = self
            .pattern
            .as_ref()
            .filter(|(g, p, _)| *g == data.generation && *p == [row, col])
            .or(self
                .pattern
                .as_ref()
                .filter(|(g, _, _)| *g == data.generation));
        let [det_rows, det_cols] = data.scan().frame_shape();
        let geometry = self.edit.unwrap_or(data.geometry);
        let mean = self.mean.then_some(&*data.mean_pattern);
        let image = mean.or(current.map(|(_, _, images)| images)).map(|images| {
            if self.log_scale {
                &images.log
            } else {
                &images.linear
            }
        });
        let texture = self.texture.of(ui.ctx(), "pattern", image).cloned();
        // The whole pattern in view where the pane allows (it scrolls below 160 points).
        let side = ui
            .available_width()
            .min(320.0)
            .min(ui.available_height().max(160.0));
        let (response, painter) = ui.allocate_painter(Vec2::splat(side), Sense::click_and_drag());
        response.widget_info(|| {
            egui::WidgetInfo::labeled(egui::Role::Image, true, "diffraction pattern")
        });
        let rect = response.rect;
        painter.rect_filled(rect, 0.0, Color32::BLACK);
        let scale = (side / det_cols.max(1) as f32).min(side / det_rows.max(1) as f32);
        let image_rect = Rect::from_min_size(
            rect.min,
            Vec2::new(det_cols as f32 * scale, det_rows as f32 * scale),
        );
        if let Some(t) = &texture {
            painter.image(
                t.id(),
                image_rect,
                Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
                Color32::WHITE,
            );
        }
        // Detector pixel (row, col) centre → screen.
        let to_screen = |r: f64, c: f64| {
            image_rect.min + Vec2::new((c as f32 + 0.5) * scale, (r as f32 + 0.5) * scale)
        };
        let centre = to_screen(geometry.center_row, geometry.center_col);
        let rings = [
            (geometry.bf_radius, Color32::from_rgb(90, 200, 255), "BF"),
            (
                geometry.adf_inner,
                Color32::from_rgb(255, 170, 60),
                "ADF in",
            ),
            (
                geometry.adf_outer,
                Color32::from_rgb(255, 120, 40),
                "ADF out",
            ),
        ];
        for (radius, colour, _) in rings {
            painter.circle_stroke(centre, radius as f32 * scale, Stroke::new(1.5, colour));
        }
        if let Some(a) = &data.analysis {
            let (cr, cc) = (
                a.maps.com_row[(row, col)] as f64,
                a.maps.com_col[(row, col)] as f64,
            );
            let at = to_screen(cr, cc);
            painter.line_segment(
                [at - Vec2::X * 5.0, at + Vec2::X * 5.0],
                Stroke::new(2.0, Color32::RED),
            );
            painter.line_segment(
                [at - Vec2::Y * 5.0, at + Vec2::Y * 5.0],
                Stroke::new(2.0, Color32::RED),
            );
        }
        if let Some(crop) = crop {
            let half = crop.side / 2.0;
            let a = to_screen(crop.center[0] - half - 0.5, crop.center[1] - half - 0.5);
            let b = to_screen(crop.center[0] + half - 0.5, crop.center[1] + half - 0.5);
            painter.rect_stroke(
                Rect::from_two_pos(a, b),
                0.0,
                Stroke::new(1.5, Color32::from_rgb(120, 255, 120)),
                egui::StrokeKind::Middle,
            );
        }
        // Screen → detector (row, col).
        let to_detector = |p: Pos2| {
            let v = (p - image_rect.min) / scale;
            [v.y as f64 - 0.5, v.x as f64 - 0.5]
        };
        self.draw_mask(&painter, &response, to_screen, to_detector, scale);
        let disk = [geometry.center_row, geometry.center_col];
        if let Some(axis) = self.axes.pattern_axis(data.calibration(), disk) {
            super::axes::draw(&painter, image_rect, image_rect.min, scale, &axis);
        }
        // Dragging near a ring moves that ring (unless a mask is being drawn).
        if let (Some(p), MaskTool::Off) = (response.interact_pointer_pos(), self.mask.tool) {
            let d = (p.distance(centre) / scale) as f64;
            if response.drag_started() {
                self.dragging_ring = rings
                    .iter()
                    .enumerate()
                    .map(|(i, (r, _, _))| (i, (r - d).abs()))
                    .filter(|(_, dist)| *dist * (scale as f64) < 12.0)
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    .map(|(i, _)| i);
            }
            if let (Some(i), true) = (self.dragging_ring, response.dragged()) {
                let mut g = geometry;
                match i {
                    0 => g.bf_radius = d.max(0.5),
                    1 => g.adf_inner = d.clamp(0.0, g.adf_outer - 0.5),
                    _ => g.adf_outer = d.max(g.adf_inner + 0.5),
                }
                self.edit = Some(g);
            }
        }
        if response.drag_stopped() && self.dragging_ring.take().is_some() {
            if let Some(g) = self.edit {
                ctx.requests.push(Request::ApplyGeometry(g));
            }
        }
        ui.label("BF: blue ring; ADF: orange; CoM: red cross; model crop: green box.");

        // Radii as numbers too.
        let mut g = self.edit.unwrap_or(data.geometry);
        let max = det_rows.max(det_cols) as f64;
        let mut changed = false;
        ui.horizontal(|ui| {
            let l = ui.label("BF r");
            changed |= ui
                .add(
                    egui::DragValue::new(&mut g.bf_radius)
                        .range(0.5..=max)
                        .speed(0.1),
                )
                .labelled_by(l.id)
                .changed();
            let l = ui.label("ADF from");
            changed |= ui
                .add(
                    egui::DragValue::new(&mut g.adf_inner)
                        .range(0.0..=max)
                        .speed(0.1),
                )
                .labelled_by(l.id)
                .changed();
            let l = ui.label("to");
            changed |= ui
                .add(
                    egui::DragValue::new(&mut g.adf_outer)
                        .range(0.5..=2.0 * max)
                        .speed(0.1),
                )
                .labelled_by(l.id)
                .changed();
            ui.label("px");
        });
        if changed {
            g.adf_outer = g.adf_outer.max(g.adf_inner + 0.5);
            self.edit = Some(g);
        }
        let pending = self.edit.is_some_and(|e| e != data.geometry);
        if ui
            .add_enabled(pending, egui::Button::new("Apply radii"))
            .clicked()
        {
            if let Some(g) = self.edit {
                ctx.requests.push(Request::ApplyGeometry(g));
            }
        }

        // The model's class scores for this pixel.
        let scores = data
            .prediction
            .as_ref()
            .and_then(|c| c.scores_at([row, col]).map(|s| (c, s)));
        ui.separator();
        match scores {
            Some((source, scores)) => {
                ui.label(format!("Class scores of {}", source.source));
                if let Some(class) = source.class_at([row, col]) {
                    let kind = if source.calibrated {
                        "probability"
                    } else {
                        "score (not calibrated)"
                    };
                    let mut line = format!("{class}: {kind} {:.2}", scores[class.index()]);
                    if let Some((ood, determined)) = source.determination_at([row, col]) {
                        if let Some(o) = ood {
                            line += &format!(", OOD {o:.2}");
                        }
                        line += if determined {
                            ", determined"
                        } else {
                            ", undetermined"
                        };
                    }
                    ui.label(line);
                }
                scores_chart(ui, &scores);
            }
            None => {
                ui.label("Class scores appear here once a model has run on this pixel.");
            }
        }
    }
}

impl Inspector {
    /// Draws the mask being made and takes the pointer's clicks and drags for it.
    fn draw_mask(
        &mut self,
        painter: &egui::Painter,
        response: &egui::Response,
        to_screen: impl Fn(f64, f64) -> Pos2,
        to_detector: impl Fn(Pos2) -> [f64; 2],
        scale: f32,
    ) {
        let stroke = Stroke::new(1.5, Color32::YELLOW);
        let pointer = response.interact_pointer_pos();
        match self.mask.tool {
            MaskTool::Off => return,
            MaskTool::Polygon => {
                if let (true, Some(p)) = (response.clicked(), pointer) {
                    self.mask.vertices.push(to_detector(p));
                }
            }
            MaskTool::Circle => {
                if let Some(p) = pointer {
                    if response.drag_started() {
                        self.mask.circle = Some((to_detector(p), 0.0));
                    } else if let (true, Some((c, _))) = (response.dragged(), self.mask.circle) {
                        let [r, col] = to_detector(p);
                        self.mask.circle = Some((c, (r - c[0]).hypot(col - c[1])));
                    }
                }
            }
        }
        let points: Vec<Pos2> = self
            .mask
            .vertices
            .iter()
            .map(|&[r, c]| to_screen(r, c))
            .collect();
        if self.mask.tool == MaskTool::Polygon && !points.is_empty() {
            painter.add(egui::Shape::closed_line(points.clone(), stroke));
            for p in points {
                painter.circle_filled(p, 3.0, Color32::YELLOW);
            }
        }
        if let (MaskTool::Circle, Some(([r, c], radius))) = (self.mask.tool, self.mask.circle) {
            painter.circle_stroke(to_screen(r, c), radius as f32 * scale, stroke);
        }
    }

    /// The mask tool's buttons: the shape, Clear, and Compute (the custom virtual detector).
    fn mask_tools(&mut self, ui: &mut egui::Ui, ctx: &mut ViewContext<'_>, shape: [usize; 2]) {
        ui.horizontal_wrapped(|ui| {
            for (tool, name, hint) in [
                (
                    MaskTool::Off,
                    "no mask",
                    "dragging moves the detector rings",
                ),
                (
                    MaskTool::Polygon,
                    "polygon mask",
                    "click the vertices on the pattern",
                ),
                (
                    MaskTool::Circle,
                    "circle mask",
                    "press at the centre, drag out the radius",
                ),
            ] {
                if ui
                    .selectable_label(self.mask.tool == tool, name)
                    .on_hover_text(hint)
                    .clicked()
                {
                    self.mask = MaskDrawing {
                        tool,
                        ..MaskDrawing::default()
                    };
                }
            }
            if self.mask.tool == MaskTool::Off {
                return;
            }
            if ui.button("Clear").clicked() {
                self.mask.vertices.clear();
                self.mask.circle = None;
            }
            let detector = self.mask.detector(shape[0], shape[1]);
            if ui
                .add_enabled(detector.is_some(), egui::Button::new("Compute mask"))
                .on_hover_text("its virtual image, in the virtual image view (Custom)")
                .clicked()
            {
                if let Some((detector, label)) = detector {
                    ctx.requests.push(Request::ComputeDetector(detector, label));
                }
            }
        });
    }
}

fn scores_chart(ui: &mut egui::Ui, scores: &[f32]) {
    let bars: Vec<Bar> = scores
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let class = Class::ALL[i];
            Bar::new(i as f64, s as f64)
                .name(class.name())
                .fill(super::colour32(polarmap_core::colour::class_colour(class)))
                .width(0.8)
        })
        .collect();
    Plot::new("class scores")
        .height(150.0)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .include_y(-0.12)
        .include_y(1.0)
        .include_x(-0.6)
        .include_x(7.6)
        // Class names under the bars (the x axis would thin its labels out).
        .show_axes([false, true])
        .show(ui, |plot| {
            plot.bar_chart(BarChart::new("scores", bars));
            for class in Class::ALL {
                plot.text(Text::new(
                    class.name(),
                    PlotPoint::new(class.index() as f64, -0.06),
                    class.name(),
                ));
            }
        });
}
