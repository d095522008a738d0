"""VQE for H2 (STO-3G, 4 qubits): the dissociation curve against exact diagonalisation and Hartree-Fock.

At each bond length VQE with the UCCSD-type ansatz (singles and doubles Givens rotations on the
Hartree-Fock state) runs on qhybrid's batched Aer backend; exact diagonalisation of the same qubit
Hamiltonian (``classical.solvers``) is the reference. Hartree-Fock fails at dissociation, VQE does not.
The plot (PNG) shows the three curves and VQE's error against chemical accuracy (1.6 mHa).

    python examples/vqe_h2.py --points 12 --out vqe_h2.png
"""

import argparse

from qhybrid import wait_passively

wait_passively()  # idle threads sleep; before numpy, torch and qiskit_aer load (qhybrid/_waiting.py)

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from qhybrid.classical import solvers as cs  # noqa: E402
from qhybrid.qml.solvers import VQE, h2  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description="H2 dissociation curve: VQE vs exact")
    parser.add_argument("--points", type=int, default=12)
    parser.add_argument("--backend", default="aer")
    parser.add_argument("--ansatz", default="uccsd", choices=["uccsd", "doubles"])
    parser.add_argument("--out", default="vqe_h2.png", help="where to save the plot")
    args = parser.parse_args()

    bonds = np.linspace(0.3, 2.8, args.points)
    vqe, exact, hf = [], [], []
    print(f"{'R (A)':>6}  {'VQE':>11}  {'exact':>11}  {'HF':>11}  {'err mHa':>8}  {'circuits':>8}")
    for r in bonds:
        problem = h2(float(r))
        res = VQE(args.ansatz, backend=args.backend, seed=0).solve(problem)
        matrix = problem.sparse_matrix()
        e_exact = cs.exact_diagonalization(matrix).energy
        index = int("".join(map(str, problem.hf_state)), 2)
        e_hf = float(np.real(matrix[index, index]))
        vqe.append(res.energy)
        exact.append(e_exact)
        hf.append(e_hf)
        print(
            f"{r:6.3f}  {res.energy:11.6f}  {e_exact:11.6f}  {e_hf:11.6f}  "
            f"{1e3 * (res.energy - e_exact):8.4f}  {res.n_evaluations:>8}"
        )
    err = 1e3 * (np.array(vqe) - np.array(exact))
    print(f"max |VQE - exact| = {np.abs(err).max():.4f} mHa (chemical accuracy 1.6 mHa)")

    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(6, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    top.plot(bonds, exact, "k-", label="exact diagonalisation")
    top.plot(bonds, vqe, "o", color="C0", label=f"VQE {args.ansatz} ({args.backend})")
    top.plot(bonds, hf, "--", color="C3", label="Hartree-Fock")
    top.set_ylabel("energy (Ha)")
    top.set_title("H2 / STO-3G dissociation curve")
    top.legend()
    bottom.semilogy(bonds, np.maximum(np.abs(err), 1e-9), "o-", color="C0")
    bottom.axhline(1.6, color="C2", ls=":", label="chemical accuracy")
    bottom.set_xlabel("bond length (angstrom)")
    bottom.set_ylabel("|VQE - exact| (mHa)")
    bottom.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
