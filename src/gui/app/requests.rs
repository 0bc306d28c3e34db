//! Routing of requests (from views, menus, dialogs, input) to tasks and state changes, and the
//! task starts they lead to.

use super::PolarmapApp;
use crate::gui::dialogs::export::ExportRequest;
use crate::gui::request::Request;
use crate::gui::tasks;
use polarmap_core::models::card::ModelCard;
use std::path::PathBuf;

impl PolarmapApp {
    pub(super) fn handle(&mut self, request: Request) {
        match request {
            Request::Open(path) => self.open(path),
            Request::OpenWithShape(path, shape) => {
                let options = polarmap_core::scan::OpenOptions {
                    scan_shape: Some(shape),
                    ..Default::default()
                };
                self.open_with(path, options);
            }
            Request::RunModel(path) => self.run_model(path),
            Request::Cancel(id) => {
                let fills_map = [self.tasks.predict.running(), self.tasks.adapt.running()]
                    .iter()
                    .any(|jobs| jobs.iter().any(|j| j.id == id));
                self.tasks.cancel(id);
                // Its later answers are dropped: the map on screen stays partial, and the
                // regions' statistics are redone over what it filled in.
                if let (true, Some(d)) = (fills_map, &mut self.state.data) {
                    d.prediction_stopped = Some("cancelled");
                    self.refresh_regions();
                }
            }
            Request::ShowSource(kind) => {
                if self.state.show_source(kind) {
                    self.map_changed();
                }
            }
            Request::AddRegion(region) => {
                let id = self
                    .state
                    .regions
                    .add(region.clone(), self.state.linked.dims);
                // Its numbers are shown at once, whatever pane was in front.
                self.layout.show(crate::gui::layout::Pane::RegionTable);
                if let Some(d) = &self.state.data {
                    tasks::maps::start_region(&mut self.tasks.regions, d, id, region);
                }
            }
            Request::ClearLog => self.state.log.clear(),
            Request::ExportRegions(path, overwrite) => self.export_regions(path, overwrite),
            Request::RemoveRegion(id) => self.state.regions.remove(id),
            Request::ClearRegions => self.state.regions.clear(),
            Request::LabelRegion(id, label) => {
                if let Some(entry) = self.state.regions.get_mut(id) {
                    entry.label = label;
                }
            }
            Request::AdaptModel => self.start_adaptation(),
            Request::SaveAdapted(path, overwrite) => self.save_adapted(path, overwrite),
            Request::ApplyGeometry(geometry) => {
                if let Some(d) = &mut self.state.data {
                    d.geometry = geometry;
                }
                self.start_analysis();
            }
            Request::RerunAnalysis => self.start_analysis(),
            Request::ComputeDetector(detector, label) => {
                if let Some(d) = &self.state.data {
                    tasks::virtual_detector::start(&mut self.tasks.detector, d, detector, label);
                    self.views.virtual_image.kind =
                        crate::gui::views::virtual_image::VirtualKind::Custom;
                    self.layout.show(crate::gui::layout::Pane::VirtualImage);
                }
            }
            Request::SaveCalibration(c, replace) => {
                self.handle(Request::SetCalibration(c));
                self.save_calibration(c, replace);
            }
            Request::SetCalibration(c) => {
                let change = self.state.set_calibration(c);
                if change.rotation {
                    self.start_analysis();
                }
                // The model's map is re-made with the new input scale or crop; until it is, the
                // class view marks it stale.
                let shows_model = self
                    .state
                    .data
                    .as_ref()
                    .is_some_and(|d| d.prediction.is_some());
                if change.model_input && shows_model {
                    self.start_prediction();
                }
            }
            Request::RerunModel => self.start_prediction(),
            Request::Export(request) => self.start_export(request),
            Request::ExportDomains(file, path, overwrite) => match &self.state.data {
                Some(d) => {
                    tasks::export::start_domains(&mut self.tasks.export, d, file, path, overwrite)
                }
                None => self
                    .state
                    .error("nothing to export: no scan is open".into()),
            },
            Request::Train(r) => {
                tasks::train::start(&mut self.tasks.train, *r, self.state.generation)
            }
            Request::Simulate(r) => {
                tasks::simulate::start(&mut self.tasks.simulate, r, self.state.generation)
            }
        }
    }

    pub(super) fn start_analysis(&mut self) {
        if let Some(d) = &self.state.data {
            tasks::analyse::start(&mut self.tasks.analyse, d);
        }
    }

    pub(super) fn start_prediction(&mut self) {
        let (Some(d), Some(model)) = (&self.state.data, self.views.model.selected.clone()) else {
            return;
        };
        let device = self.views.model.device;
        tasks::classes::start_prediction(&mut self.tasks.predict, d, model, device);
        if let Some(d) = &mut self.state.data {
            d.prediction_stopped = None;
        }
    }

    /// Adapts the selected model to the labelled regions; its map replaces the one on screen.
    fn start_adaptation(&mut self) {
        let (Some(d), Some(model)) = (&self.state.data, self.views.model.selected.clone()) else {
            self.state
                .error("adapting needs an open scan and a selected model".into());
            return;
        };
        match self.state.regions.labels().pixels(d.scan().scan_shape()) {
            Ok(labels) => {
                self.tasks.predict.cancel_all();
                let device = self.views.model.device;
                tasks::adapt::start(&mut self.tasks.adapt, d, model, device, labels);
            }
            Err(e) => self.state.error(format!("cannot adapt the model: {e}")),
        }
    }

    /// Writes the calibration into the open scan's sidecar (on the export worker).
    fn save_calibration(&mut self, calibration: polarmap_core::Calibration, replace: bool) {
        let Some(d) = &self.state.data else { return };
        let scan = d.path.clone();
        let label = format!("saving the calibration of {}", crate::gui::file_name(&scan));
        self.tasks
            .export
            .spawn_alongside(label, d.generation, move |_, _| {
                let saved =
                    polarmap_core::scan::Sidecar::save_calibration(&scan, &calibration, replace)?;
                Ok(saved.path)
            });
    }

    /// Writes the region table as CSV (on the export worker: files are its business).
    fn export_regions(&mut self, path: PathBuf, overwrite: bool) {
        let rows = crate::gui::views::regions::Regions::rows(&self.state.regions.entries);
        let generation = self.state.current().unwrap_or(0);
        let label = format!("writing {}", crate::gui::file_name(&path));
        self.tasks
            .export
            .spawn_alongside(label, generation, move |_, _| {
                polarmap_core::region_table::write_csv(&path, &rows, overwrite)?;
                Ok(path)
            });
    }

    /// Writes the adapted model and its card (on the export worker: files are its business).
    fn save_adapted(&mut self, path: PathBuf, overwrite: bool) {
        let Some(adapted) = self.state.regions.adapted.clone() else {
            return;
        };
        let scan = self
            .state
            .data
            .as_ref()
            .map(|d| d.path.display().to_string());
        let label = format!("saving {}", crate::gui::file_name(&path));
        self.tasks
            .export
            .spawn(label, self.state.generation, move |progress, _| {
                progress.start("writing the adapted model", 1);
                let card_path = ModelCard::path_for(&path);
                polarmap_core::export::check_writable(&card_path, overwrite)?;
                tasks::create_parent(&path)?;
                adapted.model.save(&path, overwrite)?;
                let command = format!(
                    "adapted in the polarmap app (Regions ▸ Adapt model) from {} on {}",
                    adapted.base.display(),
                    scan.as_deref().unwrap_or("?")
                );
                ModelCard::from_header(adapted.model.header(), command)
                    .write(&card_path, overwrite)?;
                Ok(path)
            });
    }

    pub(super) fn refresh_regions(&mut self) {
        let Some(d) = &self.state.data else { return };
        for e in &self.state.regions.entries {
            tasks::maps::start_region(&mut self.tasks.regions, d, e.id, e.region.clone());
        }
    }

    /// Searches the class map on screen for defects whenever it or the settings changed.
    pub(super) fn maybe_start_defects(&mut self) {
        let search = self.views.defects.effective_search();
        let Some(d) = &self.state.data else { return };
        if self.state.defects.started == Some(search) || self.tasks.defects.is_running() {
            return;
        }
        if tasks::maps::start_defects(&mut self.tasks.defects, d, search) {
            self.state.defects.started = Some(search);
        }
    }

    fn start_export(&mut self, request: ExportRequest) {
        let Some(d) = &self.state.data else {
            self.state
                .error("nothing to export: no scan is open".into());
            return;
        };
        let shown = tasks::export::Shown {
            virtual_kind: self.views.virtual_image.kind,
            descan_removed: self.views.com.descan_removed,
            regions: &self.state.regions.entries,
            defects: &self.state.defects.found,
        };
        tasks::export::start(&mut self.tasks.export, request, d, shown);
    }

    /// Asks the loader for the inspected pixel's pattern, once per pixel.
    pub(super) fn request_pattern(&mut self) {
        let Some(d) = &self.state.data else { return };
        let Some(pixel) = self.views.inspector.pixel(&self.state.linked) else {
            return;
        };
        if self.requested_pattern != Some((d.generation, pixel)) {
            self.requested_pattern = Some((d.generation, pixel));
            self.tasks
                .patterns
                .request(d.generation, d.scan().clone(), pixel);
        }
    }
}
