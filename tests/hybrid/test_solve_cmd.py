"""`qhybrid solve`: the quantum solver and its classical references in one table."""

import argparse
import json

import networkx as nx
import pytest

from qhybrid.hybrid import solve_cmd, solve_inputs


def _run(argv, capsys):
    parser = argparse.ArgumentParser()
    solve_cmd.add_arguments(parser)
    code = solve_cmd.run(parser.parse_args(argv))
    return code, capsys.readouterr().out


def test_maxcut_table_has_qaoa_and_references(capsys):
    code, out = _run(["maxcut", "--nodes", "8", "--p", "1", "--seed", "1"], capsys)
    assert code == 0
    for name in (
        "QAOA p=1 (torch, cobyla)",
        "brute force",
        "simulated annealing",
        "Goemans-Williamson",
        "SDP bound",
    ):
        assert name in out


def test_maxcut_json_values_are_consistent(capsys, tmp_path):
    path = tmp_path / "g.txt"
    path.write_text("a b 2\nb c 1  # comment\nc a 1\nc d 3\n")
    code, out = _run(["maxcut", "--graph", str(path), "--weighted", "--p", "2", "--json"], capsys)
    rows = {r["method"].split(" (")[0]: r for r in json.loads(out)["rows"]}
    assert code == 0
    assert rows["brute force"]["value"] == 6.0  # a|b, c|d, a-c cut: 2 + 3 + 1
    assert rows["QAOA p=2"]["value"] == 6.0 and rows["QAOA p=2"]["quality"] == 1.0
    assert rows["Goemans-Williamson"]["value"] == 6.0


def test_qubo_and_vqe(capsys):
    code, out = _run(["qubo", "--size", "5", "--p", "1", "--json"], capsys)
    rows = json.loads(out)["rows"]
    assert code == 0
    assert rows[1]["method"] == "brute force" and rows[0]["value"] >= rows[1]["value"] - 1e-12
    code, out = _run(["vqe", "--molecule", "h2", "--json"], capsys)
    rows = {r["method"].split(" (")[0]: r for r in json.loads(out)["rows"]}
    assert code == 0
    assert abs(rows["VQE uccsd"]["quality"]) < 1.6  # mHa
    assert rows["Hartree-Fock"]["value"] == pytest.approx(-1.1167, abs=1e-3)
    assert rows["exact diagonalisation"]["value"] == pytest.approx(-1.13727, abs=1e-4)


def test_vqe_of_a_cation_is_judged_against_its_own_sector_and_says_it_converged(capsys):
    code, out = _run(["vqe", "--molecule", "h3+", "--json"], capsys)
    rows = {r["method"].split(" (")[0]: r for r in json.loads(out)["rows"]}
    assert code == 0
    assert rows["exact diagonalisation"]["note"] == "2 electrons, multiplicity 1"
    assert abs(rows["VQE uccsd"]["quality"]) < 1e-3  # mHa: the VQE reaches the cation's energy
    assert "converged" in rows["VQE uccsd"]["note"] and "not converged" not in rows["VQE uccsd"]["note"]
    code, out = _run(["vqe", "--molecule", "h2", "--optimizer", "cobyla", "--maxiter", "3"], capsys)
    assert "not converged in 3 iterations" in out


@pytest.mark.parametrize(
    "argv, match",
    [
        (["maxcut", "--nodes", "5"], "no 3-regular graph"),
        (["maxcut", "--graph", "missing.txt"], "neither"),
        (["maxcut", "--nodes", "4", "--backend", "nope"], "unknown backend"),
        (["qubo", "--size", "0"], "--size"),
        (["vqe", "--molecule", "h2", "--model", "tfim"], "either"),
        (["vqe", "--model", "tfim", "--ansatz", "uccsd"], "Hartree-Fock"),
        (["vqe", "--maxiter", "0"], "--maxiter"),
        # the solver's options are checked before the problem is built: here the graph could not be
        (
            ["maxcut", "--nodes", "5", "--optimizer", "bfgs"],
            r"unknown optimizer 'bfgs'; choose one of lbfgs, adam, spsa",
        ),
        (["qubo", "--init", "zeros"], r"unknown init 'zeros'; choose one of fixed, random, interp"),
        (
            ["vqe", "--molecule", "h2", "--ansatz", "ucc"],
            r"unknown ansatz 'ucc'; choose one of uccsd, doubles",
        ),
    ],
)
def test_bad_arguments_fail_clearly(argv, match, capsys):
    with pytest.raises((ValueError, TypeError, FileNotFoundError), match=match):
        _run(argv, capsys)


def test_wired_into_qhybrid(capsys):
    from qhybrid.hybrid.cli import main

    assert main(["solve", "maxcut", "--nodes", "4", "--graph", "cycle", "--p", "1"]) == 0
    assert "Goemans-Williamson" in capsys.readouterr().out
    assert main(["solve", "maxcut", "--nodes", "5"]) == 2


def test_graph_builders():
    ns = argparse.Namespace(graph="complete", nodes=4, degree=3, edge_prob=0.5, weighted=True, seed=0)
    g, title = solve_inputs.build_graph(ns)
    assert nx.is_isomorphic(g, nx.complete_graph(4)) and title == "complete graph, 4 nodes, 6 edges"
    assert all(1 <= d["weight"] <= 4 for _, _, d in g.edges(data=True))


def test_files_are_checked_by_the_shared_rules_naming_the_file(capsys, tmp_path):
    graph = tmp_path / "g.txt"
    graph.write_text("a b 1\nb c -2\n")
    ns = argparse.Namespace(graph=str(graph), weighted=True)
    with pytest.raises(ValueError) as err:
        solve_inputs.build_graph(ns)
    assert str(err.value) == (
        f"--graph {str(graph)!r}: edge ('b', 'c') has weight -2.0; MaxCut weights must be finite and >= 0 "
        "(use a QUBO for signed problems)"
    )
    matrix = tmp_path / "q.csv"
    matrix.write_text("0,1\n2,0\n")
    with pytest.raises(ValueError) as err:
        _run(["qubo", "--matrix", str(matrix)], capsys)
    assert str(err.value) == (
        f"--matrix {str(matrix)!r}: QUBO matrix must be symmetric, but Q[0, 1]=1.0 != Q[1, 0]=2.0; "
        "pass (Q + Q.T) / 2"
    )


def test_a_repeated_edge_and_a_complex_matrix_are_refused_naming_the_file(capsys, tmp_path):
    import numpy as np

    graph = tmp_path / "g.txt"
    graph.write_text("0 1 5\n1 2 1\n1 0 2\n")
    with pytest.raises(ValueError, match=r"line 3: edge '1' '0' appears twice"):
        _run(["maxcut", "--graph", str(graph), "--weighted"], capsys)
    matrix = tmp_path / "q.npy"
    np.save(matrix, np.array([[1.0, 1j], [-1j, 0.0]]))
    with pytest.raises(ValueError, match=r"a QUBO matrix is real; this one is complex \(complex128\)"):
        _run(["qubo", "--matrix", str(matrix)], capsys)


@pytest.mark.parametrize(
    "argv, flag, where",
    [
        (["vqe", "--molecule", "h2", "--sites", "4"], "--sites", "the spin chains"),
        (["vqe", "--model", "tfim", "--bond", "0.7"], "--bond", "the molecules"),
        (["vqe", "--model", "heisenberg", "--field", "2"], "--field", "--model tfim"),
        (["vqe", "--molecule", "h2", "--layers", "2"], "--layers", "the hardware_efficient ansatz"),
        (["maxcut", "--graph", "cycle", "--degree", "3"], "--degree", "--graph regular"),
        (["qubo", "--matrix", "q.npy", "--size", "4"], "--size", "a random QUBO"),
    ],
)
def test_a_flag_the_mode_would_ignore_is_refused(argv, flag, where, capsys):
    with pytest.raises(ValueError, match=f"^{flag} applies to {where}.* only; this command would ignore it$"):
        _run(argv, capsys)
