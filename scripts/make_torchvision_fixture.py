"""Makes the torchvision fixtures of tests/suite/nets.rs: VGG16 and ResNet50 as torchvision builds
them (its own `make_layers`, `Bottleneck` and `ResNet._make_layer`, so every parameter has
torchvision's name: `features.0, .2, .5, .7, .10, ...`, `conv1`, `bn1`, `layerN.M.convK`,
`layerN.M.bnK`, `layerN.0.downsample.0|1`), width-reduced 8x so that the state dicts stay small,
with an RGB first convolution, random conv biases and BatchNorm parameters (so that a swapped or
missed one shows), saved with torch.save; plus PyTorch's output on a fixed grey input: the
backbone's globally average-pooled features (what polarmap's encoders feed their projection).

The script checks that the reduced networks have exactly the parameter names of
torchvision.models.vgg16() / resnet50() (the features part for VGG16).

    python3 -m venv /var/tmp/venv-torch && /var/tmp/venv-torch/bin/pip install torch torchvision
    /var/tmp/venv-torch/bin/python scripts/make_torchvision_fixture.py
"""
import json
import pathlib

import torch
import torchvision
from torch import nn
from torchvision.models.resnet import Bottleneck, ResNet
from torchvision.models.vgg import VGG, make_layers

out = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "pytorch"
SIDE = 32  # the smallest input VGG16's five max-pools take
WIDTH = 8  # first-layer channels (torchvision: 64)


def vgg16_small():
    """torchvision's VGG16 (configuration D) at WIDTH/64 of its channels."""
    cfg = [c if c == "M" else c * WIDTH // 64 for c in
           [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]]
    net = VGG(make_layers(cfg, batch_norm=False), num_classes=10)
    # torchvision's classifier takes 512*7*7 inputs (100 M parameters); a small one stands in
    # for it: a tensor polarmap has no place for.
    net.classifier = nn.Sequential(nn.Linear(cfg[-2], 10))
    return net


class ResNet50Small(ResNet):
    """torchvision's ResNet50 (Bottleneck, [3, 4, 6, 3]) at WIDTH/64 of its channels: the same
    construction as ResNet.__init__, with the stage widths scaled."""

    def __init__(self):
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.inplanes, self.dilation, self.groups, self.base_width = WIDTH, 1, 1, 64
        self.conv1 = nn.Conv2d(3, WIDTH, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(WIDTH)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(Bottleneck, WIDTH, 3)
        self.layer2 = self._make_layer(Bottleneck, WIDTH * 2, 4, stride=2)
        self.layer3 = self._make_layer(Bottleneck, WIDTH * 4, 6, stride=2)
        self.layer4 = self._make_layer(Bottleneck, WIDTH * 8, 3, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(WIDTH * 8 * Bottleneck.expansion, 10)


def randomise_biases_and_batchnorm(net):
    """torchvision starts conv biases at 0 and BatchNorm at the identity, which would hide a
    bias or BN parameter that is not mapped."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d) and m.bias is not None:
            with torch.no_grad():
                m.bias.uniform_(-0.05, 0.05)
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)


def vgg_features(net, x):
    return torch.flatten(nn.functional.adaptive_avg_pool2d(net.features(x), 1), 1)


def resnet_features(net, x):
    x = net.maxpool(net.relu(net.bn1(net.conv1(x))))
    x = net.layer4(net.layer3(net.layer2(net.layer1(x))))
    return torch.flatten(net.avgpool(x), 1)


def same_names(small, full, prefix=""):
    a = {k for k in small.state_dict() if k.startswith(prefix)}
    b = {k for k in full.state_dict() if k.startswith(prefix)}
    assert a == b, (sorted(a ^ b))[:10]


def main():
    torch.manual_seed(7)
    grey = torch.rand(2, 1, SIDE, SIDE)
    for name, net, full, prefix, features in [
        ("vgg16", vgg16_small(), torchvision.models.vgg16, "features", vgg_features),
        ("resnet50", ResNet50Small(), torchvision.models.resnet50, "", resnet_features),
    ]:
        same_names(net, full(weights=None), prefix)
        randomise_biases_and_batchnorm(net)
        net = net.eval()
        torch.save(net.state_dict(), out / f"torchvision-{name}-w{WIDTH}.pth")
        with torch.no_grad():
            y = features(net, grey.expand(-1, 3, -1, -1))
        reference = {
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "width": WIDTH,
            "input_shape": list(grey.shape),
            "input": grey.flatten().tolist(),
            "features_shape": list(y.shape),
            "features": y.flatten().tolist(),
        }
        (out / f"torchvision-{name}-w{WIDTH}.json").write_text(json.dumps(reference))
        print(name, sum(p.numel() for p in net.state_dict().values()), "values,",
              "features", tuple(y.shape), "max |f|", float(y.abs().max()))


if __name__ == "__main__":
    main()
