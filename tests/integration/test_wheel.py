"""The built wheel, installed as users install it, claims one import name: ``chinwag``.

The wheel is built from a copy of the source tree and installed with pip into a fresh
virtualenv, its dependencies coming from the package index as for any user. Beside it sit a
project's own top-level ``core``, ``adapters`` and ``channel_responses`` packages (a Django
project's ``core`` is the common case): chinwag must neither import them nor hide them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pexpect
import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
GENERIC_NAMES = ("core", "adapters", "channel_responses")
# a package of the user's own, which records every import of it in $USER_PACKAGE_IMPORTS
USER_PACKAGE = """\
import os

OWNER = "the user's project"
_record = os.environ.get("USER_PACKAGE_IMPORTS")
if _record:
    with open(_record, "a", encoding="utf-8") as imports:
        imports.write(__name__ + "\\n")
"""
SOURCE_SKIP = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis",
    ".chinwag", "models", "tests", "bench", "bots", "results",
)  # fmt: skip


def run(*args: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )


def write_user_packages(folder: Path) -> None:
    for name in GENERIC_NAMES:
        (folder / name).mkdir(parents=True)
        (folder / name / "__init__.py").write_text(USER_PACKAGE, encoding="utf-8")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], Path]:
    """(the fresh venv's bin folder, the environment to run it in, the imports record)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    shutil.copytree(REPO, source, symlinks=True, ignore=SOURCE_SKIP)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", root / "dist", source],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (root / "dist").glob("chinwag-*.whl")
    top_level = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {name for name in top_level if not name.endswith(".dist-info")} == {"chinwag"}

    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bin_dir = env_dir / "bin"
    site = next((env_dir / "lib").glob("python3*/site-packages"))
    write_user_packages(site)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    }
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["USER_PACKAGE_IMPORTS"] = str(root / "imports.txt")
    pip = run(bin_dir / "python", "-m", "pip", "install", "--quiet", wheel, cwd=root, env=env)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    return bin_dir, env, root / "imports.txt"


def test_the_wheel_gives_a_working_chinwag_beside_a_users_core_package(
    installed: tuple[Path, dict[str, str], Path], tmp_path: Path
) -> None:
    bin_dir, env, imports = installed
    # the user's project folder has its own generic packages too, as Django projects do
    write_user_packages(tmp_path)

    helped = run(bin_dir / "chinwag", "--help", cwd=tmp_path, env=env)
    assert helped.returncode == 0, helped.stdout + helped.stderr
    assert "usage: chinwag" in helped.stdout

    made = run(bin_dir / "chinwag", "init", "bot", "--no-prompt", cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stdout + made.stderr
    assert list((tmp_path / "bot" / "models").glob("*.tar.gz")), "init trains the bot"

    child = pexpect.spawn(
        str(bin_dir / "chinwag"),
        ["shell", "bot"],
        cwd=str(tmp_path),
        env=env,
        encoding="utf-8",
        timeout=120,
    )
    try:
        child.expect_exact("Your input -> ")
        child.sendline("are you a bot?")
        child.expect_exact("I am a bot, powered by chinwag.")
        child.expect_exact("Your input -> ")
        child.sendline("what time is it?")  # the bot's actions.py, run in-process
        child.expect(r"It is \d\d:\d\d UTC\.")
        child.expect_exact("Your input -> ")
        child.sendline("/stop")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0

    assert not imports.exists(), f"chinwag imported the user's packages: {imports.read_text()}"
    owner = run(
        bin_dir / "python",
        "-c",
        "import core, adapters, channel_responses; print(core.OWNER, core.__file__)",
        cwd=tmp_path.parent,
        env={**env, "USER_PACKAGE_IMPORTS": ""},
    )
    assert owner.returncode == 0, owner.stderr
    assert owner.stdout.startswith("the user's project ")
    assert "site-packages" in owner.stdout, "the user's own `core` is still the one imported"
