"""qhybrid's torch statevector engine: a circuit compiled once per structure, run as a few fused passes.

See :mod:`.circuit` for the call, :mod:`.plan` for the fusion, :mod:`.evolve` for the adjoint pass.
"""

from .circuit import CompiledCircuit
from .trace import NotTraceable

__all__ = ["CompiledCircuit", "NotTraceable"]
