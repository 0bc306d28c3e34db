//! Single diffraction patterns for the inspector, read and rendered (log and linear) on one
//! worker thread. Only the newest request is served, so hovering over a slow (compressed) file
//! never queues up reads.

use crate::gui::render;
use eframe::egui::{self, ColorImage};
use polarmap_core::scan::Scan;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;

/// A pattern rendered both ways, so that the log toggle needs no new read.
pub struct PatternImages {
    pub log: Arc<ColorImage>,
    pub linear: Arc<ColorImage>,
}

/// The loader's answer.
pub struct PatternAnswer {
    pub generation: u64,
    pub pixel: [usize; 2],
    pub images: Result<PatternImages, String>,
}

struct PatternRequest {
    generation: u64,
    scan: Arc<Scan>,
    pixel: [usize; 2],
}

pub struct PatternLoader {
    requests: Sender<PatternRequest>,
    answers: Receiver<PatternAnswer>,
}

impl PatternLoader {
    pub fn new(ctx: Option<egui::Context>) -> PatternLoader {
        let (req_tx, req_rx) = mpsc::channel::<PatternRequest>();
        let (ans_tx, ans_rx) = mpsc::channel();
        let _ = std::thread::Builder::new()
            .name("polarmap patterns".into())
            .spawn(move || {
                while let Ok(mut request) = req_rx.recv() {
                    while let Ok(newer) = req_rx.try_recv() {
                        request = newer;
                    }
                    let [row, col] = request.pixel;
                    let [rows, cols] = request.scan.frame_shape();
                    let images = std::panic::catch_unwind(std::panic::AssertUnwindSafe(
                        || -> Result<PatternImages, String> {
                            let frame = request
                                .scan
                                .frame_f32(row, col)
                                .map_err(|e| e.to_string())?;
                            Ok(PatternImages {
                                log: render::pattern(&frame, rows, cols, true),
                                linear: render::pattern(&frame, rows, cols, false),
                            })
                        },
                    ))
                    .unwrap_or_else(|_| Err("internal error reading the pattern".to_string()));
                    let answer = PatternAnswer {
                        generation: request.generation,
                        pixel: request.pixel,
                        images,
                    };
                    if ans_tx.send(answer).is_err() {
                        break;
                    }
                    if let Some(ctx) = &ctx {
                        ctx.request_repaint();
                    }
                }
            });
        PatternLoader {
            requests: req_tx,
            answers: ans_rx,
        }
    }

    pub fn request(&self, generation: u64, scan: Arc<Scan>, pixel: [usize; 2]) {
        let _ = self.requests.send(PatternRequest {
            generation,
            scan,
            pixel,
        });
    }

    /// The newest answer since the last call.
    pub fn poll(&self) -> Option<PatternAnswer> {
        let mut last = None;
        while let Ok(answer) = self.answers.try_recv() {
            last = Some(answer);
        }
        last
    }
}
