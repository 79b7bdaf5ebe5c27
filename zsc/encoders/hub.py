"""Real weight loading that fails fast offline.

Weights come from the Hugging Face hub (timm's `hf_hub_id`), from a URL (torch.hub's checkpoint
folder) or from a file the user names. When a file is not cached and its host cannot be reached
within a few seconds, one `WeightsUnavailableError` says which file to download and where to put
it — never a long timeout, never a silently random model.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..errors import WeightsUnavailableError

PROBE_TIMEOUT_S = 3.0


def torch_checkpoint_dir() -> Path:
    """torch.hub's checkpoint folder: $TORCH_HOME/hub/checkpoints (default ~/.cache/torch)."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def hf_cache_dir() -> Path:
    from huggingface_hub.constants import HF_HUB_CACHE

    return Path(HF_HUB_CACHE)


def reachable(url: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Can a TCP connection to the URL's host be opened within `timeout` seconds?"""
    if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("ZSC_OFFLINE") == "1":
        return False
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def fetch_url(url: str, filename: str | None = None, *, who: str = "") -> Path:
    """Return the cached checkpoint for `url`, downloading it if its host answers."""
    filename = filename or os.path.basename(urlparse(url).path)
    target = torch_checkpoint_dir() / filename
    if target.exists():
        return target
    if not reachable(url):
        raise WeightsUnavailableError(
            f"{who + ': ' if who else ''}weights file {filename} is not in {target.parent} and "
            f"{urlparse(url).hostname} cannot be reached. Download {url} and save it as {target} "
            f"(or set TORCH_HOME, or pass --weights PATH)."
        )
    import torch.hub

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".part")
    torch.hub.download_url_to_file(url, str(tmp), progress=True)
    os.replace(tmp, target)
    return target


def fetch_hf(repo_id: str, filename: str = "model.safetensors", *, who: str = "") -> Path:
    """Return the cached hub file, downloading it if the hub answers."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(hf_hub_download(repo_id, filename, local_files_only=True))
    except LocalEntryNotFoundError:
        pass
    url = f"https://huggingface.co/{repo_id}/resolve/main/{filename}"
    if not reachable(url):
        raise WeightsUnavailableError(
            f"{who + ': ' if who else ''}weights file {filename} of hub repository {repo_id} is not "
            f"in the cache {hf_cache_dir()} and the hub cannot be reached. Download {url} into that "
            f"cache (huggingface-cli download {repo_id} {filename}; set HF_HOME to move it), or pass "
            f"--weights PATH."
        )
    return Path(hf_hub_download(repo_id, filename))


def load_state_dict(path: str | os.PathLike[str], *, who: str = "") -> dict[str, Any]:
    """Read a checkpoint safely (safetensors, or torch.load with weights_only=True)."""
    path = Path(path)
    if not path.exists():
        raise WeightsUnavailableError(f"{who + ': ' if who else ''}weights file {path} does not exist")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return dict(load_file(str(path)))
        import torch

        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, bad header, pickled code ...
        raise WeightsUnavailableError(
            f"{who + ': ' if who else ''}weights file {path} is unreadable ({type(err).__name__}: "
            f"{err}); it may be truncated — delete it and download it again"
        ) from err


def load_strict(model: Any, state_dict: dict[str, Any], *, who: str = "",
                path: str | os.PathLike[str] | None = None) -> Any:
    """Load with no missing or unexpected keys and no wrong shapes, or raise one
    `WeightsUnavailableError` that names the file, the keys that are wrong and what to do."""
    what = f"weights file {path}" if path is not None else "checkpoint"
    fix = ("Pass the checkpoint made for this encoder (same architecture and size), or delete the "
           "file and download it again.")
    try:
        result = model.load_state_dict(state_dict, strict=False)
    except RuntimeError as err:  # right keys, wrong shapes (e.g. another model size)
        lines = [ln.strip() for ln in str(err).splitlines()[1:] if ln.strip()] or [str(err)]
        detail = "; ".join(ln.rstrip(".") for ln in lines[:3]) + ("; ..." if len(lines) > 3 else "")
        raise WeightsUnavailableError(
            f"{who + ': ' if who else ''}{what} does not fit the model ({detail}). {fix}"
        ) from err
    if result.missing_keys or result.unexpected_keys:
        raise WeightsUnavailableError(
            f"{who + ': ' if who else ''}{what} does not fit the model: "
            f"missing keys {list(result.missing_keys)[:5]}, unexpected keys "
            f"{list(result.unexpected_keys)[:5]}. {fix}"
        )
    return model


def timm_pretrained(tag: str, weights: str | None = None, *, who: str = "", **kwargs: Any) -> Any:
    """timm model `tag` with its pretrained weights, from `weights`, the cache or the hub."""
    import timm

    if weights is None:
        cfg = timm.models.get_pretrained_cfg(tag)
        if cfg is None:
            raise WeightsUnavailableError(f"{who}: timm knows no pretrained weights {tag!r}")
        if cfg.hf_hub_id:
            weights = str(fetch_hf(cfg.hf_hub_id, "model.safetensors", who=who))
        elif cfg.url:
            weights = str(fetch_url(cfg.url, who=who))
        else:
            raise WeightsUnavailableError(f"{who}: timm's {tag!r} names no hub id or URL")
    elif not Path(weights).exists():
        raise WeightsUnavailableError(f"{who + ': ' if who else ''}weights file {weights} does not exist")
    try:
        model = timm.create_model(tag, pretrained=True, pretrained_cfg_overlay={"file": str(weights)},
                                  **kwargs)
    except (RuntimeError, OSError, ValueError) as err:
        raise WeightsUnavailableError(
            f"{who + ': ' if who else ''}weights file {weights} could not be loaded into timm's "
            f"{tag!r} ({err})"
        ) from err
    return model.eval()
