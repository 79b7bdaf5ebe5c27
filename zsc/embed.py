"""Stage 3 — embed: run an encoder over a dataset split, batched and device-aware, cached on disk.

The cache is content-addressed by (encoder, its weights, dataset, split, subsample, preprocessing,
precision, zsc version), written atomically and verified on read, so a second call does no
encoder work and a damaged file is rebuilt rather than trusted.

Preprocessing can depend on the dataset (the raw-pixel baseline never upsamples past the
dataset's native size: `preprocessing_for`). Precision follows the paper: fp32, except encoders
whose spec says ``cuda_precision="fp16"`` (CLIP), which run in fp16 on CUDA (`precision_for`).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from . import config
from ._version import __version__
from .data import DATASETS, LoadedDataset, fingerprint, get_dataset, load_dataset, subsample_indices
from .data.folder import dataset_slug, is_folder_name
from .encoders import get_encoder
from .encoders.base import EncoderSpec, Preprocessing
from .errors import InvalidEmbeddingError, InvalidParameterError, WeightsUnavailableError
from .io import check_writable, config_hash, load_arrays, save_arrays, sha256_file
from .malloc import keep_freed_memory


@dataclass
class Embeddings:
    """Features of one dataset split under one encoder, with the labels they came with."""

    features: np.ndarray
    labels: np.ndarray
    encoder: str
    dataset: str
    split: str
    indices: np.ndarray
    hierarchy: dict[str, np.ndarray] = field(default_factory=dict)
    key: str = ""
    from_cache: bool = False
    seconds: float = 0.0

    def __len__(self) -> int:
        return len(self.labels)


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _cuda_count() -> int:
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _mps() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


# Each device kind zsc accepts, with how many devices of it this machine has.
DEVICE_KINDS: dict[str, Callable[[], int]] = {
    "cpu": lambda: 1,
    "cuda": _cuda_count,
    "mps": lambda: int(_mps()),
}


def check_device(device: torch.device | str | None) -> torch.device:
    """The device to embed on, checked now (before any data is read): a known kind that this
    machine has; None is CUDA if present, else the CPU."""
    if device is None:
        return default_device()
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise InvalidParameterError(f"unknown device {device!r}; use one of {', '.join(DEVICE_KINDS)}"
                                    " (with an index: cuda:1)") from None
    have = DEVICE_KINDS.get(dev.type)
    if have is None:
        raise InvalidParameterError(f"unsupported device {device!r}; use one of "
                                    f"{', '.join(DEVICE_KINDS)}")
    count = have()
    if count == 0 or (dev.index is not None and dev.index >= count):
        raise InvalidParameterError(
            f"device {device!r} is not available on this machine ({count} {dev.type} device(s)); "
            "use --device cpu, or leave it out to use CUDA where present")
    return dev


def check_run_values(*, seed: Any = 0, sample_seed: Any = None) -> None:
    """A seed must be a whole number >= 0 (numpy's generators refuse negative ones): checked
    before any data is read. (A sample size is checked against the dataset's size.)"""
    for name, value in (("seed", seed), ("sample seed", sample_seed)):
        if value is None and name != "seed":
            continue
        if not (isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 0):
            raise InvalidParameterError(f"{name} must be a whole number of at least 0, "
                                        f"got {value!r}")


def to_chw_uint8(image: Any) -> torch.Tensor:
    """A PIL image or an HxW / HxWxC uint8 array as a CxHxW uint8 tensor."""
    if hasattr(image, "convert"):  # PIL
        from torchvision.transforms.v2.functional import pil_to_tensor

        return pil_to_tensor(image.convert("RGB"))
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1)


def preprocess(image: Any, pre: Preprocessing) -> torch.Tensor:
    """Resize (shorter side), centre-crop, scale to [0, 1] and normalise one image."""
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.v2 import functional as F

    x = to_chw_uint8(image)
    if x.shape[0] == 1 and pre.channels == 3:
        x = x.expand(3, -1, -1)
    elif x.shape[0] == 3 and pre.channels == 1:
        x = F.rgb_to_grayscale(x)
    mode = InterpolationMode(pre.interpolation)
    x = F.resize(x, [pre.resize or pre.size], interpolation=mode, antialias=True)
    x = F.center_crop(x, [pre.size, pre.size])
    x = x.float().div_(255.0)
    return F.normalize(x, list(pre.mean), list(pre.std))


class ImageDataset(Dataset):
    """Images of a loaded split, preprocessed on the fly (decoded once per pass)."""

    def __init__(self, images: Any, pre: Preprocessing) -> None:
        self.images, self.pre = images, pre

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return preprocess(self.images[i], self.pre)


def check_finite(features: np.ndarray, what: str) -> None:
    """Refuse embeddings that contain NaN or infinity (for example from a broken checkpoint)."""
    if features.ndim != 2:
        raise InvalidEmbeddingError(f"{what}: expected a 2-d array of embeddings, got shape {features.shape}")
    bad = ~np.isfinite(features)
    if bad.any():
        rows = int(bad.any(axis=1).sum())
        raise InvalidEmbeddingError(
            f"{what}: {rows} of {len(features)} embeddings contain NaN or infinity; "
            "the encoder or its checkpoint is broken — nothing was clustered"
        )


PRECISIONS = ("fp32", "fp16", "bf16")


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise InvalidParameterError(
            f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")


# Normalisation layers the `clip` package leaves in fp32 when it halves a model
# (`clip.model.convert_weights` halves only convolutions, linear layers, attention and projections;
# its LayerNorm casts its input to fp32 and its output back).
FP32_LAYERS = (torch.nn.LayerNorm, torch.nn.GroupNorm, torch.nn.modules.batchnorm._BatchNorm)


def _to_fp32(module: torch.nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
    module._zsc_dtype = args[0].dtype  # type: ignore[assignment]
    return (args[0].float(), *args[1:])


def _back(module: torch.nn.Module, args: tuple[Any, ...], out: torch.Tensor) -> torch.Tensor:
    return out.to(module._zsc_dtype)  # type: ignore[arg-type]


def half_like_clip(model: torch.nn.Module) -> torch.nn.Module:
    """`model` in fp16 as `clip.load()` leaves CLIP on a GPU: every weight halved except the
    normalisation layers', which stay fp32 and normalise in fp32 (input cast up, output cast back).
    Halving the whole model instead would compute LayerNorm's statistics in fp16. Idempotent."""
    model.half()
    for m in model.modules():
        if isinstance(m, FP32_LAYERS):
            m.float()
            if not getattr(m, "_zsc_fp32_hooks", False):
                m.register_forward_pre_hook(_to_fp32)
                m.register_forward_hook(_back)
                m._zsc_fp32_hooks = True  # type: ignore[assignment]
    return model

# Images per batch: on CUDA large batches fill the GPU; on the CPU a small one keeps each layer's
# activations in cache (EfficientNet-Lite0 at 224 px on one thread: 57 images/s at 16, 40 at 128).
CPU_BATCH, CUDA_BATCH = 16, 128


def default_batch_size(device: torch.device) -> int:
    return CUDA_BATCH if device.type == "cuda" else CPU_BATCH


@torch.inference_mode()
def encode(
    model: torch.nn.Module,
    images: Any,
    pre: Preprocessing,
    *,
    batch_size: int | None = None,
    device: torch.device | str | None = None,
    num_workers: int | None = None,
    precision: str = "fp32",
    progress: bool = True,
    desc: str = "embedding",
) -> np.ndarray:
    """Run `model` over `images` in `precision` ("fp32"; "fp16": model and input in half
    precision with normalisation in fp32, as the paper's CLIP on a GPU (`half_like_clip`);
    "bf16": fp32 weights under bfloat16 autocast, an explicit option only); on CUDA with pinned
    memory and channels-last. `batch_size` defaults to `default_batch_size(device)`. Features
    come back as float32."""
    from tqdm import tqdm  # a text bar everywhere: no widget warning inside the chapters

    device = torch.device(device) if device is not None else default_device()
    cuda = device.type == "cuda"
    batch_size = batch_size or default_batch_size(device)
    check_precision(precision)
    dtype = torch.float16 if precision == "fp16" else torch.float32
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
    if num_workers is None:
        num_workers = min(8, os.cpu_count() or 1) if cuda else 0
    loader = DataLoader(
        ImageDataset(images, pre), batch_size=batch_size, shuffle=False,
        num_workers=num_workers, pin_memory=cuda, persistent_workers=False,
    )
    model = model.to(device=device, dtype=torch.float32).eval()
    if precision == "fp16":
        model = half_like_clip(model)
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    out: list[np.ndarray] = []
    with keep_freed_memory():  # each batch reuses the last one's buffers (`zsc.malloc`)
        for batch in tqdm(loader, desc=desc, unit="batch", disable=not progress):
            batch = batch.to(device, dtype=dtype, non_blocking=cuda)
            if cuda:
                batch = batch.contiguous(memory_format=torch.channels_last)
            with autocast:
                feats = model(batch)
            out.append(feats.float().flatten(1).cpu().numpy())
    dim = out[0].shape[1] if out else 0
    return np.concatenate(out) if out else np.zeros((0, dim), np.float32)


def _weights_fingerprint(path: str) -> str:
    if not Path(path).is_file():
        raise WeightsUnavailableError(
            f"weights file {path} does not exist (or is not a file); check the path given as --weights"
        )
    return "file:" + sha256_file(path)[:16]


def preprocessing_for(spec: EncoderSpec, dataset: str) -> Preprocessing:
    """The encoder's preprocessing for this dataset (its native image size, if registered)."""
    native = DATASETS.get(dataset).image_size if dataset in DATASETS else None
    return spec.preprocessing.for_native_size(native)


def precision_for(spec: EncoderSpec, device: torch.device | str) -> str:
    """"fp32", or the spec's `cuda_precision` on a CUDA device."""
    return spec.precision(torch.device(device).type)


def embedding_config(encoder: str, dataset: str, split: str, n_samples: int | None, seed: int,
                     weights: str | None, cuda: bool = False, precision: str | None = None
                     ) -> dict[str, Any]:
    """The embedding's identity (its cache key); `cuda`: computed on a CUDA device; `precision`:
    an explicit choice instead of the paper's (fp32; CLIP fp16 on CUDA)."""
    spec = get_encoder(encoder)
    if precision is not None:
        check_precision(precision)
    precision = precision or spec.precision("cuda" if cuda else "cpu")
    return {
        "encoder": encoder,
        "weights": _weights_fingerprint(weights) if weights else spec.weights_id,
        "dataset": dataset,
        "split": split,
        "n_samples": n_samples,
        "seed": seed if n_samples is not None else None,
        "preprocessing": preprocessing_for(spec, dataset).key(),
        "precision": precision,
        # fp16 embeddings made before normalisation stayed in fp32 (`half_like_clip`) differ
        **({"fp16_norms": "fp32"} if precision == "fp16" else {}),
        "zsc_version": __version__,
    } | _data_version(dataset)


def _data_version(dataset: str) -> dict[str, Any]:
    """The dataset's version, when it has one (0 adds nothing: older keys stay valid); a folder
    of images, whose files can change under its name, adds their fingerprint."""
    if is_folder_name(dataset):
        return {"data_fingerprint": fingerprint(dataset)}
    version = DATASETS.get(dataset).version if dataset in DATASETS else 0
    return {"data_version": version} if version else {}


def cache_path(cfg: dict[str, Any], cache_dir: str | os.PathLike[str] | None = None) -> Path:
    parts = {"dataset": dataset_slug(cfg["dataset"]), "encoder": cfg["encoder"], "split": cfg["split"]}
    for what, part in parts.items():  # names become path parts: stay under the root
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", str(part)):
            raise InvalidParameterError(
                f"{what} name {part!r} cannot name a cache folder; use letters, digits, '_', '-' "
                "and '.' (no path separators, not starting with '.')"
            )
    root = Path(cache_dir) if cache_dir else config.cache_dir()
    return root / "embeddings" / parts["dataset"] / parts["encoder"] / f"{parts['split']}-{config_hash(cfg)}.npz"


def embed(
    encoder: str,
    dataset: str | LoadedDataset,
    split: str | None = None,
    *,
    n_samples: int | None = None,
    seed: int = 0,
    batch_size: int | None = None,
    device: torch.device | str | None = None,
    num_workers: int | None = None,
    weights: str | None = None,
    data_dir: str | None = None,
    cache: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    precision: str | None = None,
    progress: bool = True,
) -> Embeddings:
    """Embed (a seeded subsample of) one split; reuse the cached result when there is one.
    `precision` (fp32 / fp16 / bf16) overrides the paper's choice: a deviation, in the key."""
    spec = get_encoder(encoder)
    check_run_values(seed=seed)
    device = check_device(device)
    data = dataset if isinstance(dataset, LoadedDataset) else None
    if data is None:
        ds = get_dataset(str(dataset))
        name, split = ds.name, split or ds.default_split  # a folder's name: its absolute path
    else:
        name, split = data.name, data.split
    cfg = embedding_config(encoder, name, split, n_samples, seed, weights, device.type == "cuda",
                           precision)
    path = cache_path(cfg, cache_dir)
    if cache:
        hit = load_arrays(path)
        if hit is not None:
            meta, arr = hit
            hierarchy = {k[len("level_"):]: v for k, v in arr.items() if k.startswith("level_")}
            return Embeddings(arr["features"], arr["labels"], encoder, name, split, arr["indices"],
                              hierarchy, config_hash(cfg), True, float(meta.get("seconds", 0.0)))
        check_writable(path.parent, "the embedding cache (ZSC_HOME / ZSC_CACHE_DIR)", create=False)
    if data is None:
        data = load_dataset(name, split, data_dir)
    idx = subsample_indices(data.labels, n_samples, seed)
    part = data.subset(idx) if n_samples is not None else data
    model = spec.build(weights)
    t0 = time.perf_counter()
    feats = encode(model, part.images, preprocessing_for(spec, name), batch_size=batch_size,
                   device=device, num_workers=num_workers, precision=cfg["precision"],
                   progress=progress,
                   desc=f"{encoder} on {name}/{split}")
    seconds = time.perf_counter() - t0
    check_finite(feats, f"encoder {encoder!r} on {name}/{split}")
    result = Embeddings(feats.astype(np.float32), part.labels, encoder, name, split, idx,
                        dict(part.hierarchy), config_hash(cfg), False, seconds)
    if cache:
        save_arrays(path, dict(cfg, seconds=seconds, images_per_second=len(feats) / max(seconds, 1e-9)),
                    features=result.features, labels=result.labels, indices=idx,
                    **{f"level_{k}": v for k, v in result.hierarchy.items()})
    return result

