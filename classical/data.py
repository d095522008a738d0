"""Data sets that need no download: scikit-learn's bundled sets, seeded synthetic generators (including the
quantum-ML benchmarking families of Bowles, Ahmed & Schuld, arXiv:2403.07059) and the qml-benchmarks CSV files
shipped inside this package (the text corpus for language models is in :mod:`classical.text`).

Every tabular loader returns a :class:`DataSplit` with float32 features (``dtype="float64"`` keeps double
precision, e.g. for scikit-learn models compared with a study that fed them float64) and int64 labels
``0 .. K-1``; standardisation, when asked for, is fitted on the training part only.

>>> split = load_dataset("moons", n_samples=200, random_state=0)
>>> split.X_train.shape, split.n_classes
((150, 2), 2)
"""

from __future__ import annotations

import importlib.resources
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from qhybrid.classical.validation import MAX_SAMPLES, check_bool, check_float, check_int, check_seed

__all__ = [
    "DataSplit",
    "dataset_names",
    "load_dataset",
    "make_loader",
    "make_split",
    "qmlb_names",
]

#: the feature dtypes a loader can return
DTYPES = ("float32", "float64")

_QMLB_PREFIX = "qmlb:"
_QMLB_GEN_PREFIX = "qmlb-gen:"


@dataclass
class DataSplit:
    """A train/test split of a classification data set.

    Features are float32 (or, loaded with ``dtype="float64"``, float64) arrays of shape
    ``(n, n_features)``; labels are int64 arrays with values ``0 .. n_classes - 1``.
    """

    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    n_features: int
    n_classes: int
    name: str
    info: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------------- validation


def _check_split_args(test_size, random_state, standardize) -> float:
    """The split options shared by :func:`make_split` and :func:`load_dataset`; returns ``test_size``."""
    check_seed("random_state", random_state, allow_none=False)
    check_bool("standardize", standardize)
    return check_float("test_size", test_size, 0, 1, low_open=True, high_open=True)


def _check_dtype(dtype) -> str:
    """``dtype`` as one of :data:`DTYPES`: a name or anything numpy reads as one (``np.float64``)."""
    try:
        name = None if dtype is None else np.dtype(dtype).name
    except TypeError:
        name = None
    if name not in DTYPES:
        raise ValueError(
            f"dtype must be one of {', '.join(map(repr, DTYPES))} (the features' dtype), got {dtype!r}"
        )
    return name


def _fixed_features(name: str, actual: int, n_features: int | None) -> None:
    if n_features is not None and n_features != actual:
        raise ValueError(
            f"data set {name!r} has exactly {actual} features; n_features={n_features} is not allowed "
            f"(leave it as None)"
        )


# --------------------------------------------------------------------------------------------- generators
# Each generator takes (n_samples, n_features, rng) and returns (X float64, y int labels). They follow the
# definitions of the qml-benchmarks study (arXiv:2403.07059, Sec. 4 and App. B), re-implemented with a
# local numpy Generator so that a seed fully determines the data and no global random state is touched.


def _gen_moons(n_samples: int, n_features: int | None, rng: np.random.Generator):
    from sklearn.datasets import make_moons

    _fixed_features("moons", 2, n_features)
    return make_moons(n_samples=n_samples, noise=0.2, random_state=int(rng.integers(2**31)))


def _gen_circles(n_samples: int, n_features: int | None, rng: np.random.Generator):
    from sklearn.datasets import make_circles

    _fixed_features("circles", 2, n_features)
    return make_circles(n_samples=n_samples, noise=0.1, factor=0.5, random_state=int(rng.integers(2**31)))


def _gen_linearly_separable(n_samples: int, n_features: int | None, rng: np.random.Generator):
    """Uniform points in the hypercube [-1, 1]^d labelled by the hyperplane w = (1, ..., 1), keeping only
    points further than a margin 0.02 d from it (the margin the study used)."""
    d = 10 if n_features is None else n_features
    margin = 0.02 * d
    kept: list[np.ndarray] = []
    have = 0
    while have < n_samples:
        X = rng.uniform(-1.0, 1.0, size=(2 * n_samples, d))
        X = X[np.abs(X.sum(axis=1)) > margin]
        kept.append(X)
        have += len(X)
    X = np.concatenate(kept)[:n_samples]
    y = (X.sum(axis=1) > 0).astype(np.int64)
    return X, y


def _gen_hidden_manifold(n_samples: int, n_features: int | None, rng: np.random.Generator):
    """Gaussian points on an m-dimensional manifold (m = 6, or d when d < 6) embedded in d dimensions by
    tanh(C F / sqrt(m) - b); labels from a random one-hidden-layer tanh network on the manifold coordinates,
    thresholded at the median so the classes are balanced (Goldt et al. 2020)."""
    d = 10 if n_features is None else n_features
    m = min(6, d)
    F = rng.normal(size=(m, d))
    C = rng.normal(size=(n_samples, m))
    b = rng.uniform(-1.0, 1.0, size=d)
    X = np.tanh(C @ F / math.sqrt(m) - b)
    W = rng.normal(size=(m, m))
    v = rng.normal(size=m)
    score = np.tanh(C @ W.T) @ v / math.sqrt(m)
    y = (score > np.median(score)).astype(np.int64)
    return X, y


def _gen_two_curves(n_samples: int, n_features: int | None, rng: np.random.Generator):
    """Two 1-d curves in d dimensions: t ~ U[0, 1] mapped by a degree-5 Fourier series per coordinate
    (random normalised coefficients), Gaussian noise 0.01, the second curve shifted by offset 0.1."""
    d = 10 if n_features is None else n_features
    degree, offset, noise = 5, 0.1, 0.01
    coeffs = rng.uniform(size=(d, degree + 1, 2))
    coeffs /= np.linalg.norm(coeffs)
    freqs = np.arange(1, degree + 1)

    def curve(n: int) -> np.ndarray:
        t = rng.uniform(size=(n, 1))
        angle = np.pi * freqs[None, :] * t  # (n, degree)
        # constant term coeffs[:, 0, :] summed, then cos/sin terms for each frequency
        out = coeffs[:, 0, 0] + coeffs[:, 0, 1]
        out = out + np.cos(angle) @ coeffs[:, 1:, 0].T + np.sin(angle) @ coeffs[:, 1:, 1].T
        return out + rng.normal(scale=noise, size=out.shape)

    n_a = n_samples // 2
    X = np.concatenate([curve(n_a), curve(n_samples - n_a) + offset])
    y = np.r_[np.zeros(n_a, np.int64), np.ones(n_samples - n_a, np.int64)]
    return (X - X.mean(axis=0)) / X.std(axis=0), y


def _gen_hyperplanes_parity(n_samples: int, n_features: int | None, rng: np.random.Generator):
    """Gaussian points in a k = 3 dimensional space labelled by the parity of the sides of 3 random
    hyperplanes they lie on, linearly embedded into d dimensions; classes balanced by rejection."""
    d = 10 if n_features is None else n_features
    k, n_planes = min(3, d), 3
    weights = rng.uniform(size=(n_planes, k))
    biases = rng.uniform(size=n_planes)
    n_a = n_samples // 2
    n_b = n_samples - n_a
    parts: dict[int, list[np.ndarray]] = {0: [], 1: []}
    counts = {0: 0, 1: 0}
    while counts[0] < n_a or counts[1] < n_b:
        Z = rng.normal(size=(4 * n_samples, k))
        label = ((Z @ weights.T + biases > 0).sum(axis=1) % 2).astype(np.int64)
        for c in (0, 1):
            parts[c].append(Z[label == c])
            counts[c] += int((label == c).sum())
    Z = np.concatenate([np.concatenate(parts[0])[:n_a], np.concatenate(parts[1])[:n_b]])
    y = np.r_[np.zeros(n_a, np.int64), np.ones(n_b, np.int64)]
    X = Z @ rng.uniform(size=(k, d))
    return (X - X.mean(axis=0)) / X.std(axis=0), y


def _gen_bars_and_stripes(n_samples: int, n_features: int | None, rng: np.random.Generator):
    """Square images (4x4 by default, n_features = side**2) of -1 pixels in which random rows (stripes,
    label 1) or random columns (bars, label 0) are set to +1, plus Gaussian pixel noise 0.5."""
    d = 16 if n_features is None else n_features
    side = math.isqrt(d)
    if side * side != d:
        raise ValueError(f"bars_and_stripes needs a square number of features (4, 9, 16, ...), got {d}")
    y = (rng.uniform(size=n_samples) > 0.5).astype(np.int64)
    lines = rng.uniform(size=(n_samples, side)) > 0.5
    img = -np.ones((n_samples, side, side))
    rows = np.broadcast_to(lines[:, :, None], img.shape)
    cols = np.broadcast_to(lines[:, None, :], img.shape)
    img = np.where(np.where(y[:, None, None] == 1, rows, cols), 1.0, img)
    img += rng.normal(scale=0.5, size=img.shape)
    return img.reshape(n_samples, d), y


_GENERATORS: dict[str, Callable] = {
    "moons": _gen_moons,
    "circles": _gen_circles,
    "linearly_separable": _gen_linearly_separable,
    "hidden_manifold": _gen_hidden_manifold,
    "two_curves": _gen_two_curves,
    "hyperplanes_parity": _gen_hyperplanes_parity,
    "bars_and_stripes": _gen_bars_and_stripes,
}

_BUNDLED = ("digits", "breast_cancer", "iris", "wine")


def _load_bundled(name: str):
    from sklearn import datasets

    loader = {
        "digits": datasets.load_digits,
        "breast_cancer": datasets.load_breast_cancer,
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
    }[name]
    bunch = loader()
    return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target)


# --------------------------------------------------------------------------------------------- qml-benchmarks


def _qmlb_root():
    # resolved from the regular package ``classical`` (the data folder itself is not a package), so it
    # works from a source tree, an editable install and a wheel alike
    return importlib.resources.files("qhybrid.classical") / "datasets" / "qml_benchmarks"


def qmlb_names() -> list[str]:
    """Stems of the qml-benchmarks CSV pairs shipped with the package (use them as ``qmlb:<stem>``)."""
    root = _qmlb_root()
    stems = {p.name[: -len("_train.csv")] for p in root.iterdir() if p.name.endswith("_train.csv")}
    return sorted(stems)


def _read_qmlb_csv(stem: str, part: str) -> tuple[np.ndarray, np.ndarray]:
    resource = _qmlb_root() / f"{stem}_{part}.csv"
    with resource.open("r") as fh:
        data = np.loadtxt(fh, delimiter=",", ndmin=2)
    return data[:, :-1], data[:, -1]


def _qmlb_arrays(name: str) -> tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(stem, X_train, y_train, X_test, y_test)`` of ``qmlb:<stem>`` (a shipped CSV pair) or of
    ``qmlb-gen:<stem>`` (any data set of the study, regenerated by :func:`classical.qmlb.generate`)."""
    if name.startswith(_QMLB_GEN_PREFIX):
        from qhybrid.classical.qmlb import generate

        stem = name[len(_QMLB_GEN_PREFIX) :]
        return (stem, *generate(stem))
    stem = name[len(_QMLB_PREFIX) :]
    stems = qmlb_names()
    if stem not in stems:
        raise ValueError(
            f"unknown qml-benchmarks data set {name!r}; allowed: {', '.join('qmlb:' + s for s in stems)}"
        )
    X_train, y_train = _read_qmlb_csv(stem, "train")
    X_test, y_test = _read_qmlb_csv(stem, "test")
    return stem, X_train, y_train, X_test, y_test


# --------------------------------------------------------------------------------------------- public API


def dataset_names() -> list[str]:
    """All names :func:`load_dataset` accepts, including one ``qmlb:<stem>`` per shipped CSV pair."""
    return [*_BUNDLED, *_GENERATORS, *(_QMLB_PREFIX + s for s in qmlb_names())]


def _encode_labels(y_train: np.ndarray, y_test: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    classes = np.unique(np.concatenate([y_train, y_test]))
    return (
        np.searchsorted(classes, y_train).astype(np.int64),
        np.searchsorted(classes, y_test).astype(np.int64),
        len(classes),
    )


def _check_finite(name: str, part: str, X: np.ndarray) -> None:
    bad = ~np.isfinite(X)
    if bad.any():
        rows = np.unique(np.nonzero(bad)[0])
        raise ValueError(
            f"data set {name!r} has {int(bad.sum())} NaN/inf feature values in {len(rows)} {part} rows "
            f"(first row {int(rows[0])}); clean or impute them before loading"
        )


def _finish(
    name: str,
    X_train: np.ndarray,
    X_test: np.ndarray,
    y_train: np.ndarray,
    y_test: np.ndarray,
    standardize: bool,
    info: dict,
    dtype: str,
) -> DataSplit:
    _check_finite(name, "train", X_train)
    _check_finite(name, "test", X_test)
    y_train, y_test, n_classes = _encode_labels(np.asarray(y_train), np.asarray(y_test))
    X_train = np.asarray(X_train, dtype=np.float64)
    X_test = np.asarray(X_test, dtype=np.float64)
    if standardize:
        mean = X_train.mean(axis=0)
        std = X_train.std(axis=0)
        # constant columns (e.g. always-zero digit pixels) stay zero instead of dividing by zero
        std = np.where(std > 1e-12, std, 1.0)
        X_train = (X_train - mean) / std
        X_test = (X_test - mean) / std
    return DataSplit(
        X_train=X_train.astype(dtype, copy=False),
        X_test=X_test.astype(dtype, copy=False),
        y_train=y_train,
        y_test=y_test,
        n_features=X_train.shape[1],
        n_classes=n_classes,
        name=name,
        info=info,
    )


def make_split(
    X,
    y,
    *,
    test_size: float = 0.25,
    random_state: int = 0,
    standardize: bool = True,
    name: str = "arrays",
    dtype: str = "float32",
) -> DataSplit:
    """Split user arrays into a stratified, seeded :class:`DataSplit` (NaN/inf features are rejected).

    >>> s = make_split(np.arange(20.0).reshape(10, 2), [0, 1] * 5, test_size=0.2)
    >>> s.X_train.shape, s.X_test.shape
    ((8, 2), (2, 2))
    """
    from sklearn.model_selection import train_test_split

    test_size = _check_split_args(test_size, random_state, standardize)
    dtype = _check_dtype(dtype)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-d (n_samples, n_features), got shape {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},) to match X, got {y.shape}")
    if X.shape[0] < 2:
        raise ValueError(f"need at least 2 samples to split, got {X.shape[0]}")
    _check_finite(name, "input", X)
    _, counts = np.unique(y, return_counts=True)
    n_test = math.ceil(test_size * len(y))
    stratify = y if counts.min() >= 2 and n_test >= len(counts) and len(y) - n_test >= len(counts) else None
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=random_state, stratify=stratify
    )
    return _finish(name, X_train, X_test, y_train, y_test, standardize, {"source": "arrays"}, dtype)


def load_dataset(
    name: str,
    *,
    test_size: float = 0.25,
    random_state: int = 0,
    standardize: bool = True,
    n_samples: int | None = None,
    n_features: int | None = None,
    dtype: str = "float32",
) -> DataSplit:
    """Load a classification data set by name as a seeded train/test :class:`DataSplit`.

    Names (see :func:`dataset_names`):

    * scikit-learn's bundled ``digits``, ``breast_cancer``, ``iris``, ``wine``;
    * generators ``moons``, ``circles`` (2 features) and the qml-benchmarks families
      ``linearly_separable``, ``hidden_manifold``, ``two_curves``, ``hyperplanes_parity`` (10 features by
      default) and ``bars_and_stripes`` (16 = 4x4 by default); ``n_samples`` defaults to 300;
    * ``qmlb:<stem>``: the qml-benchmarks CSV files shipped in ``classical/datasets/qml_benchmarks``; their
      own train/test split is used as is (``test_size`` and ``random_state`` do not apply) and labels
      -1/+1 become 0/1;
    * ``qmlb-gen:<stem>``: the same for any data set the study's scripts made, regenerated bit for bit by
      ``classical.qmlb`` (stems in ``qmlb.study_stems()``, e.g. ``qmlb-gen:hidden_manifold-6manifold-15d``).

    ``random_state`` seeds both the generator and the split. ``n_samples`` subsamples bundled and qmlb sets
    (stratified, seeded; for qmlb the train and test parts keep their proportion). Standardisation (zero
    mean, unit variance) is fitted on the training part only, in float64; ``dtype`` (one of :data:`DTYPES`)
    is the features' dtype after it: ``"float64"`` keeps the CSV values exactly.

    >>> load_dataset("qmlb:linearly_separable_10d").X_train.shape
    (240, 10)
    """
    if not isinstance(name, str):
        raise TypeError(f"data set name must be a str, got {type(name).__name__}")
    test_size = _check_split_args(test_size, random_state, standardize)
    dtype = _check_dtype(dtype)
    random_state = int(random_state)
    n_samples = check_int("n_samples", n_samples, 4, MAX_SAMPLES, allow_none=True)
    n_features = check_int("n_features", n_features, 1, allow_none=True)

    if name.startswith((_QMLB_PREFIX, _QMLB_GEN_PREFIX)):
        stem, X_train, y_train, X_test, y_test = _qmlb_arrays(name)
        _fixed_features(name, X_train.shape[1], n_features)
        if n_samples is not None and n_samples < len(y_train) + len(y_test):
            frac = n_samples / (len(y_train) + len(y_test))
            rng = np.random.default_rng(random_state)
            keep_tr = _stratified_subsample(y_train, max(2, round(frac * len(y_train))), rng)
            keep_te = _stratified_subsample(y_test, max(2, round(frac * len(y_test))), rng)
            X_train, y_train, X_test, y_test = (
                X_train[keep_tr],
                y_train[keep_tr],
                X_test[keep_te],
                y_test[keep_te],
            )
        return _finish(
            name,
            X_train,
            X_test,
            y_train,
            y_test,
            standardize,
            {"source": "qml-benchmarks", "stem": stem},
            dtype,
        )

    if name in _BUNDLED:
        X, y = _load_bundled(name)
        _fixed_features(name, X.shape[1], n_features)
        if n_samples is not None and n_samples < len(y):
            keep = _stratified_subsample(y, n_samples, np.random.default_rng(random_state))
            X, y = X[keep], y[keep]
        split = make_split(
            X,
            y,
            test_size=test_size,
            random_state=random_state,
            standardize=standardize,
            name=name,
            dtype=dtype,
        )
        split.info = {"source": "scikit-learn"}
        return split

    if name in _GENERATORS:
        rng = np.random.default_rng(random_state)
        X, y = _GENERATORS[name](300 if n_samples is None else n_samples, n_features, rng)
        split = make_split(
            X,
            y,
            test_size=test_size,
            random_state=random_state,
            standardize=standardize,
            name=name,
            dtype=dtype,
        )
        split.info = {"source": "generator"}
        return split

    raise ValueError(
        f"unknown data set {name!r}; allowed: {', '.join([*_BUNDLED, *_GENERATORS])}, "
        f"or qmlb:<stem> with stem one of {', '.join(qmlb_names())}"
    )


def _stratified_subsample(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of about n samples keeping class proportions (at least one per class), sorted."""
    classes, counts = np.unique(y, return_counts=True)
    picks = []
    for c, count in zip(classes, counts, strict=True):
        take = max(1, round(n * count / len(y)))
        picks.append(rng.choice(np.flatnonzero(y == c), size=min(take, count), replace=False))
    return np.sort(np.concatenate(picks))


def make_loader(X, y=None, batch_size: int = 64, shuffle: bool = True, seed: int = 0):
    """A torch ``DataLoader`` over arrays: features as float32, labels as int64 (floating labels, e.g.
    regression targets, are kept float32). ``seed`` fixes the shuffling order.

    >>> xb, yb = next(iter(make_loader(np.zeros((10, 3)), np.arange(10), batch_size=4, shuffle=False)))
    >>> tuple(xb.shape), yb.dtype
    ((4, 3), torch.int64)
    """
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    batch_size = check_int("batch_size", batch_size, 1)
    check_bool("shuffle", shuffle)
    seed = check_seed("seed", seed, allow_none=False)
    Xt = torch.as_tensor(np.asarray(X, dtype=np.float32))
    if Xt.ndim < 1 or Xt.shape[0] == 0:
        raise ValueError(f"X must hold at least one sample, got shape {tuple(Xt.shape)}")
    tensors = [Xt]
    if y is not None:
        y = np.asarray(y)
        if y.shape[0] != Xt.shape[0]:
            raise ValueError(f"X has {Xt.shape[0]} samples but y has {y.shape[0]}")
        tensors.append(torch.as_tensor(y.astype(np.float32 if y.dtype.kind == "f" else np.int64)))
    generator = torch.Generator().manual_seed(int(seed)) if shuffle else None
    return DataLoader(TensorDataset(*tensors), batch_size=batch_size, shuffle=shuffle, generator=generator)
