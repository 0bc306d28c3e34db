//! The 8 projected polarization classes of DESIGN.md: index = angle / 45°, counter-clockwise
//! from +x with y up.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Class {
    RM,
    RU,
    MU,
    LU,
    LM,
    LD,
    MD,
    RD,
}

impl Class {
    pub const ALL: [Class; 8] = [
        Class::RM,
        Class::RU,
        Class::MU,
        Class::LU,
        Class::LM,
        Class::LD,
        Class::MD,
        Class::RD,
    ];
    pub const COUNT: usize = 8;

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn from_index(index: usize) -> Option<Class> {
        Self::ALL.get(index).copied()
    }

    pub fn name(self) -> &'static str {
        ["RM", "RU", "MU", "LU", "LM", "LD", "MD", "RD"][self.index()]
    }

    pub fn from_name(name: &str) -> Option<Class> {
        Self::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name.trim()))
    }

    /// Direction in degrees, counter-clockwise from +x (y up).
    pub fn angle_deg(self) -> f64 {
        45.0 * self.index() as f64
    }

    /// The class whose direction is nearest to `angle_rad` (any real angle; y up).
    pub fn nearest(angle_rad: f64) -> Class {
        let sector = (angle_rad.to_degrees() / 45.0).round().rem_euclid(8.0) as usize;
        Self::ALL[sector % 8]
    }
}

impl std::fmt::Display for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_angles_follow_design() {
        let names: Vec<_> = Class::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names, ["RM", "RU", "MU", "LU", "LM", "LD", "MD", "RD"]);
        assert_eq!(Class::MU.angle_deg(), 90.0);
        assert_eq!(Class::RD.angle_deg(), 315.0);
    }

    #[test]
    fn nearest_buckets_by_22_5_degrees() {
        assert_eq!(Class::nearest(0.0), Class::RM);
        assert_eq!(Class::nearest(22.0f64.to_radians()), Class::RM);
        assert_eq!(Class::nearest(23.0f64.to_radians()), Class::RU);
        assert_eq!(Class::nearest(-10.0f64.to_radians()), Class::RM);
        assert_eq!(Class::nearest(-40.0f64.to_radians()), Class::RD);
        assert_eq!(Class::nearest(181.0f64.to_radians()), Class::LM);
        for c in Class::ALL {
            assert_eq!(Class::nearest(c.angle_deg().to_radians()), c);
            assert_eq!(Class::from_name(&c.name().to_lowercase()), Some(c));
        }
    }
}
