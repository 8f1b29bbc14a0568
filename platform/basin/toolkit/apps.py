import importlib

from django.apps import AppConfig
from django.core import checks


class ToolkitConfig(AppConfig):
    name = "basin.toolkit"
    verbose_name = "Student toolkit"

    def ready(self):
        checks.register(toolkit_can_be_built)


def toolkit_can_be_built(app_configs=None, **kwargs):
    """The student toolkit is built at start (or on the first /simple/ request) with pypa/build and
    setuptools from this environment: without them every student's install would fail later."""
    missing = []
    for module, needed in (("build", "ProjectBuilder"), ("setuptools.build_meta", "build_wheel")):
        try:  # imported, not only found: a stray build/ folder on the path is a namespace package
            getattr(importlib.import_module(module), needed)
        except (ImportError, AttributeError):
            missing.append(module.split(".")[0])
    if not missing:
        return []
    return [checks.Error(f"{' and '.join(missing)} not installed: the student toolkit at /simple/ cannot be built",
                         hint="Install Basin with its dependencies (pip install -e . or the platform image); they "
                              "pin build and setuptools.", id="basin.toolkit.E001")]
