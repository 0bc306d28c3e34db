"""The paper's PyTorch code path, side by side with `polarmap predict` and `polarmap train`.

Same architecture as polarmap's Conv (Cls) (the paper's 3-layer CNN + Linear(512, 8)), same batch
(128), same input (the 64-px window around the global CoM, binned 2x to 32x32, min-max
normalised), on the CPU with a fixed number of threads.

  predict: reads SCAN.npy, finds the global CoM (the paper's: centroid of each pattern's pixels
           above its 95th percentile, averaged over 256 sampled patterns), crops, bins,
           normalises and classifies every pattern; prints each stage's time and patterns/s.
           With --symmetrise, as polarmap's symmetrised models (models::symmetry): the class
           probabilities averaged over the 8 mirrored and turned copies of each pattern.
  train:   one epoch of the paper's recipe (Adam lr 2e-4, weight decay 1e-4, cross-entropy) over
           --train-patterns random inputs, then a validation pass over --val-patterns.

Usage:
  python bench/torch_cnn.py predict SCAN.npy [--threads 2] [--binning 2] [--device cpu|cuda]
                                  [--symmetrise]
  python bench/torch_cnn.py train [--threads 2] [--train-patterns 12800] [--val-patterns 1600]
                                  [--device cpu|cuda]
With --device cuda the network runs on the GPU (inputs copied there per batch, as polarmap does)
and every timing ends after the GPU has finished (torch.cuda.synchronize).
Needs torch and numpy (e.g. a venv with `pip install torch numpy`).
"""
import argparse
import time

import numpy as np
import torch
from torch import nn

BATCH = 128
WINDOW = 64


class PaperCnn(nn.Module):
    def __init__(self, side):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3)
        self.conv2 = nn.Conv2d(16, 32, 3)
        self.conv3 = nn.Conv2d(32, 64, 3)
        feature_side = ((side - 4) // 2 - 2) // 2
        self.fc = nn.Linear(64 * feature_side * feature_side, 512)
        self.head = nn.Linear(512, 8)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = nn.functional.max_pool2d(torch.relu(self.conv3(x)), 2)
        return self.head(torch.relu(self.fc(x.flatten(1))))


def global_com(data, samples=256):
    rows, cols, h, w = data.shape
    idx = np.linspace(0, rows * cols - 1, min(samples, rows * cols)).astype(int)
    yy, xx = np.mgrid[:h, :w]
    coms = []
    for i in idx:
        p = np.asarray(data[i // cols, i % cols], dtype=np.float32)
        mask = p >= np.percentile(p, 95)
        coms.append((yy[mask].mean(), xx[mask].mean()))
    return np.mean(coms, axis=0)


def preprocess(data, centre, binning):
    rows, cols, h, w = data.shape
    r0 = int(np.clip(round(centre[0] - WINDOW / 2), 0, h - WINDOW))
    c0 = int(np.clip(round(centre[1] - WINDOW / 2), 0, w - WINDOW))
    x = np.asarray(data[:, :, r0:r0 + WINDOW, c0:c0 + WINDOW], dtype=np.float32)
    side = WINDOW // binning
    x = x.reshape(rows * cols, side, binning, side, binning).mean(axis=(2, 4))
    lo = x.min(axis=(1, 2), keepdims=True)
    hi = x.max(axis=(1, 2), keepdims=True)
    return (x - lo) / np.maximum(hi - lo, 1e-12), side


def predict(args):
    t0 = time.perf_counter()
    data = np.load(args.scan, mmap_mode="r")
    centre = global_com(data)
    x, side = preprocess(data, centre, args.binning)
    t1 = time.perf_counter()
    net = PaperCnn(side).to(args.device).eval()
    inputs = torch.from_numpy(x).unsqueeze(1)
    classes = []
    with torch.no_grad():
        for start in range(0, len(inputs), BATCH):
            x = inputs[start:start + BATCH].to(args.device)
            if args.symmetrise:
                # 8 copies (transpose or not, then each axis reversed or not). The weights are
                # random and only the time is measured, so the class permutation that maps each
                # copy's probabilities back (8 numbers per pattern) is left out.
                probs = sum(torch.softmax(net(torch.flip(t, dims) if dims else t), 1)
                            for t in (x, x.transpose(2, 3))
                            for dims in ((), (2,), (3,), (2, 3)))
                classes.append(probs.argmax(1).cpu())
            else:
                classes.append(net(x).argmax(1).cpu())
    sync(args.device)
    t2 = time.perf_counter()
    n = len(inputs)
    print(f"{n} patterns of {data.shape[2]}x{data.shape[3]} px -> {side}x{side}, "
          f"{torch.get_num_threads()} threads, device {args.device}")
    print(f"read + global CoM + crop/bin/normalise: {t1 - t0:.2f} s")
    print(f"network (batch {BATCH}): {t2 - t1:.2f} s = {n / (t2 - t1):.0f} patterns/s")
    print(f"end to end: {t2 - t0:.2f} s")


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def train(args):
    side = WINDOW // args.binning
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.random((args.train_patterns, 1, side, side), dtype=np.float32))
    y = torch.from_numpy(rng.integers(0, 8, args.train_patterns))
    xv = torch.from_numpy(rng.random((args.val_patterns, 1, side, side), dtype=np.float32))
    yv = torch.from_numpy(rng.integers(0, 8, args.val_patterns))
    dev = args.device
    net = PaperCnn(side).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=2e-4, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    t0 = time.perf_counter()
    net.train()
    order = torch.randperm(args.train_patterns)
    for start in range(0, args.train_patterns, BATCH):
        batch = order[start:start + BATCH]
        opt.zero_grad()
        loss = loss_fn(net(x[batch].to(dev)), y[batch].to(dev))
        loss.backward()
        opt.step()
    sync(dev)
    t1 = time.perf_counter()
    net.eval()
    with torch.no_grad():
        for start in range(0, args.val_patterns, BATCH):
            loss_fn(net(xv[start:start + BATCH].to(dev)), yv[start:start + BATCH].to(dev))
    sync(dev)
    t2 = time.perf_counter()
    print(f"one epoch: {args.train_patterns} training patterns {t1 - t0:.1f} s, "
          f"{args.val_patterns} validation {t2 - t1:.1f} s, total {t2 - t0:.1f} s "
          f"({torch.get_num_threads()} threads, {side}x{side} inputs, device {dev})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["predict", "train"])
    parser.add_argument("scan", nargs="?")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--binning", type=int, default=2)
    parser.add_argument("--train-patterns", type=int, default=12800)
    parser.add_argument("--val-patterns", type=int, default=1600)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--symmetrise", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.mode == "predict":
        if not args.scan:
            parser.error("predict needs SCAN.npy")
        predict(args)
    else:
        train(args)


if __name__ == "__main__":
    main()
