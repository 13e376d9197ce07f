"""This checkout installed as a package (`pip install .`) into a fresh virtualenv, in seconds.

The virtualenv sees the shared environment's packages through a `.pth` file (so nothing is
downloaded and no dependency is built), and the checkout is built and installed into it with
`pip install --no-deps --no-build-isolation` from a copy (the build writes into its source
tree). What the install puts in its `bin/` is what `pip install .` gives a user.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOT_SOURCE = (".git", ".venv", "var", "artifacts", "build", "*.egg-info", "__pycache__", ".*_cache")


def install(prefix: Path) -> Path:
    """`prefix/.venv` with this checkout installed in it; returns the virtualenv's directory."""
    source = prefix / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    env_dir = prefix / ".venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    site = Path(
        subprocess.run(
            [env_dir / "bin/python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "shared-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [
            env_dir / "bin/python",
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            str(source),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    shutil.rmtree(source)
    return env_dir


if __name__ == "__main__":
    print(install(Path(sys.argv[1])))
