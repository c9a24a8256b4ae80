import pytest
import torch

from fathom.models.dropout import FastDropout, fast_dropout, keep_mask


@pytest.mark.parametrize("p", [0.1, 0.2, 0.5, 0.9])
def test_drop_rate_and_scale(p):
    torch.manual_seed(0)
    x = torch.ones(200_000)
    y = fast_dropout(x, p)
    dropped = (y == 0).float().mean().item()
    assert dropped == pytest.approx(p, abs=0.005)
    kept = y[y != 0]
    assert torch.allclose(kept, torch.full_like(kept, 1 / (1 - p)), rtol=1e-4)
    assert y.mean().item() == pytest.approx(1.0, abs=0.02)  # inverted dropout keeps the expectation


def test_each_lane_of_a_draw_is_uniform():
    torch.manual_seed(1)
    y = fast_dropout(torch.ones(400_000), 0.5).view(-1, 4)  # four mask values come from one 64-bit draw
    rates = (y == 0).float().mean(0)
    assert torch.allclose(rates, torch.full((4,), 0.5), atol=0.01)
    a, b = (y[:, 0] == 0).float(), (y[:, 1] == 0).float()
    assert abs(((a - a.mean()) * (b - b.mean())).mean().item()) < 0.005  # lanes are not correlated


def test_odd_shapes_identity_cases_and_gradient():
    x = torch.randn(3, 5, 7, requires_grad=True)
    torch.manual_seed(2)
    y = fast_dropout(x, 0.3)
    assert y.shape == x.shape
    y.sum().backward()
    mask = (y != 0).float() / (1 - round(0.3 * 65536) / 65536)
    assert torch.allclose(x.grad, mask)
    assert fast_dropout(x, 0.3, training=False) is x
    assert fast_dropout(x, 0.0) is x
    assert torch.equal(fast_dropout(x, 1.0), torch.zeros_like(x))
    with pytest.raises(ValueError, match="dropout probability"):
        fast_dropout(x, 1.5)


def test_seeded_and_module():
    m = FastDropout(0.25)
    torch.manual_seed(3)
    a = m(torch.ones(1000))
    torch.manual_seed(3)
    b = m(torch.ones(1000))
    assert torch.equal(a, b)
    m.eval()
    x = torch.ones(10)
    assert m(x) is x
    assert "p=0.25" in repr(m)
    assert list(m.state_dict()) == []
    with pytest.raises(ValueError):
        FastDropout(-0.1)


def test_keep_mask_matches_fast_dropout_draws():
    torch.manual_seed(4)
    keep, scale = keep_mask(100_000, 0.9)
    assert keep.dtype == torch.bool and keep.shape == (100_000,)
    assert keep.float().mean().item() == pytest.approx(0.1, abs=0.005)
    assert scale == pytest.approx(1 / (1 - round(0.9 * 65536) / 65536))
    torch.manual_seed(4)
    y = fast_dropout(torch.ones(100_000), 0.9)  # the same draws: the same elements kept, the same scale
    assert torch.equal(y != 0, keep)
    assert torch.allclose(y[keep], torch.full((int(keep.sum()),), scale))
    assert keep_mask(5, 0.0)[0].all() and keep_mask(5, 0.0)[1] == 1.0
    assert not keep_mask(5, 1.0)[0].any()
    with pytest.raises(ValueError, match="dropout probability"):
        keep_mask(5, -0.5)
