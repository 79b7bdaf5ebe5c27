"""Tier 1 — the paper's encoders: registry facts, offline failure, and checkpoint loading.

Offline and fast: each checkpoint format is rebuilt from a randomly initialised model of the
source architecture (real key names, real shapes), saved the way the original file is laid out,
then loaded through the entry's own `build(weights=path)` — fetch skipped, remap + strict load
exercised — and its features compared with the source model's.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from zsc.encoders import get_encoder, list_encoders
from zsc.encoders import paper as P
from zsc.encoders.base import CLIP_MEAN, CLIP_STD, IMAGENET_MEAN, IMAGENET_STD
from zsc.errors import WeightsUnavailableError

timm = pytest.importorskip("timm")
torchvision = pytest.importorskip("torchvision")

EXPECTED = {  # name: (family, method, dim)
    "supervised_resnet50": ("ResNet-50", "supervised", 2048),
    "mocov3_resnet50": ("ResNet-50", "mocov3", 2048),
    "dino_resnet50": ("ResNet-50", "dino", 2048),
    "vicreg_resnet50": ("ResNet-50", "vicreg", 2048),
    "clip_resnet50": ("ResNet-50", "clip", 1024),  # CLIP encode_image, as the paper
    "supervised_vitb16": ("ViT-B/16", "supervised", 768),
    "mocov3_vitb16": ("ViT-B/16", "mocov3", 768),
    "dino_vitb16": ("ViT-B/16", "dino", 768),
    "mae_vitb16": ("ViT-B/16", "mae", 768),
    "mae_global_vitb16": ("ViT-B/16", "mae", 768),
    "clip_vitb16": ("ViT-B/16", "clip", 512),  # CLIP encode_image, as the paper
}
OPTIONAL = {
    "mae_ft_vitb16": ("ViT-B/16", "mae", 768),
    "clip_preproj_resnet50": ("ResNet-50", "clip", 2048),
    "clip_preproj_vitb16": ("ViT-B/16", "clip", 768),
}
ALL = {**EXPECTED, **OPTIONAL}
TOL = {"atol": 2e-5, "rtol": 1e-4}


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(autouse=True)
def _isolated_offline(tmp_path_factory, monkeypatch):
    """Empty torch.hub and Hugging Face caches, and no network, for every test."""
    import huggingface_hub.constants as hfc

    root = tmp_path_factory.mktemp("caches")
    monkeypatch.setenv("TORCH_HOME", str(root / "torch"))
    monkeypatch.setattr(hfc, "HF_HUB_CACHE", str(root / "hf"))
    monkeypatch.setenv("ZSC_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return root


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    """One image at 224 (the ViTs' fixed input size)."""
    g = torch.Generator().manual_seed(0)
    return torch.randn(1, 3, 224, 224, generator=g)


@pytest.fixture(scope="module")
def xs() -> torch.Tensor:
    """One image at 128 for the ResNets (4x4 final map; 3x cheaper on a busy CPU)."""
    g = torch.Generator().manual_seed(0)
    return torch.randn(1, 3, 128, 128, generator=g)


def _randomise_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BatchNorm statistics, so eval-mode BN really is exercised."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return model


@pytest.fixture(scope="module")
def tv_resnet50(xs):
    """torchvision resnet50 (the architecture of the supervised, MoCo-v3 and DINO checkpoints)."""
    torch.manual_seed(1)
    model = _randomise_bn(torchvision.models.resnet50(weights=None)).eval()
    sd = dict(model.state_dict())  # includes fc.*; the model is not modified in place afterwards
    model.fc = nn.Identity()
    with torch.no_grad():
        out = model(xs)
    return sd, out


class VICRegResNet50(nn.Module):
    """facebookresearch/vicreg resnet.py's ResNet-50: ConstantPad2d(1) then conv1 with padding 2,
    no fc; same module names as torchvision's (built from torchvision's blocks here)."""

    def __init__(self) -> None:
        super().__init__()
        tv = torchvision.models.resnet50(weights=None)
        self.padding = nn.ConstantPad2d(1, 0.0)
        tv.conv1.padding = (2, 2)
        for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4",
                     "avgpool"):
            setattr(self, name, getattr(tv, name))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(self.padding(x)))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)


@pytest.fixture(scope="module")
def timm_vit(x):
    """timm ViT-B/16 (DINO's vision_transformer.py and MoCo-v3's vits.py are this architecture
    with these key names; MAE's pretrained encoder too). Returns state dict, CLS output, and the
    last block's tokens (for the pooled variants)."""
    torch.manual_seed(2)
    model = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=0).eval()
    with torch.no_grad():
        # make the final LayerNorm non-trivial so dropping or keeping it is visible
        model.norm.weight.normal_(1.0, 0.2)
        model.norm.bias.normal_(0.0, 0.2)
        cls = model(x)
        t = model.patch_embed(x)
        t = model._pos_embed(t)
        t = model.blocks(model.norm_pre(t))
    return dict(model.state_dict()), cls, t


def _save(obj, path: Path) -> str:
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in obj.items()}, str(path))
    else:
        torch.save(obj, str(path))
    return str(path)


def _features(name: str, weights: str, x: torch.Tensor) -> torch.Tensor:
    model = get_encoder(name).build(weights)
    assert not model.training
    with torch.no_grad():
        out = model(x)
    assert out.shape == (1, ALL[name][2])
    return out


# ----------------------------------------------------------------------------- registry
def test_registry_names_families_dims():
    paper = {s.name: s for s in list_encoders(tier="paper")}
    assert set(paper) == set(ALL)
    for name, (family, method, dim) in ALL.items():
        s = paper[name]
        assert (s.family, s.method, s.dim) == (family, method, dim), name
        assert s.optional == (name in OPTIONAL), name
        assert s.weights_id and s.source, name
    assert {s.name for s in list_encoders(tier="paper", include_optional=False)} == set(EXPECTED)
    assert set(P.PAPER_ENCODERS) == set(EXPECTED)


def test_precision_is_the_papers():
    """fp32 everywhere; the CLIP models in fp16 on CUDA (clip.load keeps fp16 weights there)."""
    for name in ALL:
        s = get_encoder(name)
        assert s.precision("cpu") == "fp32", name
        assert s.precision("cuda") == ("fp16" if s.method == "clip" else "fp32"), name
    assert "mae_global_vitb16" in P.PAPER_ENCODERS and get_encoder("mae_global_vitb16").tier == "paper"


def test_cluster_overrides_name_registered_encoders():
    from zsc.encoders import ENCODERS
    from zsc.settings import settings_table

    used = {e for per in settings_table().values() for e in per}
    assert used <= set(ENCODERS.names()), used - set(ENCODERS.names())


@pytest.mark.parametrize("name", sorted(ALL))
def test_preprocessing_matches_paper(name):
    pre = get_encoder(name).preprocessing
    assert (pre.size, pre.resize, pre.interpolation, pre.channels) == (224, None, "bilinear", 3)
    clip = name.startswith("clip_")
    assert pre.mean == (CLIP_MEAN if clip else IMAGENET_MEAN)
    assert pre.std == (CLIP_STD if clip else IMAGENET_STD)


@pytest.mark.parametrize("name", sorted(n for n in ALL if n in P.URLS))
def test_url_entries_name_their_exact_url(name):
    s = get_encoder(name)
    assert s.weights_id == P.URLS[name] == s.source
    assert s.weights_id.startswith("https://")


# ----------------------------------------------------------------------------- offline
def _expected_file_and_dir(name: str, root: Path) -> tuple[str, Path]:
    if name in P.URLS:
        return P.FILENAMES.get(name) or P.url_filename(P.URLS[name]), root / "torch" / "hub" / "checkpoints"
    return "model.safetensors", root / "hf"


@pytest.mark.parametrize("name", sorted(ALL))
def test_offline_without_weights_fails_fast_naming_file_and_folder(name, _isolated_offline):
    spec = get_encoder(name)
    assert spec.weights_available() is False
    t0 = time.perf_counter()
    with pytest.raises(WeightsUnavailableError) as err:
        spec.build(None)
    assert time.perf_counter() - t0 < 10
    filename, folder = _expected_file_and_dir(name, _isolated_offline)
    msg = str(err.value)
    assert filename in msg and str(folder) in msg and name in msg, msg


def test_missing_weights_path_is_reported():
    with pytest.raises(WeightsUnavailableError, match="does not exist"):
        get_encoder("dino_resnet50").build("/nonexistent/dino.pth")
    with pytest.raises(WeightsUnavailableError, match="does not exist"):
        get_encoder("mae_vitb16").build("/nonexistent/mae.safetensors")


def test_weights_available_sees_local_caches(_isolated_offline):
    spec = get_encoder("mocov3_resnet50")
    target = _isolated_offline / "torch" / "hub" / "checkpoints" / "r-50-1000ep.pth.tar"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"x")
    assert spec.weights_available() is True
    # a Hugging Face cache entry (refs/main -> snapshot) for timm/vit_base_patch16_224.mae
    repo = _isolated_offline / "hf" / "models--timm--vit_base_patch16_224.mae"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    (repo / "snapshots" / "abc123" / "model.safetensors").write_bytes(b"x")
    assert get_encoder("mae_vitb16").weights_available() is True
    assert get_encoder("mae_global_vitb16").weights_available() is True
    assert get_encoder("clip_vitb16").weights_available() is False


# ----------------------------------------------------------------------------- ResNet-50 checkpoints
def test_supervised_resnet50_torchvision_checkpoint(tv_resnet50, xs, tmp_path):
    sd, ref = tv_resnet50
    assert "fc.weight" in sd  # torchvision's file carries the classifier
    path = _save(sd, tmp_path / "resnet50-11ad3fa6.pth")
    torch.testing.assert_close(_features("supervised_resnet50", path, xs), ref, **TOL)


def test_mocov3_resnet50_checkpoint(tv_resnet50, xs, tmp_path):
    sd, ref = tv_resnet50
    ckpt = {f"module.base_encoder.{k}": v for k, v in sd.items() if not k.startswith("fc.")}
    # MoCo-v3 replaces fc with the projector MLP 2048-4096-256 (BN; last BN without affine)
    proj = {"fc.0.weight": torch.randn(4096, 2048), "fc.1.weight": torch.ones(4096),
            "fc.1.bias": torch.zeros(4096), "fc.1.running_mean": torch.zeros(4096),
            "fc.1.running_var": torch.ones(4096), "fc.1.num_batches_tracked": torch.tensor(5),
            "fc.3.weight": torch.randn(256, 4096), "fc.4.running_mean": torch.zeros(256),
            "fc.4.running_var": torch.ones(256), "fc.4.num_batches_tracked": torch.tensor(5)}
    ckpt.update({f"module.base_encoder.{k}": v for k, v in proj.items()})
    ckpt.update({f"module.momentum_encoder.{k}": v for k, v in list(sd.items())[:4]})
    ckpt["module.predictor.0.weight"] = torch.randn(4096, 256)
    path = _save({"epoch": 1000, "arch": "resnet50", "state_dict": ckpt, "optimizer": {}},
                 tmp_path / "r-50-1000ep.pth.tar")
    torch.testing.assert_close(_features("mocov3_resnet50", path, xs), ref, **TOL)


def test_dino_resnet50_checkpoint(tv_resnet50, xs, tmp_path):
    sd, ref = tv_resnet50
    path = _save(dict(sd), tmp_path / "dino_resnet50_pretrain.pth")  # with fc.* left in
    torch.testing.assert_close(_features("dino_resnet50", path, xs), ref, **TOL)
    # hubconf's file without fc.* (loaded with strict=False there) remaps to the same keys
    no_fc = {k: v for k, v in sd.items() if not k.startswith("fc.")}
    assert P.remap_ssl_backbone(no_fc).keys() == P.remap_ssl_backbone(sd).keys() == no_fc.keys()


def test_vicreg_resnet50_checkpoint(xs, tmp_path):
    torch.manual_seed(3)
    src = _randomise_bn(VICRegResNet50(), seed=3).eval()
    sd = src.state_dict()
    assert not any(k.startswith("fc.") for k in sd) and "conv1.weight" in sd
    with torch.no_grad():
        ref = src(xs)
    path = _save(sd, tmp_path / "vicreg_resnet50.pth")
    torch.testing.assert_close(_features("vicreg_resnet50", path, xs), ref, **TOL)


def test_wrong_checkpoint_names_the_bad_keys(tv_resnet50, tmp_path):
    sd, _ = tv_resnet50
    moco_style = {"state_dict": {f"module.base_encoder.{k}": v for k, v in sd.items()}}
    path = _save(moco_style, tmp_path / "not_dino.pth")
    with pytest.raises(WeightsUnavailableError, match="does not fit the model"):
        get_encoder("dino_resnet50").build(path)
    # right names, wrong shapes (another model size) is one clear error too
    wrong = {**sd, "conv1.weight": torch.zeros(64, 3, 3, 3)}
    path = _save(wrong, tmp_path / "wrong_shape.pth")
    with pytest.raises(WeightsUnavailableError, match="conv1.weight"):
        get_encoder("dino_resnet50").build(path)


# ----------------------------------------------------------------------------- ViT-B/16 checkpoints
def test_supervised_vitb16_torchvision_checkpoint(x, tmp_path):
    torch.manual_seed(4)
    src = torchvision.models.vit_b_16(weights=None).eval()
    with torch.no_grad():
        for p in src.parameters():  # torchvision zero-inits several tensors; make all informative
            p.add_(torch.randn_like(p) * 0.02)
    sd = dict(src.state_dict())
    assert "heads.head.weight" in sd
    src.heads = nn.Identity()
    with torch.no_grad():
        ref = src(x)
    path = _save(sd, tmp_path / "vit_b_16-c867db91.pth")
    torch.testing.assert_close(_features("supervised_vitb16", path, x), ref, **TOL)
    # checkpoints written before torchvision 0.14 name the MLP linear_1 / linear_2
    legacy = {k.replace("mlp.0.", "mlp.linear_1.").replace("mlp.3.", "mlp.linear_2."): v
              for k, v in sd.items()}
    assert any("linear_1" in k for k in legacy)
    assert P.remap_torchvision_vit(legacy).keys() == P.remap_torchvision_vit(sd).keys()


def test_mocov3_vitb16_checkpoint(timm_vit, x, tmp_path):
    sd, cls, _ = timm_vit
    ckpt = {f"module.base_encoder.{k}": v for k, v in sd.items()}
    # projector that replaced `head`: 768-4096-4096-256 with BN, last BN without affine
    for i, shape in ((0, (4096, 768)), (3, (4096, 4096)), (6, (256, 4096))):
        ckpt[f"module.base_encoder.head.{i}.weight"] = torch.randn(*shape) * 0.01
    for i, n in ((1, 4096), (4, 4096)):
        ckpt.update({f"module.base_encoder.head.{i}.weight": torch.ones(n),
                     f"module.base_encoder.head.{i}.bias": torch.zeros(n)})
    ckpt["module.base_encoder.head.7.running_mean"] = torch.zeros(256)
    ckpt["module.momentum_encoder.cls_token"] = sd["cls_token"]
    ckpt["module.predictor.0.weight"] = torch.randn(4096, 256) * 0.01
    path = _save({"epoch": 300, "arch": "vit_base", "state_dict": ckpt},
                 tmp_path / "vit-b-300ep.pth.tar")
    torch.testing.assert_close(_features("mocov3_vitb16", path, x), cls, **TOL)


def test_dino_vitb16_checkpoint(timm_vit, x, tmp_path):
    sd, cls, _ = timm_vit
    path = _save(dict(sd), tmp_path / "dino_vitbase16_pretrain.pth")  # hubconf loads it strictly
    torch.testing.assert_close(_features("dino_vitb16", path, x), cls, **TOL)


def test_mae_global_vitb16_is_the_papers_avg_pool(timm_vit, x, tmp_path):
    """The paper's 'MAE (avg)': mean of the patch tokens of the last block, LayerNorm without
    learned affine (the pretrained `norm` is discarded, `fc_norm` is freshly initialised)."""
    sd, cls, tokens = timm_vit
    path = _save(dict(sd), tmp_path / "model.safetensors")  # timm/vit_base_patch16_224.mae layout
    ref = F.layer_norm(tokens[:, 1:].mean(1), (768,), eps=1e-6)
    out = _features("mae_global_vitb16", path, x)
    torch.testing.assert_close(out, ref, **TOL)
    assert not torch.allclose(out, cls)
    # MAE's own file (mae_pretrain_vit_base.pth: {'model': ...}, decoder keys tolerated) remaps
    # to exactly the same state dict
    extra = {"mask_token": torch.zeros(1, 1, 512), "decoder_embed.weight": torch.zeros(512, 768)}
    a = P.remap_mae({"model": {**sd, **extra}}, paper_fc_norm=True)
    b = P.remap_mae(dict(sd), paper_fc_norm=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_mae_ft_vitb16_checkpoint(timm_vit, x, tmp_path):
    sd, _, tokens = timm_vit
    ft = {k: v for k, v in sd.items() if not k.startswith("norm.")}  # global_pool=True: no norm
    g = torch.Generator().manual_seed(5)
    ft["fc_norm.weight"] = torch.rand(768, generator=g) + 0.5
    ft["fc_norm.bias"] = torch.randn(768, generator=g) * 0.1
    ft["head.weight"], ft["head.bias"] = torch.randn(1000, 768), torch.zeros(1000)
    path = _save({"model": ft}, tmp_path / "mae_finetuned_vit_base.pth")
    ref = F.layer_norm(tokens[:, 1:].mean(1), (768,), ft["fc_norm.weight"], ft["fc_norm.bias"], 1e-6)
    torch.testing.assert_close(_features("mae_ft_vitb16", path, x), ref, **TOL)
    # a pretrained (not fine-tuned) encoder has no fc_norm: no fc_norm is invented for it, so
    # load_strict refuses it (the "MAE (avg)" LayerNorm without affine is only for the pretrained)
    assert "fc_norm.weight" not in P.remap_mae({"model": dict(sd)}, paper_fc_norm=False)
    assert "fc_norm.weight" in P.remap_mae({"model": dict(sd)}, paper_fc_norm=True)


# ----------------------------------------------------------------------------- timm-tag entries
def test_mae_vitb16_timm_file_overlay(timm_vit, x, tmp_path):
    sd, cls, _ = timm_vit
    path = _save(dict(sd), tmp_path / "model.safetensors")  # timm/vit_base_patch16_224.mae layout
    torch.testing.assert_close(_features("mae_vitb16", path, x), cls, **TOL)


@pytest.mark.parametrize("tag,names", [
    (P.CLIP_RN50_TAG, ("clip_resnet50", "clip_preproj_resnet50")),
    (P.CLIP_VITB16_TAG, ("clip_vitb16", "clip_preproj_vitb16")),
])
def test_clip_timm_file_overlay(tag, names, x, xs, tmp_path):
    """A random model in timm's hub layout (projection head kept), loaded through timm's file
    overlay: the paper's entry gives the projected embedding, the optional one the pre-projection
    feature. (The attention pool resamples its position embedding, so RN50 runs at 128 px.)"""
    inp = xs if "resnet" in tag else x
    torch.manual_seed(6)
    src = timm.create_model(tag, pretrained=False).eval()
    with torch.no_grad():
        feats = src.forward_features(inp)
        proj, pre = src.forward_head(feats), src.forward_head(feats, pre_logits=True)
    path = _save(dict(src.state_dict()), tmp_path / "model.safetensors")
    projected, preproj = names
    torch.testing.assert_close(_features(projected, path, inp), proj, **TOL)
    torch.testing.assert_close(_features(preproj, path, inp), pre, **TOL)


def test_clip_vitb16_uses_quickgelu():
    assert "quickgelu" in get_encoder("clip_vitb16").source
