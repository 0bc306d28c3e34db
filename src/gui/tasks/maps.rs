//! Statistics of the maps on screen: per-region class statistics and mean CoM
//! (`ClassMap::stats`), and the candidate defect search (`maps::find_defects`).

use super::Worker;
use crate::gui::data::Dataset;
use polarmap_core::analysis::ComField;
use polarmap_core::maps::{DefectCluster, DefectSearch, Region, RegionStats};

/// One region's statistics.
pub struct RegionAnswer {
    pub region_id: u64,
    /// None while there is no class map.
    pub stats: Option<RegionStats>,
    pub mean_com: Option<[f64; 2]>,
    /// The map was partial: its pixels filled in, and in all (the statistics cover the
    /// region's filled pixels only).
    pub partial: Option<(usize, usize)>,
}

/// Computes the statistics of region `id` over the class map and CoM field on screen (of a
/// partial map, over the region's pixels filled in).
pub fn start_region(worker: &mut Worker<RegionAnswer>, data: &Dataset, id: u64, region: Region) {
    let classes = data.classes().cloned();
    let analysis = data.analysis.clone();
    worker.spawn_alongside(
        format!("statistics of region {id}"),
        data.generation,
        move |_, _| {
            let stats = classes.as_ref().map(|c| {
                let dims = c.map.dim();
                let filled: Vec<(usize, usize)> = region
                    .pixels(dims)
                    .into_iter()
                    .filter(|&(r, col)| r * dims.1 + col < c.done)
                    .collect();
                c.map.stats_of(&filled)
            });
            Ok(RegionAnswer {
                region_id: id,
                stats,
                partial: classes
                    .as_ref()
                    .filter(|c| !c.is_complete())
                    .map(|c| (c.done, c.map.classes.len())),
                mean_com: analysis
                    .as_ref()
                    .and_then(|a| region_mean_com(&a.com_descan, &region)),
            })
        },
    );
}

/// Searches the complete class map on screen for candidate defects (a search still running is
/// cancelled). Returns false when there is no complete map to search.
pub fn start_defects(
    worker: &mut Worker<Vec<DefectCluster>>,
    data: &Dataset,
    search: DefectSearch,
) -> bool {
    let Some(classes) = data.classes().filter(|c| c.is_complete()).cloned() else {
        return false;
    };
    worker.spawn(
        "searching candidate defects",
        data.generation,
        move |_, _| Ok(polarmap_core::maps::find_defects(&classes.map, &search)),
    );
    true
}

/// Mean CoM vector (x, y) over a region's pixels.
pub fn region_mean_com(com: &ComField, region: &Region) -> Option<[f64; 2]> {
    let pixels = region.pixels(com.dim());
    if pixels.is_empty() {
        return None;
    }
    let n = pixels.len() as f64;
    let (sx, sy) = pixels.iter().fold((0.0, 0.0), |(sx, sy), &ix| {
        (sx + com.x[ix] as f64, sy + com.y[ix] as f64)
    });
    Some([sx / n, sy / n])
}
