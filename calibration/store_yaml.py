"""Writing solved calibration values back into a store YAML without losing comments or order.

PyYAML (used by `edge.config.load_config`) drops comments, so the write-back goes through a
ruamel.yaml round trip: only the given keys of `cameras[name].calibration` change; every other
key, comment, quote and ordering stays as the person who wrote the file left it. Comment lines
that follow a value in the file (often the heading of the next section) stay where they were.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.tokens import CommentToken
from ruamel.yaml.util import load_yaml_guess_indent

from edge.config import ConfigError

SIGNIFICANT_DIGITS = 10  # enough for sub-millimetre floor positions anywhere in a 2 km plan


def _number(value: float) -> float:
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def _yaml_value(array: np.ndarray) -> CommentedSeq:
    """A matrix as block rows of flow lists (`- [a, b, c]`), a vector as one flow list."""
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
    `dist_coeffs` (K,)) in the YAML file at `path`. Existing keys keep their place; new ones
    go at the end of the section."""
    path = Path(path)
    text = path.read_text()
    _, sequence_indent, dash_offset = load_yaml_guess_indent(text)
    yaml = YAML()  # round-trip mode
    yaml.indent(mapping=2, sequence=sequence_indent, offset=dash_offset)
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold long lines the author kept on one line
    data = yaml.load(text)
    cameras = data.get("cameras") if isinstance(data, CommentedMap) else None
    entry = next((c for c in cameras or [] if isinstance(c, CommentedMap) and c.get("name") == camera), None)
    if entry is None or not isinstance(entry.get("calibration"), CommentedMap):
        raise ConfigError(f"{path}: cameras: no camera {camera!r} with a calibration section")
    calibration = entry["calibration"]
    section_tail = _take_trailing(calibration, next(reversed(calibration)))
    for key, array in values.items():
        own_tail = _take_trailing(calibration, key) if key in calibration else ""
        calibration[key] = _yaml_value(array)
        _put_trailing(calibration, key, own_tail)
    _put_trailing(calibration, next(reversed(calibration)), section_tail)
    with path.open("w") as stream:
        yaml.dump(data, stream)


def _split(token: CommentToken | None) -> str:
    """Cut the lines after a value's own end-of-line comment off `token`; return them."""
    if token is None or "\n" not in token.value:
        return ""
    cut = token.value.index("\n") + 1
    tail, token.value = token.value[cut:], token.value[:cut]
    return tail


def _take_trailing(mapping: CommentedMap, key: str) -> str:
    """Remove and return the comment lines that follow `mapping[key]` in the file. ruamel
    keeps them on the key (scalars, flow lists), on a block list's last item, or, read back
    after a block list, in the list's `end`."""
    tail = ""
    slot = mapping.ca.items.get(key)
    if slot and len(slot) > 2:
        tail += _split(slot[2])
    value = mapping[key]
    if isinstance(value, CommentedSeq) and not value.fa.flow_style() and len(value):
        item = value.ca.items.get(len(value) - 1)
        if item:
            tail += _split(item[0])
        if value.ca.end:
            tail += "".join(token.value for token in value.ca.end)
            value.ca.end = []
    return tail


def _put_trailing(mapping: CommentedMap, key: str, tail: str) -> None:
    """Put comment lines back after `mapping[key]` (see `_take_trailing`)."""
    if not tail:
        return
    token = CommentToken("\n" + tail, CommentMark(0), None)
    value = mapping[key]
    if isinstance(value, CommentedSeq) and not value.fa.flow_style() and len(value):
        value.ca.items[len(value) - 1] = [token, None]
    else:
        mapping.ca.items.setdefault(key, [None, None, None, None])[2] = token
