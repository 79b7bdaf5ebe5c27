import warnings

import numpy as np
import pytest
import torch

from zsc import embed as E
from zsc.encoders import get_encoder, load_encoder
from zsc.encoders.base import Preprocessing
from zsc.errors import InvalidEmbeddingError, UnknownNameError


def test_preprocess_resizes_grayscale_to_rgb():
    img = np.full((28, 28), 255, np.uint8)
    x = E.preprocess(img, Preprocessing(size=32, mean=(0, 0, 0), std=(1, 1, 1)))
    assert x.shape == (3, 32, 32)
    assert torch.allclose(x, torch.ones_like(x))
    y = E.preprocess(img, Preprocessing(size=224))
    assert y.shape == (3, 224, 224)
    assert torch.allclose(y[0], torch.full((224, 224), (1 - 0.485) / 0.229), atol=1e-5)


def test_pixels_embedding_is_the_resized_image():
    imgs = np.random.default_rng(0).integers(0, 256, (5, 32, 32), dtype=np.uint8)
    feats = E.encode(load_encoder("pixels"), imgs, get_encoder("pixels").preprocessing, progress=False)
    assert feats.shape == (5, 3 * 32 * 32)
    np.testing.assert_allclose(feats[:, : 32 * 32], imgs.reshape(5, -1) / 255.0, atol=1e-6)


def test_embedding_is_cached_and_a_second_call_does_no_encoder_work(monkeypatch):
    first = E.embed("pixels", "fashion_mnist", n_samples=200, seed=3, progress=False)
    assert not first.from_cache and first.features.shape == (200, 3072)
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


def test_nan_embeddings_are_refused():
    with pytest.raises(InvalidEmbeddingError, match="NaN or infinity"):
        E.check_finite(np.array([[0.0, np.nan], [1.0, 2.0]]), "test")


def test_unknown_encoder():
    with pytest.raises(UnknownNameError, match="Known encoders: pixels"):
        E.embed("pixel", "digits")
