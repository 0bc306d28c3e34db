//! The app: layout and routing only. Menu bar on top, status bar at the bottom, the drawing
//! tools and the panes (`layout`: the three linked views, inspector, regions, region table,
//! model, defects, log) in between, dialogs over them, errors and warnings as toasts. Views, menus and dialogs return [`Request`]s, which are routed here to a task
//! (`tasks/`) or a state change (`state.rs`); task answers are routed back the same way.

mod answers;
mod requests;

use super::dialogs::{DialogContext, Dialogs};
use super::layout::Layout;
use super::request::Request;
use super::state::{AppState, Level, Opening, Settings};
use super::tasks::{self, Tasks, POLL_INTERVAL};
use super::views::{ViewContext, Views};
use super::{input, menus, status};
use eframe::egui;
use egui_notify::ToastLevel;
use polarmap_core::models;
use std::path::PathBuf;

/// Where the views' toggles are stored (the app's settings are under `eframe::APP_KEY`).
const VIEWS_KEY: &str = "views";
/// Where the export dialog's settings and last folder are stored.
const EXPORT_KEY: &str = "export";
/// Where the arrangement of the panes is stored.
const LAYOUT_KEY: &str = "layout";
/// Toasts longer than this are cut (the Log pane has the whole message).
const TOAST_CHARS: usize = 160;

/// How the app starts.
#[derive(Debug, Clone, Default)]
pub struct Startup {
    /// The scan to open at once (the demo when launched without one).
    pub path: Option<PathBuf>,
    /// Keep settings, recent files and the views' toggles between runs (off in tests).
    pub persist: bool,
}

pub struct PolarmapApp {
    pub state: AppState,
    pub views: Views,
    /// The panes' arrangement.
    pub layout: Layout,
    pub dialogs: Dialogs,
    tasks: Tasks,
    toasts: egui_notify::Toasts,
    /// The last log message shown as a toast.
    toasted: u64,
    persist: bool,
    /// The pattern last asked of the loader: dataset generation, pixel.
    requested_pattern: Option<(u64, [usize; 2])>,
}

impl PolarmapApp {
    pub fn new(cc: &eframe::CreationContext<'_>, startup: Startup) -> PolarmapApp {
        let storage = if startup.persist { cc.storage } else { None };
        PolarmapApp::with_storage(cc, startup, storage)
    }

    /// Starts with the settings and toggles that [`PolarmapApp::save_to`] wrote to `storage`.
    pub fn with_storage(
        cc: &eframe::CreationContext<'_>,
        startup: Startup,
        storage: Option<&dyn eframe::Storage>,
    ) -> PolarmapApp {
        let settings: Option<Settings> =
            storage.and_then(|s| eframe::get_value(s, eframe::APP_KEY));
        let views = storage.and_then(|s| eframe::get_value(s, VIEWS_KEY));
        let layout = storage.and_then(|s| eframe::get_value(s, LAYOUT_KEY));
        let mut dialogs = Dialogs::default();
        if let Some(export) = storage.and_then(|s| eframe::get_value(s, EXPORT_KEY)) {
            dialogs.export.settings = export;
        }
        let mut app = PolarmapApp {
            state: AppState::new(settings.unwrap_or_default()),
            views: views.unwrap_or_default(),
            layout: layout.unwrap_or_default(),
            dialogs,
            tasks: Tasks::new(Some(cc.egui_ctx.clone())),
            toasts: egui_notify::Toasts::default(),
            toasted: 0,
            persist: startup.persist,
            requested_pattern: None,
        };
        app.views
            .model
            .set_shipped(models::list_models(&models::shipped_dir()));
        let default = models::shipped_dir().join(models::DEFAULT_MODEL);
        let model = app.state.settings.model.clone().filter(|p| p.exists());
        app.views.model.select(model.unwrap_or(default));
        if let Some(path) = startup.path {
            app.open(path);
        }
        app
    }

    /// Writes the settings and every view's toggles to `storage`.
    pub fn save_to(&self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.state.settings);
        eframe::set_value(storage, VIEWS_KEY, &self.views);
        eframe::set_value(storage, EXPORT_KEY, &self.dialogs.export.settings);
        eframe::set_value(storage, LAYOUT_KEY, &self.layout);
    }

    /// Shows each error and warning not yet shown as a toast (the Log pane keeps them all).
    fn toast_new_messages(&mut self) {
        for entry in self.state.log.iter().filter(|e| e.id > self.toasted) {
            let mut text: String = entry.message.chars().take(TOAST_CHARS).collect();
            if text.len() < entry.message.len() {
                text.push_str("… (see the Log)");
            }
            // Icons in the default fonts (egui-notify's own are not in them).
            let level = match entry.level {
                Level::Error => {
                    ToastLevel::Custom("!".into(), egui::Color32::from_rgb(230, 80, 70))
                }
                Level::Warning => {
                    ToastLevel::Custom("!".into(), egui::Color32::from_rgb(230, 180, 60))
                }
                Level::Info => continue,
            };
            self.toasts
                .add(egui_notify::Toast::custom(text, level))
                .duration(Some(std::time::Duration::from_secs(8)))
                .closable(false);
        }
        self.toasted = self.state.log.last().map_or(self.toasted, |e| e.id);
    }

    /// True while any background task runs (tests wait on it).
    pub fn is_busy(&self) -> bool {
        !self.tasks.is_idle()
            || self
                .requested_pattern
                .is_some_and(|(_, p)| self.views.inspector.shown_pixel() != Some(p))
    }

    /// Starts opening `path`; the dataset on screen stays until the new one has opened.
    pub fn open(&mut self, path: PathBuf) {
        self.open_with(path, Default::default());
    }

    /// [`Self::open`] with options (the scan shape the user gave for a file without one).
    pub fn open_with(&mut self, path: PathBuf, options: polarmap_core::scan::OpenOptions) {
        let generation = self.state.next_generation();
        let job = tasks::open::start_with(&mut self.tasks.open, path.clone(), options, generation);
        self.state.opening = Some(Opening { job, path });
    }

    /// Runs `model` over the open scan (the class map fills in batch by batch); it becomes the
    /// selected model, run on every scan opened next (and, once it has worked, at next start).
    pub fn run_model(&mut self, model: PathBuf) {
        self.views.model.select(model);
        self.start_prediction();
    }

    /// Runs the pattern pass again (the responsiveness example uses it as background load).
    pub fn rerun_pass(&mut self) {
        self.start_analysis();
    }
}

impl eframe::App for PolarmapApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        self.poll();
        let mut requests: Vec<Request> = input::read(&ctx, &mut self.state).into_iter().collect();
        self.maybe_start_defects();

        egui::Panel::top("menu").show(ui, |ui| {
            requests.extend(menus::menu_bar(
                ui,
                &mut self.state,
                &mut self.dialogs,
                &self.views,
                &mut self.layout,
            ));
        });
        egui::Panel::bottom("status").show(ui, |ui| {
            let dialog = &mut self.dialogs.calibration;
            requests.extend(status::status_bar(ui, &self.state, &self.tasks, dialog));
        });
        egui::CentralPanel::default().show(ui, |ui| {
            if let Some(d) = &self.state.data {
                let calibration = d.calibration();
                let units = &mut self.views.scan_axes;
                super::views::tool_bar(ui, &mut self.state.linked, units, calibration);
            }
            let mut vc = ViewContext::new(&mut self.state, &self.tasks);
            if self.views.domains.show_walls {
                vc.walls = vc
                    .data
                    .and_then(|d| d.classes())
                    .and_then(|c| c.domains.as_deref());
            }
            self.layout.ui(ui, &mut self.views, &mut vc);
            requests.append(&mut vc.requests);
        });
        let dc = DialogContext {
            data: self.state.data.as_ref(),
            device: self.views.model.device,
            train_job: self.tasks.train.running().first(),
            simulate_job: self.tasks.simulate.running().first(),
        };
        requests.extend(self.dialogs.show(&ctx, dc));

        for request in requests {
            self.handle(request);
        }
        self.request_pattern();
        self.toast_new_messages();
        self.toasts.show(&ctx);
        if !self.tasks.is_idle() {
            ctx.request_repaint_after(POLL_INTERVAL);
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        if self.persist {
            self.save_to(storage);
        }
    }

    fn on_exit(&mut self) {
        self.tasks.cancel_all();
    }
}
