"""The qml-benchmarks study's seeded data families, regenerated bit for bit.

Bowles, Ahmed & Schuld (arXiv:2403.07059) published their data as CSV files written by scripts that seed
numpy's legacy global random state once and then loop over the dimension (or manifold dimension, or degree),
drawing every data set and its 80/20 train/test split from that one stream. This module re-implements the
four families on an explicit :class:`numpy.random.RandomState`, with the same random calls in the same order,
and replays the scripts: :func:`generate` rebuilds any data set the study made, equal to the published files
to the last bit (the d = 10 files shipped in ``classical/datasets/qml_benchmarks`` are checked in the tests).
The random draws and the arithmetic are the study's; ``cos``, ``sin``, ``tanh`` and the small matrix products
come from the platform's numpy and BLAS, so a platform whose maths library rounds differently could move a
last bit, which those tests would show.

* :func:`linearly_separable`, :func:`hidden_manifold`, :func:`two_curves`, :func:`two_curves_diff`: one
  family each, ``(X, y)`` with float64 features and int64 labels -1 / +1, seeded by an int or continuing a
  given ``RandomState``. They never touch numpy's global random state.
* :func:`study_stems`: the names of every data set the study's scripts wrote (95 of them);
  :func:`generate` regenerates one of them as ``(X_train, y_train, X_test, y_test)``.

>>> X_train, y_train, X_test, y_test = generate("linearly_separable_3d")
>>> X_train.shape, X_test.shape, sorted(set(y_train.tolist()))
((240, 3), (60, 3), [-1, 1])
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from qhybrid.classical.validation import (
    MAX_SEED,
    ArgumentTypeError,
    check_float,
    check_int,
    check_seed,
    describe,
)

__all__ = [
    "check_stem",
    "generate",
    "hidden_manifold",
    "linearly_separable",
    "study_stems",
    "two_curves",
    "two_curves_diff",
]

Seed = int | np.random.RandomState

# The study's scripts (paper/benchmarks/generate_*.py): 300 samples per set, test_size=0.2.
_N_SAMPLES = 300
_TEST_FRACTION = 0.2


def _random_state(seed: Seed) -> np.random.RandomState:
    """A fresh ``RandomState(seed)`` for an int, or the given ``RandomState`` itself (its stream goes on)."""
    if isinstance(seed, np.random.RandomState):
        return seed
    if isinstance(seed, np.random.Generator):
        raise ArgumentTypeError(
            f"seed must be an integer in 0..{MAX_SEED} or a numpy RandomState (the study used the legacy "
            "RandomState stream, which a numpy Generator cannot reproduce), got a numpy Generator"
        )
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, (bool, np.bool_)):
        raise ArgumentTypeError(
            f"seed must be an integer in 0..{MAX_SEED} or a numpy RandomState, got {describe(seed)}"
        )
    return np.random.RandomState(check_seed("seed", seed, allow_none=False))


# --------------------------------------------------------------------------------------------- families


def linearly_separable(
    n_samples: int, n_features: int, margin: float, seed: Seed = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Points uniform in the hypercube ``[-1, 1]^d`` kept only outside a margin around the hyperplane
    ``w . x = 0`` with ``w = (1, ..., 1)``; label ``y = -1`` where ``w . x > 0``, else ``+1``.

    Twice ``n_samples`` points are drawn, in one call, and the first ``n_samples`` with ``|w . x| > margin``
    are kept (the study's margin is ``0.02 * n_features``).

    >>> X, y = linearly_separable(100, 4, 0.08, seed=1)
    >>> X.shape, bool(np.all(np.abs(X.sum(axis=1)) > 0.08))
    ((100, 4), True)
    """
    n_samples = check_int("n_samples", n_samples, 1)
    n_features = check_int("n_features", n_features, 1)
    margin = check_float("margin", margin, 0)
    rs = _random_state(seed)
    w = np.ones(n_features)
    X = 2 * rs.rand(2 * n_samples, n_features) - 1
    # one np.dot per row, as the study did, so that no rounding difference moves a point across the margin
    dots = np.array([np.dot(x, w) for x in X])
    outside = np.abs(dots) > margin
    X, dots = X[outside], dots[outside]
    if len(X) < n_samples:
        raise ValueError(
            f"only {len(X)} of the {2 * n_samples} points drawn lie further than margin={margin} from the "
            f"hyperplane, fewer than n_samples={n_samples}; use a smaller margin"
        )
    y = np.where(dots[:n_samples] > 0, -1, 1).astype(np.int64)
    return X[:n_samples], y


def hidden_manifold(
    n_samples: int, n_features: int, manifold_dimension: int, seed: Seed = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The hidden manifold model (Goldt et al. 2020): Gaussian coordinates ``C`` on an m-dimensional manifold
    embedded as ``X = tanh(C F / sqrt(m) - b)``, labelled by the sign of a random one-hidden-layer network
    ``v . tanh(W c) / sqrt(m)`` minus its median (so the classes are balanced).

    Draws, in order: ``F`` (m x d, normal), ``C`` (n x m, normal), ``b`` (d, uniform in [-1, 1]), ``W``
    (m x m, normal), ``v`` (m, normal).

    >>> X, y = hidden_manifold(100, 5, 3, seed=1)
    >>> X.shape, int((y == 1).sum())
    ((100, 5), 50)
    """
    n_samples = check_int("n_samples", n_samples, 1)
    n_features = check_int("n_features", n_features, 1)
    m = check_int("manifold_dimension", manifold_dimension, 1)
    rs = _random_state(seed)
    F = rs.normal(size=(m, n_features))
    C = rs.normal(size=(n_samples, m), loc=0, scale=1)
    biases = 2 * rs.uniform(size=(n_features,)) - 1
    X = np.tanh(C @ F / np.sqrt(m) - biases)
    W = rs.normal(size=(m, m))
    v = rs.normal(size=(m,))
    # one sample at a time, as the study did, so every score is the same float64 and the median split
    # cannot move by a rounding difference
    score = np.array([np.dot(v, np.tanh(W @ c) / np.sqrt(m)) for c in C])
    y = np.where(score - np.median(score) < 0, -1, 1).astype(np.int64)
    return X, y


def _fourier_curves(rs: np.random.RandomState, coeffs: np.ndarray, n: int, noise: float) -> np.ndarray:
    """``n`` points of the curve ``t -> (f_1(t), ..., f_d(t))``, each ``f_i`` a Fourier series on ``t`` in
    [0, 1], plus Gaussian noise. Per point the stream gives ``t`` and then one noise value per feature, so
    the draws stay in a loop; the series itself is evaluated for all points at once, with the additions in
    the study's order (constant term, then frequency 1, 2, ...), which keeps every value bit for bit."""
    n_features, n_terms, _ = coeffs.shape
    t = np.empty(n)
    eps = np.empty((n, n_features))
    for s in range(n):
        t[s] = rs.rand()
        eps[s] = rs.normal(loc=0, scale=noise, size=n_features)
    scaling = 0.5 * 2 * np.pi
    out = np.broadcast_to(coeffs[:, 0, 0] + coeffs[:, 0, 1], (n, n_features))
    for k in range(1, n_terms):
        angle = (k * scaling) * t
        out = out + (coeffs[:, k, 0] * np.cos(angle)[:, None] + coeffs[:, k, 1] * np.sin(angle)[:, None])
    return out + eps


def two_curves(
    n_samples: int, n_features: int, degree: int, offset: float, noise: float, seed: Seed = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Two noisy 1-d curves in ``n_features`` dimensions: ``x_i(t) = a_i0 + b_i0 + sum_k (a_ik cos(k pi t) +
    b_ik sin(k pi t))`` for ``k = 1..degree`` and ``t ~ U[0, 1]``, the coefficients uniform and scaled to
    unit total norm; label -1 for the first ``n_samples / 2`` points, +1 for the second curve, which is the
    same curve shifted by ``offset`` in every coordinate. Features are then standardised (scikit-learn's
    ``StandardScaler`` on all samples, as in the study).

    >>> X, y = two_curves(100, 3, 5, 0.1, 0.01, seed=1)
    >>> X.shape, int((y == -1).sum()), bool(np.allclose(X.mean(axis=0), 0))
    ((100, 3), 50, True)
    """
    from sklearn.preprocessing import StandardScaler

    n_samples = check_int("n_samples", n_samples, 2)
    if n_samples % 2:
        raise ValueError(f"n_samples must be even (two curves of n_samples / 2 points), got {n_samples}")
    n_features = check_int("n_features", n_features, 1)
    degree = check_int("degree", degree, 1)
    offset = check_float("offset", offset)
    noise = check_float("noise", noise, 0)
    rs = _random_state(seed)
    coeffs = rs.uniform(size=(n_features, degree + 1, 2))
    coeffs = coeffs / np.linalg.norm(coeffs)
    half = n_samples // 2
    first = _fourier_curves(rs, coeffs, half, noise)
    second = np.add(_fourier_curves(rs, coeffs, half, noise), offset)
    X = StandardScaler().fit_transform(np.r_[first, second])
    y = np.array([-1] * half + [1] * half, dtype=np.int64)
    return X, y


def two_curves_diff(
    n_samples: int, n_features: int, degree: int, noise: float = 0.01, seed: Seed = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The study's "two curves diff" benchmark: :func:`two_curves` with the offset tied to the degree,
    ``offset = 1 / (2 degree)``, so that the curves get closer as they oscillate faster.

    >>> X, y = two_curves_diff(100, 10, 4, seed=1)
    >>> X.shape
    (100, 10)
    """
    degree = check_int("degree", degree, 1)
    return two_curves(n_samples, n_features, degree, 1 / (2 * degree), noise, seed)


# --------------------------------------------------------------------------------------------- the scripts


def _split(
    X: np.ndarray, y: np.ndarray, rs: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's ``train_test_split(X, y, test_size=0.2)`` on the study's stream: one permutation, the
    first ``ceil(0.2 n)`` indices are the test part, the rest (in permutation order) the training part."""
    n_test = math.ceil(_TEST_FRACTION * len(X))
    order = rs.permutation(len(X))
    train, test = order[n_test:], order[:n_test]
    return X[train], y[train], X[test], y[test]


@dataclass(frozen=True)
class _Loop:
    """One loop of a study script: data set ``template.format(value)`` for each value, in order."""

    template: str
    values: range
    make: Callable[[int], Callable[..., tuple[np.ndarray, np.ndarray]]]

    def stems(self) -> list[str]:
        return [self.template.format(v) for v in self.values]


_STUDY_RANGE = range(2, 21)

# seed and loops of each script, in the order the script runs them; both loops of a script share one stream
_SCRIPTS: dict[str, tuple[int, tuple[_Loop, ...]]] = {
    "generate_linearly_separable.py": (
        42,
        (
            _Loop(
                "linearly_separable_{}d",
                _STUDY_RANGE,
                lambda d: partial(linearly_separable, _N_SAMPLES, d, 0.02 * d),
            ),
        ),
    ),
    "generate_hidden_manifold.py": (
        3,
        (
            _Loop(
                "hidden_manifold-6manifold-{}d",
                _STUDY_RANGE,
                lambda d: partial(hidden_manifold, _N_SAMPLES, d, 6),
            ),
            _Loop(
                "hidden_manifold-10d-{}manifold",
                _STUDY_RANGE,
                lambda m: partial(hidden_manifold, _N_SAMPLES, 10, m),
            ),
        ),
    ),
    "generate_two_curves.py": (
        3,
        (
            _Loop(
                "two_curves-5degree-0.1offset-{}d",
                _STUDY_RANGE,
                lambda d: partial(two_curves, _N_SAMPLES, d, 5, 0.1, 0.01),
            ),
            _Loop(
                "two_curves-10d-{}degree",
                _STUDY_RANGE,
                lambda k: partial(two_curves_diff, _N_SAMPLES, 10, k, 0.01),
            ),
        ),
    ),
}


def study_stems() -> list[str]:
    """The names of every data set the study's scripts for these four families wrote (as ``<stem>_train.csv``
    and ``<stem>_test.csv``), in the order the scripts made them.

    >>> len(study_stems()), study_stems()[0]
    (95, 'linearly_separable_2d')
    """
    return [stem for _, loops in _SCRIPTS.values() for loop in loops for stem in loop.stems()]


def _locate(stem: str) -> tuple[str, int, int]:
    """(script, loop index, value) of a stem, or a ValueError that says what the study made."""
    for script, (_, loops) in _SCRIPTS.items():
        for i, loop in enumerate(loops):
            head, tail = loop.template.split("{}")
            match = re.fullmatch(re.escape(head) + r"(-?\d+)" + re.escape(tail), stem)
            if match is None or loop.template.format(int(match.group(1))) != stem:
                continue
            value = int(match.group(1))
            if value not in loop.values:
                raise ValueError(
                    f"the study made {loop.template.format('<n>')} only for n in "
                    f"{loop.values.start}..{loop.values.stop - 1}, got {stem!r}"
                )
            return script, i, value
    patterns = ", ".join(
        f"{loop.template.format('<n>')} (n in {loop.values.start}..{loop.values.stop - 1})"
        for _, loops in _SCRIPTS.values()
        for loop in loops
    )
    raise ValueError(f"unknown qml-benchmarks data set {stem!r}; the generators make {patterns}")


def check_stem(stem: str) -> str:
    """``stem`` if the study's scripts made a data set of that name (one of :func:`study_stems`), else a
    ValueError naming the families and their ranges; nothing is generated.

    >>> check_stem("hidden_manifold-6manifold-4d")
    'hidden_manifold-6manifold-4d'
    """
    if not isinstance(stem, str):
        raise ArgumentTypeError(f"stem must be a str, got {describe(stem)}")
    _locate(stem)
    return stem


def generate(stem: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Regenerate the study's data set ``stem`` as ``(X_train, y_train, X_test, y_test)`` (240 / 60 rows).

    The script that made it is replayed from its seed up to ``stem``: every earlier data set of the same
    script is drawn and split again, since they all came from one random stream. The arrays equal the
    published CSV files exactly (``np.savetxt(..., delimiter=",")`` of ``np.c_[X, y]`` writes them again
    byte for byte).

    >>> X_train, y_train, X_test, y_test = generate("two_curves-10d-3degree")
    >>> X_train.shape, y_test.shape
    ((240, 10), (60,))
    """
    if not isinstance(stem, str):
        raise ArgumentTypeError(f"stem must be a str, got {describe(stem)}")
    script, target_loop, target_value = _locate(stem)
    seed, loops = _SCRIPTS[script]
    rs = np.random.RandomState(seed)
    runs = [
        (loop, value)
        for i, loop in enumerate(loops[: target_loop + 1])
        for value in loop.values
        if i < target_loop or value <= target_value
    ]
    for loop, value in runs:
        X, y = loop.make(value)(seed=rs)
        parts = _split(X, y, rs)
    return parts
