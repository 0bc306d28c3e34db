//! Image filters shared by the simulator's detector and the training augmentation.

/// Separable Gaussian blur (kernel ±3σ, edges clamped).
pub fn gaussian_blur(image: &[f32], shape: [usize; 2], sigma: f64) -> Vec<f32> {
    if sigma <= 0.0 {
        return image.to_vec();
    }
    let radius = (3.0 * sigma).ceil() as i64;
    let weights: Vec<f64> = (-radius..=radius)
        .map(|k| (-(k * k) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let norm: f64 = weights.iter().sum();
    let [rows, cols] = shape;
    let pass = |src: &[f32], along_rows: bool| -> Vec<f32> {
        let mut dst = vec![0f32; src.len()];
        for r in 0..rows {
            for c in 0..cols {
                let mut acc = 0.0;
                for (w, k) in weights.iter().zip(-radius..=radius) {
                    let (rr, cc) = if along_rows {
                        ((r as i64 + k).clamp(0, rows as i64 - 1) as usize, c)
                    } else {
                        (r, (c as i64 + k).clamp(0, cols as i64 - 1) as usize)
                    };
                    acc += w * src[rr * cols + cc] as f64;
                }
                dst[r * cols + c] = (acc / norm) as f32;
            }
        }
        dst
    };
    pass(&pass(image, false), true)
}
