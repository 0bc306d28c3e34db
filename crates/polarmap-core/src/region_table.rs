//! The statistics of regions drawn on a class map, as a table: one row per region (its number,
//! pixels, determined pixels, majority class and its fraction, per-class counts, mean
//! confidence), written as CSV. The rows are `maps::ClassMap::stats`; the GUI's Region table
//! pane exports them.

use crate::error::{Error, Result};
use crate::export::check_writable;
use crate::maps::RegionStats;
use crate::Class;
use std::io::Write;
use std::path::Path;

/// One region's row.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionRow {
    /// The region's number (as drawn on the maps).
    pub number: u64,
    pub stats: RegionStats,
    /// When the class map was partial: its pixels filled in and in all (the statistics cover
    /// only the region's filled pixels).
    pub partial: Option<(usize, usize)>,
}

/// The CSV's header line (without the newline).
pub fn csv_header() -> String {
    let mut h = String::from("region,pixels,determined,majority,majority_fraction");
    for c in Class::ALL {
        h += &format!(",n_{}", c.name());
    }
    h + ",mean_confidence,partial_map"
}

/// One row as a CSV line (without the newline); empty fields where there is no value.
pub fn csv_line(row: &RegionRow) -> String {
    let s = &row.stats;
    let opt = |v: Option<String>| v.unwrap_or_default();
    let mut line = format!(
        "{},{},{},{},{}",
        row.number,
        s.pixels,
        s.pixels - s.undetermined,
        opt(s.direction().map(|m| m.name().to_string())),
        opt(s.direction_fraction().map(|f| f.to_string())),
    );
    for n in s.counts {
        line += &format!(",{n}");
    }
    line += &format!(
        ",{},{}",
        opt(s.mean_confidence.map(|c| c.to_string())),
        opt(row
            .partial
            .map(|(done, total)| format!("{done} of {total}")))
    );
    line
}

/// Writes the rows as CSV (never over an existing file unless `overwrite`).
pub fn write_csv(path: &Path, rows: &[RegionRow], overwrite: bool) -> Result<()> {
    check_writable(path, overwrite)?;
    let mut text = csv_header() + "\n";
    for row in rows {
        text += &csv_line(row);
        text.push('\n');
    }
    let mut file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::{ClassMap, Region};

    #[test]
    fn rows_carry_the_maps_statistics_and_files_are_not_overwritten() {
        // A 4×4 map: left half RD, right half RM (a neighbouring direction: the pixels agree
        // on RD), one undetermined pixel in the left half.
        let mut classes = ndarray::Array2::from_elem((4, 4), Class::RD);
        for r in 0..4 {
            classes[(r, 2)] = Class::RM;
            classes[(r, 3)] = Class::RM;
        }
        let mut map = ClassMap::new(classes);
        let mut determined = ndarray::Array2::from_elem((4, 4), true);
        determined[(0, 0)] = false;
        map.determined = Some(determined);
        let region = Region::Rect {
            row0: 0,
            col0: 0,
            row1: 4,
            col1: 3,
        };
        let row = RegionRow {
            number: 7,
            stats: map.stats(Some(&region)),
            partial: Some((12, 16)),
        };
        // 12 pixels: 7 RD determined + 1 undetermined, 4 RM.
        assert_eq!(row.stats.direction_fraction(), Some(7.0 / 11.0));
        let line = csv_line(&row);
        let fields: Vec<&str> = line.split(',').collect();
        let header = csv_header();
        let names: Vec<&str> = header.split(',').collect();
        assert_eq!(fields.len(), names.len());
        let field = |name: &str| fields[names.iter().position(|n| *n == name).unwrap()];
        assert_eq!(field("region"), "7");
        assert_eq!(field("pixels"), "12");
        assert_eq!(field("determined"), "11");
        assert_eq!(field("majority"), "RD");
        assert_eq!(
            field("majority_fraction").parse::<f64>().unwrap(),
            7.0 / 11.0
        );
        assert_eq!(field("n_RD"), "7");
        assert_eq!(field("n_RM"), "4");
        assert_eq!(field("mean_confidence"), "");
        assert_eq!(field("partial_map"), "12 of 16");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("regions.csv");
        write_csv(&path, std::slice::from_ref(&row), false).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("{header}\n{line}\n"));
        assert!(write_csv(&path, &[], false).is_err());
        write_csv(&path, &[], true).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{header}\n")
        );
    }
}
