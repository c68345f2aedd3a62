"""The ``chinwag`` command line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from rich.console import Console

from core.data.problems import Problems


def _version() -> str:
    try:
        return version("chinwag")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def _print_problems(console: Console, problems: Problems, *, show_warnings: bool) -> None:
    for problem in problems:
        if problem.level == "warning" and not show_warnings:
            continue
        style = "red" if problem.level == "error" else "yellow"
        console.print(str(problem), style=style, markup=False, highlight=False, soft_wrap=True)


def cmd_data_validate(args: argparse.Namespace) -> int:
    from core.data.validate import validate_path

    console = Console(highlight=False, soft_wrap=True)
    failed = 0
    reports = validate_path(args.bot_dir, max_history=args.max_history)
    for report in reports:
        _print_problems(console, report.problems, show_warnings=not args.errors_only)
        errors, warnings = len(report.problems.errors), len(report.problems.warnings)
        failed += bool(errors)
        status = "FAILED" if errors else "ok"
        console.print(
            f"{report.name}: {status} ({errors} errors, {warnings} warnings)",
            style="bold red" if errors else "bold green",
            markup=False,
        )
    if len(reports) > 1:
        console.print(f"{len(reports)} bots/files checked, {failed} with errors", markup=False)
    return 1 if failed else 0


def cmd_data_convert(args: argparse.Namespace) -> int:
    from core.data.convert import ConvertError, convert_bot
    from core.data.loader import load_bot

    console = Console(highlight=False, soft_wrap=True)
    bot = load_bot(args.bot_dir)
    if bot.problems.errors:
        _print_problems(console, bot.problems, show_warnings=False)
        console.print(f"{args.bot_dir}: not converted (fix the errors first)", style="bold red")
        return 1
    try:
        written = convert_bot(bot, Path(args.out), force=args.force)
    except ConvertError as exc:
        console.print(f"error: {exc}", style="red", markup=False)
        return 1
    for problem in bot.problems.warnings:
        console.print(str(problem), style="yellow", markup=False)
    for path in written:
        console.print(f"wrote {path}", markup=False)
    return 0


def cmd_shell(args: argparse.Namespace) -> int:
    import asyncio

    from core.agent import load_agent
    from core.data.problems import BotDataError
    from core.shell import run_shell

    console = Console(highlight=False, soft_wrap=True)
    try:
        agent = load_agent(args.bot_dir)
    except BotDataError as exc:
        for problem in exc.problems:
            console.print(str(problem), style="red", markup=False)
        console.print(f"{args.bot_dir}: cannot start (fix the errors first)", style="bold red")
        return 1

    async def talk() -> int:
        try:
            return await run_shell(agent, sender_id=args.sender)
        finally:
            await agent.close()

    return asyncio.run(talk())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chinwag",
        description="Build one assistant in Rasa's file formats and run it on Slack, Telegram "
        "and REST.",
    )
    parser.add_argument("--version", action="version", version=f"chinwag {_version()}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    data = sub.add_parser("data", help="check and convert a bot's files")
    data_sub = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND", required=True)

    validate = data_sub.add_parser(
        "validate",
        help="check a bot for undeclared or unused names, missing responses, contradicting "
        "stories/rules and malformed files",
        description="Check a bot folder (or a folder of bots and data files). Exit 0 when "
        "there are no errors, 1 otherwise; warnings never fail.",
    )
    validate.add_argument("bot_dir", metavar="BOT_DIR", help="the bot folder")
    validate.add_argument(
        "--max-history",
        type=int,
        default=None,
        metavar="N",
        help="compare stories over the last N turns only (default: the whole history, as "
        "Rasa's validate does)",
    )
    validate.add_argument("--errors-only", action="store_true", help="hide warnings")
    validate.set_defaults(func=cmd_data_validate)

    convert = data_sub.add_parser(
        "convert",
        help="write a Rasa 1.x/2.x/3.x bot as a Rasa 3.x project",
        description="Read a bot in any supported format and write its domain, NLU, stories, "
        "rules and test stories as Rasa 3.x YAML into --out.",
    )
    convert.add_argument("bot_dir", metavar="BOT_DIR")
    convert.add_argument("--out", required=True, metavar="DIR", help="where to write the bot")
    convert.add_argument("--force", action="store_true", help="overwrite existing files")
    convert.set_defaults(func=cmd_data_convert)

    shell = sub.add_parser(
        "shell",
        help="talk to a bot in the terminal",
        description="Chat with a bot: buttons are numbered and can be picked by number; "
        "/restart starts over, /stop or Ctrl-D leaves. Works without a trained model for bots "
        "whose rules and stories need no machine learning.",
    )
    shell.add_argument("bot_dir", metavar="BOT_DIR")
    shell.add_argument("--sender", default="shell", help="conversation id (default: shell)")
    shell.set_defaults(func=cmd_shell)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    code: int = args.func(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
