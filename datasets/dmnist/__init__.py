"""difficult-MNIST: 3×64×64 colour digits on textured paper (see datasets/README.md).

`DifficultMNIST` (needs torchvision) is the students' side, and all of dmnist that Basin's student
toolkit ships; `build` is the generator, which stays with the course (with a course's seed it would
rebuild the hidden splits)."""
__all__ = ["DifficultMNIST"]

try:
    from .build import DEFAULT_COUNTS, GENERATOR_VERSION, build
except ModuleNotFoundError as missing:  # the student toolkit: the dataset class without the generator
    if missing.name != f"{__name__}.build":
        raise
else:
    __all__ += ["DEFAULT_COUNTS", "GENERATOR_VERSION", "build"]


def __getattr__(name: str):
    # The dataset class needs torchvision; building a version does not.
    if name == "DifficultMNIST":
        try:
            from .dataset import DifficultMNIST
        except ModuleNotFoundError as e:
            if e.name not in ("torchvision", "torch"):
                raise
            raise ModuleNotFoundError(f"DifficultMNIST needs {e.name}: install PyTorch and torchvision for your "
                                      "machine (Colab has them), then import it again.", name=e.name) from None
        return DifficultMNIST
    raise AttributeError(f"module 'dmnist' has no attribute {name!r}")
