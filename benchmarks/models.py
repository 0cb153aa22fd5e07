"""Hand-written PyTorch references for the benchmarks: ResNet, VGG and DenseNet the usual way.

Plain, conventional ``nn.Module`` code in the style of torchvision's models (written here from
the papers' tables, not copied): blocks as classes with a ``forward``, stages as
``nn.Sequential``, ``nn.ReLU(inplace=True)`` as torchvision has it. The module names are
torchvision's, which are also the archdsl specs' (specs/classic/resnet.arch, vgg.arch,
densenet.arch), so a compiled model's ``state_dict`` loads into these with ``load_state_dict``
key for key (``benchmarks/speed.py`` asserts equal outputs after copying).

Each initialises its weights as torchvision does (for the ResNets that is archdsl's ``init = "he"``
of specs/classic/resnet.arch), so that ``benchmarks/build.py`` times the same work on both sides.
``inplace=False`` builds the same networks with out-of-place ReLUs (to measure what in place saves).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


# --------------------------------------------------------------------------------- ResNet
class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, inplace=True):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=inplace)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class Bottleneck(nn.Module):
    """1x1 - 3x3 (strided, v1.5) - 1x1 x4, a projection shortcut where the shape changes."""

    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, inplace=True):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=inplace)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes=1000, inplace=True):
        super().__init__()
        self.inplanes = 64
        self.inplace = inplace
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=inplace)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():  # He et al. 2015, as torchvision (archdsl's init = "he")
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample, inplace=self.inplace)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, inplace=self.inplace) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


def resnet18(**kw):
    return ResNet(BasicBlock, (2, 2, 2, 2), **kw)


def resnet50(**kw):
    return ResNet(Bottleneck, (3, 4, 6, 3), **kw)


def resnet152(**kw):
    return ResNet(Bottleneck, (3, 8, 36, 3), **kw)


# ------------------------------------------------------------------------------------ VGG
VGG16_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


class VGG(nn.Module):
    def __init__(self, cfg=VGG16_CFG, num_classes=1000, inplace=True):
        super().__init__()
        layers, c = [], 3
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=inplace)]
                c = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(7)
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(inplace=inplace),
            nn.Dropout(0.5),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=inplace),
            nn.Dropout(0.5),
            nn.Linear(4096, num_classes),
        )
        for m in self.modules():  # torchvision's
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.constant_(m.bias, 0)

    def forward(self, x):
        x = torch.flatten(self.avgpool(self.features(x)), 1)
        return self.classifier(x)


def vgg16(**kw):
    return VGG(VGG16_CFG, **kw)


# ------------------------------------------------------------------------------- DenseNet
class DenseLayer(nn.Module):
    """BN-ReLU-Conv1x1(4k)-BN-ReLU-Conv3x3(k) on the concatenation of all earlier maps."""

    def __init__(self, in_channels, growth, bn_size=4, inplace=True):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU(inplace=inplace)
        self.conv1 = nn.Conv2d(in_channels, bn_size * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth)
        self.relu2 = nn.ReLU(inplace=inplace)
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = torch.cat(features, 1)
        x = self.conv1(self.relu1(self.norm1(x)))
        return self.conv2(self.relu2(self.norm2(x)))


class DenseBlock(nn.ModuleDict):
    def __init__(self, n, in_channels, growth, bn_size=4, inplace=True):
        super().__init__()
        for i in range(n):
            self.add_module(f"denselayer{i + 1}", DenseLayer(in_channels + i * growth, growth, bn_size, inplace))

    def forward(self, x):
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class Transition(nn.Sequential):
    def __init__(self, in_channels, out_channels, inplace=True):
        super().__init__()
        self.norm = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU(inplace=inplace)
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.pool = nn.AvgPool2d(2, 2)


class DenseNet(nn.Module):
    def __init__(self, growth=32, block_config=(6, 12, 24, 16), init=64, bn_size=4, num_classes=1000, inplace=True):
        super().__init__()
        self.inplace = inplace
        self.features = nn.Sequential()
        self.features.add_module("conv0", nn.Conv2d(3, init, 7, 2, 3, bias=False))
        self.features.add_module("norm0", nn.BatchNorm2d(init))
        self.features.add_module("relu0", nn.ReLU(inplace=inplace))
        self.features.add_module("pool0", nn.MaxPool2d(3, 2, 1))
        c = init
        for i, n in enumerate(block_config):
            self.features.add_module(f"denseblock{i + 1}", DenseBlock(n, c, growth, bn_size, inplace))
            c += n * growth
            if i != len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}", Transition(c, c // 2, inplace))
                c //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(c))
        self.classifier = nn.Linear(c, num_classes)
        for m in self.modules():  # torchvision's
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0)

    def forward(self, x):
        x = F.relu(self.features(x), inplace=self.inplace)
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.classifier(x)


def densenet121(**kw):
    return DenseNet(32, (6, 12, 24, 16), 64, **kw)


MODELS = {
    "resnet18": resnet18,
    "resnet50": resnet50,
    "resnet152": resnet152,
    "vgg16": vgg16,
    "densenet121": densenet121,
}
