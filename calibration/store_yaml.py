"""Writing solved calibration values back into a store YAML without losing comments or order.

PyYAML (used by `footfall_core.store.load_config`) drops comments, so the write-back goes through a
ruamel.yaml round trip: only the given keys of `cameras[name].calibration` change; every other
key, comment, quote and ordering stays as the person who wrote the file left it. Comment lines
that follow a value in the file (often the heading of the next section) stay where they were.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import tempfile
from pathlib import Path

import numpy as np
import yaml as safe_yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.tokens import CommentToken
from ruamel.yaml.util import load_yaml_guess_indent

from footfall_core.store import ConfigError, parse_config

SIGNIFICANT_DIGITS = 10  # enough for sub-millimetre floor positions anywhere in a 2 km plan


def _number(value: float) -> float:
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def _yaml_value(array: np.ndarray) -> CommentedSeq:
    """A matrix as block rows of flow lists (`- [a, b, c]`), a vector as one flow list; an
    integer vector keeps its integers (a frame size: [768, 576])."""
    if np.asarray(array).ndim == 1 and np.issubdtype(np.asarray(array).dtype, np.integer):
        seq = CommentedSeq(int(v) for v in array)
        seq.fa.set_flow_style()
        return seq
    array = np.asarray(array, dtype=np.float64)
    if array.ndim == 1:
        seq = CommentedSeq(_number(v) for v in array)
        seq.fa.set_flow_style()
        return seq
    rows = CommentedSeq()
    for row in array:
        rows.append(_yaml_value(row))
    return rows


def write_calibration(path: Path | str, camera: str, values: dict[str, np.ndarray]) -> None:
    """Set keys of one camera's `calibration` (e.g. `homography` 3×3, `camera_matrix` 3×3,
    `dist_coeffs` (K,), `image_points_px` (N, 2)) in the YAML file at `path`. Existing keys keep
    their place; new ones go at the end of the section."""

    def change(data: CommentedMap) -> None:
        cameras = data.get("cameras")
        entries = [c for c in cameras or [] if isinstance(c, CommentedMap) and c.get("name") == camera]
        entry = entries[0] if entries else None
        if entry is None or not isinstance(entry.get("calibration"), CommentedMap):
            raise ConfigError(f"{path}: cameras: no camera {camera!r} with a calibration section")
        _set(entry["calibration"], {key: _yaml_value(array) for key, array in values.items()})

    _edit(Path(path), change)


def write_sections(path: Path | str, sections: dict[str, list[dict]]) -> None:
    """Replace top-level list sections of the store YAML, e.g. `zones` and `lines`, with plain
    lists of mappings (points as [x, y] pairs, written in flow style)."""

    def change(data: CommentedMap) -> None:
        _set(data, {key: _plain_yaml(items) for key, items in sections.items()})

    _edit(Path(path), change)


def _plain_yaml(value):
    """Plain data → ruamel nodes; lists of numbers and lists of number pairs in flow style."""
    if isinstance(value, dict):
        node = CommentedMap()
        for key, item in value.items():
            node[key] = _plain_yaml(item)
        return node
    if isinstance(value, (list, tuple)):
        node = CommentedSeq(_plain_yaml(item) for item in value)
        numbers = all(isinstance(item, (int, float)) for item in value)
        pairs = all(
            isinstance(item, (list, tuple)) and all(isinstance(v, (int, float)) for v in item)
            for item in value
        )
        if numbers or pairs:
            node.fa.set_flow_style()
        return node
    return _number(value) if isinstance(value, float) else value


def _set(mapping: CommentedMap, values: dict) -> None:
    """Set keys of a round-trip mapping, keeping comment lines that followed each old value
    and the comment lines at the mapping's end where they were."""
    end_tail = _take_trailing(mapping, next(reversed(mapping))) if len(mapping) else ""
    for key, node in values.items():
        own_tail = _take_trailing(mapping, key) if key in mapping else ""
        mapping[key] = node
        _put_trailing(mapping, key, own_tail)
    _put_trailing(mapping, next(reversed(mapping)), end_tail)


def _edit(path: Path, change) -> None:
    """Load `path` round-trip, apply `change(data)`, check that the result is still a valid
    store config, then replace the file atomically (a failed edit leaves it untouched)."""
    text = path.read_text()
    _, sequence_indent, dash_offset = load_yaml_guess_indent(text)
    yaml = YAML()  # round-trip mode
    yaml.indent(mapping=2, sequence=sequence_indent, offset=dash_offset)
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold long lines the author kept on one line
    data = yaml.load(text)
    if not isinstance(data, CommentedMap):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    change(data)
    out = io.StringIO()
    yaml.dump(data, out)
    parse_config(safe_yaml.safe_load(out.getvalue()), path)  # raises ConfigError naming the key
    replace_durably(path, out.getvalue().encode())


def replace_durably(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that a crash or power cut leaves the old file or the new one,
    never a torn or empty one, and the file keeps its mode and owner (a store YAML that names no
    password may be 0644; one that was 0640 root:footfall stays so). The new bytes go to a
    temporary file in the same directory (created 0600), which gets the old mode and owner, is
    flushed to disk, renamed over the old one, and the directory is flushed so the rename lasts."""
    old = path.stat()
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), stat.S_IMODE(old.st_mode))
            if (old.st_uid, old.st_gid) != (os.getuid(), os.getgid()):
                try:
                    os.fchown(handle.fileno(), old.st_uid, old.st_gid)
                except PermissionError:
                    # not ours to give away: the old group or others must not read it under a new owner
                    os.fchmod(handle.fileno(), stat.S_IMODE(old.st_mode) & 0o700)
            os.fsync(handle.fileno())
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _split(token: CommentToken | None) -> str:
    """Cut the lines after a value's own end-of-line comment off `token`; return them."""
    if token is None or "\n" not in token.value:
        return ""
    cut = token.value.index("\n") + 1
    tail, token.value = token.value[cut:], token.value[:cut]
    return tail


def _is_block_list(node) -> bool:
    return isinstance(node, CommentedSeq) and not node.fa.flow_style() and len(node) > 0


def _take_trailing(mapping: CommentedMap, key: str) -> str:
    """Remove and return the comment lines that follow `mapping[key]` in the file. ruamel
    keeps them on the key (scalars, flow lists), on the last item of a block list or mapping
    (recursively), or, read back after a block list, in the list's `end`."""
    slot = mapping.ca.items.get(key)
    tail = _split(slot[2]) if slot and len(slot) > 2 else ""
    value = mapping[key]
    if isinstance(value, CommentedMap) and len(value):
        tail += _take_trailing(value, next(reversed(value)))
    elif _is_block_list(value):
        item = value.ca.items.get(len(value) - 1)
        if item:
            tail += _split(item[0])
        if isinstance(value[-1], CommentedMap) and len(value[-1]):
            tail += _take_trailing(value[-1], next(reversed(value[-1])))
        if value.ca.end:
            tail += "".join(
                " " * token.start_mark.column + token.value if token.value.startswith("#") else token.value
                for token in value.ca.end
            )
            value.ca.end = []
    return tail


def _put_trailing(mapping: CommentedMap, key: str, tail: str) -> None:
    """Put comment lines back after `mapping[key]`, where ruamel writes them (see above)."""
    if not tail:
        return
    value = mapping[key]
    if isinstance(value, CommentedMap) and len(value):
        _put_trailing(value, next(reversed(value)), tail)
    elif _is_block_list(value) and isinstance(value[-1], CommentedMap) and len(value[-1]):
        _put_trailing(value[-1], next(reversed(value[-1])), tail)
    elif _is_block_list(value):
        value.ca.items[len(value) - 1] = [CommentToken("\n" + tail, CommentMark(0), None), None]
    else:
        token = CommentToken("\n" + tail, CommentMark(0), None)
        mapping.ca.items.setdefault(key, [None, None, None, None])[2] = token
