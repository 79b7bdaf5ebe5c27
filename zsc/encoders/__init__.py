"""Stage 2 — encoders: a registry of image encoders (the paper's, ours, baselines).

`get_encoder(name)` gives the spec; `load_encoder(name)` the eval-mode module, which maps a
preprocessed batch to pooled pre-head features.
"""

from __future__ import annotations

from typing import Any

from . import baseline, package, paper, zoo  # noqa: F401  (registration)
from .base import ENCODERS, EncoderSpec, Preprocessing

__all__ = ["ENCODERS", "EncoderSpec", "Preprocessing", "get_encoder", "list_encoders", "load_encoder"]


def get_encoder(name: str) -> EncoderSpec:
    return ENCODERS.get(name)


def list_encoders(tier: str | None = None, include_optional: bool = True) -> list[EncoderSpec]:
    return [
        s for _, s in ENCODERS.items()
        if (tier is None or s.tier == tier) and (include_optional or not s.optional)
    ]


def load_encoder(name: str, weights: str | None = None) -> Any:
    """Build the encoder in eval mode; `weights` overrides where its checkpoint is read from."""
    return get_encoder(name).build(weights)
