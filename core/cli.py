"""The ``chinwag`` command line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from chinwag.core.data.problems import Problems

if TYPE_CHECKING:
    from rich.table import Table

    from chinwag.core.data.loader import Bot
    from chinwag.core.data.training import NLUData
    from chinwag.core.evaluate import Parser
    from chinwag.core.stores.base import TrackerStore
    from chinwag.core.train import LoadedModel


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
    from chinwag.core.data.validate import validate_path

    console = Console(highlight=False, soft_wrap=True)
    failed = 0
    reports = validate_path(args.bot_dir, max_history=args.max_history)
    for report in reports:
        _print_problems(console, report.problems, show_warnings=not args.errors_only)
        errors, warnings = len(report.problems.errors), len(report.problems.warnings)
        bad = bool(errors) or (args.fail_on_warnings and bool(warnings))
        failed += bad
        status = "FAILED" if bad else "ok"
        console.print(
            f"{report.name}: {status} ({errors} errors, {warnings} warnings)",
            style="bold red" if bad else "bold green",
            markup=False,
        )
    if len(reports) > 1:
        what = "errors or warnings" if args.fail_on_warnings else "errors"
        console.print(f"{len(reports)} bots/files checked, {failed} with {what}", markup=False)
    return 1 if failed else 0


def _bot_without_errors(bot_dir: str, console: Console, verb: str) -> Bot | None:
    """The loaded bot, or None after printing its errors and "BOT_DIR: not <verb>"."""
    from chinwag.core.data.loader import load_bot

    bot = load_bot(bot_dir)
    if not bot.problems.errors:
        return bot
    _print_problems(console, bot.problems, show_warnings=False)
    console.print(f"{bot_dir}: not {verb} (fix the errors first)", style="bold red")
    return None


def cmd_data_convert(args: argparse.Namespace) -> int:
    from chinwag.core.data.convert import ConvertError, convert_bot

    console = Console(highlight=False, soft_wrap=True)
    bot = _bot_without_errors(args.bot_dir, console, "converted")
    if bot is None:
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

    from chinwag.core.agent import load_agent
    from chinwag.core.data.problems import BotDataError
    from chinwag.core.shell import run_shell

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


def cmd_data_split_nlu(args: argparse.Namespace) -> int:
    from chinwag.core.data.split import split_nlu, write_split

    console = Console(highlight=False, soft_wrap=True)
    bot = _bot_without_errors(args.bot_dir, console, "split")
    if bot is None:
        return 1
    try:
        split = split_nlu(bot.nlu, args.training_fraction, args.random_seed)
    except ValueError as exc:
        console.print(f"error: {exc}", style="red", markup=False)
        return 2
    for path in write_split(split, Path(args.out)):
        console.print(f"wrote {path}", markup=False)
    console.print(
        f"{len(split.train.examples)} training and {len(split.test.examples)} test examples",
        markup=False,
    )
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    """Scaffold a starter bot, train it and offer to talk to it (as ``rasa init``)."""
    from rich.prompt import Confirm, Prompt

    from chinwag.core.init import PATH_QUESTION, SHELL_QUESTION, InitError, scaffold

    console = Console(highlight=False, soft_wrap=True)
    ask = not args.no_prompt and sys.stdin.isatty()  # no terminal: as --no-prompt
    target = args.bot_dir
    if target is None:
        target = Prompt.ask(PATH_QUESTION, default=".", console=console) if ask else "."
    try:
        made = scaffold(target, force=args.force)
    except InitError as exc:
        console.print(f"error: {exc}", style="red", markup=False)
        return 1
    console.print(f"created a starter bot in {made.path} ({len(made.written)} files)", markup=False)
    train_args = argparse.Namespace(bot_dir=str(made.path), out=None, force=False, data=None)
    if cmd_train(train_args) != 0:
        return 1
    if not ask or not Confirm.ask(SHELL_QUESTION, default=True, console=console):
        console.print(
            f"talk to it with: chinwag shell {made.path}; serve it with: chinwag run {made.path}",
            markup=False,
        )
        return 0
    return cmd_shell(argparse.Namespace(bot_dir=str(made.path), sender="shell"))


def cmd_data_visualize(args: argparse.Namespace) -> int:
    from chinwag.core.visualize import bot_graph_page

    console = Console(highlight=False, soft_wrap=True)
    bot = _bot_without_errors(args.bot_dir, console, "drawn")
    if bot is None:
        return 1
    page, graph = bot_graph_page(bot)
    out = Path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        console.print(f"error: {exc}", style="red", markup=False)
        return 1
    console.print(
        f"wrote {out} ({graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges)",
        markup=False,
    )
    return 0


def cmd_interactive(args: argparse.Namespace) -> int:
    import asyncio

    from chinwag.core.interactive import interactive

    console = Console(highlight=False, soft_wrap=True)
    for option, value in (("--model", args.model), ("--endpoints", args.endpoints)):
        if value is not None and not Path(value).is_file():
            console.print(f"{option} {value}: no such file", style="red", markup=False)
            return 1
    if not sys.stdin.isatty():
        console.print(
            "chinwag interactive asks questions: run it in a terminal", style="red", markup=False
        )
        return 2
    return asyncio.run(
        interactive(
            Path(args.bot_dir),
            model=Path(args.model) if args.model else None,
            endpoints=Path(args.endpoints) if args.endpoints else None,
            port=args.port,
            visualize=not args.skip_visualization,
            retrain=True if args.retrain else None,
            console=console,
        )
    )


def cmd_train(args: argparse.Namespace) -> int:
    from chinwag.core.train import train_bot

    console = Console(highlight=False, soft_wrap=True, stderr=True)
    result = train_bot(
        args.bot_dir, out=args.out, force=args.force, console=console, data=args.data
    )
    out = Console(highlight=False, soft_wrap=True)
    if not result.ok:
        _print_problems(out, result.problems, show_warnings=False)
        out.print(
            f"{args.bot_dir}: not trained (fix the errors first: Rasa refuses them too, or the "
            "bot could not run with them)",
            style="bold red",
            markup=False,
        )
        return 1
    if result.up_to_date:
        out.print(f"nothing changed, {result.archive} is up to date", markup=False)
        return 0
    # warnings (mapped Rasa components, unused names...) are worth reading once, here
    _print_problems(out, result.problems, show_warnings=True)
    if result.problems.warnings:
        out.print(
            f"{len(result.problems.warnings)} warning(s): what Rasa ignores or trains with, "
            "so chinwag trained too",
            style="yellow",
            markup=False,
        )
    if result.reused_from is not None:
        kept = "dialogue policies" if result.trained_nlu else "NLU model"
        redone = "NLU" if result.trained_nlu else "dialogue policies"
        out.print(
            f"only the {redone} changed: retrained it, reused the {kept} of "
            f"{result.reused_from.name}",
            markup=False,
        )
    out.print(f"wrote {result.archive} in {result.seconds:.1f} s", markup=False)
    return 0


def _test_model(
    args: argparse.Namespace, console: Console, *, need_stories: bool
) -> tuple[Bot, LoadedModel] | None:
    """The loaded bot and its model (--model, the latest archive, or trained in memory);
    None on errors, and when ``need_stories`` and there is no test story to run."""
    from chinwag.core.data.loader import load_bot
    from chinwag.core.data.problems import Problems
    from chinwag.core.model import ModelError
    from chinwag.core.train import load_model, model_for

    stories = getattr(args, "stories", None)
    bot = load_bot(args.bot_dir, tests=[stories] if stories else True)
    problems = Problems()
    problems.extend(bot.problems)
    if need_stories and not problems.errors and not bot.test_stories:
        where = stories or f"{args.bot_dir}/tests"
        problems.error(f"no test stories in {where} (give a file or folder of them with --stories)")
    if not problems.errors:
        if args.model:
            try:
                model = load_model(Path(args.model))
            except ModelError as exc:
                problems.error(str(exc))
        else:
            model = model_for(bot, problems, console=console)
    # warnings too: they say what was skipped (files in tests/ that hold no stories...)
    _print_problems(console, problems, show_warnings=True)
    if problems.errors:
        console.print(f"{args.bot_dir}: cannot test (fix the errors first)", style="bold red")
        return None
    return bot, model


def _report_table(title: str, label: str, report: dict[str, Any]) -> Table:
    """A classification report (sklearn's dict) as a table: one row per label and average."""
    from rich.table import Table

    table = Table(label, "precision", "recall", "f1", "support", title=title)
    for name, row in report.items():
        if isinstance(row, dict) and "support" in row:
            table.add_row(
                name,
                f"{row['precision']:.3f}",
                f"{row['recall']:.3f}",
                f"{row['f1-score']:.3f}",
                str(int(row["support"])),
            )
    return table


def cmd_test(args: argparse.Namespace) -> int:
    from chinwag.core.evaluate import evaluate_stories, make_parser

    console = Console(highlight=False, soft_wrap=True)
    target = list(args.target)
    nlu_mode = len(target) == 2 and target[0] == "nlu"
    if len(target) == 2 and target[0] == "core":
        target = target[1:]
    if not nlu_mode and len(target) != 1:
        console.print("usage: chinwag test [nlu] BOT_DIR", style="red", markup=False)
        return 2
    args.bot_dir = target[-1]
    if not nlu_mode and (args.nlu or args.cross_validation):
        console.print("--nlu and --cross-validation belong to 'chinwag test nlu'", style="red")
        return 2
    loaded = _test_model(
        args, Console(highlight=False, soft_wrap=True, stderr=True), need_stories=not nlu_mode
    )
    if loaded is None:
        return 1
    bot, model = loaded
    out_dir = Path(args.out)
    parse = make_parser(model.nlu, bot.config.pipeline)
    if nlu_mode:
        return _test_nlu(args, console, bot, parse, out_dir)
    evaluation = evaluate_stories(bot, model.policies, parse, out_dir)
    report = evaluation.report
    console.print(_report_table("Actions", "action", report))
    acc = report["conversation_accuracy"]
    weighted = report.get("weighted avg", {})
    accuracy = report["action_accuracy"]
    with_listen, without_listen = (
        accuracy["with_action_listen"],
        accuracy["without_action_listen"],
    )
    console.print(
        f"actions: precision {weighted.get('precision', 0):.3f}, recall "
        f"{weighted.get('recall', 0):.3f}, f1 {weighted.get('f1-score', 0):.3f}, accuracy "
        f"{with_listen['accuracy']:.3f} ({with_listen['correct']}/{with_listen['total']})",
        markup=False,
    )
    console.print(
        f"actions without action_listen (as Rasa reports them): accuracy "
        f"{without_listen['accuracy']:.3f} ({without_listen['correct']}/"
        f"{without_listen['total']})",
        markup=False,
    )
    console.print(
        f"conversations: {acc['correct']}/{acc['total']} passed "
        f"(accuracy {acc['accuracy']:.3f}); reports in {out_dir}",
        markup=False,
    )
    for story in evaluation.failed:
        why = f" ({story.reason})" if story.reason else ""
        console.print(f"failed: {story.name}{why}", style="red", markup=False)
    return 1 if args.fail_on_prediction_errors and evaluation.failed else 0


def _test_nlu(
    args: argparse.Namespace, console: Console, bot: Bot, parse: Parser, out_dir: Path
) -> int:

    from chinwag.core.data.loader import Bot
    from chinwag.core.data.problems import Problems
    from chinwag.core.evaluate import evaluate_nlu, make_parser
    from chinwag.core.train import train_nlu

    problems = Problems()

    def train_parser(nlu: NLUData) -> Parser:
        fold_bot = Bot(path=bot.path, domain=bot.domain, nlu=nlu, config=bot.config)
        pipeline = train_nlu(fold_bot, problems, lambda _stage, _fraction: None)
        return make_parser(pipeline, bot.config.pipeline)

    evaluation = evaluate_nlu(
        bot,
        out_dir,
        parse=parse,
        nlu_file=Path(args.nlu) if args.nlu else None,
        cross_validation=args.cross_validation,
        train_parser=train_parser,
        problems=problems,
    )
    if problems.errors:
        _print_problems(console, problems, show_warnings=False)
        return 1
    console.print(_report_table("Intents", "intent", evaluation.intent_report))
    console.print(_report_table("Entities", "entity", evaluation.entity_report))
    total = len(evaluation.predictions)
    hits = sum(p.intent == p.predicted for p in evaluation.predictions)
    console.print(f"intents: {hits}/{total} right; reports in {out_dir}", markup=False)
    for metric, stats in evaluation.fold_summary().items():
        console.print(
            f"{len(evaluation.fold_scores)}-fold cross-validation {metric.replace('_', ' ')}: "
            f"mean {stats['mean']:.3f} +- {stats['std']:.3f} (min {stats['min']:.3f}, "
            f"max {stats['max']:.3f})",
            markup=False,
        )
    if evaluation.threshold is not None:
        console.print(
            f"suggested FallbackClassifier threshold: {evaluation.threshold:.2f} (keeps 95% of "
            f"right predictions, sends {evaluation.misses_caught:.0%} of wrong ones to "
            "fallback)",
            markup=False,
        )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    import functools
    import os

    from chinwag.adapters.hub import AUTH_TOKEN_ENV, DEFAULT_BODY_TIMEOUT, resolve_port, run_hub
    from chinwag.adapters.server import (
        DEFAULT_KEEPALIVE_TIMEOUT,
        DEFAULT_MAX_CONNECTIONS,
        ConnectionLimits,
    )
    from chinwag.core import logs
    from chinwag.core.data.problems import BotDataError
    from chinwag.core.stores.base import StoreError

    console = Console(highlight=False, soft_wrap=True, stderr=True)
    token = args.auth_token or os.environ.get(AUTH_TOKEN_ENV) or None
    logs.configure(
        log_format=args.log_format,
        level="debug" if args.verbose else args.log_level,
        log_messages=args.log_messages,
        secrets=[token or ""],
    )
    try:
        port = resolve_port(args.port)
        serve = functools.partial(
            run_hub,
            args.bot_dirs,
            host=args.host,
            port=port,
            auth_token=token,
            max_body=args.max_body,
            body_timeout=args.body_timeout or DEFAULT_BODY_TIMEOUT,
            limits=ConnectionLimits(
                keepalive_timeout=args.keepalive_timeout or DEFAULT_KEEPALIVE_TIMEOUT,
                max_connections=args.max_connections or DEFAULT_MAX_CONNECTIONS,
            ),
            metrics_port=args.metrics_port,
            event_loop=args.event_loop,
        )
        workers = _worker_count(args, console)
        if workers > 1:
            return _serve_workers(serve, args.host, port, workers, console)
        serve()
    except BotDataError as exc:
        for problem in exc.problems:
            console.print(str(problem), style="red", markup=False)
        console.print("cannot start the hub (fix the errors first)", style="bold red")
        return 1
    except (StoreError, ValueError, OSError) as exc:
        console.print(f"error: {exc}", style="red", markup=False)
        return 1
    return 0


def _worker_count(args: argparse.Namespace, console: Console) -> int:
    """--workers (default: the machine's cores), or 1 when a bot keeps conversations or
    locks in one process's memory (another process would not see them) or polls Telegram."""
    import os

    from chinwag.core.data.loader import load_bot
    from chinwag.core.data.problems import BotDataError
    from chinwag.core.stores.factory import create_lock_store, create_tracker_store
    from chinwag.core.stores.locks import InProcessLockStore
    from chinwag.core.stores.memory import InMemoryTrackerStore

    workers = args.workers if args.workers is not None else len(os.sched_getaffinity(0))
    if workers < 1:
        raise ValueError(f"--workers must be 1 or more, found {workers}")
    if workers == 1:
        return 1
    for bot_dir in args.bot_dirs:
        bot = load_bot(bot_dir, tests=False)
        if bot.problems.errors:
            raise BotDataError(bot.problems.errors)
        store, locks = create_tracker_store(bot, cache=False), create_lock_store(bot)
        telegram = bot.credentials.get("telegram") or {}
        why = None
        if isinstance(store, InMemoryTrackerStore) or isinstance(locks, InProcessLockStore):
            why = "endpoints.yml keeps conversations or locks in one process's memory"
        elif telegram.get("polling") is True:
            why = "Telegram hands polled updates to one process only (use a webhook)"
        if why is not None:
            console.print(
                f"{bot.path}: {why}: running 1 worker, not {workers}",
                style="yellow",
                markup=False,
            )
            return 1
    return workers


def _serve_workers(
    serve: Callable[..., None], host: str, port: int, workers: int, console: Console
) -> int:
    """``workers`` hub processes accepting on one listening socket, bound here before they
    fork; a new connection goes to the worker with the fewest open (``SharedListener``, in
    adapters/server.py). Every worker has its own stores; the lock store (record locks on
    ``.chinwag/locks`` by default, or MongoDB's leases) keeps each conversation to one
    message at a time across them. A worker killed by a signal is replaced; SIGTERM or
    SIGINT stops them all (SIGTERM to each, SIGKILL after ``STOP_GRACE`` seconds), and a
    worker that cannot start (bad bot files) stops the hub."""
    import contextlib
    import os
    import signal
    import socket

    from aiohttp import web

    from chinwag.adapters.server import SharedListener

    sock = socket.create_server((host, port), backlog=1024)
    sock.set_inheritable(True)
    listener = SharedListener(sock, workers)
    children: dict[int, int] = {}  # pid: slot
    stopping = False

    def spawn(slot: int) -> None:
        listener.release(slot)
        pid = os.fork()
        if pid:
            children[pid] = slot
            return
        code = 1
        try:  # the worker: default signal handling (aiohttp installs its own), then serve
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            _die_with_parent()
            listener.take_slot(slot)
            serve(listener=listener)
            code = 0
        except (web.GracefulExit, KeyboardInterrupt):  # a second stop signal while stopping
            code = 0
        except BaseException as exc:  # whatever it was, this worker ends here
            console.print(f"worker {os.getpid()}: {exc!r}", style="red", markup=False)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def signal_all(signum: int) -> None:
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        signal_all(signal.SIGTERM)
        signal.alarm(STOP_GRACE)

    def kill_all(_signum: int, _frame: object) -> None:
        signal_all(signal.SIGKILL)

    for slot in range(workers):
        spawn(slot)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGALRM, kill_all)
    exit_code = 0
    try:
        while children:
            pid, status = os.waitpid(-1, 0)
            if pid not in children:
                continue
            slot = children.pop(pid)
            if stopping:
                continue
            if os.WIFSIGNALED(status) or os.WEXITSTATUS(status) == 0:
                # killed (OOM, SIGKILL, a crash) or stopped on its own: replace it
                console.print(
                    f"worker {pid} ended ({_ending(status)}); starting another",
                    style="yellow",
                    markup=False,
                )
                spawn(slot)
            else:  # it could not start or serve (bad bot files, store down): stop the hub
                exit_code = os.WEXITSTATUS(status)
                stop(signal.SIGTERM, None)
    finally:
        sock.close()
    return exit_code


STOP_GRACE = 30  # seconds the workers get to finish after SIGTERM


def _ending(status: int) -> str:
    import os

    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit code {os.WEXITSTATUS(status)}"


def _die_with_parent() -> None:
    """Linux: SIGTERM this worker when the supervising process dies (even by SIGKILL)."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the worker outlives a killed parent
        pass


def _open_store(args: argparse.Namespace, console: Console) -> tuple[Bot, TrackerStore] | None:
    """The bot and the store named by --store (default: the bot's endpoints.yml)."""
    from chinwag.core.data.loader import load_bot
    from chinwag.core.stores.factory import StoreConfigError, create_tracker_store, store_from_url

    bot = load_bot(args.bot_dir)
    if bot.problems.errors:
        _print_problems(console, bot.problems, show_warnings=False)
        console.print(f"{args.bot_dir}: fix the errors first", style="bold red", markup=False)
        return None
    try:
        if args.store:
            return bot, store_from_url(args.store, bot.path)
        return bot, create_tracker_store(bot, cache=False)
    except StoreConfigError as exc:
        console.print(f"error: {exc}", style="red", markup=False)
        return None


def cmd_export(args: argparse.Namespace) -> int:
    import asyncio

    from chinwag.core.export import ExportError, export_conversations, parse_since
    from chinwag.core.stores.base import StoreError

    console = Console(highlight=False, soft_wrap=True)
    opened = _open_store(args, console)
    if opened is None:
        return 1
    bot, store = opened

    async def run() -> int:
        try:
            since = parse_since(args.since) if args.since else None
            await store.open()
            result = await export_conversations(
                store, Path(args.to), since=since, domain=bot.domain
            )
        except (ExportError, StoreError, OSError) as exc:
            console.print(f"error: {exc}", style="red", markup=False)
            return 1
        finally:
            await store.close()
        console.print(
            f"wrote {result.conversations} conversations ({result.events} "
            f"{'events' if Path(args.to).suffix.lower() in ('.jsonl', '.ndjson') else 'steps'}) "
            f"to {args.to}",
            markup=False,
        )
        return 0

    return asyncio.run(run())


def cmd_import(args: argparse.Namespace) -> int:
    import asyncio

    from chinwag.core.export import import_conversations
    from chinwag.core.stores.base import StoreError

    console = Console(highlight=False, soft_wrap=True)
    opened = _open_store(args, console)
    if opened is None:
        return 1
    _, store = opened
    problems = Problems()

    async def run() -> int:
        try:
            await store.open()
            result = await import_conversations(store, Path(args.source), problems)
        except (StoreError, OSError) as exc:
            console.print(f"error: {exc}", style="red", markup=False)
            return 1
        finally:
            await store.close()
        _print_problems(console, problems, show_warnings=True)
        console.print(
            f"imported {result.conversations} conversations ({result.events} events) into "
            f"{store!r}",
            markup=False,
        )
        return 1 if problems.errors else 0

    return asyncio.run(run())


def _conversation_id(value: str) -> str:
    from chinwag.core.conversation_ids import InvalidConversationId, check

    try:
        return check(value)
    except InvalidConversationId as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got '{value}'") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got '{value}'")
    return seconds


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got '{value}'")
    return number


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
        "there are no errors, 1 otherwise; warnings fail only with --fail-on-warnings.",
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
    validate.add_argument(
        "--fail-on-warnings",
        action="store_true",
        help="exit 1 on warnings too (what Rasa ignores and chinwag train trains with)",
    )
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

    visualize = data_sub.add_parser(
        "visualize",
        help="draw the training stories as a graph of intents and actions (one HTML file)",
        description="Write the story graph of the bot's training data as a self-contained "
        "HTML page (the layout library is inlined: it works offline).",
    )
    visualize.add_argument("bot_dir", metavar="BOT_DIR")
    visualize.add_argument(
        "--out", default="graph.html", metavar="FILE", help="the page (default: graph.html)"
    )
    visualize.set_defaults(func=cmd_data_visualize)

    split = data_sub.add_parser(
        "split",
        help="split a bot's NLU data into training and test files (as 'rasa data split nlu')",
        description="chinwag data split nlu BOT_DIR: per intent, --training-fraction of the "
        "examples go to training_data.yml, the rest to test_data.yml (Rasa 3.x YAML), for "
        "'chinwag test nlu --nlu test_data.yml'.",
    )
    split_sub = split.add_subparsers(dest="split_command", metavar="nlu", required=True)
    split_nlu = split_sub.add_parser("nlu", help="split the NLU examples, stratified by intent")
    split_nlu.add_argument("bot_dir", metavar="BOT_DIR")
    split_nlu.add_argument(
        "--training-fraction",
        type=float,
        default=0.8,
        metavar="F",
        help="share of each intent's examples for training (default: 0.8)",
    )
    split_nlu.add_argument(
        "--random-seed", type=int, default=None, metavar="N", help="seed for a repeatable split"
    )
    split_nlu.add_argument(
        "--out",
        default="train_test_split",
        metavar="DIR",
        help="where to write the files (default: train_test_split)",
    )
    split_nlu.set_defaults(func=cmd_data_split_nlu)

    interactive = sub.add_parser(
        "interactive",
        help="teach a bot by talking to it; the corrections become training data",
        description="Talk to the bot and confirm or correct each intent and action. Ctrl-C "
        "opens a menu (Continue, Undo Last, Fork, Start Fresh, Export & Quit). The story graph "
        "of the conversation is live at http://localhost:PORT/visualization.html.",
    )
    interactive.add_argument("bot_dir", metavar="BOT_DIR")
    interactive.add_argument("--model", metavar="FILE", help="model archive (default: newest)")
    interactive.add_argument(
        "--endpoints", metavar="FILE", help="endpoints file (default: the bot's endpoints.yml)"
    )
    interactive.add_argument(
        "--port", type=int, default=5006, help="story graph port (default: 5006; 0: any free)"
    )
    interactive.add_argument(
        "--skip-visualization", action="store_true", help="do not serve the story graph"
    )
    interactive.add_argument(
        "--retrain", action="store_true", help="train a new model after Export & Quit, unasked"
    )
    interactive.set_defaults(func=cmd_interactive)

    init = sub.add_parser(
        "init",
        help="create a starter bot, train it and offer to talk to it (as rasa init)",
        description="Write a small bot (domain, NLU data, stories, rules, test stories, "
        "config.yml, commented credentials.yml and endpoints.yml, actions.py) into DIR, train "
        "it, and offer a chinwag shell with it. A non-empty DIR is refused without --force.",
    )
    init.add_argument(
        "bot_dir", nargs="?", default=None, metavar="DIR", help="where to create it (default: .)"
    )
    init.add_argument(
        "--no-prompt",
        action="store_true",
        help="ask nothing (as when stdin is no terminal): DIR defaults to the current folder, "
        "no shell afterwards",
    )
    init.add_argument(
        "--force", action="store_true", help="write into a non-empty DIR (same names replaced)"
    )
    init.set_defaults(func=cmd_init)

    shell = sub.add_parser(
        "shell",
        help="talk to a bot in the terminal",
        description="Chat with a bot: buttons are numbered and can be picked by number; "
        "/restart starts over, /stop or Ctrl-D leaves. Works without a trained model for bots "
        "whose rules and stories need no machine learning.",
    )
    shell.add_argument("bot_dir", metavar="BOT_DIR")
    shell.add_argument(
        "--sender",
        default="shell",
        type=_conversation_id,
        help="conversation id (default: shell)",
    )
    shell.set_defaults(func=cmd_shell)

    train = sub.add_parser(
        "train",
        help="train a bot's NLU and dialogue model into models/<timestamp>.tar.gz",
        description="Check the bot, then train what changed since the latest model (NLU, "
        "dialogue or both) and write one model archive. What Rasa trains on anyway "
        "(contradicting stories, ...) is a warning; exit 1 only on errors Rasa also refuses "
        "or that would stop the bot. Test stories are never read.",
    )
    train.add_argument("bot_dir", metavar="BOT_DIR")
    train.add_argument("--out", metavar="FILE", help="write the archive here instead")
    train.add_argument(
        "--data",
        nargs="+",
        metavar="PATH",
        help="training data files or folders instead of BOT_DIR/data (as rasa train --data)",
    )
    train.add_argument("--force", action="store_true", help="retrain everything")
    train.set_defaults(func=cmd_train)

    test = sub.add_parser(
        "test",
        help="run a bot's test stories (or 'test nlu': evaluate its NLU)",
        description="chinwag test BOT_DIR replays the test stories under tests/ (or --stories) "
        "with the latest model (custom actions are not run) and writes story_report.json, "
        "failed_test_stories.yml and story_confusion_matrix.png. chinwag test nlu BOT_DIR "
        "evaluates NLU on the training data, a held-out file (--nlu) or by cross-validation.",
    )
    test.add_argument("target", nargs="+", metavar="[nlu] BOT_DIR")
    test.add_argument("--out", default="results", metavar="DIR", help="reports (default: results)")
    test.add_argument(
        "--stories",
        metavar="PATH",
        help="test stories file or folder instead of BOT_DIR/tests (as rasa test core "
        "--stories); never training data",
    )
    test.add_argument(
        "--model",
        metavar="FILE",
        help="the model archive to test (default: the bot's latest, else trained in memory)",
    )
    test.add_argument("--nlu", metavar="FILE", help="test nlu: held-out NLU data file")
    test.add_argument(
        "--cross-validation", type=int, metavar="N", help="test nlu: N-fold cross-validation"
    )
    test.add_argument(
        "--fail-on-prediction-errors",
        action="store_true",
        help="exit 1 when any test story fails",
    )
    test.set_defaults(func=cmd_test)

    run = sub.add_parser(
        "run",
        help="serve bots over HTTP: REST/Slack/Telegram webhooks, HTTP API, web chat",
        description="Start the hub. One bot is served at the root paths and under "
        "/bots/<name>/, several bots under /bots/<name>/ only. The HTTP API needs "
        "--auth-token (or $CHINWAG_AUTH_TOKEN); without one it is switched off.",
    )
    run.add_argument(
        "bot_dirs", nargs="*", default=["."], metavar="BOT_DIR", help="bot folders (default: .)"
    )
    run.add_argument(
        "--port", type=int, default=None, help="port to listen on (default: $PORT, else 5005)"
    )
    run.add_argument("--host", default="0.0.0.0", help="interface to bind (default: 0.0.0.0)")
    run.add_argument("--auth-token", default=None, help="token for the HTTP API")
    run.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="hub processes on the one port (default: the number of cores; 1: this process)",
    )
    run.add_argument(
        "--max-body",
        type=int,
        default=1024 * 1024,
        metavar="BYTES",
        help="largest request body accepted (default: 1 MiB)",
    )
    run.add_argument(
        "--body-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="time a client has to send a request body, else 408 (default: 30)",
    )
    run.add_argument(
        "--keepalive-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="how long an idle connection stays open (default: 15)",
    )
    run.add_argument(
        "--max-connections",
        type=_positive_int,
        metavar="N",
        help="connections open at once; more are closed on arrival (default: 1000)",
    )
    run.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        metavar="N",
        help="serve GET /metrics on this port without a token (default: on the hub's port, "
        "behind --auth-token)",
    )
    run.add_argument(
        "--event-loop",
        choices=("uvloop", "asyncio"),  # adapters.server.new_event_loop
        default=None,
        help="the event loop the hub runs on (default: uvloop where it is installed, else "
        "asyncio's own)",
    )
    run.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="text for people, or json: one object per line with time, level, logger, message, "
        "bot, channel, conversation_id, event, latency_ms (default: text)",
    )
    run.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="warning",
        help="least severe level logged (default: warning; info adds one line per message)",
    )
    run.add_argument(
        "--log-messages",
        action="store_true",
        help="allow message texts in the log (kept out at info and above by default)",
    )
    run.set_defaults(func=cmd_run)

    store_help = (
        "tracker store: mongodb://..., sqlite:///path, a .db file or memory (default: the "
        "bot's endpoints.yml tracker_store, MONGODB_URL, or .chinwag/conversations.db)"
    )
    export = sub.add_parser(
        "export",
        help="write stored conversations to events.jsonl or test stories (.yml)",
        description="Pull every conversation out of a tracker store: FILE.jsonl gets one line "
        "per event (Rasa event JSON with conversation_id and seq, for chinwag import), "
        "FILE.yml gets Rasa test stories, one per conversation session.",
    )
    export.add_argument("bot_dir", metavar="BOT_DIR")
    export.add_argument("--to", required=True, metavar="FILE", help="events.jsonl or stories.yml")
    export.add_argument(
        "--since", metavar="T", help="only events from T on (ISO date/time, or epoch seconds)"
    )
    export.add_argument("--store", metavar="URL", help=store_help)
    export.set_defaults(func=cmd_export)

    import_ = sub.add_parser(
        "import",
        help="load conversations from an events.jsonl file into a tracker store",
        description="Append the events of an events.jsonl (from chinwag export) to a tracker "
        "store. Safe to repeat: events already stored (same conversation and seq) are skipped.",
    )
    import_.add_argument("bot_dir", metavar="BOT_DIR")
    import_.add_argument(
        "--from", dest="source", required=True, metavar="FILE", help="an events.jsonl file"
    )
    import_.add_argument("--store", metavar="URL", help=store_help)
    import_.set_defaults(func=cmd_import)
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
