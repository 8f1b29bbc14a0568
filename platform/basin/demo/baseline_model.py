"""The course's baseline: a small CNN. This file is shipped as model.py in the baseline bundle."""
import torch
from torch import nn


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class BaselineCNN(nn.Module):
    def __init__(self, width: int = 16, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            _block(3, width), nn.MaxPool2d(2),              # 32×32
            _block(width, 2 * width), nn.MaxPool2d(2),      # 16×16
            _block(2 * width, 4 * width), nn.MaxPool2d(2),  # 8×8
            _block(4 * width, 4 * width),
            nn.AdaptiveAvgPool2d(1),  # the digit may sit anywhere: pool over all positions
        )
        self.head = nn.Linear(4 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.features(x), 1))


def build_model() -> nn.Module:
    return BaselineCNN()
