"""difficult-MNIST: 3×64×64 colour digits on textured paper (see datasets/README.md)."""
from .build import DEFAULT_COUNTS, GENERATOR_VERSION, build

__all__ = ["DEFAULT_COUNTS", "GENERATOR_VERSION", "build"]
