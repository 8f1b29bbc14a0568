"""Prints Basin's pinned dependencies for the platform image: pyproject.toml's list, less PyTorch.
The web process and the workers never run a model (the sandbox image does; the demo's training is
not in this image), so the platform image stays small.
    python deploy/platform/requirements.py pyproject.toml > requirements.txt"""
import sys
import tomllib

SANDBOX_ONLY = ("torch", "torchvision")

with open(sys.argv[1], "rb") as f:
    dependencies = tomllib.load(f)["project"]["dependencies"]
for requirement in dependencies:
    name = requirement.split("==")[0].split("[")[0].strip().lower()
    if name not in SANDBOX_ONLY:
        print(requirement)
