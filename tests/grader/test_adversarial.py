"""Hostile submissions, each with the verdict a student must get. Nothing escapes the sandbox.

Docker is the production sandbox and runs every case where the backend has a part. The process
backend (no engine) is plainly weaker: it runs the cases that do not rely on a container's
isolation (filesystem view, PID 1, /dev/shm, a read-only root, the pids limit). A case decided
the same way on either backend (by the worker's format checks, or by the runtime's own code:
`either_backend`) runs once, in Docker where it runs. Network probes target loopback only.
"""
from __future__ import annotations

import dataclasses
import io
import os
import socket
import textwrap
import threading
import zipfile
from dataclasses import dataclass, field

import pytest
import torch

from basin_grader.contract import output_files
from basin_grader.evaluate import evaluate
from basin_grader.sandbox import SandboxLimits, get_backend
from basin_grader.verdicts import INVALID_OUTPUT, INVALID_SUBMISSION, MEMORY_LIMIT, RUNTIME_ERROR, SCORED, TIME_LIMIT
from tests import factories, services

CANARY = "basin-canary-7f3a9c"  # planted in the worker's environment; must never reach the sandbox


def before_build(body: str) -> str:
    """model.py that runs `body` inside build_model(), then builds the baseline."""
    return factories.BASELINE_SOURCE + "\n_build = build_model\ndef build_model():\n" + textwrap.indent(
        textwrap.dedent(body), "    ") + "\n    return _build()\n"


def after_run(body: str) -> str:
    """model.py that runs `body` at interpreter exit, after the runtime wrote its outputs."""
    return before_build(f"import atexit\ndef _late():\n{textwrap.indent(textwrap.dedent(body), '    ')}\n"
                        "atexit.register(_late)")


# Where the runtime writes: /out in a container, the --out argument in a process.
OUT = "import os, sys\nout = '/out' if os.path.isdir('/out') else sys.argv[sys.argv.index('--out') + 1]\n"


def zipped(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


PWNED = f"/tmp/basin-pwned-by-pickle-{os.getpid()}"  # would appear if anything outside the sandbox unpickled it


class Evil:
    def __reduce__(self):
        return (os.system, (f"touch {PWNED}",))


def pickled_payload_bundle() -> bytes:
    inner = io.BytesIO()
    torch.save({"head.weight": torch.zeros(1), "x": Evil()}, inner)
    return zipped({"model.py": factories.BASELINE_SOURCE.encode(), "weights.pt": inner.getvalue()})


def saved(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def torchscript() -> bytes:
    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), buf)
    return buf.getvalue()


def unexpected_keys_bundle() -> bytes:
    state = factories.baseline_state()
    state["extra.weight"] = torch.zeros(3)
    return factories.bundle(state=state)


@dataclass(frozen=True)
class Case:
    name: str
    submission: object  # model.py source (str) or the whole file (bytes), or a callable giving bytes
    verdict: str | tuple[str, ...]
    docker_only: bool = False
    in_log: tuple[str, ...] = ()
    not_in_output: tuple[str, ...] = ()
    in_message: tuple[str, ...] = ()
    limits: dict = field(default_factory=dict)
    process_needs_root: bool = False  # the process backend's network namespace needs root
    on_process: dict = field(default_factory=dict)  # what differs on the (weaker) process backend
    either_backend: bool = False  # no backend code has a part: run once (tests/services.either_sandbox)

    def data(self) -> bytes:
        value = self.submission() if callable(self.submission) else self.submission
        return factories.bundle(model_source=value) if isinstance(value, str) else value


CASES = [
    Case("infinite loop", before_build("while True:\n    pass"), TIME_LIMIT, limits={"wall_seconds": 8}),
    Case("sleep", before_build("import time\ntime.sleep(3600)"), TIME_LIMIT, limits={"wall_seconds": 8}),
    Case("fork bomb", before_build("import os\nwhile True:\n    os.fork()"), (RUNTIME_ERROR, TIME_LIMIT, MEMORY_LIMIT),
         docker_only=True, limits={"wall_seconds": 30}),
    Case("memory bomb", before_build("hog = [bytearray(64 << 20) for _ in range(1000)]"), MEMORY_LIMIT,
         limits={"memory_mb": 1024}),
    Case("fill /dev/shm", before_build("for i in range(1000):  # many files: the shm cap, not the file-size cap\n"
                                       "    with open(f'/dev/shm/fill{i}', 'wb') as f:\n"
                                       "        f.write(b'x' * (32 << 20))"),
         (RUNTIME_ERROR, MEMORY_LIMIT), docker_only=True, in_log=("No space left on device",)),
    Case("fill /tmp", before_build("import tempfile\nwith open(tempfile.gettempdir() + '/fill', 'wb') as f:\n"
                                   "    while True:\n        f.write(b'x' * (8 << 20))"),
         (RUNTIME_ERROR, MEMORY_LIMIT), limits={"tmp_mb": 64, "file_mb": 64}),
    Case("huge stdout", before_build("import sys\nfor _ in range(200):\n"
                                     "    sys.stdout.write('spam' * 250_000 + '\\n')"),
         SCORED),
    Case("huge output file", after_run(OUT + "with open(out + '/test_logits.npy', 'wb') as f:\n"
                                       "    f.write(b'\\x93NUMPY' + b'x' * (300 << 20))"),
         INVALID_OUTPUT, in_message=("at most",), either_backend=True),
    Case("no output", after_run(OUT + "open(out + '/test_logits.npy', 'wb').close()"), INVALID_OUTPUT,
         in_message=("wrote no",), either_backend=True),
    Case("NaN logits", factories.BASELINE_SOURCE + "\n_build = build_model\ndef build_model():\n    m = _build()\n"
         "    m.register_forward_hook(lambda mod, inp, out: out * float('nan'))\n    return m\n",
         INVALID_OUTPUT, in_message=("NaN or infinite",), either_backend=True),
    # In a container /out cannot be changed, only its files written: the plant is refused. The
    # process backend runs as the worker's user, who owns /out; there the scorer refuses the plant.
    Case("symlink planted in /out", after_run(OUT + "os.remove(out + '/test_logits.npy')\n"
                                              "os.symlink('/etc/passwd', out + '/test_logits.npy')"),
         SCORED, in_log=("Permission denied",),
         on_process={"verdict": INVALID_OUTPUT, "in_log": (), "in_message": ("not a regular file",)}),
    Case("FIFO planted in /out", after_run(OUT + "os.remove(out + '/test_logits.npy')\n"
                                           "os.mkfifo(out + '/test_logits.npy')"),
         SCORED, in_log=("Permission denied",),
         on_process={"verdict": INVALID_OUTPUT, "in_log": (), "in_message": ("not a regular file",)}),
    Case("many files in /out", after_run(OUT + "for i in range(10_000):\n"
                                         "    open(f'{out}/extra{i}.npy', 'wb').write(b'x' * (1 << 20))"),
         SCORED, docker_only=True, in_log=("Permission denied",)),
    Case("only loopback exists", before_build("import socket\n"
                                              "print('interfaces:', sorted(n for _, n in socket.if_nameindex()))"),
         SCORED, in_log=("interfaces: ['lo']",), process_needs_root=True),
    Case("environment secrets", before_build("import os\nprint(dict(os.environ))"), SCORED, not_in_output=(CANARY,)),
    # The container's walls, probed in one run (each probe says what it met; none changes the verdict):
    # PID 1's environment, the filesystem searched for labels, the image written to, root regained.
    Case("a container's walls", before_build(
         "import os, sysconfig\ntry:\n    print('PID 1:', open('/proc/1/environ', 'rb').read())\n"
         "except OSError as e:\n    print('PID 1 refused:', e)\n"
         "for root, dirs, files in os.walk('/'):\n    if root.startswith(('/proc', '/sys')):\n"
         "        dirs[:] = []\n        continue\n    for f in files:\n"
         "        if f in ('labels.npy', 'is_private.npy', 'hidden.json'):\n"
         "            print('FOUND', os.path.join(root, f))\n"
         "try:\n    open(sysconfig.get_paths()['purelib'] + '/evil.py', 'w').write('x')\n"
         "    print('IMAGE WRITTEN')\nexcept OSError as e:\n    print('write refused:', e)\n"
         "print([l for l in open('/proc/self/status') if l.startswith(('Uid', 'CapEff', 'NoNewPrivs'))])\n"
         "try:\n    os.setuid(0)\n    print('BECAME ROOT')\nexcept PermissionError as e:\n    print('setuid refused')"),
         SCORED, docker_only=True, in_log=("Read-only file system", "setuid refused", "CapEff:\\t0000000000000000",
                                          "NoNewPrivs:\\t1"),
         not_in_output=("FOUND", "IMAGE WRITTEN", "BECAME ROOT")),  # and the worker's CANARY, as for every case
    Case("pickle payload in a .pt", pickled_payload_bundle, INVALID_SUBMISSION, either_backend=True),
    Case("whole pickled module", lambda: saved(torch.nn.Linear(2, 2)), INVALID_SUBMISSION,
         in_message=("torch.save(model)",), either_backend=True),
    Case("TorchScript", torchscript, INVALID_SUBMISSION, in_message=("TorchScript",), either_backend=True),
    Case("bad safetensors header", lambda: zipped({"model.py": b"", "weights.safetensors": b"\xff" * 64}),
         INVALID_SUBMISSION, either_backend=True),
    Case("zip bomb", lambda: zipped({"model.py": b"", "weights.safetensors": b"\0" * (64 << 20)}), INVALID_SUBMISSION,
         in_message=("zip bomb",), either_backend=True),
    Case("zip slip", lambda: zipped({"model.py": b"", "../../etc/cron.d/evil": b"x", "weights.safetensors": b""}),
         INVALID_SUBMISSION, in_message=("outside the archive",), either_backend=True),
    Case("missing state_dict keys", lambda: factories.bundle(state={k: v for k, v in factories.baseline_state().items()
                                                                      if k != "head.bias"}),
         INVALID_SUBMISSION, in_message=("missing: head.bias",), either_backend=True),
    Case("unexpected state_dict keys", unexpected_keys_bundle, INVALID_SUBMISSION,
         in_message=("unexpected: extra.weight",), either_backend=True),
]


@pytest.fixture
def backend_name(request):
    if request.param == "either":
        return services.either_sandbox()
    if request.param == "docker":
        services.require("docker")
    return request.param


def _backends(case: Case) -> tuple[str, ...]:
    """A container's isolation is Docker's alone to claim; a case no backend code has a part in runs once."""
    return ("docker",) if case.docker_only else ("either",) if case.either_backend else ("docker", "process")


PARAMS = [pytest.param(case, backend, id=f"{backend}-{case.name}") for case in CASES for backend in _backends(case)]


@pytest.mark.parametrize("case, backend_name", PARAMS, indirect=["backend_name"])
def test_a_hostile_submission_gets_its_verdict_and_nothing_escapes(case, backend_name, tmp_path, tiny_dataset,
                                                                   monkeypatch):
    if case.process_needs_root and backend_name == "process" and os.geteuid() != 0:
        pytest.skip("the process backend gets a network namespace only when the worker runs as root")
    if backend_name == "process":
        case = dataclasses.replace(case, **case.on_process)
    monkeypatch.setenv("BASIN_SECRET_KEY", CANARY)  # the worker's own environment holds a secret
    listener = socket.create_server(("127.0.0.1", 0))  # a service on the worker's loopback
    listener.settimeout(0.2)
    connections = []

    def watch():
        try:
            while True:
                try:
                    connections.append(listener.accept())
                except TimeoutError:
                    if stop.is_set():
                        return
        except OSError:
            return

    stop = threading.Event()
    watcher = threading.Thread(target=watch)
    watcher.start()
    probe = ("\nimport socket as _s\ntry:\n"
             f"    _s.create_connection(('127.0.0.1', {listener.getsockname()[1]}), timeout=2)\n"
             "except OSError:\n    pass\n")
    try:
        # Every model.py also tries the worker's loopback service at import.
        data = (factories.bundle(model_source=case.submission + probe) if isinstance(case.submission, str)
                else case.data())
        path = factories.write(tmp_path / "submission.zip", data)
        limits = SandboxLimits(**{"wall_seconds": 60, "memory_mb": 1536, **case.limits})
        result = evaluate(path, tiny_dataset, tmp_path / "attempt", get_backend(backend_name), limits)
    finally:
        stop.set()
        watcher.join()
        listener.close()
    expected = case.verdict if isinstance(case.verdict, tuple) else (case.verdict,)
    assert result.verdict in expected, (result.verdict, result.message, result.log_tail[-2000:],
                                        result.hidden_log[-2000:])
    # Most cases act in both sandbox runs (the rehearsal's log is the student's, the hidden pass's
    # the TAs'); the worker's own word on the hidden pass's output is the TAs' too.
    logs = result.log_tail + result.hidden_log
    output = result.message + logs
    for text in case.in_log:
        assert text in logs, logs[-4000:]
    for text in case.in_message:
        assert text in result.message + result.hidden_log, (result.message, result.hidden_log[:2000])
    for text in case.not_in_output + (CANARY,):
        assert text not in output
    assert len(result.log_tail) <= limits.log_bytes
    assert not connections, "the sandbox reached a service on the worker's loopback"
    for mode in ("rehearse", "score"):
        out = tmp_path / "attempt" / mode / "out"
        if backend_name == "docker" and out.exists():  # /out holds the runtime's files and nothing else
            assert set(os.listdir(out)) <= set(output_files(mode))
    assert not os.path.exists(PWNED)
