"""`python -m dmnist build --seed S --out DIR [--train N --val N --test N --shift N] [--mnist-dir DIR]`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .build import DEFAULT_COUNTS, build
from .glyphs import MnistGlyphs


def _hidden_seed(value: str) -> int:
    """32 hex digits, as written to hidden.json: a shorter secret could be guessed from the file hashes."""
    if len(value) != 32:
        raise argparse.ArgumentTypeError("a hidden seed is 32 hex digits (the value in a version's hidden.json)")
    try:
        return int(value, 16)
    except ValueError:
        raise argparse.ArgumentTypeError("a hidden seed is 32 hex digits") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dmnist", description="difficult-MNIST tools")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build a dataset version into an empty directory")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--out", type=Path, required=True)
    for split, n in DEFAULT_COUNTS.items():
        b.add_argument(f"--{split}", type=int, default=n, metavar="N", help=f"samples (default {n:,})")
    b.add_argument("--hidden-seed", type=_hidden_seed, default=None, metavar="HEX",
                   help="seed of the hidden splits, to rebuild a version (default: 128 random bits)")
    b.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    b.add_argument("--mnist-dir", type=Path, default=None,
                   help="take the glyphs from MNIST's IDX files here (default: the built-in offline generator)")
    args = parser.parse_args(argv)
    try:
        glyphs = MnistGlyphs(args.mnist_dir) if args.mnist_dir else None
        manifest = build(args.out, seed=args.seed, workers=args.workers, hidden_seed=args.hidden_seed,
                         counts={s: getattr(args, s) for s in DEFAULT_COUNTS}, glyphs=glyphs)
    except (ValueError, OSError, EOFError) as e:  # bad sizes, a used directory, broken MNIST files
        print(f"dmnist: {e}", file=sys.stderr)
        return 2
    print(f"dmnist: wrote {sum(manifest['counts'].values()):,} images to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
