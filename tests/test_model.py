"""Decoder architecture, rotations and the fused concatenation."""
from __future__ import annotations

import math

import pytest
import torch

from cellshapes.config import ModelConfig, model_config
from cellshapes.errors import InputError
from cellshapes.model import (AutoDecoder, Decoder, count_parameters, euler_to_matrix,
                              matrix_to_euler)


def test_rotation_matrices_orthonormal_det_one():
    angles = torch.randn(100, 3, generator=torch.Generator().manual_seed(0)) * 3
    rot = euler_to_matrix(angles)
    eye = torch.eye(3).expand(100, 3, 3)
    assert torch.allclose(rot @ rot.transpose(-1, -2), eye, atol=1e-5)
    assert torch.allclose(torch.linalg.det(rot), torch.ones(100), atol=1e-5)


def test_euler_round_trip_and_axes():
    angles = (torch.rand(50, 3) - 0.5) * torch.tensor([6.0, 3.0, 6.0])
    assert torch.allclose(matrix_to_euler(euler_to_matrix(angles)), angles, atol=1e-4)
    # angle g turns about the third axis: axis 1 goes to -axis 0
    r = euler_to_matrix(torch.tensor([0.0, 0.0, math.pi / 2]))
    assert torch.allclose(r @ torch.tensor([0.0, 1.0, 0.0]), torch.tensor([-1.0, 0.0, 0.0]),
                          atol=1e-6)
    # angle a turns about the first axis: axis 1 goes to axis 2
    r = euler_to_matrix(torch.tensor([math.pi / 2, 0.0, 0.0]))
    assert torch.allclose(r @ torch.tensor([0.0, 1.0, 0.0]), torch.tensor([0.0, 0.0, 1.0]),
                          atol=1e-6)


def test_paper_parameter_count():
    """9 x 128, latent 64 at input + hidden 5 and 8, xyzt everywhere: 161,537 weights.

    The paper reports 168.5k; with the architecture as described in Sec 3.4 the count is
    8,832 (input) + 6 x 17,024 (128+4 -> 128) + 2 x 25,216 (128+4+64 -> 128) + 129
    (output) = 161,537. The difference (~7k) is not explained by the text; it is close to
    the size of the per-sequence codes and angles (33 x 64 + 33 x 3 = 2,211 per data set)
    but not equal to it.
    """
    dec = Decoder(ModelConfig())
    assert count_parameters(dec) == 8832 + 6 * 17024 + 2 * 25216 + 129 == 161537


def test_deepsdf_baseline_shape():
    cfg = model_config("paper", arch="deepsdf")
    assert (cfg.layers, cfg.hidden, cfg.latent_dim) == (8, 512, 256)
    dec = Decoder(cfg)
    out = dec(torch.rand(2, 10, 3), torch.zeros(2), torch.zeros(2, 256))
    assert out.shape == (2, 10)


def test_siren_init_bounds():
    cfg = ModelConfig()
    dec = Decoder(cfg)
    first = dec.layers[0].linear.weight
    assert first.abs().max() <= 1.0 / first.shape[1]
    hid = dec.layers[1].linear.weight
    assert hid.abs().max() <= math.sqrt(6.0 / hid.shape[1]) / cfg.omega0
    assert hid.abs().max() > 0.9 * math.sqrt(6.0 / hid.shape[1]) / cfg.omega0


def test_fused_equals_explicit_concatenation():
    """The split-weight layers compute exactly W [h; x; t; z] + b."""
    torch.manual_seed(0)
    cfg = ModelConfig(hidden=32, layers=4, latent_dim=8, latent_layers=(0, 2))
    dec = Decoder(cfg).double()
    x = torch.rand(3, 50, 3, dtype=torch.float64) * 2 - 1
    t = torch.rand(3, dtype=torch.float64)
    z = torch.randn(3, 8, dtype=torch.float64)
    h = None
    for i, layer in enumerate(dec.layers):
        tt = t.view(3, 1, 1).expand(3, 50, 1)
        zz = z.view(3, 1, 8).expand(3, 50, 8)
        parts = ([] if h is None else [h]) + [x, tt] + ([zz] if i in (0, 2) else [])
        h = torch.sin(cfg.omega0 * layer.linear(torch.cat(parts, -1)))
    ref = dec.out(h).squeeze(-1)
    assert torch.allclose(dec(x, t, z), ref, atol=1e-10)


def test_equivariant_decoder_sees_rotated_points():
    torch.manual_seed(0)
    model = AutoDecoder(ModelConfig(hidden=16, layers=3, latent_dim=4, latent_layers=(0,)), 2)
    x = torch.rand(2, 7, 3)
    seq = torch.tensor([0, 1])
    rot = model.rotations(seq)
    expected = model.decoder(torch.einsum("bpi,bij->bpj", x, rot), torch.zeros(2),
                             model.codes[seq])
    assert torch.allclose(model(x, torch.zeros(2), seq), expected, atol=1e-6)
    plain = AutoDecoder(ModelConfig(equivariant=False, hidden=16, layers=3, latent_dim=4,
                                    latent_layers=(0,)), 2)
    assert plain.angles is None and plain.rotations(seq) is None


@pytest.mark.parametrize("bad", [dict(arch="mlp"), dict(latent_layers=(0, 12)),
                                 dict(omega0=0.0), dict(hidden=0)])
def test_bad_model_config(bad):
    with pytest.raises(InputError):
        ModelConfig(**bad)


def _trained_like_decoder(seed: int = 0) -> tuple[Decoder, torch.Tensor, torch.Tensor,
                                                 torch.Tensor]:
    torch.manual_seed(seed)
    cfg = ModelConfig(hidden=64, layers=5, latent_dim=16, latent_layers=(0, 3))
    dec = Decoder(cfg)
    x = torch.rand(4, 500, 3) * 2 - 1
    return dec, x, torch.rand(4) * 2 - 1, torch.randn(4, 16) * 0.1


def test_mixed_precision_keeps_float32_where_it_matters():
    """Under bf16 autocast only W_h h runs in bf16: output float32, error far below
    plain autocast (which also rounds coordinates and pre-activations)."""
    dec, x, t, z = _trained_like_decoder()
    with torch.no_grad():
        ref = dec(x, t, z)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = dec(x, t, z)
            plain = dec._forward(x, t, z, None)  # every op at autocast's choice
    assert mixed.dtype == torch.float32
    err_mixed = (mixed - ref).abs().mean()
    err_plain = (plain.float() - ref).abs().mean()
    assert err_mixed < 0.01 * ref.abs().mean()
    assert err_mixed < 0.5 * err_plain, (err_mixed, err_plain)
    # coordinates and every pre-activation stay float32 inside the autocast region
    seen = []
    hooks = [layer.register_forward_hook(lambda m, a, out: seen.append((a[1].dtype, out.dtype)))
             for layer in dec.layers]
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        dec(x, t, z)
    for h in hooks:
        h.remove()
    assert seen == [(torch.float32, torch.float32)] * len(dec.layers)


def test_mixed_precision_gradients_match_float32():
    dec, x, t, z = _trained_like_decoder(1)
    target = torch.rand(4, 500) - 0.5

    def grads(amp: bool) -> list[torch.Tensor]:
        dec.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            loss = (dec(x, t, z) - target).abs().mean()
        loss.backward()
        return [p.grad.clone() for p in dec.parameters()]

    for g32, g16 in zip(grads(False), grads(True)):
        assert g16.dtype == torch.float32
        cos = torch.nn.functional.cosine_similarity(g32.flatten(), g16.flatten(), dim=0)
        assert cos > 0.99, cos


def test_mixed_precision_sine_keeps_its_cosine_in_bfloat16():
    """The bf16 path's sine saves cos(pre) as bfloat16 (2 bytes) and its gradient is
    grad * cos(pre) to bfloat16's relative precision."""
    from cellshapes.model import _SineKeepCos

    pre = (torch.rand(1000) * 12 - 6).requires_grad_()
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        out = _SineKeepCos.apply(pre, torch.bfloat16)
    assert torch.equal(out, torch.sin(pre.detach()))
    assert [t.dtype for t in saved] == [torch.bfloat16]
    g = torch.randn(1000)
    out.backward(g)
    exact = g * torch.cos(pre.detach())
    assert torch.allclose(pre.grad, exact, rtol=2.0**-8, atol=1e-6)
    assert not torch.equal(pre.grad, exact)  # the cosine really is rounded


def test_rotation_runs_in_float32_under_autocast():
    torch.manual_seed(0)
    model = AutoDecoder(ModelConfig(hidden=16, layers=3, latent_dim=4, latent_layers=(0,)), 2)
    x = torch.rand(2, 7, 3)
    seq = torch.tensor([0, 1])
    rotated = torch.einsum("bpi,bij->bpj", x, model.rotations(seq))
    seen = {}
    model.decoder.forward = lambda xx, tt, zz: seen.setdefault("x", xx)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        model(x, torch.zeros(2), seq)
    assert seen["x"].dtype == torch.float32
    assert torch.allclose(seen["x"], rotated, atol=1e-6)


# --- DeepSDF baseline (Park et al. 2019) --------------------------------------------------

_NEW_KEYS = ("dropout", "weight_norm", "output_tanh")


def _small_deepsdf(**kw):
    return model_config("quick", arch="deepsdf", hidden=32, layers=4, latent_dim=8,
                        latent_layers=(0, 2), **kw)


def test_deepsdf_defaults_follow_park_et_al():
    cfg = model_config("study", arch="deepsdf")
    assert (cfg.dropout, cfg.weight_norm, cfg.output_tanh) == (0.2, True, True)
    assert cfg.latent_layers == (0, 4) and not cfg.coords_every_layer
    # SIREN runs and the dataclass defaults (older configs) have none of the three
    assert all(not getattr(ModelConfig(), k) for k in _NEW_KEYS)
    assert all(not getattr(model_config("study"), k) for k in _NEW_KEYS)


@pytest.mark.parametrize("bad", [dict(dropout=0.2), dict(weight_norm=True),
                                 dict(output_tanh=True)])
def test_siren_refuses_deepsdf_options(bad):
    with pytest.raises(InputError, match="DeepSDF"):
        ModelConfig(**bad)


@pytest.mark.parametrize("p", [-0.1, 0.95])
def test_deepsdf_dropout_bounds(p):
    with pytest.raises(InputError, match="dropout"):
        ModelConfig(arch="deepsdf", dropout=p)


def test_deepsdf_weight_norm_on_every_hidden_layer():
    torch.manual_seed(0)
    dec = Decoder(_small_deepsdf())
    for layer in dec.layers:
        lin = layer.linear
        assert torch.nn.utils.parametrize.is_parametrized(lin, "weight")
        g = lin.parametrizations.weight.original0
        v = lin.parametrizations.weight.original1
        assert g.shape == (32, 1)
        # W = g v / ||v|| row by row: every row of W has norm g
        assert torch.allclose(lin.weight.norm(dim=1, keepdim=True), g.abs(), atol=1e-6)
        assert torch.allclose(lin.weight, g * v / v.norm(dim=1, keepdim=True))
    assert not torch.nn.utils.parametrize.is_parametrized(dec.out)  # as DeepSDF's last layer
    # the fused layers read the normalised weight: scaling g scales the first layer's output
    x, t, z = torch.rand(2, 20, 3) * 2 - 1, torch.zeros(2), torch.randn(2, 8)
    dec.eval()
    with torch.no_grad():
        before = dec.layers[0](None, x, dec.layers[0].frame_bias(t.view(-1, 1), z), 1.0)
        bias = dec.layers[0].linear.bias.clone()
        dec.layers[0].linear.parametrizations.weight.original0.mul_(2.0)
        after = dec.layers[0](None, x, dec.layers[0].frame_bias(t.view(-1, 1), z), 1.0)
    assert torch.allclose(after - bias, 2.0 * (before - bias), atol=1e-5)


def test_deepsdf_dropout_only_in_training():
    torch.manual_seed(0)
    dec = Decoder(_small_deepsdf())
    x, t, z = torch.rand(2, 300, 3) * 2 - 1, torch.rand(2), torch.randn(2, 8)
    dec.eval()
    a, b = dec(x, t, z), dec(x, t, z)
    assert torch.equal(a, b)  # eval: deterministic
    dec.train()
    c, d = dec(x, t, z), dec(x, t, z)
    assert not torch.equal(c, d)  # training: a fresh dropout mask per call
    assert not torch.allclose(c, a)
    # with dropout 0 training and eval agree
    torch.manual_seed(0)
    plain = Decoder(_small_deepsdf(dropout=0.0))
    plain.train()
    e = plain(x, t, z)
    plain.eval()
    assert torch.equal(e, plain(x, t, z))


def test_deepsdf_tanh_bounds_output():
    torch.manual_seed(0)
    dec = Decoder(_small_deepsdf()).eval()
    with torch.no_grad():
        dec.out.bias.fill_(50.0)  # pre-tanh output far above 1
        out = dec(torch.rand(2, 50, 3) * 2 - 1, torch.zeros(2), torch.randn(2, 8))
    assert out.abs().max() <= 1.0 and out.min() > 0.99
    untanhed = Decoder(_small_deepsdf(output_tanh=False)).eval()
    with torch.no_grad():
        untanhed.out.bias.fill_(50.0)
        assert untanhed(torch.rand(2, 50, 3), torch.zeros(2), torch.randn(2, 8)).min() > 40


def _explicit_relu(dec: Decoder, x, t, z):
    """The plain ReLU MLP of older DeepSDF runs, written with explicit concatenation."""
    h = None
    for i, layer in enumerate(dec.layers):
        n = x.shape[1]
        tt = t.view(-1, 1, 1).expand(-1, n, 1)
        zz = z.view(z.shape[0], 1, -1).expand(-1, n, -1)
        parts = ([] if h is None else [h]) + (
            [x, tt, zz] if i in dec.config.latent_layers else [])
        h = torch.relu(layer.linear(torch.cat(parts, -1)))
    return dec.out(h).squeeze(-1)


def test_old_deepsdf_run_loads_with_its_old_behaviour(tmp_path):
    """A run written before dropout / weight_norm / output_tanh existed loads as trained.

    Its config.json lacks the three keys: they take the field defaults (off), the plain
    checkpoint keys (``layers.i.linear.weight``) load, and the decoder is the plain ReLU
    MLP without tanh.
    """
    from cellshapes.config import from_dict, to_dict, train_config
    from cellshapes.inference.reconstruct import load_run
    from cellshapes.training.checkpoint import save_checkpoint, write_config

    cfg = to_dict(_small_deepsdf(dropout=0.0, weight_norm=False, output_tanh=False))
    for k in _NEW_KEYS:
        del cfg[k]  # as an older version wrote it
    old = from_dict(ModelConfig, cfg)
    assert (old.dropout, old.weight_norm, old.output_tanh) == (0.0, False, False)
    torch.manual_seed(1)
    model = AutoDecoder(old, 2)
    with torch.no_grad():
        model.decoder.out.bias.fill_(3.0)  # outputs above 1: no tanh may clip them
    assert "decoder.layers.0.linear.weight" in model.state_dict()
    run = tmp_path / "old_deepsdf"
    run.mkdir()
    write_config(run, {"model": cfg, "train": to_dict(train_config("smoke")),
                       "data": {"names": ["a", "b"], "frames": [2, 2], "size": 16,
                                "attrs": [{}, {}]}})
    save_checkpoint(run, {"model": model.state_dict()}, 1)
    loaded, _ = load_run(run, "cpu")
    assert not loaded.training
    x, t, z = torch.rand(2, 40, 3) * 2 - 1, torch.rand(2), loaded.codes.detach()
    with torch.no_grad():
        got = loaded.decoder(x, t, z)
        want = _explicit_relu(model.decoder, x, t, z)
    assert torch.allclose(got, want, atol=1e-5)
    assert got.max() > 1.5  # not squashed by a tanh
