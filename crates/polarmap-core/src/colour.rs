//! The one colour wheel of polarmap: direction → hue. Class maps and CoM maps use the same wheel,
//! so a class map and a CoM map read alike (DESIGN.md).

use crate::classes::Class;

/// Colour of direction `angle_rad` (counter-clockwise from +x, y up) at full brightness.
/// 0° is red, 90° yellow-green, 180° cyan, 270° violet: neighbouring directions, neighbouring hues.
pub fn wheel(angle_rad: f64) -> [u8; 3] {
    hsv_to_rgb(angle_rad.to_degrees().rem_euclid(360.0), 0.85, 1.0)
}

/// Colour of a vector: hue from its direction, brightness from `magnitude / max_magnitude`.
pub fn vector_colour(dx: f64, dy: f64, max_magnitude: f64) -> [u8; 3] {
    let magnitude = dx.hypot(dy);
    if !(magnitude.is_finite() && max_magnitude > 0.0) {
        return [0, 0, 0];
    }
    let value = (magnitude / max_magnitude).clamp(0.0, 1.0);
    hsv_to_rgb(dy.atan2(dx).to_degrees().rem_euclid(360.0), 0.85, value)
}

/// Colour of an undetermined pixel: grey, which has no hue and so names no direction.
pub const UNDETERMINED: [u8; 3] = [128, 128, 128];

/// Colour of a class: the wheel at the class's angle.
pub fn class_colour(class: Class) -> [u8; 3] {
    wheel(class.angle_deg().to_radians())
}

fn hsv_to_rgb(hue_deg: f64, saturation: f64, value: f64) -> [u8; 3] {
    let c = value * saturation;
    let h = hue_deg / 60.0;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = value - c;
    let to_u8 = |v: f64| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    [to_u8(r), to_u8(g), to_u8(b)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_colours_are_distinct_and_neighbours_are_close() {
        let colours: Vec<_> = Class::ALL.iter().map(|&c| class_colour(c)).collect();
        for i in 0..8 {
            for j in i + 1..8 {
                assert_ne!(colours[i], colours[j], "classes {i} and {j} share a colour");
            }
        }
        let dist = |a: [u8; 3], b: [u8; 3]| {
            a.iter()
                .zip(b)
                .map(|(&x, y)| (x as i32 - y as i32).pow(2))
                .sum::<i32>()
        };
        // Neighbouring classes are closer in colour than opposite ones.
        for i in 0..8 {
            let near = dist(colours[i], colours[(i + 1) % 8]);
            let far = dist(colours[i], colours[(i + 4) % 8]);
            assert!(near < far, "class {i}: neighbour {near} vs opposite {far}");
        }
    }

    #[test]
    fn vector_colour_scales_brightness_and_handles_zero() {
        assert_eq!(vector_colour(0.0, 0.0, 1.0), [0, 0, 0]);
        assert_eq!(vector_colour(1.0, 0.0, 0.0), [0, 0, 0]);
        assert_eq!(vector_colour(1.0, 0.0, 1.0), wheel(0.0));
        let dim = vector_colour(0.5, 0.0, 1.0);
        let bright = vector_colour(1.0, 0.0, 1.0);
        assert!(dim[0] < bright[0]);
    }
}
