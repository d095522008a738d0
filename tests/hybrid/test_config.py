"""Tests for hybrid.config: TOML experiments, validation messages, the built-in default."""

import pytest

from qhybrid.hybrid.config import default_config, load_config, parse_config

TOML = """
name = "tiny"
models = ["mlp", "svc", "dressed", "dressed-q3"]
datasets = ["moons", "qmlb:linearly_separable_10d"]
backends = ["default"]
seeds = [0, 4]

[data]
n_samples = 100

[params.dressed]
max_epochs = 3

[variants.dressed-q3]
model = "dressed"
n_qubits = 3

[search]
method = "grid"
cv = 2
[search.space.mlp]
lr = [0.01, 0.001]
"""


def test_toml_file_round_trip(tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text(TOML)
    cfg = load_config(path)
    assert cfg.name == "tiny" and cfg.seeds == [0, 4]
    assert cfg.model_specs["dressed-q3"] == ("dressed", {"max_epochs": 3, "n_qubits": 3})
    assert cfg.platforms("mlp") == ["cpu"] and cfg.platforms("svc") == ["cpu"]
    assert cfg.platforms("dressed-q3") == ["default"]
    assert cfg.search["method"] == "grid" and cfg.search["space"] == {"mlp": {"lr": [0.01, 0.001]}}
    assert cfg.data == {"n_samples": 100}
    # the fingerprint follows the settings of a cell and nothing else
    other = load_config(path)
    assert cfg.fingerprint("dressed") == other.fingerprint("dressed")
    assert cfg.fingerprint("dressed") != cfg.fingerprint("dressed-q3")


def test_the_studys_generators_are_data_sets_of_an_experiment_file():
    cfg = parse_config({"models": ["svc"], "datasets": ["qmlb-gen:hidden_manifold-6manifold-4d"]})
    assert cfg.datasets == ["qmlb-gen:hidden_manifold-6manifold-4d"]


def test_default_config_is_small_and_valid():
    cfg = default_config()
    assert cfg.models == ["mlp", "dressed"] and len(cfg.seeds) >= 2
    assert cfg.datasets == ["qmlb:linearly_separable_10d"] and cfg.backends == ["auto"]


@pytest.mark.parametrize(
    "raw, message",
    [
        (
            {"models": ["mlp"], "datasets": ["moons"], "seed": 3},
            r"unknown key 'seed' in config; allowed: name, models",
        ),
        ({"models": ["mlp"]}, r"missing key 'datasets'"),
        ({"models": ["qnn"], "datasets": ["moons"]}, r"unknown model 'qnn' in 'models'; allowed: mlp, svc"),
        (
            {"models": ["mlp"], "datasets": ["mnist"]},
            r"unknown data set 'mnist' in 'datasets'; allowed: digits",
        ),
        (
            {"models": ["mlp"], "datasets": ["qmlb-gen:linearly_separable_44d"]},
            r"the study made linearly_separable_<n>d only for n in 2..20, got 'linearly_separable_44d' "
            r"\(in 'datasets', as qmlb-gen:<stem>\)",
        ),
        (
            {"models": ["mlp"], "datasets": ["qmlb-gen:spirals"]},
            r"unknown qml-benchmarks data set 'spirals'; the generators make linearly_separable_<n>d",
        ),
        (
            {"models": ["dressed"], "datasets": ["moons"], "backends": ["ibmq"]},
            r"unknown backend 'ibmq'.*allowed: aer",
        ),
        (
            {"models": ["mlp"], "datasets": ["moons"], "accelerators": ["tpu"]},
            r"accelerator 'tpu' in 'accelerators' cannot",
        ),
        ({"models": ["mlp"], "datasets": ["moons"], "seeds": 0}, r"'seeds' must be a count from 1 to 10000"),
        ({"models": ["mlp"], "datasets": ["moons"], "seeds": [1, "a"]}, r"'seeds' must be"),
        (
            {"models": ["mlp"], "datasets": ["moons"], "params": {"mlp": {"depth": 2}}},
            r"unknown parameter 'depth' in params.mlp for model 'mlp'; allowed: accelerator",
        ),
        (
            {"models": ["mlp"], "datasets": ["moons"], "params": {"mlp": {"lr": -1}}},
            r"bad value in params.mlp.*lr must be > 0, got -1",
        ),
        (
            {"models": ["mlp"], "datasets": ["moons"], "params": {"drx": {}}},
            r"unknown model 'drx' in \[params\]",
        ),
        (
            {"models": ["mlp"], "datasets": ["moons"], "data": {"test_frac": 0.2}},
            r"unknown key 'test_frac' in \[data\]; allowed: test_size",
        ),
        (
            {"models": ["mlp"], "datasets": ["moons"], "data": {"test_size": 2}},
            r"bad value in \[data\]: test_size must be in \(0, 1\)",
        ),
        (
            {"models": ["mlp"], "datasets": ["moons"], "search": {"method": "bayes"}},
            r"unknown search method 'bayes'.*allowed: none, grid, random",
        ),
        (
            {"models": ["mlp"], "datasets": ["moons"], "search": {"method": "grid"}},
            r"search.space names no model",
        ),
        (
            {
                "models": ["mlp"],
                "datasets": ["moons"],
                "search": {"method": "grid", "space": {"svc": {"C": [1]}}},
            },
            r"search.space.svc: 'svc' is not in 'models'",
        ),
        (
            {
                "models": ["mlp"],
                "datasets": ["moons"],
                "search": {"method": "grid", "space": {"mlp": {"width": [1]}}},
            },
            r"unknown parameter 'width' in search.space.mlp",
        ),
        (
            {"models": ["v1"], "datasets": ["moons"], "variants": {"v1": {"n_qubits": 3}}},
            r"variant 'v1' needs a key 'model'",
        ),
        (
            {"models": ["mlp"], "datasets": ["moons"], "variants": {"v1": {"model": "mlp"}}},
            r"variant 'v1' is defined but not listed",
        ),
        (
            {"models": ["dressed"], "datasets": ["moons"], "backends": ["aer.shots"]},
            r"model 'dressed' cannot run on backend 'aer.shots'.*shots",
        ),
    ],
)
def test_bad_configs_fail_clearly(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_config(raw)


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("models = [mlp]\n")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_config(bad)
