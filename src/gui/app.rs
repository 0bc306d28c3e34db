//! The app: state and top-level layout. Menu bar and errors on top, status bar at the bottom,
//! the three linked views in the middle, inspector / regions / defects on the right.

use super::data::{self, ClassSource, Dataset, SourceKind};
use super::dialogs::simulate::{SimulateAction, SimulateDialog};
use super::dialogs::train::{TrainAction, TrainDialog};
use super::dialogs::{calibration, calibration::CalibrationDialog, open_path::OpenPathDialog};
use super::export::{self as export_ui, ExportDialog, ExportKind, ExportRequest, Legend};
use super::file_name;
use super::jobs::{JobKind, JobOutput, Jobs, PatternLoader, POLL_INTERVAL};
use super::views::class_view::ClassView;
use super::views::com_view::ComView;
use super::views::defects::Defects;
use super::views::image_view::{self, Linked, Tool};
use super::views::inspector::{CropBox, Inspector};
use super::views::model_panel::{ModelAction, ModelPanel};
use super::views::regions::{RegionAction, Regions};
use super::views::virtual_image::{VirtualKind, VirtualView};
use polarmap_core::maps::Region;
use polarmap_core::models::{self, DeviceChoice};
use eframe::egui::{self, Color32};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How the app starts.
#[derive(Debug, Clone, Default)]
pub struct Startup {
    /// The scan to open at once (the demo when launched without one).
    pub path: Option<PathBuf>,
    /// Keep settings and recent files between runs (off in tests).
    pub persist: bool,
}

/// Settings kept between runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub recent: Vec<PathBuf>,
    pub virtual_kind: VirtualKind,
    pub descan_removed: bool,
    pub show_confidence: bool,
    pub show_defects: bool,
    /// The model run on every scan opened (the shipped default when None or missing).
    pub model: Option<PathBuf>,
    /// Where networks run.
    pub device: DeviceChoice,
    /// Which class map the class view shows.
    pub class_source: SourceKind,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            recent: Vec::new(),
            virtual_kind: VirtualKind::Adf,
            descan_removed: true,
            show_confidence: false,
            show_defects: true,
            model: None,
            device: DeviceChoice::Auto,
            class_source: SourceKind::Model,
        }
    }
}

const RECENT_MAX: usize = 10;

pub struct PolarmapApp {
    pub settings: Settings,
    persist: bool,
    jobs: Jobs,
    patterns: PatternLoader,
    generation: u64,
    /// The dataset on screen.
    pub data: Option<Dataset>,
    /// A path being opened (its job is running).
    opening: Option<PathBuf>,
    pub linked: Linked,
    virtual_view: VirtualView,
    com_view: ComView,
    class_view: ClassView,
    pub inspector: Inspector,
    requested_pattern: Option<(u64, [usize; 2])>,
    pub regions: Regions,
    pub defects: Defects,
    export: ExportDialog,
    calibration: CalibrationDialog,
    open_path: OpenPathDialog,
    pub model_panel: ModelPanel,
    pub train: TrainDialog,
    pub simulate: SimulateDialog,
    about: bool,
    /// Errors shown in the window until dismissed.
    pub errors: Vec<String>,
    /// The last thing done (e.g. a file written).
    pub notice: Option<String>,
}

impl PolarmapApp {
    pub fn new(cc: &eframe::CreationContext<'_>, startup: Startup) -> PolarmapApp {
        let settings = if startup.persist {
            cc.storage
                .and_then(|s| eframe::get_value::<Settings>(s, eframe::APP_KEY))
                .unwrap_or_default()
        } else {
            Settings::default()
        };
        let ctx = cc.egui_ctx.clone();
        let mut app = PolarmapApp {
            settings,
            persist: startup.persist,
            jobs: Jobs::new(Some(ctx.clone())),
            patterns: PatternLoader::new(Some(ctx)),
            generation: 0,
            data: None,
            opening: None,
            linked: Linked::new(1, 1),
            virtual_view: VirtualView::default(),
            com_view: ComView::default(),
            class_view: ClassView::default(),
            inspector: Inspector::default(),
            requested_pattern: None,
            regions: Regions::default(),
            defects: Defects::default(),
            export: ExportDialog::default(),
            calibration: CalibrationDialog::default(),
            open_path: OpenPathDialog::default(),
            model_panel: ModelPanel::default(),
            train: TrainDialog::default(),
            simulate: SimulateDialog::default(),
            about: false,
            errors: Vec::new(),
            notice: None,
        };
        app.model_panel
            .set_shipped(models::list_models(&models::shipped_dir()));
        let default = models::shipped_dir().join(models::DEFAULT_MODEL);
        let model = app
            .settings
            .model
            .clone()
            .filter(|p| p.exists())
            .unwrap_or(default);
        app.model_panel.add(model.clone());
        app.model_panel.selected = Some(model);
        if let Some(path) = startup.path {
            app.open(path);
        }
        app
    }

    /// True while any background job runs (tests wait on it).
    pub fn is_busy(&self) -> bool {
        !self.jobs.is_idle()
            || self
                .requested_pattern
                .is_some_and(|(_, p)| self.inspector.shown_pixel() != Some(p))
    }

    /// Starts opening `path` on a background thread; the current dataset stays on screen until
    /// the new one has opened.
    pub fn open(&mut self, path: PathBuf) {
        self.generation += 1;
        self.jobs.cancel_kind(JobKind::Open);
        self.opening = Some(path.clone());
        let label = format!("opening {}", file_name(&path));
        self.jobs
            .spawn(JobKind::Open, label, self.generation, move |progress, _| {
                Ok(JobOutput::Opened(Box::new(data::open_job(
                    &path, progress,
                )?)))
            });
    }

    fn remember_recent(&mut self, path: &Path) {
        let path = path.to_path_buf();
        self.settings.recent.retain(|p| p != &path);
        self.settings.recent.insert(0, path);
        self.settings.recent.truncate(RECENT_MAX);
    }

    fn error(&mut self, message: String) {
        self.errors.push(message);
        if self.errors.len() > 6 {
            self.errors.remove(0);
        }
    }

    // ---- job answers -------------------------------------------------------------------------

    fn poll_jobs(&mut self) {
        for (kind, message) in self.jobs.poll() {
            let current = self.data.as_ref().map(|d| d.generation);
            let output = match message.result {
                Ok(output) => output,
                Err(e) => {
                    if kind == JobKind::Open {
                        self.opening = None;
                    }
                    self.error(e);
                    continue;
                }
            };
            match output {
                JobOutput::Opened(opened) => {
                    if message.generation == self.generation {
                        self.install(*opened, message.generation);
                    }
                }
                // Training and simulation belong to no dataset.
                JobOutput::Epoch(metrics) => self.train.history.push(metrics),
                JobOutput::Trained {
                    path,
                    test_accuracy,
                } => {
                    self.notice = Some(format!(
                        "trained {}: test-split accuracy {:.1} %",
                        path.display(),
                        100.0 * test_accuracy
                    ));
                    self.model_panel.add(path.clone());
                    self.train.finished = Some((path, test_accuracy));
                }
                JobOutput::Simulated(paths) => {
                    self.notice = Some(format!("simulated {} scan(s)", paths.len()));
                    for p in &paths {
                        self.train.add_scan(p.clone());
                    }
                    if let Some(first) = paths.first() {
                        self.open(first.clone());
                    }
                }
                _ if Some(message.generation) != current => {}
                JobOutput::Analysed(result) => {
                    if let Some(d) = &mut self.data {
                        d.geometry = result.maps.geometry;
                        d.analysis = Some(Arc::new(*result));
                    }
                    self.virtual_view.invalidate();
                    self.com_view.invalidate();
                    self.inspector.edit = None;
                    self.refresh_regions();
                }
                JobOutput::Classes(source) => {
                    let complete = source.is_complete();
                    if complete && source.kind == SourceKind::Model {
                        // Remembered for the next start only once it has worked.
                        self.settings.model = self.model_panel.selected.clone();
                    }
                    let shown_before = self.data.as_ref().and_then(|d| d.classes().cloned());
                    if let Some(d) = &mut self.data {
                        let slot = match source.kind {
                            SourceKind::Model => &mut d.prediction,
                            SourceKind::Truth => &mut d.truth,
                        };
                        *slot = Some(Arc::new(*source));
                    }
                    let shown_after = self.data.as_ref().and_then(|d| d.classes().cloned());
                    let shown_changed = match (&shown_before, &shown_after) {
                        (Some(a), Some(b)) => !Arc::ptr_eq(a, b),
                        (a, b) => a.is_some() != b.is_some(),
                    };
                    if shown_changed {
                        self.class_view.invalidate();
                        // Defects and region statistics follow the complete map on screen.
                        if complete {
                            self.class_map_changed();
                        }
                    }
                }
                JobOutput::RegionStats {
                    region_id,
                    stats,
                    mean_com,
                } => {
                    if let Some(entry) = self.regions.get_mut(region_id) {
                        entry.stats = stats;
                        entry.mean_com = mean_com;
                    }
                }
                JobOutput::Defects(found) => self.defects.mark_computed(found),
                JobOutput::Exported(path) => {
                    self.notice = Some(format!("wrote {}", path.display()));
                }
                JobOutput::Nothing => {}
            }
        }
        if let Some(answer) = self.patterns.poll() {
            if Some(answer.generation) == self.data.as_ref().map(|d| d.generation) {
                self.inspector
                    .set_pattern(answer.generation, answer.pixel, answer.frame);
            }
        }
    }

    /// The class map on screen was replaced: its defects and region statistics are redone.
    fn class_map_changed(&mut self) {
        self.class_view.invalidate();
        self.defects.computed = None;
        self.refresh_regions();
    }

    /// Shows the model's map or the ground truth in the class view.
    pub fn show_source(&mut self, kind: SourceKind) {
        self.settings.class_source = kind;
        if let Some(d) = &mut self.data {
            if d.shown != kind {
                d.shown = kind;
                self.class_map_changed();
            }
        }
    }

    /// Runs `model` (a model file) over the open scan on a background thread; the class map
    /// fills in batch by batch. It becomes the selected model, run on every scan opened next (and,
    /// once it has worked, at the next start).
    pub fn run_model(&mut self, model: PathBuf) {
        self.model_panel.add(model.clone());
        self.model_panel.selected = Some(model);
        self.start_prediction();
    }

    fn start_prediction(&mut self) {
        let Some(d) = &self.data else { return };
        let Some(model) = self.model_panel.selected.clone() else {
            return;
        };
        let session = d.session.clone();
        let device = self.settings.device;
        self.jobs.spawn(
            JobKind::Predict,
            format!("inference with {}", file_name(&model)),
            d.generation,
            move |progress, sender| {
                let done = data::predict_job(&session, &model, device, progress, |partial| {
                    sender.send(JobOutput::Classes(Box::new(partial)))
                })?;
                Ok(JobOutput::Classes(Box::new(done)))
            },
        );
    }

    /// A newly opened dataset replaces the old one; its pass and labels start at once.
    fn install(&mut self, opened: data::Opened, generation: u64) {
        self.opening = None;
        self.remember_recent(&opened.path);
        let calibration = opened.session.scan().calibration;
        let [rows, cols] = opened.session.scan().scan_shape();
        self.linked = Linked::new(rows, cols);
        // Start with the centre pixel in the inspector, so a pattern is on screen at once.
        self.linked.selected = Some([rows / 2, cols / 2]);
        self.virtual_view.invalidate();
        self.com_view.invalidate();
        self.class_view.invalidate();
        self.inspector.reset();
        self.requested_pattern = None;
        self.regions.clear();
        self.defects.found.clear();
        self.defects.computed = None;
        self.jobs.cancel_kind(JobKind::Analyse);
        self.jobs.cancel_kind(JobKind::Labels);
        self.jobs.cancel_kind(JobKind::Defects);
        self.jobs.cancel_kind(JobKind::Regions);
        self.jobs.cancel_kind(JobKind::Predict);
        self.data = Some(Dataset {
            generation,
            path: opened.path,
            session: opened.session,
            calibration,
            geometry: opened.geometry,
            analysis: None,
            truth: None,
            prediction: None,
            shown: self.settings.class_source,
            open_seconds: opened.seconds,
        });
        self.start_analysis(None);
        self.start_labels();
        self.start_prediction();
    }

    /// Runs the pattern pass again with the current detectors (e.g. after a calibration change;
    /// the responsiveness example uses it as background load).
    pub fn rerun_pass(&mut self) {
        self.start_analysis(None);
    }

    fn start_analysis(&mut self, geometry: Option<polarmap_core::analysis::DetectorGeometry>) {
        let Some(d) = &mut self.data else { return };
        if let Some(g) = geometry {
            d.geometry = g;
        }
        let (session, geometry, calibration) = (d.session.clone(), d.geometry, d.calibration);
        self.jobs.spawn(
            JobKind::Analyse,
            format!("pattern pass over {}", file_name(&d.path)),
            d.generation,
            move |progress, _| {
                let result = data::analyse_job(&session, &geometry, &calibration, progress)?;
                Ok(JobOutput::Analysed(Box::new(result)))
            },
        );
    }

    fn start_labels(&mut self) {
        let Some(d) = &self.data else { return };
        if d.scan().labels.is_none() {
            return;
        }
        let session = d.session.clone();
        self.jobs.spawn(
            JobKind::Labels,
            "reading labels",
            d.generation,
            move |_, _| {
                Ok(match data::labels_job(&session)? {
                    Some(map) => JobOutput::Classes(Box::new(ClassSource::new(
                        SourceKind::Truth,
                        "ground truth (sidecar labels)".into(),
                        map,
                        None,
                    ))),
                    None => JobOutput::Nothing,
                })
            },
        );
    }

    /// Recomputes every region's statistics (class map or CoM changed).
    fn refresh_regions(&mut self) {
        let ids: Vec<u64> = self.regions.entries.iter().map(|e| e.id).collect();
        for id in ids {
            self.start_region_stats(id);
        }
    }

    fn start_region_stats(&mut self, id: u64) {
        let Some(d) = &self.data else { return };
        let Some(entry) = self.regions.entries.iter().find(|e| e.id == id) else {
            return;
        };
        let region = entry.region.clone();
        let classes = d.classes().filter(|c| c.is_complete()).cloned();
        let analysis = d.analysis.clone();
        self.jobs.spawn_alongside(
            JobKind::Regions,
            format!("statistics of region {id}"),
            d.generation,
            move |_, _| {
                let stats = classes.as_ref().map(|c| c.map.stats(Some(&region)));
                let mean_com = analysis
                    .as_ref()
                    .and_then(|a| data::region_mean_com(&a.com_descan, &region));
                Ok(JobOutput::RegionStats {
                    region_id: id,
                    stats,
                    mean_com,
                })
            },
        );
    }

    fn add_region(&mut self, region: Region) {
        let id = self.regions.add(region);
        self.start_region_stats(id);
    }

    fn maybe_start_defects(&mut self) {
        let Some(d) = &self.data else { return };
        let Some(classes) = d.classes().filter(|c| c.is_complete()).cloned() else {
            return;
        };
        if !self.defects.is_stale() || self.jobs.is_running(JobKind::Defects) {
            return;
        }
        let search = self.defects.effective_search();
        // Mark as computed for these settings now, so that one job runs per change.
        self.defects.computed = Some((
            self.defects.search,
            self.defects.use_period,
            self.defects.period,
        ));
        self.jobs.spawn(
            JobKind::Defects,
            "searching candidate defects",
            d.generation,
            move |_, _| {
                Ok(JobOutput::Defects(polarmap_core::maps::find_defects(
                    &classes.map,
                    &search,
                )))
            },
        );
    }

    fn start_export(&mut self, request: ExportRequest) {
        let Some(d) = &self.data else {
            self.error("nothing to export: no scan is open".into());
            return;
        };
        let (rows, cols) = d.scan_dims();
        let classes = d.classes().cloned();
        let analysis = d.analysis.clone();
        let descan = self.settings.descan_removed;
        let kind = self.settings.virtual_kind;
        let step = d.calibration.scan_step_a;
        let regions_json = serde_json::json!({
            "scan": d.path,
            "shape": d.scan().shape(),
            "class_source": classes.as_ref().map(|c| c.source.clone()),
            "regions": self.regions.entries,
        });
        let label = format!("exporting {}", file_name(&request.path));
        self.jobs
            .spawn_alongside(JobKind::Export, label, d.generation, move |_, _| {
                let r = &request;
                let missing = |what: &str| polarmap_core::Error::invalid(format!("cannot export: {what}"));
                let png = |pixels: Vec<[u8; 3]>, legend: Legend| -> polarmap_core::Result<()> {
                    let (w, h, px) = export_ui::annotate(
                        &pixels,
                        cols,
                        rows,
                        r.scale,
                        r.legend.then_some(legend),
                        if r.scale_bar { step } else { None },
                    );
                    polarmap_core::export::write_png_rgb(&r.path, w, h, &px, 1, r.overwrite)
                };
                match r.kind {
                    ExportKind::ClassPng => {
                        let c = classes.ok_or_else(|| missing("there is no class map"))?;
                        png(polarmap_core::export::class_pixels(&c.map.classes), Legend::Classes)?;
                    }
                    ExportKind::ComPng => {
                        let a =
                            analysis.ok_or_else(|| missing("the CoM field is not computed yet"))?;
                        let field = if descan { &a.com_descan } else { &a.com_raw };
                        png(polarmap_core::export::com_pixels(field), Legend::Wheel)?;
                    }
                    ExportKind::VirtualPng => {
                        let a = analysis
                            .ok_or_else(|| missing("the virtual image is not computed yet"))?;
                        let values: Vec<f32> = kind.values(&a.maps).iter().copied().collect();
                        png(polarmap_core::export::grey_pixels(&values), Legend::Grey)?;
                    }
                    ExportKind::PredictionsCsv => {
                        let c = classes.ok_or_else(|| missing("there is no class map"))?;
                        polarmap_core::export::write_classes_csv(
                            &r.path,
                            &c.map.classes,
                            c.scores.as_ref(),
                            r.overwrite,
                        )?;
                    }
                    ExportKind::PredictionsNpy => {
                        let c = classes.ok_or_else(|| missing("there is no class map"))?;
                        let values: Vec<f32> =
                            c.map.classes.iter().map(|k| k.index() as f32).collect();
                        polarmap_core::export::write_npy_f32(&r.path, &[rows, cols], &values, r.overwrite)?;
                    }
                    ExportKind::RegionsJson => {
                        polarmap_core::export::check_writable(&r.path, r.overwrite)?;
                        let text = serde_json::to_string_pretty(&regions_json)
                            .map_err(|e| polarmap_core::Error::invalid(e.to_string()))?;
                        std::fs::write(&r.path, text + "\n")
                            .map_err(|e| polarmap_core::Error::io(&r.path, e))?;
                    }
                }
                Ok(JobOutput::Exported(request.path.clone()))
            });
    }

    // ---- input ------------------------------------------------------------------------------

    fn handle_input(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .collect()
        });
        if let Some(path) = dropped.into_iter().next() {
            self.open(path);
        }
        if self.data.is_some() && !ctx.egui_wants_keyboard_input() {
            let (l, r, u, d) = ctx.input(|i| {
                (
                    i.key_pressed(egui::Key::ArrowLeft),
                    i.key_pressed(egui::Key::ArrowRight),
                    i.key_pressed(egui::Key::ArrowUp),
                    i.key_pressed(egui::Key::ArrowDown),
                )
            });
            let (dr, dc) = (d as isize - u as isize, r as isize - l as isize);
            if dr != 0 || dc != 0 {
                self.linked.step_selection(dr, dc);
            }
        }
    }

    /// The pixel the inspector shows: hovered (if following the pointer) or selected.
    pub fn inspected_pixel(&self) -> Option<[usize; 2]> {
        let hovered = self.linked.hovered.filter(|_| self.inspector.follow_hover);
        hovered.or(self.linked.selected)
    }

    fn request_pattern(&mut self) {
        let Some(d) = &self.data else { return };
        let Some(pixel) = self.inspected_pixel() else {
            return;
        };
        if self.requested_pattern != Some((d.generation, pixel)) {
            self.requested_pattern = Some((d.generation, pixel));
            self.patterns.request(d.generation, d.scan().clone(), pixel);
        }
    }

    // ---- layout ------------------------------------------------------------------------------

    fn menu_bar(&mut self, ui: &mut egui::Ui) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("Open file…").clicked() {
                    if let Some(p) = rfd::FileDialog::new()
                        .add_filter(
                            "4D-STEM scans",
                            &[
                                "npy", "mib", "hdr", "h5", "hdf5", "emd", "tif", "tiff", "blo",
                                "raw", "bin",
                            ],
                        )
                        .add_filter("all files", &["*"])
                        .pick_file()
                    {
                        self.open(p);
                    }
                }
                if ui.button("Open TIFF folder…").clicked() {
                    if let Some(p) = rfd::FileDialog::new().pick_folder() {
                        self.open(p);
                    }
                }
                if ui.button("Open path…").clicked() {
                    self.open_path.open = true;
                }
                if ui.button("Open demo scan").clicked() {
                    self.open(super::demo_path());
                }
                ui.menu_button("Recent", |ui| {
                    if self.settings.recent.is_empty() {
                        ui.label("(none)");
                    }
                    let mut chosen = None;
                    for p in &self.settings.recent {
                        if ui.button(p.display().to_string()).clicked() {
                            chosen = Some(p.clone());
                        }
                    }
                    if let Some(p) = chosen {
                        self.open(p);
                    }
                });
                ui.separator();
                let path = self.data.as_ref().map(|d| d.path.clone());
                if ui
                    .add_enabled(path.is_some(), egui::Button::new("Export…"))
                    .clicked()
                {
                    self.export.open_for(self.export.kind, path.as_deref());
                }
                ui.separator();
                if ui.button("Quit").clicked() {
                    ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
                }
            });
            ui.menu_button("Dataset", |ui| {
                let has = self.data.is_some();
                if ui
                    .add_enabled(has, egui::Button::new("Calibration…"))
                    .clicked()
                {
                    if let Some(d) = &self.data {
                        self.calibration.open_with(&d.calibration);
                    }
                }
                if ui
                    .add_enabled(has, egui::Button::new("Fit views"))
                    .clicked()
                {
                    let (r, c) = self.linked.dims;
                    self.linked.transform = image_view::ViewTransform::fit(r, c);
                }
            });
            ui.menu_button("Models", |ui| {
                let model = self.model_panel.selected.clone();
                if ui
                    .add_enabled(
                        self.data.is_some() && model.is_some(),
                        egui::Button::new("Run the selected model"),
                    )
                    .clicked()
                {
                    if let Some(m) = model {
                        self.run_model(m);
                    }
                }
                if ui.button("Train…").clicked() {
                    self.train.open = true;
                }
                if ui.button("Simulate…").clicked() {
                    self.simulate.open = true;
                }
            });
            ui.menu_button("Help", |ui| {
                if ui.button("About polarmap").clicked() {
                    self.about = true;
                }
            });
        });
    }

    fn error_banner(&mut self, ui: &mut egui::Ui) {
        let mut dismiss = None;
        for (i, e) in self.errors.iter().enumerate() {
            ui.horizontal(|ui| {
                ui.colored_label(ui.visuals().error_fg_color, format!("Error: {e}"));
                if ui.small_button("Dismiss").clicked() {
                    dismiss = Some(i);
                }
            });
        }
        if let Some(i) = dismiss {
            self.errors.remove(i);
        }
    }

    fn status_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            match &self.data {
                Some(d) => {
                    let [r, c, dr, dc] = d.scan().shape();
                    ui.label(format!(
                        "{} — {r}×{c} scan, {dr}×{dc} patterns, {} ({}), opened in {:.2} s",
                        file_name(&d.path),
                        d.scan().dtype().name(),
                        d.scan().format(),
                        d.open_seconds
                    ))
                    .on_hover_text(d.path.display().to_string());
                    ui.separator();
                    if ui
                        .link(calibration::summary(&d.calibration))
                        .on_hover_text("edit the calibration")
                        .clicked()
                    {
                        self.calibration.open_with(&d.calibration);
                    }
                }
                None => {
                    ui.label("no scan open — File > Open, or drop a file on the window");
                }
            }
            if let Some(p) = &self.opening {
                ui.separator();
                ui.label(format!("opening {}…", file_name(p)));
            }
            if let Some(bytes) = data::resident_memory() {
                ui.separator();
                ui.label(format!("memory {:.0} MB", bytes as f64 / 1e6));
            }
            let mut cancel = None;
            for job in self.jobs.running() {
                ui.separator();
                if super::views::job_progress(ui, job) {
                    cancel = Some(job.id);
                }
            }
            if let Some(id) = cancel {
                self.jobs.cancel(id);
            }
            if let Some(n) = &self.notice {
                ui.separator();
                ui.label(n);
            }
        });
    }

    fn side_panel(&mut self, ui: &mut egui::Ui) {
        egui::ScrollArea::vertical().show(ui, |ui| {
            let pixel = self.inspected_pixel();
            if let Some(d) = &self.data {
                let crop = d
                    .prediction
                    .as_ref()
                    .and_then(|p| p.input)
                    .map(|(g, size)| CropBox {
                        center: g.center,
                        side: size as f64 * g.scale,
                    });
                let r = self.inspector.ui(ui, d, pixel, crop);
                if let Some(g) = r.apply_geometry {
                    self.start_analysis(Some(g));
                }
            }
            ui.separator();
            egui::CollapsingHeader::new("Model")
                .default_open(true)
                .show(ui, |ui| {
                    let running = self
                        .jobs
                        .running()
                        .iter()
                        .find(|j| j.kind == JobKind::Predict);
                    let action = self.model_panel.ui(
                        ui,
                        &mut self.settings.device,
                        self.data.is_some(),
                        running,
                    );
                    match action {
                        Some(ModelAction::Run(path)) => self.run_model(path),
                        Some(ModelAction::Cancel(id)) => self.jobs.cancel(id),
                        None => {}
                    }
                });
            ui.separator();
            egui::CollapsingHeader::new("Regions")
                .default_open(true)
                .show(ui, |ui| match self.regions.ui(ui) {
                    Some(RegionAction::Remove(id)) => self.regions.entries.retain(|e| e.id != id),
                    Some(RegionAction::ClearAll) => self.regions.clear(),
                    Some(RegionAction::ZoomTo(id)) => {
                        if let Some(e) = self.regions.entries.iter().find(|e| e.id == id) {
                            let px = e.region.pixels(self.linked.dims);
                            if !px.is_empty() {
                                let n = px.len() as f64;
                                let (sr, sc) = px.iter().fold((0.0, 0.0), |(a, b), &(r, c)| {
                                    (a + r as f64, b + c as f64)
                                });
                                self.linked.zoom_to(sr / n, sc / n, 2.0);
                            }
                        }
                    }
                    None => {}
                });
            egui::CollapsingHeader::new("Candidate defects")
                .default_open(true)
                .show(ui, |ui| {
                    let has_map = self.data.as_ref().is_some_and(|d| d.classes().is_some());
                    if let Some(i) = self.defects.ui(ui, has_map) {
                        if let Some(d) = self.defects.found.get(i) {
                            let (r, c) = (d.center_row, d.center_col);
                            self.linked.zoom_to(r, c, 4.0);
                            self.linked.selected = Some([r.round() as usize, c.round() as usize]);
                        }
                    }
                });
        });
    }

    fn views(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.label("Tool:");
            for t in Tool::ALL {
                if ui
                    .selectable_label(self.linked.tool == t, t.name())
                    .clicked()
                {
                    self.linked.tool = t;
                    self.linked.drawing.clear();
                }
            }
            ui.separator();
            if ui
                .button("Fit")
                .on_hover_text("show the whole scan")
                .clicked()
            {
                let (r, c) = self.linked.dims;
                self.linked.transform = image_view::ViewTransform::fit(r, c);
            }
            ui.label("scroll: zoom, right-drag: pan, arrows: move selection");
        });
        let Some(d) = &self.data else {
            ui.centered_and_justified(|ui| {
                ui.label(match &self.opening {
                    Some(p) => format!("Opening {}…", p.display()),
                    None => "Open a scan: File > Open, or drop a file here.".into(),
                });
            });
            return;
        };
        let analysis = d.analysis.clone();
        let classes = d.classes().cloned();
        let mut shown = d.shown;
        let available = [d.prediction.is_some(), d.truth.is_some()];
        let view_height = (ui.available_height() - 230.0)
            .max(120.0)
            .min(ui.available_width() / 3.0);
        let regions = &self.regions.entries;
        let draw_regions = |painter: &egui::Painter, m: &image_view::Mapping| {
            for e in regions {
                image_view::draw_region(painter, m, &e.region, Color32::WHITE);
            }
        };
        let mut new_region = None;
        let linked = &mut self.linked;
        let settings = &mut self.settings;
        let (vv, cv, kv) = (
            &mut self.virtual_view,
            &mut self.com_view,
            &mut self.class_view,
        );
        let defects = &self.defects.found;
        ui.columns(3, |cols| {
            let r = vv.ui(
                &mut cols[0],
                &mut settings.virtual_kind,
                analysis.as_ref().map(|a| &a.maps),
                linked,
                view_height,
                draw_regions,
            );
            new_region = new_region.take().or(r.region);
            let fields = analysis.as_ref().map(|a| (&a.com_descan, &a.com_raw));
            let r = cv.ui(
                &mut cols[1],
                &mut settings.descan_removed,
                fields,
                linked,
                view_height,
                draw_regions,
            );
            new_region = new_region.take().or(r.region);
            let r = kv.ui(
                &mut cols[2],
                &mut settings.show_confidence,
                &mut settings.show_defects,
                (&mut shown, available),
                classes.as_deref(),
                defects,
                linked,
                view_height,
                draw_regions,
            );
            new_region = new_region.take().or(r.region);
        });
        if let Some(region) = new_region {
            self.add_region(region);
        }
        if self.data.as_ref().is_some_and(|d| d.shown != shown) {
            self.show_source(shown);
        }
    }

    fn dialogs(&mut self, ctx: &egui::Context) {
        let path = self.data.as_ref().map(|d| d.path.clone());
        let has_step = self
            .data
            .as_ref()
            .is_some_and(|d| d.calibration.scan_step_a.is_some());
        if let Some(request) = self.export.show(ctx, path.as_deref(), has_step) {
            self.start_export(request);
        }
        if let Some(c) = self.calibration.show(ctx) {
            if let Some(d) = &mut self.data {
                let rotation_changed = c.scan_rotation_deg != d.calibration.scan_rotation_deg
                    || c.scan_flip.unwrap_or(false) != d.calibration.scan_flip.unwrap_or(false);
                d.calibration = c;
                if rotation_changed {
                    self.start_analysis(None);
                }
            }
        }
        if let Some(p) = self.open_path.show(ctx) {
            self.open(p);
        }
        let running = |kind| self.jobs.running().iter().find(|j| j.kind == kind);
        let open_scan = self.data.as_ref().map(|d| d.path.clone());
        let action = self.train.show(
            ctx,
            self.settings.device,
            open_scan.as_deref(),
            running(JobKind::Train),
        );
        match action {
            Some(TrainAction::Start(request)) => {
                let label = format!("training {}", file_name(&request.out));
                self.jobs
                    .spawn(JobKind::Train, label, self.generation, move |p, sender| {
                        let (path, test_accuracy) =
                            super::dialogs::train::run(&request, p, &mut |m| {
                                sender.send(JobOutput::Epoch(*m))
                            })?;
                        Ok(JobOutput::Trained {
                            path,
                            test_accuracy,
                        })
                    });
            }
            Some(TrainAction::Cancel(id)) => self.jobs.cancel(id),
            Some(TrainAction::UseModel(path)) => self.run_model(path),
            None => {}
        }
        let running = self
            .jobs
            .running()
            .iter()
            .find(|j| j.kind == JobKind::Simulate);
        match self.simulate.show(ctx, running) {
            Some(SimulateAction::Start(r)) => {
                let label = format!("simulating {}", r.preset);
                self.jobs
                    .spawn(JobKind::Simulate, label, self.generation, move |p, _| {
                        let paths = polarmap_sim::job::run_preset(
                            &r.preset,
                            &r.dir,
                            false,
                            r.overwrite,
                            p,
                            |_, _, _, _| {},
                        )?;
                        Ok(JobOutput::Simulated(paths))
                    });
            }
            Some(SimulateAction::Cancel(id)) => self.jobs.cancel(id),
            None => {}
        }
        if self.about {
            egui::Window::new("About polarmap")
                .open(&mut self.about)
                .collapsible(false)
                .show(ctx, |ui| {
                    ui.label(format!("polarmap {}", env!("CARGO_PKG_VERSION")));
                    ui.label("Polarization maps of ferroelectrics from 4D-STEM data.");
                    ui.label("Conventions: scan [row, col, det_row, det_col]; x right, y up; angles counter-clockwise.");
                });
        }
    }
}

impl eframe::App for PolarmapApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        self.poll_jobs();
        self.handle_input(&ctx);
        self.maybe_start_defects();

        egui::Panel::top("menu").show(ui, |ui| {
            self.menu_bar(ui);
            if !self.errors.is_empty() {
                self.error_banner(ui);
            }
        });
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar(ui));
        egui::Panel::right("side")
            .default_size(380.0)
            .resizable(true)
            .show(ui, |ui| self.side_panel(ui));
        egui::CentralPanel::default().show(ui, |ui| self.views(ui));
        self.dialogs(&ctx);
        self.request_pattern();

        if !self.jobs.is_idle() {
            ctx.request_repaint_after(POLL_INTERVAL);
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        if self.persist {
            eframe::set_value(storage, eframe::APP_KEY, &self.settings);
        }
    }

    fn on_exit(&mut self) {
        self.jobs.cancel_all();
    }
}
