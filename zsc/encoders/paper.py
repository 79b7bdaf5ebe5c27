"""Tier 1 — the paper's encoders (ImageNet-1k pretrained ResNet-50 and ViT-B/16), loaded for real.

Every entry loads the exact checkpoint the paper's code (github.com/scottclowe/zs-ssl-clustering,
``zs_ssl_clustering/encoders.py``, ``model_paths.txt``, ``analysis/param_setup.py``) loaded:

* supervised — torchvision ``ResNet50_Weights.IMAGENET1K_V2`` and ``ViT_B_16_Weights.IMAGENET1K_V1``
  (the paper's ``TorchVisionEncoder``), remapped onto timm's ``resnet50`` / ``vit_base_patch16_224``;
* MoCo-v3 — facebookresearch/moco-v3 ``r-50-1000ep.pth.tar`` and ``vit-b-300ep.pth.tar``;
* DINO — the checkpoints behind ``torch.hub.load("facebookresearch/dino:main", ...)``;
* VICReg — the checkpoint behind ``torch.hub.load("facebookresearch/vicreg:main", "resnet50")``;
* MAE — timm ``vit_base_patch16_224.mae`` with the CLS token ("MAE (CLS)"), and the same weights
  average-pooled the way the paper's MAE wrapper did it ("MAE (avg)", see `remap_mae`);
* CLIP — OpenAI RN50 and ViT-B/16 image towers (timm's exact ports); the paper embedded with
  ``clip.encode_image``, i.e. the *projected* image embedding (1024-d for RN50, 512-d for ViT-B/16).

URL checkpoints go through ``hub.fetch_url`` (torch.hub's checkpoint folder, the same file name
torch.hub uses, so an existing torch.hub cache is reused), then a pure key-remapping function
(``remap_*``, tested against each checkpoint's original format), then ``hub.load_strict`` onto a
timm model of the same architecture: no missing or unexpected keys. Offline, every entry fails
within seconds with one ``WeightsUnavailableError`` naming the file and the folder to put it in.

Preprocessing follows the paper's ``data_transformations.get_transform``: shorter side resized to
224 (bilinear, zoom 1.0), centre crop 224, ImageNet mean/std — CLIP mean/std for the CLIP models.

Precision follows the paper's ``embed.py:224-240``: fp32 for every encoder, except CLIP on a GPU,
which ran in fp16 because ``clip.load()`` converts the model to fp16 on CUDA
(``cuda_precision="fp16"``; ``zsc.embed.half_like_clip`` halves it as ``convert_weights`` does:
convolutions, linear layers and attention in fp16, normalisation layers left in fp32).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .base import CLIP_MEAN, CLIP_STD, EncoderSpec, Preprocessing, register
from .hub import (
    fetch_hf,
    fetch_url,
    load_state_dict,
    load_strict,
    timm_pretrained,
    torch_checkpoint_dir,
)

StateDict = dict[str, Any]

# The paper's transform for every encoder: Resize(224) (bilinear) -> CenterCrop(224) -> normalise.
IMAGENET_PRE = Preprocessing(size=224, interpolation="bilinear")
CLIP_PRE = Preprocessing(size=224, mean=CLIP_MEAN, std=CLIP_STD, interpolation="bilinear")

# ----------------------------------------------------------------------------- exact weights
URLS = {
    "supervised_resnet50": "https://download.pytorch.org/models/resnet50-11ad3fa6.pth",
    "supervised_vitb16": "https://download.pytorch.org/models/vit_b_16-c867db91.pth",
    "mocov3_resnet50": "https://dl.fbaipublicfiles.com/moco-v3/r-50-1000ep/r-50-1000ep.pth.tar",
    "mocov3_vitb16": "https://dl.fbaipublicfiles.com/moco-v3/vit-b-300ep/vit-b-300ep.pth.tar",
    "dino_resnet50": "https://dl.fbaipublicfiles.com/dino/dino_resnet50_pretrain/dino_resnet50_pretrain.pth",
    "dino_vitb16": "https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth",
    "vicreg_resnet50": "https://dl.fbaipublicfiles.com/vicreg/resnet50.pth",
    "mae_ft_vitb16": "https://dl.fbaipublicfiles.com/mae/finetune/mae_finetuned_vit_base.pth",
}
# Where a URL's own file name is too generic to share torch.hub's folder safely.
FILENAMES = {"vicreg_resnet50": "vicreg_resnet50.pth"}
MAE_TAG = "vit_base_patch16_224.mae"
CLIP_RN50_TAG = "resnet50_clip.openai"
CLIP_VITB16_TAG = "vit_base_patch16_clip_quickgelu_224.openai"  # OpenAI's ViT uses QuickGELU


def url_filename(url: str) -> str:
    return os.path.basename(urlparse(url).path)


# ----------------------------------------------------------------------------- cache checks
def url_cached(url: str, filename: str | None = None) -> bool:
    """Is the URL's file in torch.hub's checkpoint folder? (no network)"""
    return (torch_checkpoint_dir() / (filename or url_filename(url))).is_file()


def hf_cached(repo_id: str, filename: str = "model.safetensors") -> bool:
    """Is the hub file in the local Hugging Face cache? (no network)"""
    from huggingface_hub import try_to_load_from_cache

    from .hub import hf_cache_dir

    hit = try_to_load_from_cache(repo_id, filename, cache_dir=str(hf_cache_dir()))
    return isinstance(hit, str) and Path(hit).is_file()


def timm_cached(tag: str) -> bool:
    """Is the file `hub.timm_pretrained` would read for `tag` cached locally? (no network;
    like timm_pretrained, the hub copy when timm names one, else timm's URL)"""
    import timm

    cfg = timm.models.get_pretrained_cfg(tag)
    if cfg is None:
        return False
    if cfg.hf_hub_id:
        return hf_cached(cfg.hf_hub_id)
    return bool(cfg.url) and url_cached(cfg.url)


def timm_hub_id(tag: str) -> str:
    import timm

    return timm.models.get_pretrained_cfg(tag).hf_hub_id


# ----------------------------------------------------------------------------- key remapping
def unwrap(sd: Mapping[str, Any], *keys: str) -> StateDict:
    """The state dict inside a training checkpoint ({'state_dict': ...} / {'model': ...})."""
    for k in keys:
        inner = sd.get(k) if isinstance(sd, Mapping) else None
        if isinstance(inner, Mapping):
            return dict(inner)
    return dict(sd)


def _strip(sd: Mapping[str, Any], prefixes: tuple[str, ...]) -> StateDict:
    out: StateDict = {}
    for k, v in sd.items():
        for p in prefixes:
            if k.startswith(p):
                k = k[len(p):]
        out[k] = v
    return out


def _drop(sd: Mapping[str, Any], prefixes: tuple[str, ...]) -> StateDict:
    return {k: v for k, v in sd.items() if not k.startswith(prefixes)}


def remap_torchvision_resnet(sd: Mapping[str, Any]) -> StateDict:
    """torchvision ResNet-50 -> timm resnet50: same key names; drop the classifier `fc`."""
    return _drop(_strip(unwrap(sd, "state_dict", "model"), ("module.",)), ("fc.",))


def remap_mocov3(sd: Mapping[str, Any], head: str) -> StateDict:
    """MoCo-v3 training checkpoint -> backbone.

    Keeps only ``module.base_encoder.*`` (drops the momentum encoder and the predictor), strips
    that prefix and drops the projector MLP that replaced the backbone's classifier (`head`:
    ``fc`` for the ResNet, ``head`` for the ViT) — exactly as moco-v3's ``main_lincls.py``.
    """
    sd = unwrap(sd, "state_dict")
    prefix = "module.base_encoder."
    return {k[len(prefix):]: v for k, v in sd.items()
            if k.startswith(prefix) and not k.startswith(f"{prefix}{head}.")}


def remap_ssl_backbone(sd: Mapping[str, Any]) -> StateDict:
    """DINO / VICReg released backbones: already torchvision / timm key names.

    Also accepts full training checkpoints (``teacher``/``student`` with ``module.``/``backbone.``
    prefixes, or VICReg's ``backbone.``/``projector.``): keeps the backbone, drops heads.
    """
    sd = unwrap(sd, "teacher", "state_dict", "model")
    sd = _strip(sd, ("module.",))
    if any(k.startswith("backbone.") for k in sd):
        sd = {k[len("backbone."):]: v for k, v in sd.items() if k.startswith("backbone.")}
    return _drop(sd, ("fc.", "head.", "projector."))


def remap_torchvision_vit(sd: Mapping[str, Any]) -> StateDict:
    """torchvision vit_b_16 -> timm vit_base_patch16_224 (class-token pooling), head dropped."""
    sd = unwrap(sd, "state_dict", "model")
    out: StateDict = {}
    simple = {
        "conv_proj.weight": "patch_embed.proj.weight",
        "conv_proj.bias": "patch_embed.proj.bias",
        "class_token": "cls_token",
        "encoder.pos_embedding": "pos_embed",
        "encoder.ln.weight": "norm.weight",
        "encoder.ln.bias": "norm.bias",
    }
    block = {
        "ln_1": "norm1", "ln_2": "norm2",
        "self_attention.in_proj_weight": "attn.qkv.weight",
        "self_attention.in_proj_bias": "attn.qkv.bias",
        "self_attention.out_proj": "attn.proj",
        "mlp.0": "mlp.fc1", "mlp.linear_1": "mlp.fc1",  # torchvision >= 0.14 / older checkpoints
        "mlp.3": "mlp.fc2", "mlp.linear_2": "mlp.fc2",
    }
    layer_prefix = "encoder.layers.encoder_layer_"
    for k, v in sd.items():
        if k.startswith("heads."):
            continue
        if k in simple:
            out[simple[k]] = v
        elif k.startswith(layer_prefix):
            idx, rest = k[len(layer_prefix):].split(".", 1)
            for src, dst in block.items():
                if rest == src or rest.startswith(src + "."):
                    rest = dst + rest[len(src):]
                    break
            out[f"blocks.{idx}.{rest}"] = v
        else:
            out[k] = v  # unknown key: let load_strict name it
    return out


def remap_mae(sd: Mapping[str, Any], *, paper_fc_norm: bool) -> StateDict:
    """MAE ViT-B/16 -> timm vit_base_patch16_224 with ``global_pool='avg'`` (keys fc_norm.*).

    Accepts MAE's own checkpoints (``{'model': ...}``, decoder keys dropped) and timm's hub file.
    With ``paper_fc_norm`` (pretrained weights, "MAE (avg)"): the paper's MAE wrapper
    (``models_vit.VisionTransformer(global_pool=True)``) deletes the encoder's final ``norm`` and
    creates a fresh ``fc_norm`` that the pretrained checkpoint does not contain, so the feature is
    a LayerNorm *without learned affine* (weight 1, bias 0) of the mean patch token. We reproduce
    that exactly. Without it (fine-tuned checkpoint), the checkpoint's own ``fc_norm`` is used.
    """
    import torch

    sd = unwrap(sd, "model", "state_dict")
    sd = _drop(sd, ("decoder", "mask_token", "head."))
    if paper_fc_norm:
        ref = sd.get("cls_token")
        dim = int(ref.shape[-1]) if ref is not None else 768
        sd = _drop(sd, ("norm.", "fc_norm."))
        sd["fc_norm.weight"] = torch.ones(dim)
        sd["fc_norm.bias"] = torch.zeros(dim)
    return sd


# ----------------------------------------------------------------------------- architectures
def timm_resnet50() -> Any:
    import timm

    return timm.create_model("resnet50", pretrained=False, num_classes=0)


def timm_vitb16(global_pool: str = "token") -> Any:
    import timm

    return timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=0,
                             global_pool=global_pool)


# ----------------------------------------------------------------------------- builders
def _uninitialised(make_model: Callable[[], Any]) -> Any:
    """The model with storage allocated but not randomly initialised (every tensor is about to
    be overwritten by `load_strict`, which refuses missing keys); skips seconds of init on CPU.
    Falls back to a normal build if the model has buffers a state dict would not fill."""
    import torch

    with torch.device("meta"):
        model = make_model()
    if {n for n, _ in model.named_buffers()} - set(model.state_dict()):
        return make_model()
    return model.to_empty(device="cpu")


def _checkpoint_build(
    name: str,
    fetch: Callable[[], Path],
    make_model: Callable[[], Any],
    remap: Callable[[Mapping[str, Any]], StateDict],
) -> Callable[[str | None], Any]:
    """fetch (fail fast) -> read safely -> remap keys -> strict load onto the timm model."""

    def build(weights: str | None = None) -> Any:
        path = weights if weights is not None else fetch()
        state = remap(load_state_dict(path, who=name))
        model = _uninitialised(make_model)
        load_strict(model, state, who=name, path=path)
        return model.eval()

    return build


def _url_build(name: str, make_model: Callable[[], Any],
               remap: Callable[[Mapping[str, Any]], StateDict]) -> Callable[[str | None], Any]:
    url, filename = URLS[name], FILENAMES.get(name)
    return _checkpoint_build(name, lambda: fetch_url(url, filename, who=name), make_model, remap)


def _timm(tag: str, who: str, **kwargs: object) -> Callable[[str | None], Any]:
    def build(weights: str | None = None) -> Any:
        return timm_pretrained(tag, weights, who=who, **kwargs)

    return build


def _register_url(name: str, family: str, method: str, dim: int, make_model: Callable[[], Any],
                  remap: Callable[[Mapping[str, Any]], StateDict], description: str,
                  pre: Preprocessing = IMAGENET_PRE, optional: bool = False) -> None:
    url, filename = URLS[name], FILENAMES.get(name)
    register(EncoderSpec(
        name, family, method, "paper", url, dim, _url_build(name, make_model, remap), pre,
        weights_id=url, weights_available=lambda: url_cached(url, filename), optional=optional,
        description=description,
    ))


def _register_timm(name: str, family: str, method: str, dim: int, tag: str, description: str,
                   pre: Preprocessing = IMAGENET_PRE, optional: bool = False,
                   **kwargs: object) -> None:
    register(EncoderSpec(
        name, family, method, "paper", f"timm:{tag}", dim, _timm(tag, name, **kwargs), pre,
        weights_id=f"timm:{tag}",
        weights_available=lambda: timm_cached(tag), optional=optional, description=description,
        cuda_precision="fp16" if method == "clip" else "fp32",
    ))


# ----------------------------------------------------------------------------- the registry
R50, VIT = "ResNet-50", "ViT-B/16"

_register_url(
    "supervised_resnet50", R50, "supervised", 2048, timm_resnet50, remap_torchvision_resnet,
    "torchvision ResNet50_Weights.IMAGENET1K_V2 (the paper's TorchVisionEncoder), fc dropped, "
    "global average pool.",
)
_register_url(
    "mocov3_resnet50", R50, "mocov3", 2048, timm_resnet50,
    lambda sd: remap_mocov3(sd, head="fc"),
    "MoCo-v3 ResNet-50, 1000 epochs: module.base_encoder.* minus the fc projector; avg pool.",
)
_register_url(
    "dino_resnet50", R50, "dino", 2048, timm_resnet50, remap_ssl_backbone,
    "DINO ResNet-50 (torch.hub facebookresearch/dino:main dino_resnet50); avg pool.",
)
_register_url(
    "vicreg_resnet50", R50, "vicreg", 2048, timm_resnet50, remap_ssl_backbone,
    "VICReg ResNet-50 (torch.hub facebookresearch/vicreg:main resnet50; cached as "
    "vicreg_resnet50.pth, the URL's name being too generic). VICReg's ResNet pads 1 then "
    "convolves with padding 2 — identical to timm's padding 3; avg pool.",
)
_register_timm(
    "clip_resnet50", R50, "clip", 1024, CLIP_RN50_TAG,
    "OpenAI CLIP RN50 image tower (timm port). Feature = the attention-pool output including its "
    "output projection c_proj, i.e. CLIP's encode_image embedding (1024-d), as in the paper.",
    pre=CLIP_PRE,
)
_register_url(
    "supervised_vitb16", VIT, "supervised", 768, timm_vitb16, remap_torchvision_vit,
    "torchvision ViT_B_16_Weights.IMAGENET1K_V1 (ImageNet-1k only; the paper's "
    "TorchVisionEncoder), keys remapped to timm; CLS token after the final LayerNorm.",
)
_register_url(
    "mocov3_vitb16", VIT, "mocov3", 768, timm_vitb16, lambda sd: remap_mocov3(sd, head="head"),
    "MoCo-v3 ViT-B/16, 300 epochs: module.base_encoder.* minus the head projector; CLS token.",
)
_register_url(
    "dino_vitb16", VIT, "dino", 768, timm_vitb16, remap_ssl_backbone,
    "DINO ViT-B/16 (torch.hub facebookresearch/dino:main dino_vitb16); CLS token.",
)
_register_timm(
    "mae_vitb16", VIT, "mae", 768, MAE_TAG,
    "MAE ViT-B/16 pretrained encoder (timm vit_base_patch16_224.mae); CLS token after the final "
    "LayerNorm — the paper's 'MAE (CLS)'.",
    num_classes=0, global_pool="token",
)
register(EncoderSpec(
    "mae_global_vitb16", VIT, "mae", "paper", f"timm:{MAE_TAG} (global average pool)", 768,
    _checkpoint_build(
        "mae_global_vitb16",
        lambda: fetch_hf(timm_hub_id(MAE_TAG), "model.safetensors", who="mae_global_vitb16"),
        lambda: timm_vitb16("avg"), lambda sd: remap_mae(sd, paper_fc_norm=True)),
    IMAGENET_PRE, weights_id=f"timm:{MAE_TAG}",
    weights_available=lambda: timm_cached(MAE_TAG),
    description="MAE ViT-B/16 pretrained encoder, mean of the patch tokens (CLS excluded) of the "
                "last block, then a LayerNorm with weight 1 / bias 0 — the paper's 'MAE (avg)' "
                "(mae_pretrain_vit_base_global); the same file as mae_vitb16.",
))
_register_timm(
    "clip_vitb16", VIT, "clip", 512, CLIP_VITB16_TAG,
    "OpenAI CLIP ViT-B/16 image tower (timm port, QuickGELU as in OpenAI's model). Feature = "
    "ln_post(CLS) @ proj, i.e. CLIP's encode_image embedding (512-d), as in the paper.",
    pre=CLIP_PRE,
)

# --- optional variants (not in the default grids)
_register_url(
    "mae_ft_vitb16", VIT, "mae", 768, lambda: timm_vitb16("avg"),
    lambda sd: remap_mae(sd, paper_fc_norm=False),
    "MAE ViT-B/16 fine-tuned on ImageNet-1k (official mae_finetuned_vit_base.pth; the paper's "
    "'MAE (avg) [FT]'); global average pool with the checkpoint's fc_norm, classifier dropped.",
    optional=True,
)
_register_timm(
    "clip_preproj_resnet50", R50, "clip", 2048, CLIP_RN50_TAG,
    "CLIP RN50 attention-pooled feature before the attention pool's output projection c_proj "
    "(timm num_classes=0). Not the paper's feature (see clip_resnet50).",
    pre=CLIP_PRE, optional=True, num_classes=0,
)
_register_timm(
    "clip_preproj_vitb16", VIT, "clip", 768, CLIP_VITB16_TAG,
    "CLIP ViT-B/16 ln_post(CLS) before the projection to the joint space (timm num_classes=0). "
    "Not the paper's feature (see clip_vitb16).",
    pre=CLIP_PRE, optional=True, num_classes=0,
)

PAPER_ENCODERS = (
    "supervised_resnet50", "mocov3_resnet50", "dino_resnet50", "vicreg_resnet50", "clip_resnet50",
    "supervised_vitb16", "mocov3_vitb16", "dino_vitb16", "mae_vitb16", "mae_global_vitb16",
    "clip_vitb16",
)
