"""Which layers form a model's convolutional groups: pure rules on layer names and
output shapes (no Keras import), for `layer_groups`.

keras.applications names its stages, so names decide where they are known:

- VGG16/19: `block<N>_*` -> group `block<N>`;
- ResNet50/101/152 (and V2): `conv1_*`, `pool1_*` -> stem; `conv<N>_block<M>_*` ->
  group `conv<N>`; `post_*` (V2) -> the last group;
- EfficientNet B0-B7 (and V2): `rescaling`, `normalization`, `stem_*` -> stem;
  `block<N><letter>_*` -> group `block<N>`; `top_*` -> group `top`.

Any other model (MobileNetV2 and your own) is cut where the spatial resolution
falls: each resolution is a group `stage<K>`, the first one (the layers at the input's
resolution and the first downsampling) is the stem. Padding layers (which widen the
map just before a strided layer) go with the layer they feed; 1x1 and non-spatial
outputs (squeeze-and-excitation branches) stay in the group they sit in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_NAMED = (
    # (family, pattern -> group, stem pattern, pattern -> last group)
    ("resnet", re.compile(r"^conv(\d+)_block\d+_"), re.compile(r"^(conv1_|pool1_)"),
     re.compile(r"^post_")),
    ("efficientnet", re.compile(r"^block(\d+)[a-z]_"),
     re.compile(r"^(rescaling|normalization|stem_)"), re.compile(r"^top_")),
    ("vgg", re.compile(r"^block(\d+)_"), None, None),
)


def group_names(names: Sequence[str],
                resolutions: Sequence[tuple[int, int] | None]) -> list[str | None]:
    """The group of every layer (`None` for input layers, given as resolution-less
    entries named like `input*`): `"stem"`, a stage name, in layer order.

    `names` are the layers' names in topological order, `resolutions` their
    output's (height, width) or `None` when the output is not a 4-D map.
    """
    by_name = _by_name(names)
    if by_name is not None:
        return by_name
    return _by_resolution(names, resolutions)


def _by_name(names: Sequence[str]) -> list[str | None] | None:
    for family, pattern, stem, last in _NAMED:
        groups: list[str | None] = []
        hits = 0
        for name in names:
            match = pattern.match(name)
            if match:
                hits += 1
                groups.append(f"{'conv' if family == 'resnet' else 'block'}{match.group(1)}")
            elif stem is not None and stem.match(name):
                groups.append("stem")
            elif last is not None and last.match(name):
                groups.append("top" if family == "efficientnet" else "__last__")
            elif _is_input(name):
                groups.append(None)
            else:
                groups.append("__unknown__")
        distinct = {g for g in groups if g not in (None, "stem", "top", "__last__",
                                                   "__unknown__")}
        if len(distinct) >= 2 and hits >= 0.6 * len(names):
            # Unnamed layers join the group before them (the stem if none yet).
            out: list[str | None] = []
            current = "stem"
            last_group = max(distinct, key=lambda g: int(re.sub(r"\D", "", g) or 0))
            for group in groups:
                if group == "__last__":
                    group = last_group
                if group == "__unknown__":
                    group = current
                if group is not None:
                    current = group
                out.append(group)
            return out
    return None


def _by_resolution(names: Sequence[str],
                   resolutions: Sequence[tuple[int, int] | None]) -> list[str | None]:
    sizes = [None if r is None or min(r) <= 1 else int(r[0]) * int(r[1]) for r in resolutions]
    stage: list[int | None] = []
    smallest = None
    level = 0
    for name, size in zip(names, sizes, strict=True):
        if _is_input(name):
            stage.append(None)
            smallest = size if smallest is None else smallest  # the input's resolution
            continue
        if size is not None and smallest is not None and size < smallest:
            level += 1
        if size is not None and (smallest is None or size < smallest):
            smallest = size
        stage.append(level if size is None or size <= smallest else -1)  # -1: padding
    # A padding layer (wider than the stage) goes with the next layer's stage.
    for i in range(len(stage) - 1, -1, -1):
        if stage[i] == -1:
            following = next((s for s in stage[i + 1:] if s not in (None, -1)), level)
            stage[i] = following
    # Stage 0 (input resolution) and stage 1 (the first downsampling) are the stem.
    return [None if s is None else ("stem" if s <= 1 else f"stage{s - 1}") for s in stage]


def _is_input(name: str) -> bool:
    return name.startswith("input")
