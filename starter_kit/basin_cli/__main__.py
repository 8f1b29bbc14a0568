"""`basin login | logout | join | download | bundle | check | submit | status | logs | select | submissions |
leaderboard`: parsing here, one handler per command below (COMMANDS, called by run() with what the command
needs), HTTP in http.py, and one error boundary in main()."""
from __future__ import annotations

import argparse
import functools
import getpass
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from . import config
from .download import download
from .http import (
    EXIT_AUTH,
    EXIT_EMPTY_FILE,
    EXIT_NOT_FOUND,
    EXIT_NOT_SCORED,
    EXIT_REFUSED,
    EXIT_SERVER,
    EXIT_USAGE,
    Client,
    CliError,
)
from .terminal import clean, number

TERMINAL = ("scored", "failed", "cancelled")


EXIT_CODES = ("exit codes: 2 usage, 3 network, 4 token refused (expired, revoked or mistyped: basin login), "
              "5 refused by the server, 6 not found, 7 not scored (--wait), 8 server error, 9 empty file, "
              "10 identical to an earlier submission (--force sends it), 11 private leaderboard not revealed yet")


def global_options() -> argparse.ArgumentParser:
    """--url, --token and --json, taken before the command or after it (`basin submit m.zip --url ...`).
    SUPPRESS keeps a subcommand that was not given one from overwriting the value given before it."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--url", default=argparse.SUPPRESS, help="server address (env BASIN_URL; saved by login)")
    options.add_argument("--token", default=argparse.SUPPRESS, help="API token (env BASIN_TOKEN; saved by login)")
    options.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print machine-readable JSON")
    return options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="basin", description="Submit to a Basin course competition.",
                                     parents=[global_options()], epilog=EXIT_CODES)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    command = functools.partial(sub.add_parser, parents=[global_options()])  # every command takes them too

    login = command("login", help="log in with your username and password, or check a token from the "
                                  "homework page (--token TOKEN or BASIN_TOKEN, no password), and save it "
                                  "with the server address",
                    description="With --token TOKEN (or BASIN_TOKEN set) and no --username: check that token "
                                "with the server and save it, asking for no password (a token created on the "
                                "homework page). Otherwise: ask for your username and password and save a "
                                "new token. `basin logout` revokes it.")
    login.add_argument("--username", help="default: ask (with --username, a password login even if BASIN_TOKEN "
                                          "is set)")
    login.add_argument("--homework", help="homework to use by default in later commands")

    command("logout", help="revoke the saved token on the server and remove it from the config file")

    join = command("join", help="join a course with the join code from its staff")
    join.add_argument("code")

    download = command("download", help="download the homework's public data (sha256 checked, resumable)")
    download.add_argument("--homework", help="homework slug (env BASIN_HOMEWORK; saved by login)")
    download.add_argument("--split", choices=("train", "val"), action="append",
                          help="a public split (repeatable; default: both)")
    download.add_argument("--dest", type=Path, default=Path("data"),
                          help="directory for dmnist.DifficultMNIST(root=DEST) (default: ./data)")

    check = command("check", help="load a checkpoint as the grader does and run a probe batch, locally "
                                  "(needs PyTorch and basin-grader)")
    check.add_argument("file", type=Path)

    bundle = command("bundle", help="zip model.py and the weights into a submission bundle, locally "
                                    "(in Python: basin_cli.bundle.save_bundle(model))")
    bundle.add_argument("model_py", type=Path, metavar="MODEL_PY", help="model.py, with build_model()")
    bundle.add_argument("weights", type=Path, metavar="WEIGHTS",
                        help="model.state_dict() saved as .safetensors (or .pt with torch.save)")
    bundle.add_argument("-o", "--output", type=Path, default=Path("submission.zip"),
                        help="the bundle to write (default: submission.zip)")

    submit = command("submit", help="upload a checkpoint (bundle .zip or .pt2)")
    submit.add_argument("file", type=Path)
    submit.add_argument("--homework", help="homework slug (env BASIN_HOMEWORK; saved by login)")
    submit.add_argument("-m", "--message", default="", help="a note to remember this submission by")
    submit.add_argument("--wait", action="store_true", help="follow the status; exit non-zero unless scored")
    submit.add_argument("--force", action="store_true", help="send it even if it is identical to one of your "
                                                             "submissions already scored or waiting")

    status = command("status", help="a submission's status and verdict (default: your latest)")
    status.add_argument("id", type=int, nargs="?", help="submission id (default: your latest in the homework)")
    status.add_argument("--homework", help="homework slug, for the latest (env BASIN_HOMEWORK; saved by login)")
    status.add_argument("--wait", action="store_true", help="wait until graded")

    logs = command("logs", help="a submission's verdict and the tail of its log (default: your latest)")
    logs.add_argument("id", type=int, nargs="?", help="submission id (default: your latest in the homework)")
    logs.add_argument("--homework", help="homework slug, for the latest (env BASIN_HOMEWORK; saved by login)")

    select = command("select", help="choose the submissions that count on the private leaderboard "
                                    "(no ids: show the current choice)")
    select.add_argument("ids", type=int, nargs="*", metavar="ID")
    select.add_argument("--homework", help="homework slug (env BASIN_HOMEWORK; saved by login)")
    select.add_argument("--clear", action="store_true", help="choose none")

    for name, text in (("submissions", "your submissions"), ("leaderboard", "the public leaderboard")):
        p = command(name, help=text)
        p.add_argument("--homework", help="homework slug (env BASIN_HOMEWORK; saved by login)")
    p.add_argument("--private", action="store_true", help="the private leaderboard (after the course staff "
                                                          "reveal it)")
    return parser


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    for name, default in (("url", None), ("token", None), ("json", False)):  # given neither before nor after
        if not hasattr(args, name):
            setattr(args, name, default)
    return args


def interactive(args) -> bool:
    """Progress bars only for a person watching a terminal, never in --json or a pipe."""
    return not args.json and sys.stderr.isatty()


def show(args, data, text: str) -> None:
    # JSON escapes every control and non-ASCII character (ensure_ascii); text is cleaned of them.
    print(json.dumps(data, indent=2) if args.json else clean(text))


def describe(s: dict) -> str:
    line = f"#{s['id']} {s['status']}"
    if s["status"] == "scored":
        line += f"  public accuracy {number(s['public_score'])}"
    elif s["status"] == "failed":
        line += f"  {s['verdict']}: {s['message']}"
    return line


def follow(client: Client, submission_id: int, quiet: bool) -> dict:
    last = None
    while True:
        s = client.submission(submission_id)
        if s["status"] != last and not quiet:
            print(clean(f"#{submission_id} {s['status']}"), file=sys.stderr)
            last = s["status"]
        if s["status"] in TERMINAL:
            return s
        time.sleep(2)


def latest(client: Client, homework: str | None, submission_id: int | None) -> int:
    """The submission named, or the student's latest in the homework."""
    if submission_id is not None:
        return submission_id
    if not homework:
        raise CliError("Which submission? Pass its id, or --homework SLUG for your latest.", EXIT_USAGE)
    mine = client.submissions(homework)
    if not mine:
        raise CliError(f"You have no submissions in {homework} yet.", EXIT_NOT_FOUND)
    return max(mine, key=lambda row: row["created_at"])["id"]


def check(args) -> int:
    if not args.file.is_file():
        raise CliError(f"No file at {args.file}.", EXIT_USAGE)
    try:
        from basin_grader.local_check import check_submission
        from basin_grader.verdicts import GradingError
        # kept last (isort: skip): with neither torch nor the check extra installed, the message names the
        # extra's numpy (tests/test_cli_from_the_toolkit_index.py)
        import torch  # noqa: F401  (the grader's loading code needs it)  # isort: skip
    except ImportError as missing:
        what = missing.name or "a package"
        how = ("install PyTorch for your machine (Colab has it)" if what.split(".")[0] == "torch" else
               "install the toolkit with its check extra: the install line on the homework page "
               "(basin-toolkit[check])")
        raise CliError(f"`basin check` runs the grader's own loading code, which needs PyTorch and the toolkit's "
                       f"check extra; {what} is not installed here: {how}. `basin submit` works without them.",
                       EXIT_USAGE) from None
    try:
        report = check_submission(args.file)
    except GradingError as e:
        raise CliError(f"{args.file.name} would be refused ({e.verdict}): {e.message}", EXIT_REFUSED) from None
    show(args, report, f"{args.file.name} loads as the grader loads it ({report['kind']}) and returns logits of "
                       f"shape {tuple(report['logits_shape'])} on {report['probe_images']} probe images. "
                       "Submit it with `basin submit`.")
    return 0


def make_bundle(args) -> int:
    from .bundle import BundleError, write_bundle

    try:
        out = write_bundle(args.model_py, args.weights, args.output)
    except BundleError as e:
        raise CliError(str(e), EXIT_USAGE) from None
    show(args, {"bundle": str(out), "bytes": out.stat().st_size},
         f"Wrote {out} ({out.stat().st_size:,} bytes). Try it with `basin check {out}`, then `basin submit {out}`.")
    return 0


def login(args, settings: config.Settings) -> int:
    """With a token given (--token, BASIN_TOKEN) and no --username: check it with the server and save
    it, no password asked. Otherwise: username and password for a new token."""
    if args.token is not None and not args.token.strip():
        raise CliError("--token is empty: paste the token from the homework page (Get started → Create a token).",
                       EXIT_USAGE)
    token = None if args.username else config.given_token(args.token)
    if token:
        me = Client(settings.url, token).me()
        expiry = me["token"]["expiry"] if me.get("token") else None
        how = f"with your token ({f'expires {expiry}' if expiry else 'it does not expire'})"
    else:
        client = Client(settings.url)
        username = args.username or input("username: ")
        token = client.token(username, getpass.getpass("password: "))
        me, how = {"username": username}, "with a new token"
    stored = config.load_file() | {"url": settings.url, "token": token}
    if args.homework:
        stored["homework"] = args.homework
    path = config.save_file(stored)
    show(args, {"url": settings.url, "username": me["username"], "config": str(path)},
         f"Logged in to {settings.url} as {me['username']} {how}; saved in {path}")
    return 0


def logout(args, settings: config.Settings) -> int:
    """Revoke the token on the server, then forget it here, even when the server cannot be reached."""
    if not settings.token:
        show(args, {"url": settings.url, "revoked": False, "removed": None}, "Not logged in: no token saved or given.")
        return 0
    client = Client(settings.url, settings.token)
    try:
        client.logout()
        revoked, failed = True, None
    except CliError as e:  # refused: it was dead already; anything else: it may still be live
        revoked, failed = False, (None if e.exit_code == EXIT_AUTH else e)
    path = config.forget_token(settings.token)
    where = (f"removed from {path}" if path else
             "not in the config file (it came from --token or BASIN_TOKEN: remove it there)")
    if failed:
        raise CliError(f"{failed.message} The token is {where}, but it may still be live on the server until it "
                       "expires; changing your password revokes all your tokens.", failed.exit_code)
    said = "revoked on the server" if revoked else "already refused by the server (expired or revoked)"
    show(args, {"url": settings.url, "revoked": revoked, "removed": str(path) if path else None},
         f"Logged out of {settings.url}: the token was {said} and is {where}.")
    return 0


def join(args, client: Client, homework: str) -> int:
    body = client.join(args.code)
    course = f"{body['title']} ({body['course']})"
    role = "a TA" if body["role"] == "ta" else "a student"
    show(args, body, f"You joined {course} as a student." if body["joined"]
         else f"You are in {course} already, as {role}; nothing changed.")
    return 0


def download_data(args, client: Client, homework: str) -> int:
    report = download(client, homework, args.split or ["train", "val"], args.dest, quiet=not interactive(args))
    fetched = sum(state == "fetched" for state in report.values())
    show(args, {"dest": str(args.dest), "files": report},
         f"{fetched} files downloaded, {len(report) - fetched} already there and intact, into {args.dest}")
    return 0


def logs(args, client: Client, homework: str) -> int:
    s = client.submission(latest(client, homework, args.id))
    if s.get("log_tail") is None:
        text = f"{describe(s)}\nThe course hides grading logs from students for this homework."
    else:
        text = f"{describe(s)}\n--- log of the rehearsal on public val images ---\n{s['log_tail'] or '(empty)'}"
    if isinstance(s.get("hidden_log"), str):  # the course's TAs only: what it printed on the hidden images
        text += f"\n--- log on the hidden test images (course staff only) ---\n{s['hidden_log'] or '(empty)'}"
    keys = ("id", "status", "verdict", "message", "log_tail") + (("hidden_log",) if "hidden_log" in s else ())
    show(args, {k: s.get(k) for k in keys}, text)
    return 0


def submit(args, client: Client, homework: str) -> int:
    if not args.file.is_file():
        raise CliError(f"No file at {args.file}.", EXIT_USAGE)
    if args.file.stat().st_size == 0:  # the server would refuse it too; no upload, no quota
        raise CliError(f"{args.file} is empty (0 bytes): nothing was saved into it. Export the checkpoint again "
                       "(in the notebook, run the cell that saves the bundle) and submit the file it writes.",
                       EXIT_EMPTY_FILE)
    s = client.submit(homework, args.file, args.message, progress=interactive(args), force=args.force)
    if args.wait:
        s = follow(client, s["id"], args.json)
    show(args, s, describe(s))
    return 0 if not args.wait or s["status"] == "scored" else EXIT_NOT_SCORED


def status(args, client: Client, homework: str) -> int:
    submission_id = latest(client, homework, args.id)
    s = follow(client, submission_id, args.json) if args.wait else client.submission(submission_id)
    show(args, s, describe(s) + (f"\n{s['log_tail']}" if s.get("log_tail") and s["status"] == "failed" else ""))
    return 0


def select(args, client: Client, homework: str) -> int:
    if args.clear and args.ids:
        raise CliError("Pass ids or --clear, not both.", EXIT_USAGE)
    body = client.selection(homework, [] if args.clear else (args.ids or None))
    chosen = body["selected"]
    lines = [describe(s) for s in chosen] or ["None chosen."]
    show(args, body, "\n".join(lines) + f"\n({len(chosen)} of {body['final_selections']} chosen for the private "
                     "leaderboard)")
    return 0


def submissions(args, client: Client, homework: str) -> int:
    rows = client.submissions(homework)
    show(args, rows, "\n".join(describe(s) for s in rows) or "No submissions yet.")
    return 0


def leaderboard(args, client: Client, homework: str) -> int:
    board = client.leaderboard(homework, "private" if args.private else "public")
    score = "private_score" if args.private else "public_score"
    lines = [f"{clean(r['rank'] or '-'):>3}  {number(r[score])}  {clean(r['name'])}" for r in board["rows"]]
    show(args, board, "\n".join(lines) or "No scored submission yet.")
    return 0


# What run() prepares for a command before calling its handler, and so which arguments the handler takes.
LOCAL = "local"  # handler(args): works on local files; no server, no token, no config file read
ACCOUNT = "account"  # handler(args, settings): login and logout, which make their own client
SERVER = "server"  # handler(args, client, homework): homework is "" where none is named
HOMEWORK = "homework"  # the same, and refused before any request unless a homework is named
COMMANDS: dict[str, tuple[Callable[..., int], str]] = {
    "check": (check, LOCAL), "bundle": (make_bundle, LOCAL),
    "login": (login, ACCOUNT), "logout": (logout, ACCOUNT),
    "join": (join, SERVER), "logs": (logs, SERVER), "status": (status, SERVER),
    "download": (download_data, HOMEWORK), "submit": (submit, HOMEWORK), "select": (select, HOMEWORK),
    "submissions": (submissions, HOMEWORK), "leaderboard": (leaderboard, HOMEWORK),
}


def run(args) -> int:
    handler, needs = COMMANDS[args.command]
    if needs == LOCAL:
        return handler(args)
    settings = config.resolve(args.url, args.token, getattr(args, "homework", None))
    if needs == ACCOUNT:
        return handler(args, settings)
    client = Client(settings.url, settings.token)
    homework = settings.homework or ""  # as None: no homework named
    if needs == HOMEWORK and not homework:
        raise CliError("Which homework? Pass --homework SLUG or set BASIN_HOMEWORK.", EXIT_USAGE)
    return handler(args, client, homework)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        return run(args)
    except CliError as e:
        print(f"basin: {clean(e.message)}", file=sys.stderr)
        return e.exit_code
    except (KeyError, TypeError, AttributeError) as e:  # a server that answers in a shape basin does not know
        print(f"basin: the server's answer is not what this basin understands ({clean(type(e).__name__)}); "
              "update basin (the install line on the homework page) or ask the course staff.", file=sys.stderr)
        return EXIT_SERVER
    except KeyboardInterrupt:
        resume = " Run `basin download` again to resume." if args.command == "download" else ""
        print(f"basin: interrupted.{resume}", file=sys.stderr)
        return 130
    except EOFError:
        print("basin: no answer to a prompt (run it in a terminal, or pass --username and pipe the password)",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
