"""Models: shapes, residual structure, causality of the GPT, generation, text data."""

import pytest
import torch

from qhybrid.classical.models import GPT, MLP, GPTConfig, ResNet, count_parameters
from qhybrid.classical.text import CharLMDataset, CharTokenizer, char_lm_datasets, load_corpus


def test_mlp_shapes_and_param_count():
    m = MLP(64, 10, hidden=(256, 256))
    assert m(torch.zeros(5, 64)).shape == (5, 10)
    assert count_parameters(m) == 64 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        MLP(4, 2, activation="swish")
    with pytest.raises(ValueError, match="in_features must be >= 1, got 0"):
        MLP(0, 2)


def test_resnet_flat_and_image_inputs_agree():
    torch.manual_seed(0)
    m = ResNet(num_classes=10, image_shape=(1, 8, 8), widths=(8, 16)).eval()
    x = torch.randn(3, 64)
    assert torch.equal(m(x), m(x.view(3, 1, 8, 8)))
    assert m(x).shape == (3, 10)
    assert any(isinstance(b.shortcut, torch.nn.Sequential) for b in m.stages)  # projected shortcut
    with pytest.raises(ValueError, match="image_shape"):
        ResNet(image_shape=(8, 8))


def test_gpt_is_causal_and_ties_weights():
    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=13, block_size=10, n_layer=2, n_head=2, n_embd=16)
    m = GPT(cfg).eval()
    idx = torch.randint(0, 13, (2, 10))
    out = m(idx)
    assert out.shape == (2, 10, 13)
    idx2 = idx.clone()
    idx2[:, 6:] = (idx2[:, 6:] + 1) % 13  # changing the future must not change past logits
    assert torch.allclose(m(idx2)[:, :6], out[:, :6], atol=1e-6)
    assert not torch.allclose(m(idx2)[:, 6:], out[:, 6:])
    assert m.lm_head.weight is m.tok_emb.weight
    with pytest.raises(ValueError, match="exceeds block_size 10"):
        m(torch.zeros(1, 11, dtype=torch.long))
    with pytest.raises(ValueError, match="divisible by n_head"):
        GPTConfig(vocab_size=5, n_embd=10, n_head=3)


def test_gpt_generate_greedy_and_sampled():
    torch.manual_seed(0)
    m = GPT(GPTConfig(vocab_size=7, block_size=4, n_layer=1, n_head=1, n_embd=8))
    start = torch.zeros(2, 1, dtype=torch.long)
    out = m.generate(start, 9, temperature=0)
    assert out.shape == (2, 10) and torch.equal(out[:, :1], start)
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    a = m.generate(start, 5, top_k=3, generator=g1)
    b = m.generate(start, 5, top_k=3, generator=g2)
    assert torch.equal(a, b) and int(a.max()) < 7
    assert m.training  # generate restores the mode


def test_corpus_tokenizer_and_lm_dataset():
    text = load_corpus()
    assert len(text) > 300_000 and "lambda" in text
    tok = CharTokenizer.fit(text)
    assert tok.decode(tok.encode("def f(x): return x")) == "def f(x): return x"
    with pytest.raises(ValueError, match="not in the tokenizer's vocabulary"):
        CharTokenizer.fit("ab").encode("abc")
    ids = torch.arange(20)
    ds = CharLMDataset(ids, block_size=4)
    x, y = ds[1]
    assert x.tolist() == [4, 5, 6, 7] and y.tolist() == [5, 6, 7, 8]
    X, Y = ds.tensors()
    assert len(ds) == 4 and X.shape == (4, 4) and torch.equal(X[1], x) and torch.equal(Y[3], ds[3][1])
    train, val, tok2 = char_lm_datasets(block_size=32, max_chars=10_000)
    assert len(train) > 5 * len(val) > 0 and tok2.vocab_size > 30
    with pytest.raises(ValueError, match="unknown corpus 'shakespeare'"):
        load_corpus("shakespeare")
