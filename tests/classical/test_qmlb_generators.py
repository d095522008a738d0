"""Tests for classical.qmlb: the study's generators rebuild the shipped qml-benchmarks CSV files bit for bit,
run at the other dimensions the study used, and refuse bad input with one clear error."""

import doctest
import importlib.resources
import io

import numpy as np
import pytest

from qhybrid.classical import qmlb
from qhybrid.classical.data import load_dataset, qmlb_names
from qhybrid.classical.qmlb import (
    generate,
    hidden_manifold,
    linearly_separable,
    study_stems,
    two_curves,
    two_curves_diff,
)
from qhybrid.classical.validation import ArgumentTypeError

SHIPPED_FAMILY_STEMS = [
    "hidden_manifold-6manifold-10d",
    "linearly_separable_10d",
    "two_curves-10d-10degree",
    "two_curves-5degree-0.1offset-10d",
]


def _shipped_bytes(stem: str, part: str) -> bytes:
    root = importlib.resources.files("qhybrid.classical") / "datasets" / "qml_benchmarks"
    return (root / f"{stem}_{part}.csv").read_bytes()


def _csv_bytes(X: np.ndarray, y: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savetxt(buf, np.c_[X, y], delimiter=",")  # what the study's scripts wrote
    return buf.getvalue()


def test_every_shipped_set_of_these_families_is_covered():
    assert sorted(set(qmlb_names()) & set(study_stems())) == SHIPPED_FAMILY_STEMS
    stems = study_stems()
    assert len(stems) == len(set(stems)) == 95
    assert stems[:2] == ["linearly_separable_2d", "linearly_separable_3d"]
    assert stems[-1] == "two_curves-10d-20degree"


@pytest.mark.parametrize("stem", SHIPPED_FAMILY_STEMS)
def test_generate_reproduces_shipped_csv_exactly(stem):
    X_train, y_train, X_test, y_test = generate(stem)
    for part, X, y in (("train", X_train, y_train), ("test", X_test, y_test)):
        text = _shipped_bytes(stem, part)
        ref = np.loadtxt(io.BytesIO(text), delimiter=",")
        assert X.dtype == np.float64 and y.dtype == np.int64
        assert np.array_equal(np.c_[X, y], ref), (
            f"{stem} {part}: largest difference {np.abs(np.c_[X, y] - ref).max()}"
        )
        assert _csv_bytes(X, y) == text


@pytest.mark.parametrize(
    "stem, n_features",
    [
        ("linearly_separable_2d", 2),
        ("linearly_separable_20d", 20),
        ("hidden_manifold-6manifold-3d", 3),
        ("hidden_manifold-10d-20manifold", 10),
        ("two_curves-5degree-0.1offset-20d", 20),
        ("two_curves-10d-2degree", 10),
    ],
)
def test_generate_other_dimensions_shapes_and_labels(stem, n_features):
    X_train, y_train, X_test, y_test = generate(stem)
    assert X_train.shape == (240, n_features) and X_test.shape == (60, n_features)
    assert y_train.shape == (240,) and y_test.shape == (60,)
    y = np.r_[y_train, y_test]
    assert set(y.tolist()) == {-1, 1}
    assert np.isfinite(X_train).all() and np.isfinite(X_test).all()
    X = np.r_[X_train, X_test]
    if stem.startswith("linearly_separable"):
        sums = X.sum(axis=1)
        assert np.all(np.abs(sums) > 0.02 * n_features) and np.all(np.abs(X) <= 1)
        assert np.array_equal(y, np.where(sums > 0, -1, 1))
    else:  # hidden manifold and two curves are balanced by construction
        assert (y == 1).sum() == 150
    if stem.startswith("two_curves"):  # standardised on all 300 samples
        assert np.allclose(X.mean(axis=0), 0, atol=1e-12) and np.allclose(X.std(axis=0), 1)
    again = generate(stem)
    assert all(np.array_equal(a, b) for a, b in zip(again, (X_train, y_train, X_test, y_test), strict=True))


def test_generate_replays_the_scripts_single_stream():
    # the first set of a script is the family drawn from the fresh seed; its split is a permutation of it
    X, y = linearly_separable(300, 2, 0.04, seed=42)
    X_train, y_train, X_test, _ = generate("linearly_separable_2d")
    rows = np.r_[X_train, X_test]
    order = np.lexsort(rows.T)
    assert np.array_equal(rows[order], X[np.lexsort(X.T)])
    # later sets continue the stream: not the family drawn from a fresh seed
    X3, _ = linearly_separable(300, 3, 0.06, seed=42)
    X3_train, _, X3_test, _ = generate("linearly_separable_3d")
    assert not np.array_equal(np.sort(np.r_[X3_train, X3_test], axis=0), np.sort(X3, axis=0))


def test_generators_leave_numpy_global_state_alone():
    np.random.seed(123)
    expected = np.random.rand(3)
    np.random.seed(123)
    generate("two_curves-5degree-0.1offset-2d")
    hidden_manifold(50, 4, 2, seed=0)
    assert np.array_equal(np.random.rand(3), expected)


def test_seed_int_equals_random_state_and_streams_continue():
    for family, args in [
        (linearly_separable, (80, 5, 0.1)),
        (hidden_manifold, (80, 5, 3)),
        (two_curves, (80, 5, 4, 0.2, 0.01)),
        (two_curves_diff, (80, 5, 4)),
    ]:
        a = family(*args, seed=7)
        b = family(*args, seed=np.random.RandomState(7))
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
        rs = np.random.RandomState(7)
        family(*args, seed=rs)
        c = family(*args, seed=rs)
        assert not np.array_equal(a[0], c[0])


def test_two_curves_diff_ties_offset_to_degree():
    a = two_curves_diff(60, 4, 8, noise=0.0, seed=2)
    b = two_curves(60, 4, 8, 1 / 16, 0.0, seed=2)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert np.array_equal(a[1], np.r_[-np.ones(30), np.ones(30)])


def test_hidden_manifold_points_lie_in_open_cube_and_are_balanced():
    X, y = hidden_manifold(200, 7, 3, seed=5)
    assert X.shape == (200, 7) and np.all(np.abs(X) < 1)
    assert (y == -1).sum() == (y == 1).sum() == 100


@pytest.mark.parametrize("stem", SHIPPED_FAMILY_STEMS)
def test_load_dataset_qmlb_gen_equals_shipped(stem):
    shipped = load_dataset(f"qmlb:{stem}", standardize=False)
    regenerated = load_dataset(f"qmlb-gen:{stem}", standardize=False)
    for field in ("X_train", "X_test", "y_train", "y_test"):
        assert np.array_equal(getattr(shipped, field), getattr(regenerated, field))
    assert regenerated.info == {"source": "qml-benchmarks", "stem": stem}


def test_load_dataset_qmlb_gen_other_dimension_and_bad_stem():
    split = load_dataset("qmlb-gen:hidden_manifold-6manifold-15d", n_samples=100)
    assert split.X_train.shape[1] == 15 and split.n_classes == 2
    assert len(split.y_train) + len(split.y_test) == 100
    assert set(np.unique(split.y_train).tolist()) == {0, 1}
    with pytest.raises(ValueError, match="unknown qml-benchmarks data set 'moons'"):
        load_dataset("qmlb-gen:moons")


def test_families_are_exported_from_classical():
    import qhybrid.classical as classical

    for name in ("linearly_separable", "hidden_manifold", "two_curves", "two_curves_diff"):
        assert getattr(classical, name) is getattr(qmlb, name)


def test_module_examples_run():
    result = doctest.testmod(qmlb, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 7 and result.failed == 0


@pytest.mark.parametrize(
    "stem, message",
    [
        ("hyperplanes-2d-from2d-5n", "unknown qml-benchmarks data set 'hyperplanes-2d-from2d-5n'"),
        ("mnist_3-5_10d", "unknown qml-benchmarks data set 'mnist_3-5_10d'"),
        ("linearly_separable_010d", "unknown qml-benchmarks data set 'linearly_separable_010d'"),
        (
            "linearly_separable_25d",
            r"linearly_separable_<n>d only for n in 2\.\.20, got 'linearly_separable_25d'",
        ),
        ("linearly_separable_1d", r"only for n in 2\.\.20, got 'linearly_separable_1d'"),
        ("hidden_manifold-10d-21manifold", r"hidden_manifold-10d-<n>manifold only for n in 2\.\.20"),
        ("two_curves-10d-1degree", r"two_curves-10d-<n>degree only for n in 2\.\.20"),
    ],
)
def test_generate_refuses_unknown_stems(stem, message):
    with pytest.raises(ValueError, match=message):
        generate(stem)


def test_unknown_stem_message_lists_what_is_allowed():
    with pytest.raises(ValueError, match=r"two_curves-5degree-0\.1offset-<n>d \(n in 2\.\.20\)"):
        generate("two_curves")
    with pytest.raises(ArgumentTypeError, match="stem must be a str, got 10"):
        generate(10)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: linearly_separable(100, 0, 0.1), ValueError, "n_features must be >= 1, got 0"),
        (
            lambda: linearly_separable(100, 3, float("nan")),
            ValueError,
            "margin must be a finite number, got nan",
        ),
        (lambda: linearly_separable(100, 3, -0.1), ValueError, "margin must be >= 0, got -0.1"),
        (
            lambda: linearly_separable(100, 2, 5.0),
            ValueError,
            "fewer than n_samples=100; use a smaller margin",
        ),
        (
            lambda: linearly_separable(100, 3.0, 0.1),
            TypeError,
            "n_features must be an integer >= 1, got 3.0",
        ),
        (lambda: hidden_manifold(0, 3, 2), ValueError, "n_samples must be >= 1, got 0"),
        (lambda: hidden_manifold(10, 3, True), TypeError, "manifold_dimension must be an integer >= 1"),
        (lambda: two_curves(101, 3, 5, 0.1, 0.01), ValueError, "n_samples must be even"),
        (lambda: two_curves(100, 3, 0, 0.1, 0.01), ValueError, "degree must be >= 1, got 0"),
        (
            lambda: two_curves(100, 3, 5, float("inf"), 0.01),
            ValueError,
            "offset must be a finite number, got inf",
        ),
        (lambda: two_curves(100, 3, 5, 0.1, -0.01), ValueError, "noise must be >= 0, got -0.01"),
        (lambda: two_curves_diff(100, 3, 0), ValueError, "degree must be >= 1, got 0"),
        (
            lambda: linearly_separable(10, 2, 0.0, seed=-1),
            ValueError,
            "seed must be in 0..4294967295, got -1",
        ),
        (
            lambda: hidden_manifold(10, 2, 2, seed="3"),
            TypeError,
            "seed must be an integer in 0..4294967295 or a numpy",
        ),
        (
            lambda: two_curves(10, 2, 2, 0.1, 0.0, seed=np.random.default_rng(0)),
            TypeError,
            r"cannot reproduce\), got a numpy Generator",
        ),
    ],
)
def test_family_arguments_are_checked(call, error, message):
    with pytest.raises(error, match=message):
        call()
