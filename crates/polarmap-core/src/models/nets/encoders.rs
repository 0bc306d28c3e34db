//! The paper's three encoders, each mapping a `[batch, 1, S, S]` pattern to a 512-d feature:
//! its 3-layer CNN, and VGG16 / ResNet50 (1-channel input) projected to 256 with
//! Linear + BatchNorm + ReLU, then to 512. Layer names follow torchvision's (`features`,
//! `layer1`..`layer4`, `conv1`, `bn1`, `downsample`) so PyTorch weights map onto them.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// Width of every encoder's output.
pub const FEATURES: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// The paper's custom CNN.
    Conv,
    Vgg16,
    Resnet50,
}

impl Architecture {
    pub const ALL: [Architecture; 3] = [Self::Conv, Self::Vgg16, Self::Resnet50];

    pub fn name(self) -> &'static str {
        match self {
            Self::Conv => "conv",
            Self::Vgg16 => "vgg16",
            Self::Resnet50 => "resnet50",
        }
    }

    pub fn from_name(name: &str) -> Option<Architecture> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The smallest input side the network takes: Conv's two pools leave a feature map,
    /// VGG16's five 2×2 max-pools need 32; ResNet50's padded strides take any size.
    pub fn min_size(self) -> usize {
        match self {
            Self::Conv => 12,
            Self::Vgg16 => VGG16_MIN_SIZE,
            Self::Resnet50 => 1,
        }
    }
}

// One encoder per network, made once: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Encoder {
    Conv(ConvEncoder),
    Vgg16(Vgg16Encoder),
    Resnet50(ResNet50Encoder),
}

impl Encoder {
    /// A freshly initialised encoder for `size`×`size` inputs.
    pub fn new(architecture: Architecture, size: usize, device: &Device) -> Encoder {
        match architecture {
            Architecture::Conv => Encoder::Conv(ConvEncoder::new(size, device)),
            Architecture::Vgg16 => Encoder::Vgg16(Vgg16Encoder::new(device)),
            Architecture::Resnet50 => Encoder::Resnet50(ResNet50Encoder::new(device)),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        match self {
            Encoder::Conv(e) => e.forward(x),
            Encoder::Vgg16(e) => e.forward(x),
            Encoder::Resnet50(e) => e.forward(x),
        }
    }

    /// The part that PyTorch weights fill: VGG16's and ResNet50's globally average-pooled
    /// convolutional features (before the projection), the whole of the paper's CNN.
    pub fn backbone(&self, x: Tensor<4>) -> Tensor<2> {
        match self {
            Encoder::Conv(e) => e.forward(x),
            Encoder::Vgg16(e) => e.backbone(x),
            Encoder::Resnet50(e) => e.backbone(x),
        }
    }
}

fn conv(
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    pad: usize,
    bias: bool,
    device: &Device,
) -> Conv2d {
    Conv2dConfig::new([cin, cout], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_bias(bias)
        .init(device)
}

fn max_pool(k: usize, stride: usize, pad: usize) -> MaxPool2d {
    MaxPool2dConfig::new([k, k])
        .with_strides([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .init()
}

/// Conv(1→16,3)+ReLU, Conv(16→32,3)+ReLU, max-pool 2, Conv(32→64,3)+ReLU, max-pool 2,
/// Linear(→512)+ReLU (the paper's code pools by max).
#[derive(Module, Debug)]
pub struct ConvEncoder {
    conv1: Conv2d,
    conv2: Conv2d,
    conv3: Conv2d,
    pool: MaxPool2d,
    fc: Linear,
    relu: Relu,
}

impl ConvEncoder {
    /// One of the three (unpadded, biased) convolutions: on the CPU through
    /// [`super::kernels::conv2d_valid`], whose gradients are computed per sample.
    fn conv(layer: &Conv2d, x: Tensor<4>) -> Tensor<4> {
        match &layer.bias {
            Some(bias) if super::kernels::is_flex(&x.device()) => {
                super::kernels::conv2d_valid(x, layer.weight.val(), bias.val())
            }
            _ => layer.forward(x),
        }
    }

    /// ReLU then the 2×2 max-pool: on the CPU as one pass each way
    /// ([`super::kernels::relu_max_pool2`]).
    fn relu_pool(&self, x: Tensor<4>) -> Tensor<4> {
        if super::kernels::is_flex(&x.device()) {
            super::kernels::relu_max_pool2(x)
        } else {
            self.pool.forward(self.relu.forward(x))
        }
    }

    /// Side of the last feature map for `size` inputs.
    pub fn feature_side(size: usize) -> usize {
        ((size - 4) / 2 - 2) / 2
    }

    pub fn new(size: usize, device: &Device) -> ConvEncoder {
        let side = Self::feature_side(size);
        ConvEncoder {
            conv1: conv(1, 16, 3, 1, 0, true, device),
            conv2: conv(16, 32, 3, 1, 0, true, device),
            conv3: conv(32, 64, 3, 1, 0, true, device),
            pool: max_pool(2, 2, 0),
            fc: LinearConfig::new(64 * side * side, FEATURES).init(device),
            relu: Relu::new(),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.relu.forward(Self::conv(&self.conv1, x));
        let x = self.relu_pool(Self::conv(&self.conv2, x));
        let x = self.relu_pool(Self::conv(&self.conv3, x));
        self.relu.forward(self.fc.forward(x.flatten(1, 3)))
    }
}

/// The pretrained-backbone projection: Linear(→256)+BatchNorm+ReLU, Linear(→512)+ReLU.
#[derive(Module, Debug)]
pub struct Projection {
    fc1: Linear,
    bn: BatchNorm,
    fc2: Linear,
    relu: Relu,
}

impl Projection {
    fn new(input: usize, device: &Device) -> Projection {
        Projection {
            fc1: LinearConfig::new(input, 256).init(device),
            bn: BatchNormConfig::new(256).init(device),
            fc2: LinearConfig::new(256, FEATURES).init(device),
            relu: Relu::new(),
        }
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        // BatchNorm normalises over dim 1 of a [batch, channels, ...] tensor.
        let x = self.fc1.forward(x).unsqueeze_dim::<3>(2);
        let x = self.relu.forward(self.bn.forward(x).squeeze_dim::<2>(2));
        self.relu.forward(self.fc2.forward(x))
    }
}

/// VGG16's convolutional part (configuration D) with a 1-channel first layer, global average
/// pooling, and the projection.
#[derive(Module, Debug)]
pub struct Vgg16Encoder {
    features: Vec<Conv2d>,
    pool: MaxPool2d,
    gap: AdaptiveAvgPool2d,
    projection: Projection,
    relu: Relu,
}

/// Output channels per conv layer; 0 marks a max-pool.
const VGG16: [usize; 18] = [
    64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0,
];

/// torchvision's index in `features` of each VGG16 conv layer, in order (a ReLU follows each
/// conv and takes the next index; a max-pool takes one): 0, 2, 5, 7, 10, 12, 14, 17, ...
pub fn vgg16_torchvision_indices() -> Vec<usize> {
    let mut indices = Vec::new();
    let mut at = 0;
    for &c in VGG16.iter() {
        if c > 0 {
            indices.push(at);
            at += 2;
        } else {
            at += 1;
        }
    }
    indices
}

/// The smallest input side VGG16 takes (five 2×2 max-pools).
pub const VGG16_MIN_SIZE: usize = 32;

impl Vgg16Encoder {
    pub fn new(device: &Device) -> Vgg16Encoder {
        Self::with_width(64, device)
    }

    /// VGG16 with `width` channels in its first layer (64: the real one) and the others scaled
    /// alike; smaller widths keep the layer structure and names (tests, fixtures).
    pub fn with_width(width: usize, device: &Device) -> Vgg16Encoder {
        let mut features = Vec::new();
        let mut cin = 1;
        for &cout in VGG16.iter().filter(|&&c| c > 0) {
            let cout = (cout * width / 64).max(1);
            features.push(conv(cin, cout, 3, 1, 1, true, device));
            cin = cout;
        }
        Vgg16Encoder {
            features,
            pool: max_pool(2, 2, 0),
            gap: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            projection: Projection::new(cin, device),
            relu: Relu::new(),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.projection.forward(self.backbone(x))
    }

    /// The globally average-pooled output of the conv layers.
    pub fn backbone(&self, mut x: Tensor<4>) -> Tensor<2> {
        let mut layers = self.features.iter();
        for &c in VGG16.iter() {
            x = match c {
                0 => self.pool.forward(x),
                _ => match layers.next() {
                    Some(layer) => self.relu.forward(layer.forward(x)),
                    None => unreachable!("one conv layer per non-zero entry"),
                },
            };
        }
        self.gap.forward(x).flatten(1, 3)
    }
}

/// A ResNet bottleneck block: 1×1 reduce, 3×3 (strided), 1×1 expand ×4, plus the shortcut.
#[derive(Module, Debug)]
pub struct Bottleneck {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    conv3: Conv2d,
    bn3: BatchNorm,
    downsample: Option<Downsample>,
    relu: Relu,
}

#[derive(Module, Debug)]
pub struct Downsample {
    conv: Conv2d,
    bn: BatchNorm,
}

impl Bottleneck {
    fn new(cin: usize, width: usize, stride: usize, device: &Device) -> Bottleneck {
        let cout = width * 4;
        let downsample = (stride != 1 || cin != cout).then(|| Downsample {
            conv: conv(cin, cout, 1, stride, 0, false, device),
            bn: BatchNormConfig::new(cout).init(device),
        });
        Bottleneck {
            conv1: conv(cin, width, 1, 1, 0, false, device),
            bn1: BatchNormConfig::new(width).init(device),
            conv2: conv(width, width, 3, stride, 1, false, device),
            bn2: BatchNormConfig::new(width).init(device),
            conv3: conv(width, cout, 1, 1, 0, false, device),
            bn3: BatchNormConfig::new(cout).init(device),
            downsample,
            relu: Relu::new(),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let shortcut = match &self.downsample {
            Some(d) => d.bn.forward(d.conv.forward(x.clone())),
            None => x.clone(),
        };
        let y = self.relu.forward(self.bn1.forward(self.conv1.forward(x)));
        let y = self.relu.forward(self.bn2.forward(self.conv2.forward(y)));
        let y = self.bn3.forward(self.conv3.forward(y));
        self.relu.forward(y + shortcut)
    }
}

/// ResNet50 (blocks 3, 4, 6, 3) with a 1-channel stem, global average pooling, projection.
#[derive(Module, Debug)]
pub struct ResNet50Encoder {
    conv1: Conv2d,
    bn1: BatchNorm,
    maxpool: MaxPool2d,
    layer1: Vec<Bottleneck>,
    layer2: Vec<Bottleneck>,
    layer3: Vec<Bottleneck>,
    layer4: Vec<Bottleneck>,
    gap: AdaptiveAvgPool2d,
    projection: Projection,
    relu: Relu,
}

impl ResNet50Encoder {
    pub fn new(device: &Device) -> ResNet50Encoder {
        Self::with_width(64, device)
    }

    /// ResNet50 with `width` stem channels (64: the real one) and the stages scaled alike
    /// (`width`, 2×, 4×, 8× bottleneck widths); smaller widths keep the layer structure and
    /// names (tests, fixtures).
    pub fn with_width(width: usize, device: &Device) -> ResNet50Encoder {
        let width = width.max(1);
        let mut cin = width;
        let mut stage = |blocks: usize, width: usize, stride: usize| -> Vec<Bottleneck> {
            (0..blocks)
                .map(|b| {
                    let block =
                        Bottleneck::new(cin, width, if b == 0 { stride } else { 1 }, device);
                    cin = width * 4;
                    block
                })
                .collect()
        };
        let (layer1, layer2, layer3, layer4) = (
            stage(3, width, 1),
            stage(4, 2 * width, 2),
            stage(6, 4 * width, 2),
            stage(3, 8 * width, 2),
        );
        ResNet50Encoder {
            conv1: conv(1, width, 7, 2, 3, false, device),
            bn1: BatchNormConfig::new(width).init(device),
            maxpool: max_pool(3, 2, 1),
            layer1,
            layer2,
            layer3,
            layer4,
            gap: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            projection: Projection::new(32 * width, device),
            relu: Relu::new(),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.projection.forward(self.backbone(x))
    }

    /// The globally average-pooled output of `layer4`.
    pub fn backbone(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = self
            .maxpool
            .forward(self.relu.forward(self.bn1.forward(self.conv1.forward(x))));
        for block in self
            .layer1
            .iter()
            .chain(&self.layer2)
            .chain(&self.layer3)
            .chain(&self.layer4)
        {
            x = block.forward(x);
        }
        self.gap.forward(x).flatten(1, 3)
    }
}
