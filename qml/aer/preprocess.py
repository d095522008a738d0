"""The Aer device's preprocessing: which operations and measurements it takes, and how the rest is decomposed.

Gates Aer runs natively pass through; PennyLane decomposes the others. Operations PennyLane cannot decompose
but knows the matrix of become ``QubitUnitary`` and are decomposed from there (:func:`matrix_fallback`).
Measurements: every state measurement without shots (see :mod:`.general` for those that are not Pauli
words), every sample measurement with shots, and measurement transforms with their own ``process``.
Mid-circuit measurements (``qml.measure``, ``qml.cond``) are deferred first, as default.mixed does: each
becomes a controlled operation on the measured wire (a wire measured and then reused or reset needs a
spare device wire, as on default.qubit).
"""

from __future__ import annotations

from dataclasses import replace

import pennylane as qp
from pennylane import measurements as qpm
from pennylane.devices.preprocess import decompose, validate_device_wires, validate_measurements
from pennylane.transforms.core import CompilePipeline

from . import general
from .compile import NATIVE_OPS


def _stopping_condition(op) -> bool:
    return op.name in NATIVE_OPS


def _density_stopping_condition(op) -> bool:
    # Aer's density-matrix method has no cswap; PennyLane channels run as Aer's kraus instruction
    return (op.name in NATIVE_OPS and op.name != "CSWAP") or isinstance(op, qp.operation.Channel)


def _matrix_only(op) -> bool:
    """An operation PennyLane cannot decompose but knows the matrix of (``BlockEncode``, ``DoubleExcitationPlus``)."""
    return op.name not in NATIVE_OPS and not op.has_decomposition and op.has_matrix


@qp.transform
def matrix_fallback(tape, stopping_condition, name):
    """Matrix-only operations become ``QubitUnitary``, which PennyLane decomposes into native gates."""
    if not any(_matrix_only(op) for op in tape.operations):
        return (tape,), lambda results: results[0]
    ops = [qp.QubitUnitary(op.matrix(), wires=op.wires) if _matrix_only(op) else op for op in tape.operations]
    (out,), _ = decompose(tape.copy(operations=ops), stopping_condition=stopping_condition, name=name)
    return (out,), lambda results: results[0]


def _sample_mp(mp) -> bool:
    return (isinstance(mp, qpm.SampleMeasurement) and not isinstance(mp, qpm.StateMP)) or is_transform(mp)


def is_transform(mp) -> bool:
    """A measurement transform that computes its value from the tape and the device (``process``).
    Classical shadows are not: PennyLane's ``process`` of theirs drives the legacy device API."""
    return isinstance(mp, qpm.MeasurementTransform) and not isinstance(
        mp, qpm.ClassicalShadowMP | qpm.ShadowExpvalMP
    )


def _analytic_mp(mp) -> bool:
    return general.supported_exact(mp) or is_transform(mp)


#: How the device runs mid-circuit measurements (PennyLane's ``mcm_method``).
MCM_METHODS = ("deferred",)


def mcm_config(config, name: str):
    """``config`` (an ``MCMConfig``) with its method resolved to ``"deferred"``; any other method is refused
    with the one the device runs. Post-selection is refused too: it needs a ``Projector`` the device cannot
    apply."""
    method = getattr(config.mcm_method, "value", config.mcm_method)  # PennyLane may hold an enum
    if method not in (None, *MCM_METHODS):
        raise qp.exceptions.DeviceError(
            f"{name} runs mid-circuit measurements as mcm_method='deferred', not {method!r}"
        )
    return replace(config, mcm_method="deferred")


def pipeline(wires, method: str, name: str, config, noise=None) -> CompilePipeline:
    """The transforms every batch of tapes goes through before :meth:`AerDevice.execute`; a PennyLane
    ``NoiseModel`` (``noise``) adds its channels once the gates are decomposed (``qml.add_noise``)."""
    program = CompilePipeline()
    # first, since deferring may use spare device wires
    program.add_transform(qp.defer_measurements, allow_postselect=False)
    native = _density_stopping_condition if method == "density_matrix" else _stopping_condition
    program.add_transform(
        decompose,
        stopping_condition=lambda op: native(op) or _matrix_only(op),
        device_wires=wires,
        name=name,
        skip_initial_state_prep=False,  # state preparation becomes gates, so it caches like any other
    )
    program.add_transform(matrix_fallback, stopping_condition=native, name=name)
    if noise is not None:
        program.add_transform(qp.noise.add_noise, noise)
    program.add_transform(validate_device_wires, wires, name=name)
    program.add_transform(
        validate_measurements,
        analytic_measurements=_analytic_mp,
        sample_measurements=_sample_mp,
        name=name,
    )
    # A broadcast tape arrives whole and its batch becomes rows of one Aer run (expanding it into one tape
    # per sample cost more in PennyLane than the simulation itself). PennyLane turns full jacobians into VJPs
    # itself only for parameters of one shape, so without device VJPs tapes are expanded.
    if config.gradient_method is not None and config.use_device_jacobian_product is False:
        program.add_transform(qp.transforms.broadcast_expand)
    return program
