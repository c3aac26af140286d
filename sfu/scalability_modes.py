"""Parse WebRTC scalability modes such as ``L1T3``, ``S3T3`` and ``L3T3_KEY``.

The grammar follows the W3C WebRTC-SVC mode names. A mode starts with ``L``
(layered, inter-layer prediction) or ``S`` (simulcast-like, independent spatial
layers) and the number of spatial layers, then ``T`` and the number of temporal
layers. An optional ``_KEY`` suffix marks K-SVC, where spatial layers depend on
each other only on key frames. Anything after that (``h``, ``_SHIFT``) is
ignored, as mediasoup 3.32 does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Layer counts start at 1 and have at most two digits. mediasoup 3.32 uses the
# same pattern, so "L0T1" is unparsable rather than "zero spatial layers".
_SCALABILITY_MODE_RE = re.compile(r"^[LS]([1-9]\d?)T([1-9]\d?)(_KEY)?")


@dataclass(frozen=True, slots=True)
class ScalabilityMode:
    """Layer structure of one encoding."""

    spatial_layers: int = 1
    temporal_layers: int = 1
    ksvc: bool = False


def parse_scalability_mode(mode: str | None) -> ScalabilityMode:
    """Parse a scalability mode; ``None``, non-strings and unparsable text give 1/1."""
    if not isinstance(mode, str):
        return ScalabilityMode()

    match = _SCALABILITY_MODE_RE.match(mode)
    if match is None:
        return ScalabilityMode()

    return ScalabilityMode(
        spatial_layers=int(match.group(1)),
        temporal_layers=int(match.group(2)),
        ksvc=match.group(3) is not None,
    )
