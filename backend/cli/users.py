"""``chatwire users add|rotate|list|remove``: edit the server's users file (issue 19).

The only command that does not speak HTTP: it edits the file the server polls (``--users-file``),
so a new, rotated or removed token takes effect on the running server within one poll. A new
token is printed once, to stdout; the file keeps only its SHA-256 (``backend/users.py``, a pure
module the server reads the same file with).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from backend.users import UsersFileError, add_user, list_users, remove_user


def add_users_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = commands.add_parser("users", help="add, rotate, list or remove the users of a shared server")
    users.add_argument(
        "--users-file",
        type=Path,
        default=os.environ.get("CHATWIRE_USERS_FILE") or None,
        help="the server's users file (default: $CHATWIRE_USERS_FILE)",
    )
    actions = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a user; prints their new token once")
    add.add_argument("name")
    add.add_argument("--role", choices=("user", "admin"), default="user")
    rotate = actions.add_parser("rotate", help="give a user a new token; the old one stops working")
    rotate.add_argument("name")
    actions.add_parser("list", help="list the users (names, roles, allowlists; never tokens)")
    remove = actions.add_parser("remove", help="remove a user; their token stops working")
    remove.add_argument("name")


def run_users(arguments: argparse.Namespace) -> int:
    path: Path | None = arguments.users_file
    if path is None:
        print("chatwire users: give --users-file or set CHATWIRE_USERS_FILE", file=sys.stderr)
        return 2
    try:
        return _run(arguments, path)
    except UsersFileError as error:
        print(f"chatwire users: {error}", file=sys.stderr)
        return 1


def _run(arguments: argparse.Namespace, path: Path) -> int:
    action = arguments.users_command
    if action in ("add", "rotate"):
        token = add_user(path, arguments.name, getattr(arguments, "role", "user"), replace=action == "rotate")
        print(token)
        what = "added" if action == "add" else "has a new token"
        print(f"{arguments.name} {what}; the token above is shown only this once.", file=sys.stderr)
        return 0
    if action == "remove":
        if not remove_user(path, arguments.name):
            print(f"chatwire users: no user {arguments.name!r} in {path}", file=sys.stderr)
            return 1
        return 0
    for user in list_users(path):
        allowed = "all presets" if user.presets is None else ", ".join(sorted(user.presets)) or "no presets"
        print(f"{user.name}\t{user.role}\t{allowed}")
    return 0
