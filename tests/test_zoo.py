"""The offline zoo (tier 2) as shipped: every member builds offline, beats its random twin, is
not collapsed, refuses damaged weights, and its model card matches its weights — the card's kNN
figure is reproduced from the shipped weights on a test subsample within the card's stated
error. Training is tested in test_pretrain.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from zsc.encoders import get_encoder, list_encoders
from zsc.errors import DataMissingError, WeightsUnavailableError

# lightly's DINO head still uses torch's deprecated weight_norm
pytestmark = [pytest.mark.filterwarnings("ignore:.*weight_norm.*:FutureWarning"),
              pytest.mark.usefixtures("torch_one_thread")]

zoo = pytest.importorskip("zsc.encoders.zoo")
from zsc.encoders.zoo import models  # noqa: E402

KIND = {n: k for n, (k, _) in zoo.MEMBER_TABLE.items()}
METHOD = {n: m for n, (_, m) in zoo.MEMBER_TABLE.items()}
TRAINED = [n for n in zoo.MEMBERS if zoo.is_trainable(n)]
RANDOM_TWIN = {n: f"zoo_random_{KIND[n]}" for n in TRAINED}
N_TRAIN, N_TEST = 5000, 2000  # kNN subsample: 5,000 train images vote for 2,000 test images
# Live kNN checks embed 7,000 images per model, so they cover one member per family plus the
# ViT's weakest (DINO) and its MAE; every member's full-split kNN against its twin is checked
# from the model cards (test_cards_and_readme_match_the_weights).
KNN_CHECKED = ["zoo_mocov3_resnet", "zoo_dino_vit", "zoo_mae_vit"]
SSL_CHECKED = [n for n in TRAINED if METHOD[n] in ("mae", "mocov3", "dino", "vicreg")]


@pytest.fixture(scope="module")
def fmnist():
    from zsc.data import load_dataset, subsample_indices

    try:
        tr, te = load_dataset("fashion_mnist", "train"), load_dataset("fashion_mnist", "test")
    except DataMissingError as err:
        pytest.skip(str(err))
    i_tr = subsample_indices(tr.labels, N_TRAIN, seed=0)
    i_te = subsample_indices(te.labels, N_TEST, seed=0)
    return tr.images[i_tr], tr.labels[i_tr], te.images[i_te], te.labels[i_te]


def sha256_file(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _features(name: str, images: np.ndarray) -> np.ndarray:
    """Batched fast path of zsc.embed for 28x28 uint8 input (test_fast_path_is_zsc_embed)."""
    model = get_encoder(name).build(None)
    mean = torch.tensor(models.FMNIST_MEAN).view(1, -1, 1, 1)
    std = torch.tensor(models.FMNIST_STD).view(1, -1, 1, 1)
    x = (torch.tensor(images)[:, None].float() / 255.0 - mean) / std
    with torch.inference_mode():
        return torch.cat([model(x[i:i + 1000]) for i in range(0, len(x), 1000)]).numpy()


_CACHE: dict[tuple[str, str], np.ndarray] = {}


@pytest.fixture(scope="module")
def feats(fmnist):
    """feats(name, split) -> features of the train or test subsample, computed once per module."""
    images = {"train": fmnist[0], "test": fmnist[2]}

    def get(name: str, split: str) -> np.ndarray:
        if (name, split) not in _CACHE:
            _CACHE[name, split] = _features(name, images[split])
        return _CACHE[name, split]

    return get


# --------------------------------------------------------------------------- registry
def test_members_are_registered():
    specs = {s.name: s for s in list_encoders(tier="zoo")}
    assert set(specs) == set(zoo.MEMBERS) == {
        "zoo_supervised_resnet", "zoo_mocov3_resnet", "zoo_dino_resnet", "zoo_vicreg_resnet",
        "zoo_mocov3_ft_resnet", "zoo_dino_ft_resnet", "zoo_vicreg_ft_resnet", "zoo_random_resnet", "zoo_supervised_vit", "zoo_mocov3_vit", "zoo_dino_vit",
        "zoo_mae_vit", "zoo_random_vit", "zoo_supervised_resnet_seed1", "zoo_mocov3_resnet_seed1",
        "zoo_dino_resnet_seed1", "zoo_vicreg_resnet_seed1", "zoo_supervised_resnet_seed2",
        "zoo_mocov3_resnet_seed2", "zoo_dino_resnet_seed2", "zoo_vicreg_resnet_seed2",
    }
    for name, spec in specs.items():
        kind = KIND[name]
        assert spec.family == {"resnet": "ResNet-small", "vit": "ViT-small"}[kind]
        assert spec.method == METHOD[name]
        assert spec.dim == models.BACKBONE_DIMS[kind]
        assert spec.preprocessing == zoo.PREPROCESSING
        assert spec.preprocessing.channels == 1 and spec.preprocessing.size == 28
        if name in TRAINED:
            path = zoo.weights_path(name)
            assert spec.weights_available(), f"{path} is not shipped"
            # the id comes from the card's hash (nothing is hashed at import): it must be the file's
            assert spec.weights_id == f"zoo:{name}:{sha256_file(path)[:16]}"
            assert path.stat().st_size < 8 * 2**20  # a few MB each
        else:
            assert spec.weights_available() and spec.weights_id.endswith(":random-seed0")


def test_shipped_weights_stay_small():
    # 19 trained members of ~1.2 MB each (8 of them training-seed replicates): the wheel carries them
    total = sum(p.stat().st_size for p in zoo.WEIGHTS_DIR.glob("*.safetensors"))
    assert total < 32 * 2**20, f"the zoo's weights are {total / 2**20:.1f} MB (limit 32 MB)"


@pytest.mark.parametrize("name", list(zoo.MEMBERS))
def test_member_builds_offline_and_embeds(name, fmnist, monkeypatch):
    monkeypatch.setenv("ZSC_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from zsc.embed import encode

    spec = get_encoder(name)
    model = spec.build(None)
    assert not model.training
    out = encode(model, fmnist[2][:6], spec.preprocessing, device="cpu", progress=False)
    assert out.shape == (6, spec.dim) and np.isfinite(out).all()


def test_fast_path_is_zsc_embed(fmnist):
    """The batched path the tests use equals zsc.embed's per-image preprocessing + encode."""
    from zsc.embed import encode

    spec = get_encoder("zoo_mocov3_resnet")
    ref = encode(spec.build(None), fmnist[2][:32], spec.preprocessing, device="cpu", progress=False)
    np.testing.assert_allclose(_features("zoo_mocov3_resnet", fmnist[2][:32]), ref, atol=1e-4)


def test_rgb_input_becomes_grayscale():
    from zsc.embed import preprocess

    rgb = np.random.default_rng(0).integers(0, 256, (40, 36, 3), dtype=np.uint8)
    assert preprocess(rgb, zoo.PREPROCESSING).shape == (1, 28, 28)


def test_random_members_are_seeded():
    a, b = get_encoder("zoo_random_vit").build(None), get_encoder("zoo_random_vit").build(None)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k


# --------------------------------------------------------------------------- quality
# kNN@20 on this subsample when the weights were made (random twin: ResNet 0.732, ViT 0.505):
# supervised 0.867 / 0.782, MoCo v3 0.787 / 0.666, DINO 0.773 / 0.548, VICReg 0.775, MAE 0.728.
# The smallest gain is +0.041 (DINO). The accuracy difference of two encoders on the same 2,000
# test images has a standard error of at most ~0.01, so a margin of 0.02 is two standard errors:
# a member that merely matches its random init fails, a trained one passes with room to spare.
KNN_MARGIN = 0.02


def _knn20(name: str, feats, fmnist) -> float:
    from zsc.metrics import knn_accuracy

    return knn_accuracy(feats(name, "train"), fmnist[1], feats(name, "test"), fmnist[3], ks=(20,),
                        device="cpu")[20]


@pytest.mark.parametrize("name", KNN_CHECKED)
def test_trained_member_beats_its_random_twin(name, fmnist, feats):
    trained = _knn20(name, feats, fmnist)
    random = _knn20(RANDOM_TWIN[name], feats, fmnist)
    assert trained >= random + KNN_MARGIN, f"{name}: kNN@20 {trained:.4f} vs random {random:.4f}"


def effective_rank(x: np.ndarray) -> float:
    """exp(entropy) of the normalised singular values of the centred embeddings (Roy & Vetterli)."""
    s = np.linalg.svd(x - x.mean(0), compute_uv=False)
    p = s / s.sum()
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


# Collapse floors. Complete collapse maps every image to one point: per-dimension std 0 and
# effective rank ~1; dimensional collapse squeezes them onto a few directions. On L2-normalised
# features spread evenly over d dimensions the per-dimension std is 1/sqrt(d) (SimSiam's
# criterion); CLS tokens share a large mean direction, so the shipped members sit at 0.22-0.61
# of that (median dimension), and we require 0.1 of it (collapse gives ~0). The 10 class means of
# Fashion-MNIST span a 9-dimensional affine subspace, so an encoder with an effective rank below
# 9 cannot hold them apart in general position; the shipped members measure 12.4 (DINO ViT, the
# lowest) to 67 (MoCo v3 ResNet).
STD_FLOOR_FRACTION = 0.1
ERANK_FLOOR = 9.0


@pytest.mark.parametrize("name", SSL_CHECKED)
def test_ssl_member_is_not_collapsed(name, feats):
    x = feats(name, "test")
    d = x.shape[1]
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    assert np.median(xn.std(0)) > STD_FLOOR_FRACTION / math.sqrt(d)
    assert (x.std(0) > 1e-6).mean() > 0.5  # most dimensions are alive
    assert effective_rank(x) > ERANK_FLOOR


# --------------------------------------------------------------------------- damaged weights
def test_missing_weights_raise(tmp_path, monkeypatch):
    monkeypatch.setattr(zoo, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(WeightsUnavailableError, match="zoo train zoo_dino_vit"):
        get_encoder("zoo_dino_vit").build(None)
    with pytest.raises(WeightsUnavailableError):
        get_encoder("zoo_dino_vit").build(str(tmp_path / "nope.safetensors"))


def test_truncated_weights_raise(tmp_path):
    data = zoo.weights_path("zoo_mocov3_resnet").read_bytes()
    bad = tmp_path / "truncated.safetensors"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsUnavailableError):
        get_encoder("zoo_mocov3_resnet").build(str(bad))


def test_wrong_keys_or_shapes_raise(tmp_path):
    from safetensors.torch import load_file, save_file

    state = load_file(str(zoo.weights_path("zoo_mocov3_resnet")))
    renamed = {("backbone." + k): v for k, v in state.items()}
    save_file(renamed, str(tmp_path / "renamed.safetensors"))
    with pytest.raises(WeightsUnavailableError, match="missing keys"):
        get_encoder("zoo_mocov3_resnet").build(str(tmp_path / "renamed.safetensors"))
    dropped = {k: v for k, v in state.items() if k != "stem.0.weight"}
    save_file(dropped, str(tmp_path / "dropped.safetensors"))
    with pytest.raises(WeightsUnavailableError, match="stem.0.weight"):
        get_encoder("zoo_mocov3_resnet").build(str(tmp_path / "dropped.safetensors"))
    # the right file for the wrong family
    with pytest.raises(WeightsUnavailableError):
        get_encoder("zoo_mocov3_vit").build(str(zoo.weights_path("zoo_mocov3_resnet")))
    # right keys, wrong shapes
    reshaped = {k: (v[:1] if v.ndim else v) for k, v in state.items()}
    save_file(reshaped, str(tmp_path / "reshaped.safetensors"))
    with pytest.raises(WeightsUnavailableError, match="does not fit"):
        get_encoder("zoo_mocov3_resnet").build(str(tmp_path / "reshaped.safetensors"))


# --------------------------------------------------------------------------- cards
CARD_FIELDS = {"name", "method", "backbone", "n_parameters", "epochs", "images_seen",
               "train_seconds", "knn_accuracy_k20", "seed", "command", "weights_sha256",
               "device", "threads", "knn_check"}


def _cards() -> dict[str, dict]:
    return {n: zoo.read_card(n) for n in zoo.MEMBERS}


def test_cards_match_the_weights():
    found = _cards()
    for name, c in found.items():
        assert c is not None, f"{name}: no model card"
        assert CARD_FIELDS <= c.keys(), CARD_FIELDS - c.keys()
        assert c["name"] == name and c["method"] == METHOD[name]
        assert 0.1 < c["knn_accuracy_k20"] <= 1.0
        if name in TRAINED:
            assert c["weights_sha256"] == sha256_file(zoo.weights_path(name))
            assert c["images_seen"] > 0 and c["train_seconds"] > 0
            assert c["command"].endswith(name)
            assert c["knn_accuracy_k20"] > found[RANDOM_TWIN[name]]["knn_accuracy_k20"]
            if c.get("curve"):  # retrained with a learning curve: it is recorded in full
                assert c["curve"][0]["step"] == 0 and c["stop_reason"]
                steps = [p["step"] for p in c["curve"]]
                assert steps == sorted(steps) and steps[-1] <= c["steps"]
                assert c["exported_point"]["knn_k20"] == max(p["knn_k20"] for p in c["curve"][1:])


def test_readme_is_generated_from_the_cards():
    cards = pytest.importorskip("zsc.pretrain.cards")
    readme = (zoo.WEIGHTS_DIR / cards.README_NAME).read_text()
    assert readme == cards.readme_text(cards.read_cards(zoo.WEIGHTS_DIR)), \
        "README.md is stale: run `zsc zoo readme`"


@pytest.fixture(scope="module")
def full_train():
    from zsc.data import load_dataset

    try:
        return load_dataset("fashion_mnist", "train")
    except DataMissingError as err:
        pytest.skip(str(err))


@pytest.mark.slow  # embeds the whole train split: ~20-80 s a member on one thread
@pytest.mark.parametrize("name", list(zoo.MEMBERS))
def test_card_knn_is_reproduced_on_a_subsample(name, full_train):
    """The card's kNN@20 (60,000 train images voting for the 10,000 test images) is reproduced
    from the shipped weights with 2,000 of the test images as queries: within the card's stated
    error (binomial standard errors of the subsample), and the subsample's own figure, which
    the card also records, to rounding."""
    from zsc.data import load_dataset, subsample_indices
    from zsc.metrics import knn_accuracy

    card = zoo.read_card(name)
    check = card["knn_check"]
    te = load_dataset("fashion_mnist", "test")
    rows = subsample_indices(te.labels, check["n_test"], check["seed"])
    acc = knn_accuracy(_features(name, full_train.images), full_train.labels,
                       _features(name, te.images[rows]), te.labels[rows], ks=(20,),
                       device="cpu")[20]
    assert abs(acc - card["knn_accuracy_k20"]) <= check["tolerance"], (
        f"{name}: {acc:.4f} on the subsample vs the card's {card['knn_accuracy_k20']:.4f} "
        f"(stated error {check['tolerance']})")
    assert abs(acc - check["knn_accuracy_k20"]) <= 2e-3


def test_the_zoo_page_reads_every_card():
    from zsc.encoders.zoo import MEMBERS, WEIGHTS_DIR
    from zsc.pretrain.cards import card_frame, read_cards
    from zsc.report import figures

    cards = read_cards(WEIGHTS_DIR)
    table = card_frame(cards)
    assert list(table.index) == [m for m in MEMBERS if m in table.index] and len(table) == len(cards)
    assert (table.loc[table["method"] == "random", "stopped"] == "random init").all()
    trained = table[table["method"] != "random"]
    assert trained["images (k)"].gt(0).all() and trained["target"].notna().all()
    fig = figures.zoo_curves(cards)
    lines = sum(len(ax.lines) for ax in fig.axes)
    assert lines == sum(1 for c in cards if c.get("curve"))  # one curve per trained member
    thin = [ln for ax in fig.axes for ln in ax.lines if ln.get_linewidth() < 1]  # replicates
    assert len(thin) == sum(1 for c in cards if c.get("seed")) == len(zoo.REPLICATE_OF)  # every one ships
    assert all(table.loc[n, "method"].endswith(f"seed {s}") for n, (_, s) in zoo.REPLICATE_OF.items())
    tuned = [c for c in cards if c.get("fine_tuned_from")]
    assert {c["name"] for c in tuned} == set(zoo.FINE_TUNED_FROM)  # every fine-tuned member ships
    dashed = [ln for ax in fig.axes for ln in ax.lines if ln.get_linestyle() == "--"]
    assert len(dashed) == len(tuned)
    for c, ln in zip(tuned, dashed, strict=True):  # each continues its member from the shipped point
        base = next(b for b in cards if b["name"] == c["fine_tuned_from"])
        assert ln.get_xdata()[0] == pytest.approx(base["exported_point"]["images_seen"] / 1e3)
        assert c["curve"][0]["knn_k20"] == pytest.approx(base["exported_point"]["knn_k20"], abs=1e-3)
        assert c["train_cpu_seconds"] > 0 and table.loc[c["name"], "method"].endswith("fine-tuned")


def test_a_member_at_its_epoch_cap_says_whether_its_curve_had_flattened():
    """The plateau rule's test on the last `patience` points: within `min_delta` of the best before
    them is flat, more is still rising (the reader's 'trained until flat'); the zoo chapter counts
    the rising ones with the unfinished."""
    from zsc.pretrain.cards import card_frame, final_gain

    def card(name, knn):
        return {"name": name, "method": "dino", "stop_reason": "max_epochs", "recipe": {"patience": 3, "min_delta": 0.002},
                "curve": [{"knn_k20": k} for k in knn]}

    flat, rising = card("a", [0.5, 0.80, 0.801, 0.8015, 0.800]), card("b", [0.5, 0.80, 0.803, 0.804, 0.805])
    assert final_gain(flat) == pytest.approx(0.0015) and final_gain(rising) == pytest.approx(0.005)
    assert final_gain(card("c", [0.5, 0.6])) is None
    frame = card_frame([flat, rising, {**rising, "name": "d", "stop_reason": "unfinished (time)"}])
    assert list(frame["stopped"][:2]) == ["epoch cap, flat", "epoch cap, rising"]
    assert list(frame["still learning"]) == [False, True, True]
