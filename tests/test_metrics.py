import math

import numpy as np
import pytest
from sklearn import metrics as skm

from zsc import metrics as M


@pytest.fixture
def labelings():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 7, 500)
    p = np.where(rng.random(500) < 0.6, y, rng.integers(0, 9, 500))
    return y, p


def test_ami_equals_sklearn(labelings):
    y, p = labelings
    assert M.ami(y, p) == pytest.approx(skm.adjusted_mutual_info_score(y, p), abs=1e-12)
    assert M.ami(y, y) == pytest.approx(1.0)


def test_ami_true_by_hand():
    # y has 2 equal classes; the prediction copies it: MI = H(y) = ln 2; E[MI] from sklearn
    y = np.array([0, 0, 1, 1])
    parts = M.mutual_info_parts(y, y)
    assert parts.mi == pytest.approx(math.log(2)) and parts.h_true == pytest.approx(math.log(2))
    assert M.ami_true(y, y) == pytest.approx(1.0)
    # a prediction finer than the labels explains all of H(y) but not all of H(pred)
    y = np.repeat([0, 1], 50)
    p = np.repeat([0, 1, 2, 3], 25)
    parts = M.mutual_info_parts(y, p)
    assert parts.mi == pytest.approx(math.log(2))
    expected = (parts.mi - parts.emi) / (math.log(2) - parts.emi)
    assert M.ami_true(y, p) == pytest.approx(expected) == pytest.approx(1.0)
    assert M.ami(y, p) < 0.9  # the symmetric AMI penalises the extra split


def test_hierarchy_ami_levels():
    fine = np.repeat(np.arange(4), 25)
    coarse = fine // 2
    out = M.hierarchy_ami({"coarse": coarse, "fine": fine}, fine)
    assert out["fine"]["ami"] == pytest.approx(1.0)
    assert out["coarse"]["ami_true"] == pytest.approx(1.0)
    assert out["coarse"]["ami"] < 1.0


def test_blocked_silhouette_equals_sklearn(blobs):
    X, y = blobs
    ref = skm.silhouette_score(X, y)
    assert M.silhouette_exact(X, y) == pytest.approx(ref, abs=1e-6)
    tiny_blocks = M.silhouette_exact(X, y, block_bytes=8 * 300 * 7)  # 7 rows a block
    assert tiny_blocks == pytest.approx(ref, abs=1e-6)
    # singletons score 0, as in scikit-learn
    y2 = y.copy()
    y2[0] = 99
    assert M.silhouette_exact(X, y2) == pytest.approx(skm.silhouette_score(X, y2), abs=1e-6)


def test_silhouette_subsample_reports_its_error(blobs):
    X, y = blobs
    exact = M.silhouette(X, y, max_samples=None)
    sub = M.silhouette(X, y, max_samples=100, seed=0)
    assert exact.n_used == 300 and exact.stderr == 0
    assert sub.n_used == 100 and sub.stderr > 0
    assert abs(sub.value - exact.value) < 4 * sub.stderr + 1e-3


def test_silhouette_undefined_cases_have_reasons(blobs):
    X, _ = blobs
    one = M.silhouette(X, np.zeros(len(X)))
    assert math.isnan(one.value) and one.reason == "only one cluster"
    assert "own cluster" in M.silhouette(X, np.arange(len(X))).reason


def _knn_reference(trx, try_, tex, tey, k, T=0.07):
    trn = trx / np.linalg.norm(trx, axis=1, keepdims=True)
    ten = tex / np.linalg.norm(tex, axis=1, keepdims=True)
    correct = 0
    for i in range(len(ten)):
        sim = trn @ ten[i]
        top = np.argsort(-sim, kind="stable")[:k]
        votes = {}
        for j in top:
            votes[try_[j]] = votes.get(try_[j], 0.0) + math.exp(sim[j] / T)
        correct += max(votes, key=votes.get) == tey[i]
    return correct / len(ten)


def test_knn_accuracy_matches_reference():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(5, 16))
    ytr, yte = rng.integers(0, 5, 400), rng.integers(0, 5, 150)
    trx = centres[ytr] + rng.normal(scale=1.2, size=(400, 16))
    tex = centres[yte] + rng.normal(scale=1.2, size=(150, 16))
    ours = M.knn_accuracy(trx, ytr, tex, yte, ks=(1, 10, 20, 100, 200), block_size=32,
                          dtype=__import__("torch").float64)
    for k, acc in ours.items():
        assert acc == pytest.approx(_knn_reference(trx, ytr, tex, yte, k)), k
    assert 0.2 < ours[20] <= 1.0


def test_score_clustering_with_noise(blobs):
    X, y = blobs
    pred = y.copy()
    pred[:30] = -1
    row = M.score_clustering(y, pred, spaces={"original": X})
    assert row["ratio_clustered"] == pytest.approx(0.9)
    assert row["n_clusters_pred"] == 3
    assert row["ami"] == pytest.approx(skm.adjusted_mutual_info_score(y, pred))
    assert row["ami_clustered"] == pytest.approx(1.0)
    assert row["silhouette_original"] == pytest.approx(skm.silhouette_score(X, pred), abs=1e-6)


def test_clustering_accuracy_by_hand():
    """Hungarian-matched accuracy on tables worked out by hand."""
    # classes a a a b b c, clusters 1 1 0 0 0 2: best map 1->a (2), 0->b (2), 2->c (1) = 5/6
    assert M.clustering_accuracy(list("aaabbc"), [1, 1, 0, 0, 0, 2]) == pytest.approx(5 / 6)
    # a permutation of the labels is a perfect clustering
    assert M.clustering_accuracy([0, 0, 1, 1, 2], [2, 2, 0, 0, 1]) == 1.0
    # more clusters than classes (3 x 2 table, non-square): one cluster stays unmatched.
    # classes 0 0 0 0 1 1, clusters 0 0 1 1 2 2: 0->0 or 1->0 (2 points) and 2->1 (2) = 4/6
    assert M.clustering_accuracy([0, 0, 0, 0, 1, 1], [0, 0, 1, 1, 2, 2]) == pytest.approx(4 / 6)
    # fewer clusters than classes: everything in one cluster scores the largest class, 3/6
    assert M.clustering_accuracy([0, 0, 0, 1, 1, 2], [5] * 6) == pytest.approx(3 / 6)
    # cluster 0 holds 4 of class 0 and 3 of class 1, cluster 1 holds 3 of class 0: greedy
    # (largest cell first: 0->0, then 1->1 with 0 points) gives 4/10; the best matching is
    # 0->1 (3) + 1->0 (3) = 6/10
    y, p = [0] * 4 + [1] * 3 + [0] * 3, [0] * 7 + [1] * 3
    assert M.clustering_accuracy(y, p) == pytest.approx(6 / 10)
    assert math.isnan(M.clustering_accuracy([], []))


def test_score_clustering_has_accuracy(blobs):
    X, y = blobs
    pred = (y + 1) % 3  # relabelled, otherwise perfect
    pred[:30] = -1  # noise is one more (unmatched) cluster: those points count as wrong
    assert M.score_clustering(y, pred)["acc"] == pytest.approx(0.9)


def test_all_noise_is_defined(blobs):
    X, y = blobs
    row = M.score_clustering(y, np.full(len(y), -1), spaces={"original": X})
    assert row["ami"] == 0.0 and row["n_clusters_pred"] == 0
    assert math.isnan(row["silhouette_original"]) and row["silhouette_original_reason"]


def _knn_data(n_train=300, n_test=120, d=16, classes=6, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, d))
    ytr, yte = rng.integers(0, classes, n_train), rng.integers(0, classes, n_test)
    trx = centres[ytr] + rng.normal(scale=1.2, size=(n_train, d))
    tex = centres[yte] + rng.normal(scale=1.2, size=(n_test, d))
    return trx, ytr, tex, yte


def test_knn_accuracy_equals_sklearn_and_handles_k_above_n_train():
    import torch
    from sklearn.neighbors import KNeighborsClassifier

    trx, ytr, tex, yte = _knn_data()
    ks = (1, 5, 20, 100, 300)
    ours = M.knn_accuracy(trx, ytr, tex, yte, ks=ks, dtype=torch.float64, device="cpu")
    for k in ks:  # scikit-learn hands the cosine distance 1 − cos: weight exp(cos / T)
        clf = KNeighborsClassifier(n_neighbors=k, algorithm="brute", metric="cosine",
                                   weights=lambda dist: np.exp((1.0 - dist) / 0.07)).fit(trx, ytr)
        assert ours[k] == (clf.predict(tex) == yte).mean(), k
    # k above the training set's size votes with all of it; blocks of any size, float32 default
    small = M.knn_accuracy(trx[:40], ytr[:40], tex, yte, ks=(200, 1, 40, 10), device="cpu",
                           dtype=torch.float64, block_bytes=8 * 40 * 7)
    assert list(small) == [200, 1, 40, 10] and small[200] == small[40]
    for k in (1, 10, 40, 200):
        assert small[k] == pytest.approx(_knn_reference(trx[:40], ytr[:40], tex, yte, k)), k
    f32 = M.knn_accuracy(trx.astype(np.float32), ytr, tex, yte, ks=ks, device="cpu", block_size=50)
    assert f32 == ours


def test_knn_accuracy_with_string_labels_and_one_block():
    trx, ytr, tex, yte = _knn_data(classes=4, seed=2)
    names = np.array(["cat", "dog", "eel", "fox"])
    a = M.knn_accuracy(trx, ytr, tex, yte, ks=(1, 10), device="cpu")
    b = M.knn_accuracy(trx, names[ytr], tex, names[yte], ks=(1, 10), device="cpu", block_bytes=2**30)
    assert a == b and 0.3 < a[10] <= 1.0


def test_importing_metrics_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, zsc.metrics; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "manhattan"])
def test_silhouette_equals_sklearn(metric):
    rng = np.random.default_rng(4)
    y = rng.integers(0, 9, 700)
    X = rng.normal(size=(9, 12))[y] + rng.normal(scale=0.8, size=(700, 12))
    y[:3] = 50  # one cluster of three
    y[3] = 60  # and a singleton, which scores 0
    ref = skm.silhouette_samples(X, y, metric=metric)
    ours = M.silhouette_samples_blocked(X, y, metric=metric, block_bytes=8 * 700 * 13)
    np.testing.assert_allclose(ours, ref, atol=1e-10)
    rows = np.array([5, 0, 3, 699])
    np.testing.assert_allclose(M.silhouette_samples_blocked(X, y, rows, metric=metric), ref[rows], atol=1e-10)
    s = M.silhouette(X, y, metric=metric, max_samples=None)
    assert s.value == pytest.approx(skm.silhouette_score(X, y, metric=metric), abs=1e-10)
    assert s.n_used == 700 and s.stderr == 0 and s.reason == ""
    if metric == "euclidean":
        D = skm.pairwise_distances(X)
        assert M.silhouette_exact(D, y, metric="precomputed") == pytest.approx(s.value, abs=1e-10)


def test_silhouette_subsample_is_unbiased_with_many_clusters():
    # 100 clusters, 300 sampled rows: about 3 sampled points a cluster. Each sampled row's
    # a(i), b(i) are measured against all points, so the estimate stays within its stderr
    # (a silhouette *of the subsample* is biased low here, by many standard errors).
    rng = np.random.default_rng(5)
    y = rng.integers(0, 100, 3000)
    X = rng.normal(size=(100, 10))[y] * 1.5 + rng.normal(size=(3000, 10))
    exact = M.silhouette_exact(X, y)
    z = []
    for seed in range(5):
        sub = M.silhouette(X, y, max_samples=300, seed=seed)
        assert sub.n_used == 300 and sub.stderr > 0
        z.append((sub.value - exact) / sub.stderr)
    assert max(abs(v) for v in z) < 3.5 and abs(np.mean(z)) < 2.0, z
    per_point = skm.silhouette_samples(X, y)  # the stderr includes the finite-population factor
    expected_se = per_point.std(ddof=1) / math.sqrt(300) * math.sqrt(1 - 300 / 3000)
    assert sub.stderr == pytest.approx(expected_se, rel=0.25)


@pytest.mark.parametrize("n,k1,k2", [(10, 2, 3), (300, 10, 7), (2000, 50, 80), (5000, 500, 30)])
def test_expected_mutual_information_gives_scikit_learns_ami(n, k1, k2):
    """zsc's E[MI] (numpy) against scikit-learn's public AMI, which uses its private one."""
    from sklearn.metrics import adjusted_mutual_info_score

    from zsc.metrics import mutual_info_parts

    rng = np.random.default_rng(n)
    y = rng.integers(0, k1, n)
    z = (y + rng.integers(0, 3, n) * (rng.random(n) < 0.5)) % k2
    p = mutual_info_parts(y, z)
    ours = (p.mi - p.emi) / ((p.h_true + p.h_pred) / 2 - p.emi)
    assert ours == pytest.approx(adjusted_mutual_info_score(y, z), abs=1e-10)


def test_silhouette_of_nested_cuts_at_the_cost_of_one():
    """The cuts of one ward tree, from one pass: each equals scikit-learn's silhouette, and
    the sampled estimate equals `silhouette` one cut at a time (same rows)."""
    from sklearn.metrics import silhouette_samples

    from zsc.cluster import Agglomerative
    from zsc.errors import InvalidParameterError

    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 6))
    X[:200] += 3
    tree = Agglomerative(n_clusters=2, linkage="ward").fit(X)
    cuts = [tree.cut(n_clusters=k) for k in (2, 3, 9, 60, 599)]
    per_point = M.silhouette_samples_nested(X, cuts, block_bytes=8 * 600 * 41)
    for labels, ours in zip(cuts, per_point, strict=True):
        np.testing.assert_allclose(ours, silhouette_samples(X, labels), atol=1e-12)
    sampled = M.silhouette_nested(X, cuts + [np.zeros(600, int)], max_samples=250, seed=4)
    assert [s.value for s in sampled[:-1]] == pytest.approx(
        [M.silhouette(X, c, max_samples=250, seed=4).value for c in cuts], abs=1e-12)
    assert sampled[0].n_used == 250 and sampled[-1].reason == "only one cluster"
    with pytest.raises(InvalidParameterError, match="not nested"):
        M.silhouette_samples_nested(X, [cuts[1], rng.integers(0, 3, 600)])


def test_image_draws_resample_the_same_images_in_every_row(blobs, labelings):
    """Draws depend on n alone (two rows on the same images resample them alike); each stored
    score of a resample is the score of the resampled images."""
    X, y = blobs
    draws = M.image_draws(len(y))
    assert draws.shape == (M.IMAGE_DRAWS, len(y)) and np.array_equal(draws, M.image_draws(len(y)))
    assert not np.array_equal(M.image_draws(len(y) + 1)[:, : len(y)], draws)
    pred = y.copy()
    pred[:40] = (pred[:40] + 1) % 3
    hierarchy = {"coarse": (y > 0).astype(int), "fine": y}
    row = M.score_clustering(y, pred, spaces={"original": X}, hierarchy=hierarchy, draws=draws)
    for r in (0, 7):
        i = draws[r]
        assert row["ami_draws"][r] == pytest.approx(skm.adjusted_mutual_info_score(y[i], pred[i]))
        assert row["ami_level_coarse_draws"][r] == pytest.approx(M.ami(hierarchy["coarse"][i], pred[i]))
        assert row["silhouette_original_draws"][r] == pytest.approx(
            skm.silhouette_samples(X, pred)[i].mean(), abs=1e-6)
    assert row["ami_level_fine_draws"] == row["ami_draws"]
    assert np.std(row["ami_draws"]) > 0 and "ami_draws" not in M.score_clustering(y, pred)
    unlabelled = M.score_clustering(None, pred, spaces={"original": X}, draws=draws)
    assert np.isnan(unlabelled["ami_draws"]).all() and np.isfinite(unlabelled["silhouette_original_draws"]).all()


def test_knn_correct_is_the_accuracy_point_by_point():
    rng = np.random.default_rng(2)
    trx, ytr = rng.normal(size=(200, 8)), rng.integers(0, 3, 200)
    tex, yte = trx[:50] + rng.normal(scale=0.5, size=(50, 8)), ytr[:50]
    correct = M.knn_correct(trx, ytr, tex, yte, ks=(1, 20), block_size=7, device="cpu")
    acc = M.knn_accuracy(trx, ytr, tex, yte, ks=(1, 20), device="cpu")
    assert correct[1].dtype == bool and correct[1].shape == (50,)
    assert {k: c.mean() for k, c in correct.items()} == pytest.approx(acc)


@pytest.mark.parametrize("n_pred", [1, 2, 10, 60])
def test_ami_draws_equal_ami_of_each_resample(labelings, n_pred):
    """Each resample's AMI equals scikit-learn's on the resampled images (one cluster: 0; one
    class and one cluster: 1), to rounding; E[MI] in chunks of a few counts equals it in one."""
    y, _ = labelings
    rng = np.random.default_rng(n_pred)
    p = np.where(rng.random(len(y)) < 0.5, y % n_pred, rng.integers(0, n_pred, len(y)))
    draws = M.image_draws(len(y))
    assert np.allclose(M.ami_draws(y, p, draws),
                       [skm.adjusted_mutual_info_score(y[i], p[i]) for i in draws], atol=1e-12)
    a, b = np.bincount(y), np.bincount(p)
    assert M.expected_mutual_information(a, b, chunk=7) == pytest.approx(M.expected_mutual_information(a, b),
                                                                          abs=1e-15)
    one = np.zeros_like(y)
    assert np.array_equal(M.ami_draws(one, one, draws[:2]), [1.0, 1.0])


@pytest.mark.parametrize("kind", ["str", "noise", "sparse ints"])
def test_ami_of_any_label_values_is_scikit_learns(kind):
    """zsc counts coded labels with numpy: strings, HDBSCAN's -1 and gaps in the ids change nothing."""
    rng = np.random.default_rng(3)
    y = rng.integers(0, 6, 400)
    p = np.where(rng.random(400) < 0.6, y, rng.integers(0, 9, 400))
    y, p = {"str": (y.astype(str), np.char.add("c", p.astype(str))), "noise": (y, p - 1),
            "sparse ints": (y * 1000 + 7, p * 31 - 5)}[kind]
    draws = M.image_draws(400)[:3]
    assert M.ami(y, p) == pytest.approx(skm.adjusted_mutual_info_score(y, p), abs=1e-12)
    assert np.allclose(M.ami_draws(y, p, draws), [skm.adjusted_mutual_info_score(y[i], p[i]) for i in draws],
                       atol=1e-12)
