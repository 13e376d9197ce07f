"""Writing a solved homography back into a store YAML without losing its comments or order.

PyYAML (used by `edge.config.load_config`) drops comments, so the write-back goes through a
ruamel.yaml round trip: only `cameras[name].calibration.homography` changes; every other key,
comment, quote and ordering stays as the person who wrote the file left it.
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


def _matrix_yaml(matrix: np.ndarray) -> CommentedSeq:
    """A 3×3 matrix as three flow-style rows: `- [a, b, c]`."""
    rows = CommentedSeq()
    for row in np.asarray(matrix, dtype=np.float64):
        seq = CommentedSeq(float(f"{value:.{SIGNIFICANT_DIGITS}g}") for value in row)
        seq.fa.set_flow_style()
        rows.append(seq)
    return rows


def write_homography(path: Path | str, camera: str, homography: np.ndarray) -> None:
    """Set `calibration.homography` (image px → floor m, 3×3) of one camera in the YAML file,
    normalised so that its bottom-right element is 1."""
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
    matrix = np.asarray(homography, dtype=np.float64)
    if abs(matrix[2, 2]) > 1e-12:
        matrix = matrix / matrix[2, 2]
    calibration = entry["calibration"]
    rows = _matrix_yaml(matrix)
    old = calibration.get("homography")
    if isinstance(old, CommentedSeq) and old.ca.end:  # what followed the old matrix, read back as its end
        trailing = "".join(token.value for token in old.ca.end)
    else:
        trailing = _detach_trailing(calibration) if old is None else None
    if trailing:
        rows.ca.items[len(rows) - 1] = [CommentToken("\n" + trailing, CommentMark(0), None), None]
    calibration["homography"] = rows
    with path.open("w") as stream:
        yaml.dump(data, stream)


def _detach_trailing(mapping: CommentedMap) -> str | None:
    """Comment lines after a mapping's last value belong to whatever follows it in the file
    (the next section's heading); take them off the last key so that they stay below a key
    appended after it. Returns their text, or None."""
    last = next(reversed(mapping), None)
    slots = mapping.ca.items.get(last)
    token = slots[2] if slots and len(slots) > 2 else None
    if token is None or "\n" not in token.value:
        return None
    cut = token.value.index("\n") + 1
    head, tail = token.value[:cut], token.value[cut:]
    if not tail:
        return None
    token.value = head
    return tail
