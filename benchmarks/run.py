"""Compiled archdsl models against hand-written PyTorch equivalents, timed in the same run.

    python benchmarks/run.py [--repeats 15] [--batch 8]

Each case builds the model twice — once from a spec, once as conventional hand-written PyTorch —
copies the weights across (asserting equal outputs), then alternates timed forward passes and
reports the ratio of medians (compiled / hand-written). A ratio near 1.00 means no overhead.

Small models, quick. The full-size comparison (ResNet-50, VGG-16, DenseNet-121 at 224x224, forward
and forward+backward) is benchmarks/speed.py; build times are benchmarks/build.py (README.md here).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

import archdsl

PATTERN = "INPUT -> [[CONV -> RELU]*2 -> POOL]*3 -> [FC -> RELU]*2 -> FC"


class PatternNet(nn.Module):
    """The cs231n pattern by hand: 3 x (2 x (conv3x3-32, relu), maxpool), 2 x (fc-128, relu), fc-10."""

    def __init__(self, classes=10):
        super().__init__()
        layers, c = [], 3
        for _ in range(3):
            for _ in range(2):
                layers += [nn.Conv2d(c, 32, 3, padding=1), nn.ReLU()]
                c = 32
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Linear(32 * 4 * 4, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, classes)
        )

    def forward(self, x):
        return self.head(torch.flatten(self.features(x), 1))


RESNET_SPEC = """
block basic(planes, stride=1) {
  residual(act=relu) {
    conv1: conv(planes, k=3, s=stride, bias=false)
    bn1: bn
    relu
    conv2: conv(planes, k=3, bias=false)
    bn2: bn
  }
}
input 3x64x64
conv1: conv(64, k=7, s=2, p=3, bias=false) - bn1: bn - relu - maxpool(3, s=2, p=1)
layer1: [basic(64)]x2
layer2 { basic(128, 2) - basic(128) }
avgpool: gap
fc: fc-10
"""


class Basic(nn.Module):
    def __init__(self, cin, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        identity = x if self.downsample is None else self.downsample(x)
        return torch.relu(out + identity)


class SmallResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(Basic(64, 64), Basic(64, 64))
        self.layer2 = nn.Sequential(Basic(64, 128, 2), Basic(128, 128))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(128, 10)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


CASES = [
    ("cs231n pattern, 3x32x32", lambda: archdsl.load(PATTERN, input="3x32x32", classes=10), PatternNet, (3, 32, 32)),
    ("small ResNet, 3x64x64", lambda: archdsl.load(RESNET_SPEC), SmallResNet, (3, 64, 64)),
]


def copy_weights(src: nn.Module, dst: nn.Module) -> None:
    s, d = list(src.state_dict().values()), dst.state_dict()
    assert len(s) == len(d), "the two models differ in structure"
    dst.load_state_dict(dict(zip(d.keys(), s)))


def timed(model, x, repeats):
    out = []
    with torch.no_grad():
        for _ in range(repeats):
            t = time.perf_counter()
            model(x)
            out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()
    torch.manual_seed(0)
    print(f"{'case':28} {'archdsl ms':>11} {'hand ms':>9} {'ratio':>7}")
    for name, spec, hand_cls, shape in CASES:
        compiled, hand = spec().compile().eval(), hand_cls().eval()
        copy_weights(compiled, hand)
        x = torch.randn(args.batch, *shape)
        with torch.no_grad():
            torch.testing.assert_close(compiled(x), hand(x))
        timed(compiled, x, 3), timed(hand, x, 3)  # warm-up: allocator and thread pools
        a, b = [], []
        for _ in range(args.repeats):  # alternate so drift hits both equally
            a += timed(compiled, x, 1)
            b += timed(hand, x, 1)
        ma, mb = statistics.median(a) * 1e3, statistics.median(b) * 1e3
        print(f"{name:28} {ma:11.3f} {mb:9.3f} {ma / mb:7.3f}")


if __name__ == "__main__":
    main()
