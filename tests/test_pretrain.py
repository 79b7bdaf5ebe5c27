"""Training the offline zoo (zsc.pretrain): short runs change the weights, are deterministic,
resume exactly from a checkpoint, stop on a flat learning curve, write complete model cards,
and the package layering holds (no cycles; zsc.encoders never imports zsc.pretrain). Fast: no
run is longer than a few steps on a few dozen images."""

from __future__ import annotations

import argparse
import ast
import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from zsc.errors import DataMissingError
from zsc.io import sha256_file

pytest.importorskip("lightly")
# lightly's DINO head still uses torch's deprecated weight_norm
pytestmark = [pytest.mark.filterwarnings("ignore:.*weight_norm.*:FutureWarning"),
              pytest.mark.usefixtures("torch_one_thread")]

from zsc.encoders import get_encoder, zoo  # noqa: E402
from zsc.encoders.zoo import models  # noqa: E402
from zsc.pretrain import augment, cards, release, trainer  # noqa: E402
from zsc.pretrain.recipes import RECIPES, TRAIN_ORDER, Augment  # noqa: E402

TRAINED = list(RECIPES)
ROOT = Path(__file__).resolve().parents[1] / "zsc"


@pytest.fixture(scope="module")
def tiny():
    """64 training images (with labels) and 32 held-out ones from the Fashion-MNIST train split."""
    from zsc.data import load_dataset

    try:
        tr = load_dataset("fashion_mnist", "train")
    except DataMissingError as err:
        pytest.skip(str(err))
    train_idx, held_idx = release.split_indices(tr.labels)
    return (tr.images[train_idx[:64]], tr.labels[train_idx[:64]],
            tr.images[held_idx[:32]], tr.labels[held_idx[:32]])


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# --------------------------------------------------------------------------- layering
def _imports(path: Path) -> set[str]:
    """Absolute names of the zsc modules `path` imports (module level and inside functions)."""
    pkg = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
    if path.name == "__init__.py":
        pkg = pkg.rsplit(".", 1)[0] + "._"  # relative imports resolve inside the package
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("zsc")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: -node.level]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name.startswith("zsc"):
                out.add(name)
                out |= {f"{name}.{a.name}" for a in node.names}
    return out


def test_encoders_never_import_pretrain_or_later_stages():
    for path in (ROOT / "encoders").rglob("*.py"):
        bad = {m for m in _imports(path) if m.startswith("zsc.pretrain")}
        assert not bad, f"{path} imports {bad}"
    for path in (ROOT / "encoders" / "zoo").rglob("*.py"):
        later = ("zsc.pretrain", "zsc.embed", "zsc.metrics", "zsc.data")
        bad = {m for m in _imports(path) if m.startswith(later)}
        assert not bad, f"{path} imports {bad}"
        assert "hashlib" not in path.read_text(), f"{path} hashes files (at import?)"
    code = ("import sys, zsc.encoders, zsc.encoders.zoo; "
            "print(sorted(m for m in sys.modules if m.startswith(('zsc.pretrain', 'lightly'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_pretrain_modules_import_without_cycles():
    """The import graph of zsc.pretrain's modules is acyclic; cards reads the trainer one way."""
    mods = {p.stem: _imports(p) for p in (ROOT / "pretrain").glob("*.py") if p.stem != "__main__"}
    graph = {m: {d.split(".")[2] for d in deps if d.startswith("zsc.pretrain.") and
                 d.split(".")[2] in mods and d.split(".")[2] != m}
             for m, deps in mods.items()}
    assert "cards" not in graph["trainer"] and "release" not in graph["trainer"]
    seen: dict[str, int] = {}

    def visit(m: str, path: tuple[str, ...]) -> None:
        assert m not in path, f"import cycle {' -> '.join((*path, m))}"
        if seen.get(m):
            return
        for d in graph[m]:
            visit(d, (*path, m))
        seen[m] = 1

    for m in graph:
        visit(m, ())


def test_recipes_cover_the_registry():
    assert set(TRAIN_ORDER) == set(zoo.MEMBERS) and len(TRAIN_ORDER) == len(zoo.MEMBERS)
    for name, r in RECIPES.items():
        base = zoo.FINE_TUNED_FROM.get(name)
        assert r.init_from == base and "_ft_" in name if base else "_ft_" not in name
        assert zoo.MEMBER_TABLE[name] == (r.kind, zoo.MEMBER_TABLE[base][1] if base else r.method)
        assert r.trainable and r.epochs > 0 and r.patience >= 1 and r.eval_every <= 1
        assert TRAIN_ORDER.index(name) > TRAIN_ORDER.index(base) if base else True


def test_training_seed_replicates_differ_from_their_member_only_in_seed():
    """A replicate is its member's recipe with another seed, registered as the member's
    replicate (so analyses fold it in), of the member's family and method."""
    from dataclasses import replace

    from zsc.encoders import get_encoder

    assert len(zoo.REPLICATE_OF) == len(zoo.REPLICATED) * len(zoo.TRAINING_SEEDS)
    for name, (member, seed) in zoo.REPLICATE_OF.items():
        assert seed != RECIPES[member].seed
        assert RECIPES[name] == replace(RECIPES[member], name=name, seed=seed)
        spec, base = get_encoder(name), get_encoder(member)
        assert (spec.replicate_of, spec.training_seed) == (member, seed)
        assert (spec.family, spec.method, spec.dim) == (base.family, base.method, base.dim)
        assert spec.weights_id != base.weights_id  # its own weights, its own embedding cache


@pytest.mark.parametrize("name", sorted(zoo.FINE_TUNED_FROM))
def test_fine_tuning_starts_from_its_self_supervised_member(name, tiny):
    """A fine-tuned member's first state is its base member's shipped backbone, trained on with
    labels (the supervised objective), never a fresh init."""
    recipe = RECIPES[name]
    assert recipe.method == "supervised"
    base = zoo.load_backbone(recipe.kind, zoo.weights_path(recipe.init_from), who=recipe.init_from)
    res = trainer.train(recipe, tiny[0][:32], tiny[1][:32], steps=1, progress=False, threads=1)
    start = base.state_dict()
    assert res.initial_state.keys() == start.keys()
    assert all(torch.equal(res.initial_state[k], v) for k, v in start.items())


def test_heldout_split_is_fixed_and_disjoint():
    labels = np.repeat(np.arange(10), 6000)
    a_train, a_held = release.split_indices(labels)
    b_train, b_held = release.split_indices(labels)
    assert np.array_equal(a_held, b_held) and np.array_equal(a_train, b_train)
    assert len(a_held) == release.HELDOUT_N and len(a_train) == 60_000 - release.HELDOUT_N
    assert not set(a_held) & set(a_train)
    assert np.array_equal(np.sort(np.concatenate([a_train, a_held])), np.arange(60_000))


# --------------------------------------------------------------------------- augmentation
def test_augment_is_per_sample():
    torch.manual_seed(0)
    x = torch.rand(1, 1, 28, 28).expand(8, -1, -1, -1).contiguous()
    out = augment.augment(x, Augment())
    assert out.shape == (8, 1, 28, 28) and out.min() >= 0 and out.max() <= 1
    assert len({tuple(o.flatten()[:50].tolist()) for o in out}) == 8  # every sample differs


def test_random_erasing_blanks_one_rectangle():
    torch.manual_seed(0)
    x = torch.ones(16, 1, 28, 28)
    plain = Augment(scale=(1.0, 1.0), ratio=(1.0, 1.0), flip=False, degrees=0.0, jitter_p=0.0)
    assert torch.allclose(augment.augment(x, plain), x, atol=1e-5)  # identity crop
    out = augment.augment(x, replace(plain, erase_p=1.0, erase_scale=(0.1, 0.2)))
    zero = (out < 1e-6).float().mean(dim=(1, 2, 3))
    assert ((zero > 0.05) & (zero < 0.3)).all()  # each sample lost about 10-20 % of its area


# --------------------------------------------------------------------------- training
@pytest.mark.parametrize("name", TRAINED)
def test_short_training_changes_weights(name, tiny):
    images, labels = tiny[0][:32], tiny[1][:32]
    recipe = RECIPES[name]
    res = trainer.train(recipe, images, labels, steps=2, progress=False, threads=1)
    assert res.steps == 2 and res.images_seen == 2 * min(recipe.batch_size, 32) and res.finished
    assert all(math.isfinite(v) for v in res.losses)
    final = res.backbone.state_dict()
    assert final.keys() == res.initial_state.keys()
    changed = [k for k, v in final.items() if not torch.equal(v, res.initial_state[k])]
    assert changed, f"{name}: two training steps left every weight unchanged"
    assert all(torch.isfinite(v).all() for v in final.values() if v.is_floating_point())
    # the exported backbone is a plain backbone: the registry's builder loads it strictly
    zoo.load_strict(models.build_backbone(recipe.kind), final, who=name)


def test_training_is_deterministic(tiny):
    recipe = RECIPES["zoo_vicreg_resnet"]
    a = trainer.train(recipe, tiny[0][:32], tiny[1][:32], steps=2, progress=False, threads=1)
    b = trainer.train(recipe, tiny[0][:32], tiny[1][:32], steps=2, progress=False, threads=1)
    assert a.losses == b.losses
    for k, v in a.backbone.state_dict().items():
        assert torch.equal(v, b.backbone.state_dict()[k]), k


def _small(name: str, **kw):
    """Batch 16 on 64 images: 4 steps per epoch, a curve point every 2 steps."""
    return replace(RECIPES[name], batch_size=16, eval_every=0.5, **kw)


@pytest.mark.parametrize("name", ["zoo_dino_resnet", "zoo_mae_vit"])
def test_resume_from_checkpoint_is_exact(name, tiny, tmp_path):
    """Interrupted mid-epoch (and between curve points), then resumed: the same losses, curve
    and weights as one uninterrupted run."""
    recipe = _small(name, epochs=1.5, patience=99)
    x, y, hx, hy = tiny
    kw = dict(heldout=(hx, hy), progress=False, threads=1, log=lambda m: None)
    whole = trainer.train(recipe, x, y, **kw)
    assert whole.steps == 6 and whole.finished and whole.stop_reason == "max_epochs"
    assert [p["step"] for p in whole.curve] == [0, 2, 4, 6]

    ckpt = tmp_path / "ckpt"
    part = trainer.train(recipe, x, y, ckpt_dir=ckpt, stop_at_step=3, **kw)
    assert part.steps == 3 and not part.finished and (ckpt / trainer.CHECKPOINT_NAME).exists()
    assert not list(ckpt.glob("*.part")) and not list(ckpt.glob(".*.part"))
    rest = trainer.train(recipe, x, y, ckpt_dir=ckpt, resume=True, **kw)
    assert rest.finished and rest.steps == 6 and rest.images_seen == whole.images_seen
    assert rest.losses == whole.losses
    assert rest.curve == [dict(p, train_seconds=q["train_seconds"])
                          for p, q in zip(whole.curve, rest.curve, strict=True)]
    for k, v in whole.backbone.state_dict().items():
        assert torch.equal(v, rest.backbone.state_dict()[k]), k
    assert len(rest.sessions) == 2
    # a finished checkpoint resumes to the same result without training
    again = trainer.train(recipe, x, y, ckpt_dir=ckpt, resume=True, **kw)
    assert again.steps == 6 and again.losses == whole.losses
    # and refuses a changed recipe
    with pytest.raises(ValueError, match="another recipe"):
        trainer.train(replace(recipe, lr=recipe.lr / 2), x, y, ckpt_dir=ckpt, resume=True, **kw)


def test_a_failed_checkpoint_write_keeps_the_previous_one(tiny, tmp_path, monkeypatch):
    recipe = _small("zoo_vicreg_resnet", epochs=1.0)
    x, y = tiny[0], tiny[1]
    trainer.train(recipe, x, y, ckpt_dir=tmp_path, stop_at_step=1, progress=False,
                  log=lambda m: None)
    real_save = torch.save

    def broken_save(obj, f, *a, **k):
        Path(f).write_bytes(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(trainer.torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        trainer.train(recipe, x, y, ckpt_dir=tmp_path, resume=True, stop_at_step=2,
                      progress=False, log=lambda m: None)
    monkeypatch.setattr(trainer.torch, "save", real_save)
    st = trainer.load_checkpoint(tmp_path / trainer.CHECKPOINT_NAME)
    assert st["step"] == 1


def test_flat_curve_stops_training(tiny):
    """With a curve that cannot improve by min_delta, training stops after `patience` points
    and exports the best point's backbone."""
    recipe = _small("zoo_supervised_resnet", epochs=5, patience=2, min_delta=2.0, cooldown_epochs=0)
    res = trainer.train(recipe, tiny[0], tiny[1], heldout=tiny[2:], progress=False,
                        log=lambda m: None)
    assert res.stop_reason == "plateau" and res.finished
    assert res.steps == 2 * 2 and res.steps < 5 * 4  # two points after step 0, not the cap
    assert len(res.curve) == 3 and res.curve[0]["step"] == 0
    assert res.best is not None and res.best["step"] in (2, 4)
    assert res.best["value"] == max(p["knn_k20"] for p in res.curve[1:])


def test_flat_curve_cools_down_then_stops(tiny, tmp_path):
    """With a cool-down, a flat curve starts a linear decay of the learning rate to 0 over
    `cooldown_epochs`, then training stops; a run that stopped flat without one (checkpoint) is
    given one on resume, exactly as if it had had it from the start."""
    recipe = _small("zoo_supervised_resnet", epochs=5, patience=2, min_delta=2.0, cooldown_epochs=1)
    kw = dict(heldout=tiny[2:], progress=False, log=lambda m: None)
    lrs: list[float] = []
    real_step = torch.optim.AdamW.step

    def spy(self, *a, **k):
        lrs.append(self.param_groups[0]["lr"])
        return real_step(self, *a, **k)

    torch.optim.AdamW.step = spy
    try:
        res = trainer.train(recipe, tiny[0], tiny[1], **kw)
    finally:
        torch.optim.AdamW.step = real_step
    assert res.stop_reason == "plateau" and res.finished
    assert res.steps == 4 + 4  # flat at step 4, then one epoch (4 steps) of cool-down
    assert [p["step"] for p in res.curve] == [0, 2, 4, 6, 8]
    cool = lrs[4:]
    assert cool[0] > cool[1] > cool[2] > cool[3] > 0
    assert cool[0] == pytest.approx(trainer._lr_at(4, 5 * 4, recipe))  # where the cosine was
    assert cool[3] == pytest.approx(cool[0] / 4)  # linear to 0 at the cool-down's end

    flat = trainer.train(replace(recipe, cooldown_epochs=0), tiny[0], tiny[1], ckpt_dir=tmp_path,
                         **kw)
    assert flat.steps == 4 and flat.finished
    reopened = trainer.train(recipe, tiny[0], tiny[1], ckpt_dir=tmp_path, resume=True, **kw)
    assert reopened.steps == 8 and reopened.losses == res.losses and reopened.curve == [
        dict(p, train_seconds=q["train_seconds"]) for p, q in zip(res.curve, reopened.curve, strict=True)]


def test_card_records_the_run(tiny, tmp_path):
    recipe = _small("zoo_mocov3_resnet", epochs=1.0, patience=99)
    res = trainer.train(recipe, tiny[0], tiny[1], heldout=tiny[2:], progress=False,
                        log=lambda m: None)
    path = release.save_backbone(res.backbone, tmp_path / "m.safetensors")
    card = cards.make_card(get_encoder("zoo_mocov3_resnet"), recipe, res, path, None, None,
                           "cmd", 1)
    for key in ("curve", "epochs", "images_seen", "train_seconds", "device", "threads",
                "sessions", "stop_reason", "exported_point", "weights_sha256", "recipe"):
        assert key in card, key
    assert card["curve"] == res.curve and len(card["curve"]) == 3
    assert card["images_seen"] == 4 * 16 and card["device"] == "cpu" and card["threads"] == [1]
    assert card["weights_sha256"] == sha256_file(path)
    assert 0 < card["train_cpu_seconds"] and card["fine_tuned_from"] is None  # wall and CPU time
    json.dumps(card)  # serialisable


def test_cli_trains_a_member_into_a_folder(tmp_path, tiny):
    from zsc.pretrain.cli import add_zoo_subcommand

    parser = argparse.ArgumentParser(prog="zsc")
    add_zoo_subcommand(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["zoo", "train", "zoo_mae_vit", "--steps", "1", "--no-eval",
                              "--no-curve", "--quiet", "--out", str(tmp_path / "out"),
                              "--ckpt-dir", str(tmp_path / "ckpt")])
    assert args.func(args) == 0
    card = json.loads((tmp_path / "out" / "zoo_mae_vit.json").read_text())
    assert card["steps"] == 1 and card["knn_accuracy_k20"] is None
    assert card["command"].startswith("zsc zoo train") and "--steps 1" in card["command"]
    model = get_encoder("zoo_mae_vit").build(str(tmp_path / "out" / "zoo_mae_vit.safetensors"))
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, models.VIT_DIM)
    assert "zoo_mae_vit" in (tmp_path / "out" / "README.md").read_text()
    assert (tmp_path / "ckpt" / "zoo_mae_vit" / trainer.CHECKPOINT_NAME).exists()
    # export re-releases it from the checkpoint
    args = parser.parse_args(["zoo", "export", "zoo_mae_vit", "--quiet", "--out",
                              str(tmp_path / "exp"), "--ckpt-dir", str(tmp_path / "ckpt")])
    res = release.result_from_checkpoint("zoo_mae_vit", tmp_path / "ckpt" / "zoo_mae_vit")
    assert res.steps == 1 and res.finished


def test_python_dash_m_pretrain_lists_the_zoo():
    out = subprocess.run([sys.executable, "-m", "zsc.pretrain", "list"], capture_output=True,
                         text=True, check=True)
    assert all(n in out.stdout for n in zoo.MEMBERS)
