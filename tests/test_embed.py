import warnings

import numpy as np
import pytest
import torch

from zsc import embed as E
from zsc.encoders import get_encoder, load_encoder
from zsc.encoders.base import IMAGENET_MEAN, IMAGENET_STD, Preprocessing
from zsc.errors import InvalidEmbeddingError, UnknownNameError


def test_preprocess_resizes_grayscale_to_rgb():
    img = np.full((28, 28), 255, np.uint8)
    x = E.preprocess(img, Preprocessing(size=32, mean=(0, 0, 0), std=(1, 1, 1)))
    assert x.shape == (3, 32, 32)
    assert torch.allclose(x, torch.ones_like(x))
    y = E.preprocess(img, Preprocessing(size=224))
    assert y.shape == (3, 224, 224)
    assert torch.allclose(y[0], torch.full((224, 224), (1 - 0.485) / 0.229), atol=1e-5)


def test_pixels_embedding_is_the_imagenet_normalised_image():
    imgs = np.random.default_rng(0).integers(0, 256, (5, 32, 32), dtype=np.uint8)
    feats = E.encode(load_encoder("pixels"), imgs, get_encoder("pixels").preprocessing, progress=False)
    assert feats.shape == (5, 3 * 32 * 32)
    x = imgs.reshape(5, -1) / 255.0
    for c, (mean, std) in enumerate(zip(IMAGENET_MEAN, IMAGENET_STD, strict=True)):
        np.testing.assert_allclose(feats[:, c * 1024 : (c + 1) * 1024], (x - mean) / std, atol=1e-5)


def test_pixels_resolution_follows_the_dataset():
    """The paper's pixel baseline: 32 px, but never above the dataset's native size (28 px for
    MNIST and Fashion-MNIST); the size is part of the cache key."""
    spec = get_encoder("pixels")
    assert E.preprocessing_for(spec, "fashion_mnist").size == 28
    assert E.preprocessing_for(spec, "mnist").size == 28
    assert E.preprocessing_for(spec, "cifar10").size == 32  # native 32
    assert E.preprocessing_for(spec, "eurosat").size == 32  # native 64
    assert E.preprocessing_for(spec, "imagenet").size == 32  # sizes vary
    assert E.preprocessing_for(get_encoder("random_resnet50"), "fashion_mnist").size == 224
    a = E.embedding_config("pixels", "fashion_mnist", "test", None, 0, None)
    b = E.embedding_config("pixels", "cifar10", "test", None, 0, None)
    assert (a["preprocessing"]["size"], b["preprocessing"]["size"]) == (28, 32)
    emb = E.embed("pixels", "fashion_mnist", n_samples=20, progress=False)
    assert emb.features.shape == (20, 3 * 28 * 28)


def test_precision_is_fp32_except_clip_on_cuda():
    for name in ("pixels", "random_resnet50", "supervised_resnet50", "mae_global_vitb16"):
        assert E.embedding_config(name, "digits", "test", None, 0, None, True)["precision"] == "fp32"
    for name in ("clip_resnet50", "clip_vitb16"):
        assert E.embedding_config(name, "digits", "test", None, 0, None, True)["precision"] == "fp16"
        assert E.embedding_config(name, "digits", "test", None, 0, None, False)["precision"] == "fp32"
        assert E.precision_for(get_encoder(name), "cpu") == "fp32"


def test_encode_runs_the_model_in_the_precision_asked_for():
    imgs = np.random.default_rng(0).integers(0, 256, (6, 8, 8), dtype=np.uint8)
    pre = Preprocessing(size=8)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 64, 5))
    x = torch.stack([E.preprocess(im, pre) for im in imgs])
    with torch.no_grad():
        ref = model(x).numpy()
    fp32 = E.encode(model, imgs, pre, device="cpu", progress=False)
    np.testing.assert_array_equal(fp32, ref)  # plain fp32: no autocast anywhere
    half = E.encode(model, imgs, pre, device="cpu", precision="fp16", progress=False)
    assert half.dtype == np.float32 and not np.array_equal(half, ref)
    np.testing.assert_allclose(half, ref, atol=2e-2)
    assert next(model.parameters()).dtype == torch.float16


def test_fp16_halves_a_model_as_the_clip_package_does():
    """As `clip.model.convert_weights` on CUDA: convolutions, linear layers and attention in fp16,
    normalisation layers in fp32 on an fp32 copy of their input, their output cast back."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(),
        torch.nn.Linear(4 * 6 * 6, 8), torch.nn.LayerNorm(8), torch.nn.Linear(8, 5)).eval()
    ln = model[4]
    seen = []
    ln.register_forward_hook(lambda m, a, out: seen.append((a[0].dtype, out.dtype)))
    x = torch.randn(3, 3, 8, 8)
    with torch.no_grad():
        ref = model(x)
        E.half_like_clip(E.half_like_clip(model))  # twice: the hooks are added once
        out = model(x.half())
    assert {p.dtype for p in model[0].parameters()} == {torch.float16}
    assert {p.dtype for p in model[3].parameters()} == {torch.float16}
    assert {p.dtype for p in ln.parameters()} == {torch.float32}
    assert model[1].running_var.dtype == torch.float32
    assert seen == [(torch.float32, torch.float32)] * 2  # fp32 inside LayerNorm (ref run too)
    assert out.dtype == torch.float16
    assert len(ln._forward_pre_hooks) == 1
    np.testing.assert_allclose(out.float().numpy(), ref.numpy(), atol=2e-2)


def test_embedding_is_cached_and_a_second_call_does_no_encoder_work(monkeypatch):
    first = E.embed("pixels", "fashion_mnist", n_samples=200, seed=3, progress=False)
    assert not first.from_cache and first.features.shape == (200, 3 * 28 * 28)
    calls = []
    monkeypatch.setattr(E, "encode", lambda *a, **k: calls.append(1))
    monkeypatch.setattr(E, "load_dataset", lambda *a, **k: calls.append(1))
    second = E.embed("pixels", "fashion_mnist", n_samples=200, seed=3, progress=False)
    assert second.from_cache and not calls
    np.testing.assert_array_equal(first.features, second.features)
    np.testing.assert_array_equal(first.labels, second.labels)
    np.testing.assert_array_equal(first.hierarchy["coarse"], second.hierarchy["coarse"])


def test_truncated_cache_file_is_detected_and_rebuilt():
    first = E.embed("pixels", "fashion_mnist", n_samples=100, progress=False)
    cfg = E.embedding_config("pixels", "fashion_mnist", "test", 100, 0, None, False)
    path = E.cache_path(cfg)
    assert path.exists()
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.warns(UserWarning, match="damaged"):
        again = E.embed("pixels", "fashion_mnist", n_samples=100, progress=False)
    assert not again.from_cache
    np.testing.assert_array_equal(first.features, again.features)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert E.embed("pixels", "fashion_mnist", n_samples=100, progress=False).from_cache


def test_altered_cache_file_is_detected():
    E.embed("pixels", "digits", progress=False)
    path = E.cache_path(E.embedding_config("pixels", "digits", "test", None, 0, None, False))
    import io
    import json

    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["features"] = arrays["features"] + 1  # same shape, different values, old checksum
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path.write_bytes(buf.getvalue())
    assert json.loads(str(arrays["__meta__"]))["checksum"]
    with pytest.warns(UserWarning, match="checksum"):
        assert not E.embed("pixels", "digits", progress=False).from_cache


def test_random_encoders_are_seeded():
    a = load_encoder("random_resnet50")
    b = load_encoder("random_resnet50")
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        assert torch.equal(a(x), b(x))
        assert a(x).shape == (1, 2048)


def test_random_resnet50_is_torchvisions_default_init():
    """The paper's random ResNet-50 is torchvision's resnet50(weights=None): every residual
    branch is on (bn3.weight = 1; timm's default zero_init_last would make it 0)."""
    import torchvision

    model = load_encoder("random_resnet50")
    bn3 = [m.bn3.weight for m in model.modules() if hasattr(m, "bn3")]
    assert len(bn3) == 16 and all(torch.all(w == 1) for w in bn3)
    torch.manual_seed(0)
    ref = torchvision.models.resnet50(weights=None).state_dict()
    ours = model.state_dict()
    assert set(ours) == set(ref) - {"fc.weight", "fc.bias"}
    assert all(torch.equal(ours[k], ref[k]) for k in ours)


def test_random_vitb16_is_torchvisions_default_init():
    import torchvision

    model = load_encoder("random_vitb16")
    torch.manual_seed(0)
    ref = torchvision.models.vit_b_16(weights=None)
    ours = model.state_dict()
    assert set(ours) == set(ref.state_dict()) - {"heads.head.weight", "heads.head.bias"}
    assert all(torch.equal(v, ref.state_dict()[k]) for k, v in ours.items())
    with torch.inference_mode():
        out = model(torch.randn(2, 3, 224, 224))
    assert out.shape == (2, 768)


def test_nan_embeddings_are_refused():
    with pytest.raises(InvalidEmbeddingError, match="NaN or infinity"):
        E.check_finite(np.array([[0.0, np.nan], [1.0, 2.0]]), "test")


def test_unknown_encoder():
    with pytest.raises(UnknownNameError, match="Known encoders: pixels"):
        E.embed("pixel", "digits")


def test_bf16_is_an_explicit_option_with_its_own_cache_key_and_small_drift():
    """The paper embedded in fp32; bf16 (autocast) is opt-in, keyed apart, and measured here on
    CPU (on a GPU the same comparison measures its drift there)."""
    import numpy as np

    from zsc.embed import embed
    from zsc.errors import InvalidParameterError

    a = embed("zoo_random_resnet", "digits", n_samples=64, progress=False)
    b = embed("zoo_random_resnet", "digits", n_samples=64, precision="bf16", progress=False)
    assert a.key != b.key and not b.from_cache
    cos = (a.features * b.features).sum(1) / (np.linalg.norm(a.features, axis=1)
                                              * np.linalg.norm(b.features, axis=1))
    assert not np.array_equal(a.features, b.features)  # it really ran in bfloat16
    assert cos.min() > 0.99
    with pytest.raises(InvalidParameterError, match="fp32, fp16, bf16"):
        embed("pixels", "digits", n_samples=8, precision="fp8", progress=False)
