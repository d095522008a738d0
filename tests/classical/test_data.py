"""Tests for classical.data: names, shapes, dtypes, seeding, standardisation and bad input."""

import numpy as np
import pytest
import torch

from qhybrid.classical.data import (
    dataset_names,
    load_dataset,
    make_loader,
    make_split,
    qmlb_names,
)

GENERATED = [
    "moons",
    "circles",
    "linearly_separable",
    "hidden_manifold",
    "two_curves",
    "hyperplanes_parity",
    "bars_and_stripes",
]


def test_names_cover_all_families():
    names = dataset_names()
    for n in ["digits", "breast_cancer", "iris", "wine", *GENERATED]:
        assert n in names
    assert "qmlb:linearly_separable_10d" in names
    assert len(qmlb_names()) == 7


@pytest.mark.parametrize("name", GENERATED)
def test_generators_shapes_dtypes_balance_and_seed(name):
    a = load_dataset(name, n_samples=200, random_state=3)
    b = load_dataset(name, n_samples=200, random_state=3)
    c = load_dataset(name, n_samples=200, random_state=4)
    assert a.X_train.dtype == np.float32 and a.y_train.dtype == np.int64
    assert a.X_train.shape == (150, a.n_features) and a.X_test.shape == (50, a.n_features)
    assert a.n_classes == 2 and set(np.unique(a.y_train)) == {0, 1}
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.X_train, c.X_train)
    # roughly balanced classes
    assert 0.3 < np.concatenate([a.y_train, a.y_test]).mean() < 0.7
    # standardised on train
    np.testing.assert_allclose(a.X_train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(a.X_train.std(axis=0), 1.0, atol=1e-4)


def test_generator_default_widths_and_n_features():
    assert load_dataset("moons").n_features == 2
    assert load_dataset("hidden_manifold").n_features == 10
    assert load_dataset("bars_and_stripes").n_features == 16
    assert load_dataset("two_curves", n_features=4).n_features == 4
    assert load_dataset("bars_and_stripes", n_features=9).n_features == 9


def test_linearly_separable_is_separable_and_parity_is_not():
    from sklearn.linear_model import LogisticRegression

    d = load_dataset("linearly_separable", n_samples=400, standardize=False)
    # labels follow the side of the all-ones hyperplane, outside the margin 0.02 d
    s = np.concatenate([d.X_train, d.X_test]).sum(axis=1)
    assert np.all(np.abs(s) > 0.2 - 1e-6)
    np.testing.assert_array_equal((d.X_train.sum(axis=1) > 0).astype(int), d.y_train)
    h = load_dataset("hyperplanes_parity", n_samples=400)
    acc = LogisticRegression().fit(h.X_train, h.y_train).score(h.X_test, h.y_test)
    assert acc < 0.85


def test_bars_and_stripes_structure():
    d = load_dataset("bars_and_stripes", n_samples=400, standardize=False)
    img = np.concatenate([d.X_train, d.X_test]).reshape(-1, 4, 4)
    y = np.concatenate([d.y_train, d.y_test])
    # stripes (label 1) are constant along each row up to noise 0.5; bars (label 0) along each column
    along_rows = img.std(axis=2).mean(axis=1)
    along_cols = img.std(axis=1).mean(axis=1)
    assert along_rows[y == 1].mean() < 0.5 < along_cols[y == 1].mean()
    assert along_cols[y == 0].mean() < 0.5 < along_rows[y == 0].mean()


def test_bundled_sets():
    d = load_dataset("digits")
    assert d.n_features == 64 and d.n_classes == 10
    assert len(d.y_train) + len(d.y_test) == 1797
    iris = load_dataset("iris", n_samples=60, random_state=1)
    assert len(iris.y_train) + len(iris.y_test) == 60 and iris.n_classes == 3
    # stratified split: each class is in the test part
    assert set(np.unique(iris.y_test)) == {0, 1, 2}


def test_standardisation_fits_on_train_only():
    raw = load_dataset("wine", standardize=False)
    std = load_dataset("wine")
    mean, sd = raw.X_train.mean(axis=0), raw.X_train.std(axis=0)
    np.testing.assert_allclose(std.X_test, (raw.X_test - mean) / sd, rtol=1e-4, atol=1e-4)
    assert not np.allclose(std.X_test.mean(axis=0), 0.0, atol=1e-3)


def test_qmlb_csv_uses_shipped_split_and_maps_labels():
    d = load_dataset("qmlb:linearly_separable_10d", standardize=False)
    assert d.X_train.shape == (240, 10) and d.X_test.shape == (60, 10)
    raw = np.loadtxt("classical/datasets/qml_benchmarks/linearly_separable_10d_train.csv", delimiter=",")
    np.testing.assert_allclose(d.X_train, raw[:, :-1], rtol=1e-6)
    np.testing.assert_array_equal(d.y_train, (raw[:, -1] > 0).astype(np.int64))
    # random_state does not change the shipped split
    e = load_dataset("qmlb:linearly_separable_10d", standardize=False, random_state=5)
    np.testing.assert_array_equal(d.X_test, e.X_test)
    small = load_dataset("qmlb:two_curves-10d-10degree", n_samples=100)
    assert len(small.y_train) == 80 and len(small.y_test) == 20


def test_float64_keeps_the_csv_values_and_standardises_in_double_precision():
    stem = "classical/datasets/qml_benchmarks/hidden_manifold-6manifold-10d"
    raw = np.loadtxt(f"{stem}_train.csv", delimiter=",")[:, :-1]
    raw_test = np.loadtxt(f"{stem}_test.csv", delimiter=",")[:, :-1]
    exact = load_dataset("qmlb:hidden_manifold-6manifold-10d", standardize=False, dtype="float64")
    assert exact.X_train.dtype == np.float64 and exact.y_train.dtype == np.int64
    np.testing.assert_array_equal(exact.X_train, raw)
    default = load_dataset("qmlb:hidden_manifold-6manifold-10d", standardize=False)
    assert default.X_train.dtype == np.float32 and not np.array_equal(default.X_train, raw)
    std = load_dataset("qmlb:hidden_manifold-6manifold-10d", dtype="float64")
    mean, sd = raw.mean(axis=0), raw.std(axis=0)
    np.testing.assert_allclose(std.X_test, (raw_test - mean) / sd, rtol=1e-13, atol=1e-13)
    moons = load_dataset("moons", n_samples=40, dtype=np.float64)  # a numpy dtype is read as its name
    assert moons.X_train.dtype == moons.X_test.dtype == np.float64
    np.testing.assert_allclose(moons.X_train, load_dataset("moons", n_samples=40).X_train, atol=1e-6)


def test_bad_names_list_what_is_allowed():
    with pytest.raises(ValueError, match=r"unknown data set 'mnist'.*allowed: digits.*qmlb:<stem>"):
        load_dataset("mnist")
    with pytest.raises(
        ValueError, match=r"unknown qml-benchmarks data set 'qmlb:nope'.*qmlb:linearly_separable_10d"
    ):
        load_dataset("qmlb:nope")
    with pytest.raises(ValueError, match="exactly 2 features"):
        load_dataset("moons", n_features=3)
    with pytest.raises(ValueError, match="exactly 64 features"):
        load_dataset("digits", n_features=10)
    with pytest.raises(ValueError, match="square number"):
        load_dataset("bars_and_stripes", n_features=10)
    with pytest.raises(ValueError, match="test_size must be in"):
        load_dataset("moons", test_size=1.5)
    with pytest.raises(TypeError, match="n_samples must be an int"):
        load_dataset("moons", n_samples=10.5)
    with pytest.raises(ValueError, match=r"dtype must be one of 'float32', 'float64' .*got 'float16'"):
        load_dataset("moons", dtype="float16")
    with pytest.raises(ValueError, match=r"dtype must be one of .*got None"):
        load_dataset("moons", dtype=None)
    with pytest.raises(ValueError, match=r"dtype must be one of .*got 'floaty'"):
        load_dataset("moons", dtype="floaty")


def test_nan_features_rejected():
    X = np.ones((10, 2))
    X[3, 1] = np.nan
    with pytest.raises(
        ValueError, match=r"'mine' has 1 NaN/inf feature values in 1 input rows \(first row 3\)"
    ):
        make_split(X, [0, 1] * 5, name="mine")


def test_make_loader_seeded_and_typed():
    X = np.arange(40, dtype=np.float64).reshape(20, 2)
    y = np.arange(20) % 2
    order = [next(iter(make_loader(X, y, batch_size=20, seed=s)))[0][:, 0].tolist() for s in (1, 1, 2)]
    assert order[0] == order[1] != order[2]
    xb, yb = next(iter(make_loader(X, y, batch_size=8, shuffle=False)))
    assert xb.dtype == torch.float32 and yb.dtype == torch.int64 and xb.shape == (8, 2)
    with pytest.raises(ValueError, match="X has 20 samples but y has 3"):
        make_loader(X, y[:3])
