//! Routing of the tasks' typed answers to the state, the views and the dialogs.

use super::PolarmapApp;
use crate::gui::data::ClassSource;
use crate::gui::tasks::{self, Event};
use crate::gui::views::regions::AdaptedModel;
use polarmap_core::models;

impl PolarmapApp {
    /// Routes the tasks' answers: to the state, the views, the dialogs.
    pub(super) fn poll(&mut self) {
        for answer in self.tasks.open.poll() {
            match answer.event {
                Event::Done(opened) => {
                    let shown = self.views.classes.preferred;
                    if self
                        .state
                        .install(answer.job, answer.generation, opened, shown)
                    {
                        self.installed();
                    }
                }
                Event::Failed(e) => self.state.open_ended(answer.job, Some(e)),
                Event::Cancelled => self.state.open_ended(answer.job, None),
                Event::Partial(_) => {}
            }
        }
        for event in self.state.accept(self.tasks.analyse.poll(), true) {
            if let Event::Done(result) = event {
                self.state.set_analysis(result);
                self.views.inspector.edit = None;
                self.refresh_regions();
            }
        }
        for event in self.state.accept(self.tasks.detector.poll(), true) {
            if let (Event::Done(image), Some(d)) = (event, &mut self.state.data) {
                d.custom = Some(std::sync::Arc::new(image));
            }
        }
        for event in self.state.accept(self.tasks.labels.poll(), true) {
            if let Event::Done(Some(truth)) = event {
                self.classes_arrived(truth);
            }
        }
        let answers = self.tasks.predict.poll();
        // A run of the model on screen that ended early leaves a partial map: say how it ended
        // and redo the regions' statistics over what it filled in.
        let current = self.state.current();
        let stopped = answers.iter().rev().find_map(|a| match a.event {
            _ if Some(a.generation) != current => None,
            Event::Cancelled => Some("cancelled"),
            Event::Failed(_) => Some("failed"),
            _ => None,
        });
        for event in self.state.accept(answers, true) {
            if let Event::Partial(map) | Event::Done(map) = event {
                self.classes_arrived(map);
            }
        }
        if let (Some(how), Some(d)) = (stopped, &mut self.state.data) {
            d.prediction_stopped = Some(how);
            self.refresh_regions();
        }
        for event in self.state.accept(self.tasks.adapt.poll(), true) {
            match event {
                Event::Partial(map) => self.classes_arrived(map),
                Event::Done(adapted) => {
                    self.state
                        .notify(format!("adapted: {}", adapted.map.source));
                    self.state.regions.adapted = Some(AdaptedModel {
                        model: adapted.model,
                        base: adapted.base,
                    });
                    self.classes_arrived(adapted.map);
                }
                _ => {}
            }
        }
        for event in self.state.accept(self.tasks.regions.poll(), true) {
            if let Event::Done(stats) = event {
                self.state.set_region_stats(stats);
            }
        }
        for event in self.state.accept(self.tasks.defects.poll(), true) {
            if let Event::Done(found) = event {
                self.state.defects.found = found;
            }
        }
        for event in self.state.accept(self.tasks.export.poll(), false) {
            if let Event::Done(path) = event {
                self.state.notify(format!("wrote {}", path.display()));
                if path
                    .extension()
                    .is_some_and(|e| e == models::file::EXTENSION)
                {
                    // A saved adapted model: listed with the others.
                    self.views.model.add(path);
                }
            }
        }
        for event in self.state.accept(self.tasks.train.poll(), false) {
            match event {
                Event::Partial(epoch) => self.dialogs.train.history.push(epoch),
                Event::Done(t) => {
                    let accuracy = 100.0 * t.test_accuracy;
                    let path = t.path.display();
                    self.state.notify(format!(
                        "trained {path}: test-split accuracy {accuracy:.1} %"
                    ));
                    self.views.model.add(t.path.clone());
                    self.dialogs.train.finished = Some((t.path, t.test_accuracy));
                }
                _ => {}
            }
        }
        for event in self.state.accept(self.tasks.simulate.poll(), false) {
            if let Event::Done(paths) = event {
                self.state
                    .notify(format!("simulated {} scan(s)", paths.len()));
                paths
                    .iter()
                    .for_each(|p| self.dialogs.train.add_scan(p.clone()));
                if let Some(first) = paths.first() {
                    self.open(first.clone());
                }
            }
        }
        if let Some(answer) = self.tasks.patterns.poll() {
            if Some(answer.generation) == self.state.current() {
                let inspector = &mut self.views.inspector;
                inspector.set_pattern(answer.generation, answer.pixel, answer.images);
            }
        }
    }

    /// A new dataset is on screen: its pass, labels and the selected model start at once.
    fn installed(&mut self) {
        let warnings = self
            .state
            .data
            .as_ref()
            .map(|d| d.scan().warnings().to_vec());
        for w in warnings.unwrap_or_default() {
            self.state.warn(w);
        }
        if let Some(scan) = self.state.data.as_ref().map(|d| d.scan().clone()) {
            let [rows, cols] = scan.scan_shape();
            let frames = rows * cols;
            if !scan.shape_given() && frames > 1 {
                self.dialogs
                    .scan_shape
                    .ask(scan.path().to_path_buf(), frames);
            }
        }
        self.views.inspector.reset();
        self.requested_pattern = None;
        self.tasks.cancel_dataset();
        self.start_analysis();
        if let Some(d) = &self.state.data {
            tasks::classes::start_labels(&mut self.tasks.labels, d);
        }
        self.start_prediction();
    }

    fn classes_arrived(&mut self, source: ClassSource) {
        let change = self.state.set_classes(source);
        if change.model_worked {
            // Remembered for the next start only once it has worked.
            self.state.settings.model = self.views.model.selected.clone();
        }
        if change.map_changed {
            self.map_changed();
        }
    }

    /// The complete class map on screen was replaced: its defects and region statistics are
    /// redone.
    pub(super) fn map_changed(&mut self) {
        self.tasks.defects.cancel_all();
        self.refresh_regions();
    }
}
