"""The production sandbox: one short-lived, hardened container per evaluation attempt."""
from __future__ import annotations

import functools
import json
import time
from importlib import resources

from ..contract import SANDBOX_UID
from ..verdicts import InfrastructureError
from . import RunIdentity, SandboxDirs, SandboxLimits, SandboxRun, sandbox_env

_CONTAINER_PATHS = {"sub": "/sub", "data": "/data", "out": "/out"}


_answered = False


@functools.cache
def seccomp_profile() -> str:
    """Basin's own seccomp profile (sandbox/seccomp.json: an allow-list that also refuses io_uring,
    ptrace and namespaces), as the JSON text Docker takes in place of its default profile."""
    text = resources.files(__package__).joinpath("seccomp.json").read_text()
    return json.dumps(json.loads(text), separators=(",", ":"))  # checked, and compact on the wire


def docker_available() -> bool:
    """Whether a Docker engine answers. Never asked at import; a yes is remembered, a no is not
    (an engine that was down at a worker's start must be used once it is up)."""
    global _answered
    if _answered:
        return True
    try:
        import docker

        client = docker.from_env(timeout=5)
        client.ping()
        client.close()
        _answered = True
    except Exception:
        return False
    return True


class DockerBackend:
    name = "docker"

    def __init__(self, image: str, gpu: str | None = None):
        self.image = image
        self.gpu = gpu  # the one GPU this worker owns, e.g. "0"; None on CPU machines

    def _client(self):
        import docker

        try:
            return docker.from_env(timeout=60)
        except docker.errors.DockerException as e:
            raise InfrastructureError(f"no Docker engine answers: {e}") from e

    def _create(self, client, dirs: SandboxDirs, limits: SandboxLimits, identity: RunIdentity, mode: str):
        from docker.types import DeviceRequest, LogConfig, Ulimit

        mb = 1024 * 1024
        file_bytes = limits.file_mb * mb
        return client.containers.create(
            self.image,
            command=["--sub", "/sub", "--data", "/data", "--out", "/out", "--mode", mode],
            name=identity.name,
            labels={"basin.sandbox": "1", **identity.labels},
            user=f"{SANDBOX_UID}:{SANDBOX_UID}",
            network_mode="none",
            read_only=True,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges", f"seccomp={seccomp_profile()}"],
            pids_limit=limits.pids,
            mem_limit=limits.memory_mb * mb,
            memswap_limit=limits.memory_mb * mb,
            shm_size=limits.shm_mb * mb,
            nano_cpus=int(limits.cpus * 1e9),
            tmpfs={"/tmp": f"rw,nosuid,nodev,size={limits.tmp_mb}m,mode=1777"},
            ulimits=[Ulimit(name="fsize", soft=file_bytes, hard=file_bytes), Ulimit(name="core", soft=0, hard=0)],
            volumes={
                str(dirs.sub): {"bind": "/sub", "mode": "ro"},
                str(dirs.data): {"bind": "/data", "mode": "ro"},
                str(dirs.out): {"bind": "/out", "mode": "rw"},
            },
            environment=sandbox_env(limits),
            working_dir="/tmp",
            init=True,
            log_config=LogConfig(type="json-file", config={"max-size": "1m", "max-file": "1"}),
            device_requests=[DeviceRequest(device_ids=[self.gpu], capabilities=[["gpu"]])] if self.gpu else None,
        )

    def run(self, dirs: SandboxDirs, limits: SandboxLimits, identity: RunIdentity, mode: str = "score") -> SandboxRun:
        import docker
        import requests

        client = self._client()
        try:
            try:  # a container left by a worker that died mid-attempt: the name must be free again
                client.containers.get(identity.name).remove(force=True)
            except docker.errors.NotFound:
                pass
            try:
                container = self._create(client, dirs, limits, identity, mode)
            except docker.errors.ImageNotFound as e:
                raise InfrastructureError(f"sandbox image {self.image!r} is missing: build it (deploy/sandbox)") from e
            started = time.monotonic()
            timed_out = False
            exit_code = None
            try:
                container.start()
                try:
                    exit_code = container.wait(timeout=limits.wall_seconds)["StatusCode"]
                except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                    timed_out = True
                    container.kill()
                    container.wait(timeout=30)
                seconds = time.monotonic() - started
                container.reload()
                oom_killed = bool(container.attrs["State"].get("OOMKilled"))
                raw = container.logs(stdout=True, stderr=True, tail=400)
                log_tail = raw[-limits.log_bytes:].decode("utf-8", errors="replace")
            finally:
                container.remove(force=True)
        except docker.errors.DockerException as e:
            raise InfrastructureError(f"Docker failed: {e}") from e
        finally:
            client.close()
        return SandboxRun(exit_code=None if timed_out else exit_code, timed_out=timed_out,
                          oom_killed=oom_killed, log_tail=log_tail, seconds=seconds)


def image_labels(image: str) -> dict[str, str] | None:
    """The image's labels, or None when there is no such image (or no engine)."""
    import docker

    try:
        client = docker.from_env(timeout=30)
        try:
            return client.images.get(image).labels or {}
        finally:
            client.close()
    except docker.errors.DockerException:
        return None
