//! Where a training step of the paper's CNN spends its time on the CPU (burn's Flex backend):
//! each layer's forward pass and forward + backward pass for one batch, through burn's own
//! convolution and through `kernels::conv2d_valid` (polarmap's weight and input gradients).
//!
//! cargo run --release --example op_probe [-- --batch 128]

use burn::nn::pool::MaxPool2dConfig;
use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::Distribution;
use polarmap_core::models::nets::kernels::{conv2d_valid, relu_max_pool2};
use std::time::Instant;

// The allocator of the `polarmap` binary, so the example measures what the binary runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Mean milliseconds of `f` over 20 calls after one warm-up call.
fn time(label: &str, mut f: impl FnMut()) {
    f();
    let start = Instant::now();
    for _ in 0..20 {
        f();
    }
    println!(
        "{label:<48} {:7.2} ms",
        start.elapsed().as_secs_f64() * 1e3 / 20.0
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut batch = 128;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--batch" => batch = args.next().and_then(|v| v.parse().ok()).expect("--batch N"),
            other => panic!("unknown argument {other}"),
        }
    }
    let device = Device::flex().autodiff();
    let random = |shape: [usize; 4]| Tensor::<4>::random(shape, Distribution::Default, &device);
    let options = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
    // The paper's CNN on 32x32 inputs: conv1 has no input gradient (the input is data), and
    // only the second and third convolutions are pooled.
    for (name, ci, co, side, x_grad) in [
        ("conv1", 1, 16, 32, false),
        ("conv2", 16, 32, 30, true),
        ("conv3", 32, 64, 14, true),
    ] {
        let x = random([batch, ci, side, side]);
        let x = if x_grad { x.require_grad() } else { x };
        let w = random([co, ci, 3, 3]).require_grad();
        let b = Tensor::<1>::random([co], Distribution::Default, &device).require_grad();
        time(&format!("{name} forward"), || {
            let y = conv2d(x.clone(), w.clone(), Some(b.clone()), options.clone());
            y.into_data();
        });
        time(&format!("{name} forward + backward, burn"), || {
            let y = conv2d(x.clone(), w.clone(), Some(b.clone()), options.clone());
            let grads = y.sum().backward();
            w.grad(&grads).expect("a weight gradient").into_data();
        });
        time(&format!("{name} forward + backward, polarmap"), || {
            let y = conv2d_valid(x.clone(), w.clone(), b.clone());
            let grads = y.sum().backward();
            w.grad(&grads).expect("a weight gradient").into_data();
        });
        let maps = random([batch, co, side - 2, side - 2]).require_grad();
        let pool = MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
        time(
            &format!("{name} ReLU + max-pool, both passes, burn"),
            || {
                let y = pool.forward(maps.clone().clamp_min(0.0));
                let grads = y.sum().backward();
                maps.grad(&grads).expect("a map gradient").into_data();
            },
        );
        time(
            &format!("{name} ReLU + max-pool, both passes, polarmap"),
            || {
                let y = relu_max_pool2(maps.clone());
                let grads = y.sum().backward();
                maps.grad(&grads).expect("a map gradient").into_data();
            },
        );
    }
    let features =
        Tensor::<2>::random([batch, 2304], Distribution::Default, &device).require_grad();
    let fc = Tensor::<2>::random([2304, 512], Distribution::Default, &device).require_grad();
    time("fc forward + backward", || {
        let y = features.clone().matmul(fc.clone());
        let grads = y.sum().backward();
        fc.grad(&grads).expect("a weight gradient").into_data();
    });
}
