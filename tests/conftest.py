"""Shared fixtures. Corpus and benchmark data live in ../shared beside the repo (CI has it)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CHINWAG_SHARED", REPO.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """../shared/corpus; tests that need it are skipped where it is absent."""
    path = SHARED / "corpus"
    if not path.is_dir():
        pytest.skip("../shared/corpus is not present")
    return path


@pytest.fixture(scope="session")
def bench_dir() -> Path:
    path = SHARED / "bench"
    if not path.is_dir():
        pytest.skip("../shared/bench is not present")
    return path


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def mongodb_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real MongoDB-wire server for the session: MONGODB_URL when set, else a secantusdb
    server (``python -m secantus``) on a free port with a temporary storage folder."""
    if os.environ.get("MONGODB_URL"):
        yield os.environ["MONGODB_URL"]
        return
    pytest.importorskip("secantus", reason="secantusdb is not installed (pip install .[test])")
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    port = _free_port()
    storage = tmp_path_factory.mktemp("secantus")
    log = (storage.parent / "secantus.log").open("wb")
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(port)),
            *("--storage-path", str(storage), "--log-level", "WARNING"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"mongodb://127.0.0.1:{port}"
    client: MongoClient[dict[str, Any]] = MongoClient(url, serverSelectionTimeoutMS=200)
    deadline = time.monotonic() + 60
    try:
        while True:
            if server.poll() is not None:
                pytest.fail(f"secantusdb exited with {server.returncode}; see {log.name}")
            try:
                client.admin.command("ping")
                break
            except PyMongoError:
                if time.monotonic() > deadline:
                    pytest.fail(f"secantusdb did not answer on port {port} within 60 s")
        client.close()
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture
def mongo_db(mongodb_url: str) -> str:
    """A fresh database name per test on the session's MongoDB server."""
    return f"test_{uuid.uuid4().hex[:12]}"
