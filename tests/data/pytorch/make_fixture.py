"""Makes the PyTorch fixture of tests/models.rs: the paper's CNN encoder for 16x16 inputs with an
RGB first convolution (as torchvision networks have), saved as a state dict, plus one grey input
and the encoder's output on it computed by PyTorch (the independent reference).

    python tests/data/pytorch/make_fixture.py   # needs torch
"""
import json
import pathlib

import torch
from torch import nn

here = pathlib.Path(__file__).parent
torch.manual_seed(5)


class PaperCnn(nn.Module):
    def __init__(self, side=16):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3)
        self.conv2 = nn.Conv2d(16, 32, 3)
        self.conv3 = nn.Conv2d(32, 64, 3)
        feature_side = ((side - 4) // 2 - 2) // 2
        self.fc = nn.Linear(64 * feature_side * feature_side, 512)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = nn.functional.max_pool2d(torch.relu(self.conv3(x)), 2)
        return torch.relu(self.fc(x.flatten(1)))


net = PaperCnn().eval()
state = net.state_dict()
# A tensor the network has no place for, as torchvision's classifier is.
state["classifier.weight"] = torch.zeros(8, 512)
torch.save(state, here / "paper-cnn-rgb16.pth")

grey = torch.rand(2, 1, 16, 16)
with torch.no_grad():
    features = net(grey.expand(-1, 3, -1, -1))
reference = {
    "input_shape": list(grey.shape),
    "input": grey.flatten().tolist(),
    "features": features.flatten().tolist(),
}
(here / "paper-cnn-reference.json").write_text(json.dumps(reference))
