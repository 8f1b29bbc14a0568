"""model.py sources that try to carry the hidden test images out of the sandbox, each through
another channel a student can read. Each behaves on the public rehearsal batch (so it passes the
rehearsal) and attacks only where it was given other images: the hidden pass.
"""
from __future__ import annotations

from tests import factories

# Reads every image file the run was given but the public rehearsal batch, and writes a piece of
# it in every form the leak search knows (tests/hidden_runs.py).
_PRELUDE = '''
import base64 as _b64, os as _os, sys as _sys
import numpy as _np

def _hidden_bytes(limit=768):
    data = '/data' if _os.path.isdir('/data') else _sys.argv[_sys.argv.index('--data') + 1]
    found = b''
    for name in sorted(_os.listdir(data)):
        if name.endswith('_images.npy') and not name.startswith('rehearsal'):
            found += _np.load(_os.path.join(data, name))[:1].tobytes()[4096:4096 + limit]
    return found

def _every_form(chunk):
    return '\\n'.join([chunk.hex(), _b64.b64encode(chunk).decode(), _b64.b85encode(chunk).decode(),
                      _b64.a85encode(chunk).decode(), chunk.decode('latin-1')])

_build = build_model
'''


def _hooked(body: str) -> str:
    """The baseline, with `body` run in a forward hook (mod, inp, out -> out) on every batch."""
    indented = "\n".join("        " + line for line in body.strip().splitlines())
    return (factories.BASELINE_SOURCE + _PRELUDE + "def build_model():\n    m = _build()\n"
            "    def _hook(mod, inp, out):\n        chunk = _hidden_bytes()\n" + indented +
            "\n        return out\n    m.register_forward_hook(_hook)\n    return m\n")


# Prints the hidden images in every form, to stdout and stderr, and is scored.
PRINTS = _hooked("""
if chunk:
    print(_every_form(chunk))
    _sys.stderr.write(_every_form(chunk) + '\\n')
    _sys.stdout.buffer.write(chunk)
    _sys.stdout.flush()
""")

# Raises an error whose text is the hidden images.
RAISES = _hooked("""
if chunk:
    raise ValueError(_every_form(chunk))
""")

# Raises an exception of its own class, whose name is the hidden images in hex.
NAMED_EXCEPTION = _hooked("""
if chunk:
    raise type('E' + chunk[:48].hex(), (Exception,), {})(chunk[:48].hex())
""")

# Writes its own result.json on the hidden pass: a time-limit verdict (never observed) whose
# message, error type and line carry the hidden images.
CLAIMS = _hooked("""
if chunk:
    import json
    out = '/out' if _os.path.isdir('/out') else _sys.argv[_sys.argv.index('--out') + 1]
    with open(_os.path.join(out, 'result.json'), 'w') as f:
        json.dump({'status': 'error', 'verdict': 'time_limit', 'message': _every_form(chunk),
                   'error_type': chunk[:32].hex(), 'error_line': int.from_bytes(chunk[:4], 'big')}, f)
    _os._exit(3)
""")

# Encodes hidden pixels in what the worker's messages would quote: the shape of its output, and
# the number of NaN rows.
SHAPES = _hooked("""
if chunk:
    import torch as _torch
    return _torch.zeros(len(out), 10 + chunk[0])
""")
NANS = _hooked("""
if chunk:
    out = out.clone()
    out[:chunk[0] % len(out) + 1] = float('nan')
""")

ALL = {"prints": PRINTS, "raises": RAISES, "named exception": NAMED_EXCEPTION, "claims": CLAIMS, "shapes": SHAPES,
       "NaN rows": NANS}

# Writes hidden pixels into numbers rather than text: each image's top confidence is placed in a
# reliability bin (by its index in the batch) at a value that is two bytes of a hidden image, so
# the bin's mean confidence, stored to full precision, carries them. Decoded by confidences_bytes.
CONFIDENCES = factories.BASELINE_SOURCE + _PRELUDE + '''
import math as _math
import torch as _torch

def _logits(n, secret):
    out = _torch.zeros(n, 10)
    for i in range(n):
        b = i % 13 + 2
        v = int.from_bytes(secret[2 * (b - 2):2 * (b - 2) + 2], 'big')
        c = b / 15 + (0.05 + 0.9 * v / 65535) / 15
        out[i, 0] = _math.log(9 * c / (1 - c))
    return out

def build_model():
    m = _build()
    def _hook(mod, inp, out):
        chunk = _hidden_bytes(26)[:26]  # the first hidden split's (test)
        return _logits(len(out), chunk) if len(chunk) == 26 else out
    m.register_forward_hook(_hook)
    return m
'''


def confidences_bytes(reliability: list[dict]) -> bytes:
    """What CONFIDENCES wrote into a reliability diagram's bins 2..14."""
    found = b""
    for b in range(2, 15):
        c = reliability[b].get("confidence") if b < len(reliability) else None
        if not isinstance(c, float):
            return found
        v = round(((c - b / 15) * 15 - 0.05) / 0.9 * 65535)
        found += max(0, min(65535, v)).to_bytes(2, "big")
    return found
