"""Reading a roster CSV (the university's export or a TA's spreadsheet) into checked rows.

Every problem is reported at once with its line in the file, so a TA fixes the file in one go;
nothing here touches the database (roster.py applies the rows)."""
from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from basin.accounts.addresses import normalise_address, validate_ascii_local_part
from basin.accounts.usernames import NOT_ASCII_MESSAGE, skeleton, validate_ascii_username
from basin.errors import ApplicationError

if TYPE_CHECKING:
    import pandas as pd

from .models import Membership

REQUIRED_COLUMNS = ("username", "email", "first_name", "last_name", "student_id")
MAX_BYTES = 5 * 1024 * 1024  # a roster of thousands is ~200 kB; more is a wrong file
# The columns' lengths in the database: longer values would fail inside the transaction (or be cut).
MAX_LENGTHS = {"username": 150, "email": 254, "first_name": 150, "last_name": 150, "student_id": 64}
SHOWN_IN_MESSAGE = 10  # the message lists the first problems; `details` has them all
# What no field may hold: control characters (NUL, which PostgreSQL refuses, and the C0 and C1
# ranges), bidi marks, embeddings, overrides and isolates (they reorder how a name is shown),
# zero-width spaces, line and paragraph separators, and a byte-order mark inside a value.
UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060\u2066-\u2069\ufeff]")


@dataclass(frozen=True)
class RosterRow:
    line: int  # in the file, header = 1: what the TA sees in an editor
    username: str
    email: str
    first_name: str
    last_name: str
    student_id: str
    role: str


def read_roster(data: bytes) -> list[RosterRow]:
    """The file's rows, checked; ApplicationError("invalid_roster") lists every problem found."""
    frame = _read_csv(data)
    columns: dict[str, str] = {}  # normalized name -> the header as written
    problems: list[dict] = []
    for name in frame.columns:
        key = str(name).strip().lower()
        if key in columns:
            problems.append(problem(1, key, f"column {key!r} appears twice in the header; keep one"))
        columns.setdefault(key, name)
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        problems.append(problem(1, None, f"the header lacks {', '.join(map(repr, missing))}; it needs "
                                         f"{', '.join(REQUIRED_COLUMNS)} (and optionally role), it has "
                                         f"{', '.join(repr(str(c)) for c in frame.columns)}"))
    if problems:
        refuse(problems)

    rows: list[RosterRow] = []
    seen: dict[str, tuple[str, int]] = {}  # username's skeleton -> (the username, its first line)
    for index, record in enumerate(frame.to_dict("records")):
        # pandas numbers data rows from 0 after the header; blank lines are kept as empty rows
        # (skip_blank_lines=False), so this is the line in the file.
        line = index + 2
        values = {c: str(record[columns[c]]).strip() for c in REQUIRED_COLUMNS}
        if not any(values.values()) and not str(record.get(columns.get("role"), "")).strip():
            continue  # a blank line, or a spreadsheet's trailing empty row
        values["role"] = (str(record[columns["role"]]).strip().lower() if "role" in columns else "") \
            or Membership.Role.STUDENT
        found = _row_problems(line, values, seen)
        problems += found
        if not found:
            rows.append(RosterRow(line=line, username=values["username"], role=values["role"],
                                  email=normalise_address(values["email"]),
                                  first_name=values["first_name"], last_name=values["last_name"],
                                  student_id=values["student_id"]))
    if problems:
        refuse(problems)
    if not rows:
        raise ApplicationError("empty_roster", "The roster lists no one: below its header, write one line per "
                               "person (username, email, first_name, last_name, student_id, role).")
    return rows


def _row_problems(line: int, values: dict[str, str], seen: dict[str, tuple[str, int]]) -> list[dict]:
    """The problems of one line; `seen` collects its username for the lines after it."""
    problems = []
    unreadable = set()
    for column, value in values.items():  # every field the import stores, and the role
        if match := UNPRINTABLE.search(value):
            unreadable.add(column)
            problems.append(problem(line, column, f"{column} holds an invisible control character "
                                                  f"(U+{ord(match.group()):04X}) at position {match.start() + 1}; "
                                                  "delete it (most editors do not show it)"))
    for column, most in MAX_LENGTHS.items():
        if len(values[column]) > most:
            problems.append(problem(line, column, f"{column} is {len(values[column])} characters long; "
                                                  f"at most {most} fit"))
    username, email, role = values["username"], values["email"], values["role"]
    if not username:
        problems.append(problem(line, "username", "username is empty"))
    elif "username" not in unreadable:
        try:
            validate_ascii_username(username)
        except ValidationError:
            problems.append(problem(line, "username", f"username {username!r} {NOT_ASCII_MESSAGE}"))
        first, first_line = seen.setdefault(skeleton(username), (username, line))
        if first_line != line and first.lower() == username.lower():
            problems.append(problem(line, "username", f"username {username!r} is also on line {first_line}; "
                                                      "each person must appear once"))
        elif first_line != line:
            problems.append(problem(line, "username", f"username {username!r} looks like {first!r} on line "
                                                      f"{first_line} (I/l/1, O/0, rn/m, vv/w, cl/d read alike); "
                                                      "give one of them a username that differs in more than that"))
    if not email:
        problems.append(problem(line, "email", "email is empty; each person needs one to receive their "
                                               "set-password link"))
    elif "email" not in unreadable:
        try:
            validate_ascii_local_part(email)  # before Django's validator, which accepts some such letters
            validate_email(email)
        except ValidationError as e:
            problems.append(problem(line, "email", f"email {email!r}: {e.messages[0]}"
                                    if e.code == "email_not_ascii" else f"email {email!r} is not an email address"))
    if role not in Membership.Role.values and "role" not in unreadable:
        problems.append(problem(line, "role", f"role {role!r} is unknown; write ta or student (empty means student)"))
    return problems


def _read_csv(data: bytes) -> pd.DataFrame:
    import pandas as pd  # here, where the table is read: a web process that reads no roster never loads it

    if len(data) > MAX_BYTES:
        raise ApplicationError("roster_too_large", f"The roster is {len(data) // 1024} kB; a roster CSV is at most "
                               f"{MAX_BYTES // 1024 // 1024} MB. Check that this is the right file.")
    try:
        text = data.decode("utf-8-sig")  # -sig: Excel's "CSV UTF-8" starts with a byte-order mark
    except UnicodeDecodeError:
        raise ApplicationError("roster_not_utf8", "The roster is not UTF-8 text. In Excel or LibreOffice, save it as "
                               "\"CSV UTF-8\".") from None
    header = text.split("\n", 1)[0]
    separator = ";" if header.count(";") > header.count(",") else ","  # European spreadsheets write ';'
    try:
        with warnings.catch_warnings():
            # pandas only warns when the first row has more fields than the header; it is an error here.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(io.StringIO(text), sep=separator, dtype=str, keep_default_na=False, index_col=False,
                               skip_blank_lines=False)
    except pd.errors.EmptyDataError:
        raise ApplicationError("empty_roster", "The roster file is empty; its first line must be the header "
                               "(username, email, first_name, last_name, student_id, role).") from None
    except (pd.errors.ParserError, pd.errors.ParserWarning) as e:
        detail = str(e).removeprefix("Error tokenizing data. C error: ").strip()
        if isinstance(e, pd.errors.ParserWarning):
            detail = "line 2 has more fields than the header"
        raise ApplicationError("invalid_roster", f"The roster could not be read as CSV ({detail}). Each line needs as "
                               f"many {separator!r}-separated fields as the header; quote values that contain "
                               f"{separator!r}.") from None


def problem(line: int, column: str | None, message: str) -> dict:
    return {"line": line, "column": column, "message": message}


def refuse(problems: list[dict]) -> None:
    shown = "; ".join(f"line {p['line']}: {p['message']}" for p in problems[:SHOWN_IN_MESSAGE])
    more = f"; and {len(problems) - SHOWN_IN_MESSAGE} more (see details)" if len(problems) > SHOWN_IN_MESSAGE else ""
    noun = "problem" if len(problems) == 1 else "problems"
    raise ApplicationError("invalid_roster", f"The roster has {len(problems)} {noun}, so nothing was imported; fix "
                           f"them and import it again. {shown}{more}.", details={"problems": problems})
