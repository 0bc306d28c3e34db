//! The paper CNN's convolutions and ReLU + max-pool on the CPU, forward and backward.
//!
//! Measured first (`examples/op_probe.rs`, batch 128, burn's CPU backend Flex, 2 cores): burn's
//! backward pass of a convolution cost 3–7 times its forward pass (it computes the weight
//! gradient as a convolution with the batch as channels, building im2col columns of the whole
//! batch). Here each sample's columns are built in a buffer that stays in cache and the three
//! products are per sample: the output `W · cols + b`, the weight gradient `dY_b · colsᵀ` summed
//! over the samples a thread takes, the input gradient `Wᵀ · dY_b` added back onto the positions
//! the columns were read from. The products go through the gemm crate ([`matmul`]); ReLU and the
//! 2×2 max-pool are one branch-free pass each way ([`pool_f32`]). docs/models.md has the numbers.
//!
//! It enters through burn's backend extension: [`PaperConv::conv2d_valid`] is a convolution
//! (stride 1, no padding, no dilation, one group) and [`PaperConv::relu_max_pool2`] the pooling,
//! each with a hand-written backward pass on the autodiff backend, implemented for Flex below.
//! The values equal burn's (tested to 1e-4 relative). The GPU keeps burn's own operations
//! ([`is_flex`]).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::flex::FlexTensor;
use burn::backend::ops::ConvOptions;
use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::TensorMetadata;
use burn::backend::{backend_extension, Autodiff, Backend, Dispatch, Flex};
use burn::prelude::*;
use burn::tensor::{DType, IntDType, TensorData};
use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use rayon::prelude::*;

fn valid_options() -> ConvOptions<2> {
    ConvOptions::new([1, 1], [0, 0], [1, 1], 1)
}

#[backend_extension(Flex, Autodiff)]
pub trait PaperConv: Backend {
    /// `conv2d(x, weight) + bias` with stride 1, no padding, no dilation, one group.
    fn conv2d_valid(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        Self::conv2d(x, weight, Some(bias), valid_options())
    }

    /// The gradient of [`PaperConv::conv2d_valid`]'s input for the output gradient `grad`.
    fn conv2d_valid_x_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        Self::conv2d_x_backward(x, weight, grad, valid_options())
    }

    /// The gradient of [`PaperConv::conv2d_valid`]'s weight for the output gradient `grad`.
    fn conv2d_valid_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        Self::conv2d_weight_backward(x, weight, grad, valid_options())
    }

    /// `max_pool2d(relu(x))` over 2×2 windows with stride 2 (a last odd row or column is
    /// dropped, as by burn's and PyTorch's pooling).
    fn relu_max_pool2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        relu_max_pool2_by_burn::<Self>(x)
    }

    /// The gradient of [`PaperConv::relu_max_pool2`]'s input `x` for the output gradient
    /// `grad`: each window's gradient goes to its largest element where that is positive.
    fn relu_max_pool2_backward(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        relu_max_pool2_backward_by_burn::<Self>(x, grad)
    }
}

/// [`PaperConv::relu_max_pool2`] through burn's own operations (any backend, any dtype).
fn relu_max_pool2_by_burn<B: Backend>(x: FloatTensor<B>) -> FloatTensor<B> {
    B::max_pool2d(B::relu(x), [2, 2], [2, 2], [0, 0], [1, 1], false)
}

/// [`PaperConv::relu_max_pool2_backward`] through burn's own operations.
fn relu_max_pool2_backward_by_burn<B: Backend>(
    x: FloatTensor<B>,
    grad: FloatTensor<B>,
) -> FloatTensor<B> {
    let r = B::relu(x);
    let (k, s, p, d) = ([2, 2], [2, 2], [0, 0], [1, 1]);
    let pooled = B::max_pool2d_with_indices(r.clone(), k, s, p, d, false, IntDType::I64);
    let g = B::max_pool2d_with_indices_backward(r.clone(), k, s, p, d, false, grad, pooled.indices);
    B::relu_backward(r, g.x_grad)
}

impl PaperConv for Flex {
    fn conv2d_valid(x: FlexTensor, weight: FlexTensor, bias: FlexTensor) -> FlexTensor {
        let [b, ci, h, w] = x.shape().dims::<4>();
        let [co, wci, kh, kw] = weight.shape().dims::<4>();
        let out = [
            b,
            co,
            (h + 1).saturating_sub(kh),
            (w + 1).saturating_sub(kw),
        ];
        let (xc, wc, bc) = (
            x.to_contiguous(),
            weight.to_contiguous(),
            bias.to_contiguous(),
        );
        match (
            xc.as_slice::<f32>(),
            wc.as_slice::<f32>(),
            bc.as_slice::<f32>(),
        ) {
            (Some(xs), Some(ws), Some(bs)) if wci == ci && h >= kh && w >= kw => {
                let dims = [[b, ci, h, w], [co, ci, kh, kw], out];
                FlexTensor::from_data(TensorData::new(forward_f32(xs, ws, bs, dims), out))
            }
            _ => Self::conv2d(x, weight, Some(bias), valid_options()),
        }
    }

    fn relu_max_pool2(x: FlexTensor) -> FlexTensor {
        let dims = x.shape().dims::<4>();
        let xc = x.to_contiguous();
        match xc.as_slice::<f32>() {
            Some(xs) => {
                let [b, c, h, w] = dims;
                let out = pool_f32(xs, dims, None);
                FlexTensor::from_data(TensorData::new(out, [b, c, h / 2, w / 2]))
            }
            _ => relu_max_pool2_by_burn::<Self>(x),
        }
    }

    fn relu_max_pool2_backward(x: FlexTensor, grad: FlexTensor) -> FlexTensor {
        let dims = x.shape().dims::<4>();
        let (xc, gc) = (x.to_contiguous(), grad.to_contiguous());
        match (xc.as_slice::<f32>(), gc.as_slice::<f32>()) {
            (Some(xs), Some(gs)) => {
                FlexTensor::from_data(TensorData::new(pool_f32(xs, dims, Some(gs)), dims))
            }
            _ => relu_max_pool2_backward_by_burn::<Self>(x, grad),
        }
    }

    fn conv2d_valid_x_grad(x: FlexTensor, weight: FlexTensor, grad: FlexTensor) -> FlexTensor {
        let dims = [
            x.shape().dims::<4>(),
            weight.shape().dims::<4>(),
            grad.shape().dims::<4>(),
        ];
        let weight_c = weight.to_contiguous();
        let grad_c = grad.to_contiguous();
        match (
            x.dtype() == DType::F32,
            weight_c.as_slice::<f32>(),
            grad_c.as_slice::<f32>(),
        ) {
            (true, Some(ws), Some(gs)) => {
                FlexTensor::from_data(TensorData::new(x_grad_f32(ws, gs, dims), dims[0]))
            }
            _ => Self::conv2d_x_backward(x, weight, grad, valid_options()),
        }
    }

    fn conv2d_valid_weight_grad(x: FlexTensor, weight: FlexTensor, grad: FlexTensor) -> FlexTensor {
        let dims = [
            x.shape().dims::<4>(),
            weight.shape().dims::<4>(),
            grad.shape().dims::<4>(),
        ];
        let (xc, gc) = (x.to_contiguous(), grad.to_contiguous());
        match (xc.as_slice::<f32>(), gc.as_slice::<f32>()) {
            (Some(xs), Some(gs)) => {
                FlexTensor::from_data(TensorData::new(weight_grad_f32(xs, gs, dims), dims[1]))
            }
            _ => Self::conv2d_weight_backward(x, weight, grad, valid_options()),
        }
    }
}

impl<B: PaperConv, C: CheckpointStrategy> PaperConv for Autodiff<B, C> {
    fn conv2d_valid(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct ConvValid;

        impl<B: PaperConv> Backward<B, 3> for ConvValid {
            type State = (NodeId, NodeId, NodeId);

            fn backward(
                self,
                ops: Ops<Self::State, 3>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let [node_x, node_weight, node_bias] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let (x_state, weight_state, bias_state) = ops.state;
                let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
                let weight = checkpointer.retrieve_node_output::<FloatTensor<B>>(weight_state);
                let bias = checkpointer.retrieve_node_output::<FloatTensor<B>>(bias_state);
                if let Some(node) = node_x {
                    let g = B::conv2d_valid_x_grad(x.clone(), weight.clone(), grad.clone());
                    grads.register::<B>(node.id, g);
                }
                if let Some(node) = node_weight {
                    let g = B::conv2d_valid_weight_grad(x.clone(), weight, grad.clone());
                    grads.register::<B>(node.id, g);
                }
                if let Some(node) = node_bias {
                    grads.register::<B>(node.id, B::conv2d_bias_backward(x, bias, grad));
                }
            }
        }

        match ConvValid
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let weight_state = prep.checkpoint(&weight);
                let bias_state = prep.checkpoint(&bias);
                let out = B::conv2d_valid(
                    x.into_primitive(),
                    weight.into_primitive(),
                    bias.into_primitive(),
                );
                prep.finish((x_state, weight_state, bias_state), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::conv2d_valid(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
            )),
        }
    }

    fn relu_max_pool2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        relu_max_pool2_autodiff::<B, C>(x)
    }
}

/// The autodiff of [`PaperConv::relu_max_pool2`]: keeps the input, whose windows the backward
/// pass searches again (no index tensor is stored).
fn relu_max_pool2_autodiff<B: PaperConv, C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<B, C>>,
) -> FloatTensor<Autodiff<B, C>> {
    #[derive(Debug)]
    struct ReluMaxPool2;

    impl<B: PaperConv> Backward<B, 1> for ReluMaxPool2 {
        type State = NodeId;

        fn backward(
            self,
            ops: Ops<Self::State, 1>,
            grads: &mut Gradients,
            checkpointer: &mut Checkpointer,
        ) {
            let [node_x] = ops.parents;
            let grad = grads.consume::<B>(&ops.node);
            let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(ops.state);
            if let Some(node) = node_x {
                grads.register::<B>(node.id, B::relu_max_pool2_backward(x, grad));
            }
        }
    }

    match ReluMaxPool2
        .prepare::<C>([x.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let state = prep.checkpoint(&x);
            prep.finish(state, B::relu_max_pool2(x.into_primitive()))
        }
        OpsKind::UnTracked(prep) => prep.finish(B::relu_max_pool2(x.into_primitive())),
    }
}

/// [`PaperConv::relu_max_pool2`] on high-level tensors.
pub fn relu_max_pool2(x: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as PaperConv>::relu_max_pool2(x.into_dispatch()))
}

/// Whether tensors on `device` run on Flex, where [`conv2d_valid`] has its own weight gradient.
pub fn is_flex(device: &Device) -> bool {
    let flex = Device::flex();
    *device == flex || *device == flex.autodiff()
}

/// [`PaperConv::conv2d_valid`] on high-level tensors.
pub fn conv2d_valid(x: Tensor<4>, weight: Tensor<4>, bias: Tensor<1>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as PaperConv>::conv2d_valid(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
    ))
}

/// `c = a · b`, or `c += a · b` with `accumulate`, on the calling thread (the callers share
/// samples between threads). Through the gemm crate, whose AVX-512 kernels (chosen at run
/// time, `x86-v4`) beat ndarray's matrixmultiply on these shapes.
fn matmul(a: ArrayView2<f32>, b: ArrayView2<f32>, c: &mut ArrayViewMut2<f32>, accumulate: bool) {
    let ((m, k), (kb, n)) = (a.dim(), b.dim());
    assert!(k == kb && c.dim() == (m, n), "matmul shapes");
    if m == 0 || n == 0 {
        return;
    }
    let (sa, sb, sc) = (a.strides(), b.strides(), [c.strides()[0], c.strides()[1]]);
    // SAFETY: the shapes agree (checked above) and each pointer with its view's own strides
    // addresses only that view's elements; `c` is borrowed mutably and cannot alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            sc[1],
            sc[0],
            accumulate,
            a.as_ptr(),
            sa[1],
            sa[0],
            b.as_ptr(),
            sb[1],
            sb[0],
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// One sample's columns: `cols[(c, i, j), (oh, ow)] = x[c, oh + i, ow + j]` for `xb [Ci, H, W]`
/// (`dims` as for [`weight_grad_f32`]).
fn im2col(xb: &[f32], cols: &mut Array2<f32>, dims: [[usize; 4]; 3]) {
    let [[_, _, h, w], [_, _, kh, kw], [_, _, ho, wo]] = dims;
    for (r, mut row) in cols.rows_mut().into_iter().enumerate() {
        let (c, i, j) = (r / (kh * kw), (r / kw) % kh, r % kw);
        let src = &xb[c * h * w..(c + 1) * h * w];
        let row = row.as_slice_mut().expect("cols rows are contiguous");
        for oh in 0..ho {
            let from = (oh + i) * w + j;
            row[oh * wo..(oh + 1) * wo].copy_from_slice(&src[from..from + wo]);
        }
    }
}

/// `y[b] = W · cols(x_b) + bias` for contiguous `x [B, Ci, H, W]`, `W [Co, Ci, kh, kw]`,
/// `bias [Co]`; `dims` = the shapes of x, W and y.
fn forward_f32(x: &[f32], weight: &[f32], bias: &[f32], dims: [[usize; 4]; 3]) -> Vec<f32> {
    let [[batch, ci, h, w], [co, _, kh, kw], [_, _, ho, wo]] = dims;
    let (plane, out_plane, rows) = (h * w, ho * wo, ci * kh * kw);
    let wt = ArrayView2::from_shape((co, rows), weight).expect("weight holds Co x Ci*kh*kw");
    let mut y = vec![0f32; batch * co * out_plane];
    y.par_chunks_mut(co * out_plane).enumerate().for_each_init(
        || Array2::<f32>::zeros((rows, out_plane)),
        |cols, (b, yb)| {
            im2col(&x[b * ci * plane..(b + 1) * ci * plane], cols, dims);
            for (row, &v) in yb.chunks_mut(out_plane).zip(bias) {
                row.fill(v);
            }
            let mut out = ndarray::ArrayViewMut2::from_shape((co, out_plane), yb)
                .expect("one sample's output");
            matmul(wt, cols.view(), &mut out, true);
        },
    );
    y
}

/// `dW[co, ci, kh, kw] = Σ_b Σ_(oh, ow) dY[b, co, oh, ow] · x[b, ci, oh + kh, ow + kw]` for
/// contiguous `x [B, Ci, H, W]` and `dY [B, Co, Ho, Wo]`; `dims` = the shapes of x, W and dY.
fn weight_grad_f32(x: &[f32], grad: &[f32], dims: [[usize; 4]; 3]) -> Vec<f32> {
    let [[batch, ci, h, w], [co, _, kh, kw], [_, _, ho, wo]] = dims;
    let (plane, out_plane, rows) = (h * w, ho * wo, ci * kh * kw);
    // One fixed run of samples per thread, summed in order: the same sums every run (a rayon
    // fold splits adaptively, which would make training differ from run to run).
    let threads = rayon::current_num_threads().max(1);
    let per = batch.div_ceil(threads).max(1);
    let partial: Vec<Array2<f32>> = (0..batch)
        .into_par_iter()
        .step_by(per)
        .map(|start| {
            let mut acc = Array2::<f32>::zeros((co, rows));
            let mut cols = Array2::<f32>::zeros((rows, out_plane));
            for b in start..(start + per).min(batch) {
                im2col(&x[b * ci * plane..(b + 1) * ci * plane], &mut cols, dims);
                let gb = ArrayView2::from_shape(
                    (co, out_plane),
                    &grad[b * co * out_plane..(b + 1) * co * out_plane],
                )
                .expect("grad slice holds one sample");
                matmul(gb, cols.t(), &mut acc.view_mut(), true);
            }
            acc
        })
        .collect();
    let mut total = Array2::<f32>::zeros((co, rows));
    for p in &partial {
        total += p;
    }
    total.into_raw_vec_and_offset().0
}

/// `dx[b, c, oh + i, ow + j] = Σ_co W[co, c, i, j] · dY[b, co, oh, ow]` for contiguous
/// `W [Co, Ci, kh, kw]` and `dY [B, Co, Ho, Wo]`: per sample `Wᵀ · dY_b` gives the columns'
/// gradient, added back onto the input positions they were read from.
fn x_grad_f32(weight: &[f32], grad: &[f32], dims: [[usize; 4]; 3]) -> Vec<f32> {
    let [[batch, ci, h, w], [co, _, kh, kw], [_, _, ho, wo]] = dims;
    let (plane, out_plane, rows) = (h * w, ho * wo, ci * kh * kw);
    let wt = ArrayView2::from_shape((co, rows), weight).expect("weight holds Co x Ci*kh*kw");
    let mut dx = vec![0f32; batch * ci * plane];
    dx.par_chunks_mut(ci * plane).enumerate().for_each_init(
        || Array2::<f32>::zeros((rows, out_plane)),
        |cols, (b, dxb)| {
            let gb = ArrayView2::from_shape(
                (co, out_plane),
                &grad[b * co * out_plane..(b + 1) * co * out_plane],
            )
            .expect("grad slice holds one sample");
            matmul(wt.t(), gb, &mut cols.view_mut(), false);
            for (r, row) in cols.rows().into_iter().enumerate() {
                let (c, i, j) = (r / (kh * kw), (r / kw) % kh, r % kw);
                let dst = &mut dxb[c * plane..(c + 1) * plane];
                let row = row.as_slice().expect("cols rows are contiguous");
                for oh in 0..ho {
                    let to = (oh + i) * w + j;
                    for (d, v) in dst[to..to + wo]
                        .iter_mut()
                        .zip(&row[oh * wo..(oh + 1) * wo])
                    {
                        *d += v;
                    }
                }
            }
        },
    );
    dx
}

/// 2×2 max-pooling of `relu(x)` for contiguous `x [B, C, H, W]` (`dims`): without `grad` the
/// pooled maps `[B, C, H/2, W/2]`; with the pooled maps' gradient, the gradient of `x`, which
/// each window gives to its first largest element when that is positive.
///
/// Row pairs are walked as slices and each window's choice is made without branches: a
/// branch per comparison on random activations mispredicted often enough that pooling took a
/// sixth of a training step.
fn pool_f32(x: &[f32], dims: [usize; 4], grad: Option<&[f32]>) -> Vec<f32> {
    let [batch, channels, h, w] = dims;
    let (ph, pw) = (h / 2, w / 2);
    let out_len = if grad.is_some() { h * w } else { ph * pw };
    let mut out = vec![0f32; batch * channels * out_len];
    if ph == 0 || pw == 0 {
        return out;
    }
    out.par_chunks_mut(out_len)
        .enumerate()
        .for_each(|(p, dst)| {
            let src = &x[p * h * w..(p + 1) * h * w];
            for i in 0..ph {
                // The window's two rows, an odd last column dropped.
                let r0 = src[2 * i * w..2 * i * w + 2 * pw].chunks_exact(2);
                let r1 = src[(2 * i + 1) * w..(2 * i + 1) * w + 2 * pw].chunks_exact(2);
                match grad {
                    None => {
                        let d = &mut dst[i * pw..(i + 1) * pw];
                        for ((d, a), b) in d.iter_mut().zip(r0).zip(r1) {
                            *d = first_largest([a[0], a[1], b[0], b[1]]).1.max(0.0);
                        }
                    }
                    Some(g) => {
                        let g = &g[(p * ph + i) * pw..(p * ph + i + 1) * pw];
                        let (d0, d1) = dst[2 * i * w..(2 * i + 2) * w].split_at_mut(w);
                        let d0 = d0[..2 * pw].chunks_exact_mut(2);
                        let d1 = d1[..2 * pw].chunks_exact_mut(2);
                        for ((((d0, d1), a), b), &g) in d0.zip(d1).zip(r0).zip(r1).zip(g) {
                            let (k, m) = first_largest([a[0], a[1], b[0], b[1]]);
                            let g = if m > 0.0 { g } else { 0.0 };
                            let at = |n: usize| if k == n { g } else { 0.0 };
                            (d0[0], d0[1], d1[0], d1[1]) = (at(0), at(1), at(2), at(3));
                        }
                    }
                }
            }
        });
    out
}

/// The first largest of a window's four values in row order (a NaN is never larger), with
/// its place.
#[inline(always)]
fn first_largest(v: [f32; 4]) -> (usize, f32) {
    let mut best = (0, v[0]);
    for (k, &x) in v.iter().enumerate().skip(1) {
        if x > best.1 {
            best = (k, x);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    /// The weight, input and bias gradients through [`conv2d_valid`] equal burn's own
    /// convolution's, for shapes of the paper's CNN and an odd batch.
    #[test]
    fn gradients_equal_burns_convolution() {
        let device = Device::flex().autodiff();
        for (batch, ci, co, side) in [(3, 1, 4, 9), (5, 6, 7, 8), (2, 16, 32, 12)] {
            let x = Tensor::<4>::random([batch, ci, side, side], Distribution::Default, &device)
                .require_grad();
            let w =
                Tensor::<4>::random([co, ci, 3, 3], Distribution::Default, &device).require_grad();
            let b = Tensor::<1>::random([co], Distribution::Default, &device).require_grad();
            // A weighting that differs per output element, so every gradient term counts.
            let out_side = side - 2;
            let weighting = Tensor::<4>::random(
                [batch, co, out_side, out_side],
                Distribution::Default,
                &device,
            );
            let ours = conv2d_valid(x.clone(), w.clone(), b.clone());
            let theirs = burn::tensor::module::conv2d(
                x.clone(),
                w.clone(),
                Some(b.clone()),
                valid_options(),
            );
            ours.to_data()
                .assert_approx_eq::<f32>(&theirs.to_data(), Default::default());
            let g_ours = (ours * weighting.clone()).sum().backward();
            let g_theirs = (theirs * weighting).sum().backward();
            let same = |label: &str, a: Option<Tensor<4>>, t: Option<Tensor<4>>| {
                let values = |v: Option<Tensor<4>>| -> Vec<f32> {
                    v.expect("a gradient").into_data().iter::<f32>().collect()
                };
                let (a, t) = (values(a), values(t));
                let scale = t.iter().fold(0f32, |m, v| m.max(v.abs()));
                assert!(scale > 0.0, "{label}: all zero");
                for (p, q) in a.iter().zip(&t) {
                    assert!((p - q).abs() <= 1e-4 * scale, "{label}: {p} vs {q}");
                }
            };
            same("weight", w.grad(&g_ours), w.grad(&g_theirs));
            same("input", x.grad(&g_ours), x.grad(&g_theirs));
            let bias = |g| b.grad(g).map(|t: Tensor<1>| t.reshape([1, 1, 1, co]));
            same("bias", bias(&g_ours), bias(&g_theirs));
        }
    }

    /// [`relu_max_pool2`] and its input gradient equal burn's ReLU then 2×2 max-pool, on maps
    /// with negative windows and an odd side.
    #[test]
    fn relu_max_pool_equals_burns() {
        let device = Device::flex().autodiff();
        let pool = burn::nn::pool::MaxPool2dConfig::new([2, 2])
            .with_strides([2, 2])
            .init();
        for shape in [[2, 3, 8, 8], [3, 2, 7, 9]] {
            // Centred on zero: about one window in sixteen has no positive element.
            let x = Tensor::<4>::random(shape, Distribution::Uniform(-1.0, 1.0), &device)
                .require_grad();
            let ours = relu_max_pool2(x.clone());
            let theirs = pool.forward(burn::tensor::activation::relu(x.clone()));
            assert_eq!(ours.dims(), theirs.dims());
            ours.to_data()
                .assert_approx_eq::<f32>(&theirs.to_data(), Default::default());
            let weighting = Tensor::<4>::random(ours.dims(), Distribution::Default, &device);
            let g_ours = (ours * weighting.clone()).sum().backward();
            let g_theirs = (theirs * weighting).sum().backward();
            let (a, t) = (x.grad(&g_ours).unwrap(), x.grad(&g_theirs).unwrap());
            let nonzero = t
                .clone()
                .abs()
                .greater_elem(0.0)
                .int()
                .sum()
                .into_scalar::<i64>();
            assert!(nonzero > 0);
            a.to_data()
                .assert_approx_eq::<f32>(&t.to_data(), Default::default());
        }
    }
}
