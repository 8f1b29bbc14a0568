"""difficult-MNIST: 3×64×64 colour digits on textured paper (see datasets/README.md)."""
from .build import DEFAULT_COUNTS, GENERATOR_VERSION, build

__all__ = ["DEFAULT_COUNTS", "GENERATOR_VERSION", "DifficultMNIST", "build"]


def __getattr__(name: str):
    # The dataset class needs torchvision; building a version does not.
    if name == "DifficultMNIST":
        from .dataset import DifficultMNIST

        return DifficultMNIST
    raise AttributeError(f"module 'dmnist' has no attribute {name!r}")
