#!/usr/bin/env python3
"""The paper's CNN in PyTorch on domain-randomised draws, split by draw: an independent check
that a network failing to generalise across draws is not a polarmap training bug, and a test of
the input normalisation.

    python bench/dr_torch_check.py DRAWS_DIR minmax,zscore,mean LR EPOCHS

Each draw's patterns are centred on the draw's mean-pattern CoM, resampled to 32x32 at
0.657 mrad/px (what `polarmap train --input-binning 2` chose for the dr presets) and normalised
per pattern: minmax (the paper's, polarmap's), zscore, or mean (divided by the mean, minus 1).
A tenth of each class's draws (at least one) is held out; prints train accuracy and accuracy on
the held-out draws per epoch. Needs torch, numpy and scipy; bench/torch_cnn.py beside it.
"""
import glob, json, sys, time
import numpy as np, torch
from torch import nn
from scipy.ndimage import map_coordinates
sys.path.insert(0, str(__import__('pathlib').Path(__file__).parent))
from torch_cnn import PaperCnn
torch.set_num_threads(2); torch.manual_seed(0)
CL = ["RM","RU","MU","LU","LM","LD","MD","RD"]
files = sorted(glob.glob(sys.argv[1] + '/*.npy'))
X, y, g = [], [], []
for k, f in enumerate(files):
    meta = json.load(open(f.replace('.npy', '.meta.json')))
    a = np.load(f).astype(np.float64); a = a.reshape(-1, a.shape[-2], a.shape[-1])
    m = a.mean(0); yy, xx = np.mgrid[:m.shape[0], :m.shape[1]]
    cy, cx = (m*yy).sum()/m.sum(), (m*xx).sum()/m.sum()
    grid = (np.arange(32) - 15.5) * 0.657 / meta['mrad_per_px']
    co = np.array(np.meshgrid(cy + grid, cx + grid, indexing='ij'))
    for p in a:
        X.append(map_coordinates(p, co, order=1)); y.append(CL.index(meta['labels'])); g.append(k)
X, y, g = np.array(X, np.float32), np.array(y), np.array(g)
rng = np.random.default_rng(0)
val_scans = set()
for c in range(8):
    s = sorted(set(g[y == c])); rng.shuffle(s); val_scans |= set(s[:max(1, len(s)//10)])
val = np.array([s in val_scans for s in g])
def norm(X, kind):
    if kind == 'minmax':
        lo = X.min((1,2), keepdims=True); hi = X.max((1,2), keepdims=True); return (X-lo)/(hi-lo+1e-9)
    if kind == 'zscore':
        return (X - X.mean((1,2), keepdims=True)) / (X.std((1,2), keepdims=True) + 1e-9)
    if kind == 'mean':
        return X / (X.mean((1,2), keepdims=True) + 1e-9) - 1
for kind in sys.argv[2].split(','):
    Xn = torch.tensor(norm(X, kind))[:, None]; Y = torch.tensor(y)
    model = PaperCnn(32); opt = torch.optim.Adam(model.parameters(), lr=float(sys.argv[3]), weight_decay=1e-4)
    tr = np.where(~val)[0]; va = np.where(val)[0]; best = 0
    for ep in range(int(sys.argv[4])):
        model.train(); rng.shuffle(tr); tl, ta = 0, 0
        for i in range(0, len(tr), 128):
            b = tr[i:i+128]; out = model(Xn[b]); loss = nn.functional.cross_entropy(out, Y[b])
            opt.zero_grad(); loss.backward(); opt.step(); ta += (out.argmax(1) == Y[b]).sum().item()
        model.eval()
        with torch.no_grad(): va_acc = (model(Xn[va]).argmax(1) == Y[va]).float().mean().item()
        best = max(best, va_acc)
        print(f'{kind} epoch {ep+1}: train acc {ta/len(tr):.3f} val (held-out scans) {va_acc:.3f}', flush=True)
    print(f'{kind}: best val {best:.3f}')
