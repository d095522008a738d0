"""The few array functions whose names differ between numpy and torch, so the engine's code runs on both.

Small circuits on the CPU run on numpy arrays: a call is about two hundred operations on arrays of a few
hundred numbers, and numpy's cost per operation is 3-4x lower than torch's there (a 16x16 by 16x8 complex
product: 1.7 against 6.8 us; the rotation matrices of 12 gates: 9.5 against 26 us). Larger states and other
devices run on torch tensors. Everything else the engine writes (``@``, ``reshape``, ``swapaxes``,
indexing, ``conj``, ``sum``) means the same in both.
"""

from __future__ import annotations

import numpy as np
import torch

#: The key of numpy arrays in per-device caches (a torch device otherwise).
NUMPY = "numpy"


def where(x) -> object:
    """``NUMPY`` for a numpy array, else the tensor's device."""
    return NUMPY if isinstance(x, np.ndarray) else x.device


def place(value: np.ndarray, at) -> np.ndarray | torch.Tensor:
    """``value`` as an array at ``at`` (``NUMPY`` or a torch device)."""
    return value if at == NUMPY else torch.as_tensor(value).to(at)


class _NumPy:
    cat = staticmethod(np.concatenate)
    stack = staticmethod(np.stack)
    cos = staticmethod(np.cos)
    sin = staticmethod(np.sin)
    einsum = staticmethod(np.einsum)
    moveaxis = staticmethod(np.moveaxis)
    broadcast_to = staticmethod(np.broadcast_to)
    contiguous = staticmethod(np.ascontiguousarray)
    zeros_like = staticmethod(np.zeros_like)
    empty_like = staticmethod(np.empty_like)

    @staticmethod
    def permute(x, axes):
        return np.transpose(x, axes)

    @staticmethod
    def take(x, index):
        """Rows ``index`` of ``x`` (a gather along the first axis)."""
        return x.take(index, axis=0)

    @staticmethod
    def matmul_each(u, x):
        """``u @ x[a]`` for every ``a`` of an ``(A, d, C)`` array, into a new array and no other copy."""
        return u @ x

    @staticmethod
    def eye(n: int, like) -> np.ndarray:
        return np.eye(n, dtype=like.dtype)

    @staticmethod
    def polar(phase):
        return np.exp(1j * phase)


class _Torch:
    cat = staticmethod(torch.cat)
    stack = staticmethod(torch.stack)
    cos = staticmethod(torch.cos)
    sin = staticmethod(torch.sin)
    einsum = staticmethod(torch.einsum)
    moveaxis = staticmethod(torch.moveaxis)
    broadcast_to = staticmethod(torch.broadcast_to)
    zeros_like = staticmethod(torch.zeros_like)
    empty_like = staticmethod(torch.empty_like)

    permute = staticmethod(torch.permute)

    @staticmethod
    def take(x, index):
        return x.index_select(0, index)

    @staticmethod
    def matmul_each(u, x):
        # torch.matmul would fold (A, d, C) into one product through a transposed copy of x
        return torch.bmm(u.expand(x.shape[0], *u.shape), x)

    @staticmethod
    def contiguous(x):
        return x.contiguous()

    @staticmethod
    def eye(n: int, like):
        return torch.eye(n, dtype=like.dtype, device=like.device)

    @staticmethod
    def polar(phase):
        return torch.polar(torch.ones_like(phase), phase)


def of(x) -> type[_NumPy] | type[_Torch]:
    """The namespace for ``x``'s kind of array."""
    return _NumPy if isinstance(x, np.ndarray) else _Torch
