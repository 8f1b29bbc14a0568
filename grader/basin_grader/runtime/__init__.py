"""What runs inside the sandbox: load the student's model, then predict logits for a small public
val batch (mode "rehearse": everything it prints is the student's), for the hidden images (mode
"score": nothing it prints reaches a student), or compute diagnostics on public-label subsets
(mode "diagnose").

Untrusted territory: everything here may be subverted by the submission it loads, so nothing
here is believed by the worker without checking (see basin_grader.scoring). What it reads and
writes, and where, is basin_grader.contract's.
"""
