//! Patterns per second through a model alone (no reading, no preprocessing): random inputs of
//! the model's size, in batches, on the chosen device.
//!
//! cargo run --release --example net_throughput -- models/conv-cls.pmm [--batch 128] [--batches 40] [--device cpu]

use anyhow::{Context, Result};
use ndarray::Array2;
use polarmap_core::models::{self, DeviceChoice};
use std::path::PathBuf;
use std::time::Instant;

// The allocator of the `polarmap` binary, so the example measures what the binary runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let mut model: Option<PathBuf> = None;
    let (mut batch, mut batches, mut device) = (128usize, 40usize, DeviceChoice::Cpu);
    while let Some(arg) = args.next() {
        let mut value = || args.next().context("a flag needs a value");
        match arg.as_str() {
            "--batch" => batch = value()?.parse()?,
            "--batches" => batches = value()?.parse()?,
            "--device" => {
                let name = value()?;
                device = DeviceChoice::ALL
                    .into_iter()
                    .find(|d| d.name() == name)
                    .with_context(|| format!("--device takes auto, gpu or cpu, not {name}"))?;
            }
            _ => model = Some(PathBuf::from(arg)),
        }
    }
    let model = model.context("usage: net_throughput MODEL.pmm [--batch N] [--batches N]")?;
    let classifier = models::load(&model, device)?;
    let len = classifier.input().len();
    // A fixed pseudo-random input in [0, 1] (min-max normalised patterns lie there).
    let inputs = Array2::from_shape_fn((batch, len), |(i, j)| {
        ((i * 7919 + j * 104729) % 1000) as f32 / 1000.0
    });
    classifier.predict(inputs.view())?; // warm-up
    let start = Instant::now();
    for _ in 0..batches {
        classifier.predict(inputs.view())?;
    }
    let seconds = start.elapsed().as_secs_f64();
    let patterns = (batch * batches) as f64;
    // A symmetrised network classifies a pattern by 8 passes (models::symmetry).
    let passes = match classifier
        .as_any()
        .downcast_ref::<models::nets::NetClassifier>()
    {
        Some(net) if net.symmetrised() => models::symmetry::Symmetry::all().len() as f64,
        _ => 1.0,
    };
    println!(
        "{}: {} patterns of {len} values in {seconds:.2} s = {:.0} patterns/s, {:.0} network \
         passes/s ({})",
        classifier.display_name(),
        patterns,
        patterns / seconds,
        passes * patterns / seconds,
        device.resolved_name()
    );
    Ok(())
}
