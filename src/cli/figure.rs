//! `polarmap figure`: a figure for a paper (one view or the composite), through
//! `polarmap_core::figure`.

use super::{with_progress_bar, OpenArgs};
use anyhow::{Context, Result};
use clap::Args;
use polarmap_core::export;
use polarmap_core::figure::{Figure, FigureData, FigureOptions, Format, View};
use polarmap_core::maps::{self, DefectSearch};
use polarmap_core::models::{self, DeviceChoice};
use polarmap_core::progress::Progress;
use polarmap_core::session::{DescanChoice, RotationChoice};
use std::path::PathBuf;

/// The virtual image of a figure.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Image {
    Adf,
    Bf,
    Sum,
}

impl Image {
    const ALL: [Image; 3] = [Image::Adf, Image::Bf, Image::Sum];

    fn name(self) -> &'static str {
        match self {
            Image::Adf => "adf",
            Image::Bf => "bf",
            Image::Sum => "sum",
        }
    }
}

#[derive(Args)]
pub struct FigureArgs {
    pub path: PathBuf,
    #[command(flatten)]
    pub open: OpenArgs,
    /// The figure file (.png, .svg or .pdf).
    #[arg(long, short)]
    pub out: PathBuf,
    /// What it shows: the composite (virtual image | CoM field | class map) or one view.
    #[arg(long, default_value = "composite", value_parser = super::choice(&View::ALL, View::name))]
    pub view: View,
    /// File format; default: from the extension of --out.
    #[arg(long, value_parser = super::choice(&Format::ALL, Format::name))]
    pub format: Option<Format>,
    /// Resolution of the PNG (written into the file); the SVG and PDF have the same size in mm.
    #[arg(long, default_value_t = 300.0)]
    pub dpi: f64,
    /// Figure width in mm (default: 180 for the composite, 85 for one view).
    #[arg(long)]
    pub width_mm: Option<f64>,
    /// A title above the panels.
    #[arg(long)]
    pub title: Option<String>,
    /// The virtual image.
    #[arg(long, default_value = "adf", value_parser = super::choice(&Image::ALL, Image::name))]
    pub image: Image,
    /// Model for the class map; default: the shipped default model.
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[arg(long, default_value = "auto", value_parser = super::choice(&DeviceChoice::ALL, DeviceChoice::name))]
    pub device: DeviceChoice,
    /// Outline the regions of this file (the app's regions export or a region-labels file).
    #[arg(long, value_name = "FILE.json")]
    pub regions: Option<PathBuf>,
    /// Circle the candidate defects of the class map (maps::find_defects, default search).
    #[arg(long)]
    pub defects: bool,
    /// Leave out the legends.
    #[arg(long)]
    pub no_legend: bool,
    /// Leave out the scale bar.
    #[arg(long)]
    pub no_scale_bar: bool,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub overwrite: bool,
}

pub fn figure(args: FigureArgs, progress: &Progress) -> Result<()> {
    let format = match args.format {
        Some(f) => f,
        None => Format::from_path(&args.out).with_context(|| {
            format!(
                "{}: give --format png|svg or a .png/.svg file name",
                args.out.display()
            )
        })?,
    };
    export::check_writable(&args.out, args.overwrite)?;
    let options = FigureOptions {
        view: args.view,
        dpi: args.dpi,
        width_mm: args.width_mm,
        title: args.title.clone(),
        legend: !args.no_legend,
        scale_bar: !args.no_scale_bar,
        regions: args.regions.is_some(),
        defects: args.defects,
    };
    let regions = match &args.regions {
        Some(path) => maps::read_regions(path)?,
        None => Vec::new(),
    };
    let panels = args.view.panels();
    let session = args.open.session(&args.path, progress)?;
    let needs_pass = panels.contains(&View::Virtual) || panels.contains(&View::Com);
    let pass = if needs_pass {
        let maps = with_progress_bar(progress, || {
            session.features(&session.default_detectors(), progress)
        })?;
        let com = session.com(
            &maps,
            DescanChoice::Plane,
            RotationChoice::Calibration,
            progress,
        )?;
        Some((maps, com.field))
    } else {
        None
    };
    let classes = if panels.contains(&View::Classes) || args.defects {
        let file = super::models::model_path(args.model.as_deref())?;
        let model = models::load(&file, args.device)?;
        let evaluation = with_progress_bar(progress, || {
            session.evaluate(model.as_ref(), progress, |_, _| {})
        })?;
        Some((model.display_name(), evaluation.class_map()))
    } else {
        None
    };
    let defects = match (&classes, args.defects) {
        (Some((_, map)), true) => maps::find_defects(map, &DefectSearch::default()),
        _ => Vec::new(),
    };
    let data = FigureData {
        virtual_image: pass.as_ref().map(|(m, _)| {
            let values = match args.image {
                Image::Adf => &m.adf,
                Image::Bf => &m.bf,
                Image::Sum => &m.sum,
            };
            (image_label(args.image), values)
        }),
        com: pass.as_ref().map(|(_, field)| field),
        classes: classes.as_ref().map(|(name, map)| (name.as_str(), map)),
        scan_step_a: session.scan().calibration.scan_step_a,
        regions: &regions,
        defects: &defects,
    };
    let figure = Figure::new(&data, &options)?;
    figure.write(&args.out, format, args.overwrite)?;
    let [w_mm, h_mm] = figure.drawing.size_mm();
    println!(
        "{}: {} {}×{} px, {w_mm:.0}×{h_mm:.0} mm at {} DPI{}",
        args.out.display(),
        format.name(),
        figure.drawing.width,
        figure.drawing.height,
        args.dpi,
        match &figure.scale_bar {
            Some(bar) => format!(", scale bar {}", bar.label),
            None if options.scale_bar => ", no scale bar (no scan step)".to_string(),
            None => String::new(),
        }
    );
    Ok(())
}

fn image_label(image: Image) -> &'static str {
    match image {
        Image::Adf => "ADF",
        Image::Bf => "BF",
        Image::Sum => "sum",
    }
}
