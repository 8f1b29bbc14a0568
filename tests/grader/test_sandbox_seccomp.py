"""Basin's own seccomp profile (basin_grader/sandbox/seccomp.json) in the real Docker sandbox:
io_uring and the syscalls Docker's default profile refuses (or leaves to capabilities) fail with
EPERM inside, and torch still scores and diagnoses under it. Docker 20.10's default profile allows
io_uring_setup, and ptrace of one's own child; this profile refuses both."""
from __future__ import annotations

import json
import textwrap
from importlib import resources

import pytest

from basin_grader.budgets import resolve_budget
from basin_grader.evaluate import diagnose_in_sandbox, evaluate
from basin_grader.sandbox import SandboxLimits, get_backend
from basin_grader.verdicts import SCORED
from tests import factories, services
from tests.grader.test_adversarial import before_build

PROBE = textwrap.dedent("""\
    import ctypes, errno, os, platform, time
    libc = ctypes.CDLL(None, use_errno=True)
    arm = platform.machine() == "aarch64"
    NR = {"io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
          "keyctl": 219 if arm else 250, "add_key": 217 if arm else 248, "bpf": 280 if arm else 321,
          "perf_event_open": 241 if arm else 298, "userfaultfd": 282 if arm else 323}
    def report(name, rc):
        e = ctypes.get_errno()
        print(f"probe {name}: " + ("ALLOWED" if rc >= 0 else errno.errorcode.get(e, str(e))), flush=True)
    params = ctypes.create_string_buffer(120)
    report("io_uring_setup", libc.syscall(NR["io_uring_setup"], 8, params))
    report("io_uring_enter", libc.syscall(NR["io_uring_enter"], 0, 0, 0, 0, None, 0))
    report("io_uring_register", libc.syscall(NR["io_uring_register"], 0, 0, None, 0))
    report("unshare(CLONE_NEWUSER)", libc.unshare(0x10000000))
    os.makedirs("/tmp/m", exist_ok=True)
    report("mount", libc.mount(b"none", b"/tmp/m", b"tmpfs", 0, None))
    report("keyctl", libc.syscall(NR["keyctl"], 0, 0, 0, 0, 0))
    report("add_key", libc.syscall(NR["add_key"], b"user", b"basin", b"x", 1, -3))
    report("bpf", libc.syscall(NR["bpf"], 0, None, 0))
    report("perf_event_open", libc.syscall(NR["perf_event_open"], None, 0, -1, -1, 0))
    report("userfaultfd", libc.syscall(NR["userfaultfd"], 0))
    child = os.fork()
    if child == 0:
        time.sleep(30)
        os._exit(0)
    report("ptrace(ATTACH, child)", libc.ptrace(16, child, None, None))
    os.kill(child, 9)
    os.waitpid(child, 0)
""")
PROBES = ("io_uring_setup", "io_uring_enter", "io_uring_register", "unshare(CLONE_NEWUSER)", "mount", "keyctl",
          "add_key", "bpf", "perf_event_open", "userfaultfd", "ptrace(ATTACH, child)")


def test_the_profile_ships_with_the_grader_and_refuses_by_default():
    profile = json.loads(resources.files("basin_grader.sandbox").joinpath("seccomp.json").read_text())
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"  # an allow-list
    allowed = {name for rule in profile["syscalls"] if rule["action"] == "SCMP_ACT_ALLOW" and not rule.get("args")
               for name in rule["names"]}
    refused = {"io_uring_setup", "io_uring_enter", "io_uring_register", "unshare", "setns", "mount", "umount2",
               "pivot_root", "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "ptrace",
               "process_vm_readv", "process_vm_writev", "kexec_load", "kexec_file_load", "init_module",
               "finit_module", "delete_module", "userfaultfd", "open_by_handle_at", "name_to_handle_at", "chroot",
               "reboot", "swapon", "acct", "settimeofday", "clock_settime", "quotactl", "fsopen", "fsmount",
               "move_mount", "open_tree", "lookup_dcookie", "iopl", "ioperm", "syslog", "vhangup", "mbind",
               "set_mempolicy", "kcmp", "pidfd_getfd", "fanotify_init", "clone3"}
    assert not allowed & refused, sorted(allowed & refused)


@pytest.fixture
def docker():
    services.require("docker")
    return get_backend("docker")


def test_io_uring_namespaces_mount_keys_and_ptrace_fail_in_the_sandbox_and_torch_still_scores(docker, tmp_path,
                                                                                               tiny_dataset):
    path = factories.write(tmp_path / "submission.zip", factories.bundle(model_source=before_build(PROBE)))
    result = evaluate(path, tiny_dataset, tmp_path / "attempt", docker, SandboxLimits(wall_seconds=120))
    assert result.verdict == SCORED, (result.message, result.log_tail[-3000:])
    assert result.scores["all"]["accuracy"] is not None  # CPU scoring ran under the profile
    for name in PROBES:
        assert f"probe {name}: EPERM" in result.log_tail, (name, result.log_tail[-3000:])
    assert "ALLOWED" not in result.log_tail


def test_diagnostics_run_under_the_profile(docker, tmp_path, tiny_dataset):
    submission = factories.write(tmp_path / "m.zip", factories.bundle())
    budget = resolve_budget("cpu", {**factories.SMALL_BUDGET, "time_limit_s": 240})
    report = diagnose_in_sandbox(submission, tiny_dataset, tmp_path / "attempt", docker, budget)
    assert report["status"] == "complete", (report.get("errors"), report.get("partial"))
