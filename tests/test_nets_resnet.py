"""SN-GAN ResNets for 32x32 / 48x48 images: shapes, ranges, spectral norm, every method on colour data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import gancluster
from gancluster import GMGAN, NEMGAN, PGMGAN, ClusterGAN
from gancluster.config import ConfigError
from gancluster.errors import GanclusterError
from gancluster.nets import NetConfig, build_critic, build_generator
from gancluster.nets_conditional import build_conditional_gan
from gancluster.nets_resnet import ResNetCritic, ResNetGenerator, has_spectral_norm, resnet_layout

SHAPES = [(1, 32, 32), (3, 32, 32), (1, 48, 48), (3, 48, 48)]


@pytest.mark.parametrize("shape", SHAPES)
def test_resnet_nets_shapes_and_range(shape) -> None:
    torch.manual_seed(0)
    cfg = NetConfig(width=8)
    G, D = build_generator(cfg, 10, shape), build_critic(cfg, shape, 3)
    assert isinstance(G, ResNetGenerator) and isinstance(D, ResNetCritic)
    with torch.no_grad():
        x = G(torch.randn(6, 10))
    assert x.shape == (6, *shape)
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert float(x.std()) > 0.01  # not a constant image
    feats = D.features(x)
    assert feats.shape == (6, D.feature_dim)
    assert D(x).shape == (6, 3)
    torch.testing.assert_close(D.head(feats), D(x))
    with pytest.raises(GanclusterError, match="takes"):
        D(torch.rand(2, shape[0], 28, 28))


def test_widths_follow_the_paper_and_the_config() -> None:
    l32 = resnet_layout("resnet32", 256)
    assert (l32.start, l32.g_widths, l32.d_down, l32.d_plain) == (4, (256,) * 4, (128, 128), (128, 128))
    l48 = resnet_layout("resnet48", 512)
    assert (l48.start, l48.g_widths, l48.d_down, l48.d_plain) == (3, (1024, 512, 256, 128, 64), (64, 128, 256, 512),
                                                                  (1024,))
    faithful = build_generator(NetConfig(lean=False), 8, (3, 32, 32))
    lean = build_generator(NetConfig(), 8, (3, 32, 32))
    assert faithful.out.in_channels == 256 and lean.out.in_channels == 32
    assert build_critic(NetConfig(width=12), (3, 32, 32), 1).feature_dim == 6
    with pytest.raises(GanclusterError, match="multiple of 8"):
        resnet_layout("resnet48", 12)
    with pytest.raises(GanclusterError, match="even"):
        resnet_layout("resnet32", 7)


def test_auto_picks_by_image_size_and_explicit_arch_must_fit() -> None:
    cfg = NetConfig()
    assert cfg.resolve((3, 32, 32)) == "resnet32"
    assert cfg.resolve((1, 48, 48)) == "resnet48"
    assert cfg.resolve((1, 28, 28)) == "conv28-lean"
    assert NetConfig(lean=False).resolve((3, 28, 28)) == "conv28"
    assert cfg.resolve((3, 64, 64)) == "mlp" and cfg.resolve((5,)) == "mlp"
    with pytest.raises(ConfigError, match="32x32 images.*--image-size 32"):
        NetConfig(arch="resnet32").resolve((3, 28, 28))
    with pytest.raises(ConfigError, match="48x48"):
        NetConfig(arch="resnet48").resolve((20,))
    with pytest.raises(ConfigError, match="arch must be one of"):
        NetConfig(arch="resnet64").validate()
    with pytest.raises(ConfigError, match="28x28 images"):
        NetConfig(arch="conv28-tiny").resolve((1, 32, 32))


def test_tiny_conv28_halves_the_lean_widths() -> None:
    tiny, lean = NetConfig(arch="conv28-tiny"), NetConfig(arch="conv28-lean")
    D = build_critic(tiny, (1, 28, 28), 1)
    assert D.body[0].out_channels == 16 and D.body[2].out_channels == 32 and D.feature_dim == 128
    G = build_generator(tiny, 8, (1, 28, 28))
    assert G(torch.zeros(3, 8)).shape == (3, 1, 28, 28)

    def n_params(cfg: NetConfig) -> int:
        return sum(p.numel() for p in build_critic(cfg, (1, 28, 28), 1).parameters())

    assert n_params(tiny) < n_params(lean) / 3


@pytest.mark.parametrize("arch, widths", [("conv28-wide", (128, 256)), ("conv28-xwide", (256, 512))])
def test_wide_conv28_critics_multiply_clustergans_widths(arch, widths) -> None:
    D = build_critic(NetConfig(arch=arch), (1, 28, 28), 5)
    assert (D.body[0].out_channels, D.body[2].out_channels, D.feature_dim) == (*widths, 1024)
    assert D(torch.zeros(2, 1, 28, 28)).shape == (2, 5)


def test_conv28_nets_are_unchanged() -> None:
    """Same parameter names and sizes as before the ResNets (old checkpoints still load), no spectral norm."""
    cfg = NetConfig()
    D = build_critic(cfg, (1, 28, 28), 1, spectral_norm=cfg.discriminator_sn((1, 28, 28), "ns"))
    assert not has_spectral_norm(D)
    assert [(k, tuple(v.shape)) for k, v in D.state_dict().items()] == [
        ("body.0.weight", (32, 1, 4, 4)), ("body.0.bias", (32,)), ("body.2.weight", (64, 32, 4, 4)),
        ("body.2.bias", (64,)), ("body.5.weight", (256, 3136)), ("body.5.bias", (256,)),
        ("head.weight", (1, 256)), ("head.bias", (1,)),
    ]


def test_spectral_norm_as_configured() -> None:
    shape = (3, 32, 32)
    assert NetConfig().discriminator_sn(shape, "ns") and NetConfig().discriminator_sn(shape, "hinge")
    assert not NetConfig().discriminator_sn(shape, "wgan-gp")
    assert NetConfig(d_spectral_norm=True).discriminator_sn(shape, "wgan-gp")
    assert not NetConfig(d_spectral_norm=False).discriminator_sn(shape, "ns")
    assert NetConfig(d_spectral_norm=True).discriminator_sn((1, 28, 28), "ns")
    cfg = NetConfig(width=8)
    D = build_critic(cfg, shape, 1, spectral_norm=True)
    assert has_spectral_norm(D) and not has_spectral_norm(build_critic(cfg, shape, 1))
    # every conv and linear layer is normalised: the largest singular value of each weight is ~1
    D.train()
    x = torch.rand(4, *shape)
    for _ in range(20):  # power iterations converge during forward passes
        D(x)
    for m in D.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            sigma = torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2)
            assert float(sigma) == pytest.approx(1.0, abs=0.05)


def test_methods_spectral_normalise_discriminators_not_encoders() -> None:
    X = np.random.default_rng(0).random((16, 3, 32, 32)).astype(np.float32)
    tiny = dict(n_clusters=2, max_steps=1, batch_size=8, random_state=0, net_width=4, warmup_steps=0)
    best = ClusterGAN(real_agreement=0.0, real_prior_match=0.0, **tiny).fit(X).method_
    assert has_spectral_norm(best.discriminator) and not has_spectral_norm(best.encoder)
    assert not has_spectral_norm(best.generator_net)
    faithful = ClusterGAN(recipe="faithful", **tiny).fit(X).method_  # WGAN-GP: the penalty instead of SN
    assert not has_spectral_norm(faithful.discriminator)
    both = ClusterGAN(recipe="faithful", d_spectral_norm=True, **tiny).fit(X).method_  # GP on an SN critic runs
    assert has_spectral_norm(both.discriminator)
    nem = NEMGAN(**tiny).fit(X).method_
    assert has_spectral_norm(nem.discriminator) and not has_spectral_norm(nem.inverter)
    off = NEMGAN(d_spectral_norm=False, **tiny).fit(X).method_
    assert not has_spectral_norm(off.discriminator)
    gm = GMGAN(samples_per_gaussian=4, classifier_steps=1, **tiny).fit(X).method_
    assert has_spectral_norm(gm.discriminator)
    assert not has_spectral_norm(gm.guide) and not has_spectral_norm(gm.classifier)


ESTIMATORS = {
    "clustergan": lambda **kw: ClusterGAN(warmup_steps=2, warmup_heads=2, **kw),
    "nemgan": lambda **kw: NEMGAN(priors=[0.7, 0.3], warmup_steps=2, **kw),
    "gmgan": lambda **kw: GMGAN(warmup_steps=2, samples_per_gaussian=8, classifier_steps=2, **kw),
    "pgmgan": lambda **kw: PGMGAN(pretext_steps=2, scan_steps=2, self_label_steps=0, **kw),
}


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_every_method_fits_colour_images_and_round_trips(name, tmp_path) -> None:
    rng = np.random.default_rng(1)
    X = rng.random((40, 3, 32, 32)).astype(np.float32)
    est = ESTIMATORS[name](n_clusters=2, max_steps=4, batch_size=8, random_state=0, net_width=4)
    est.fit(X)
    assert est.labels_.shape == (40,) and set(np.unique(est.labels_)) <= {0, 1}
    assert est.predict_proba(X[:5]).shape == (5, 2)
    x, k = est.sample(6, random_state=0)
    assert x.shape == (6, 3, 32, 32) and x.dtype == np.float32 and k.shape == (6,)
    assert x.min() >= 0.0 and x.max() <= 1.0
    path = est.save(tmp_path / "m.safetensors")
    back = gancluster.load(path)
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    np.testing.assert_allclose(back.sample(6, random_state=0)[0], x, atol=1e-6)


def test_48x48_grey_images_and_an_arch_that_does_not_fit() -> None:
    X = np.random.default_rng(2).random((24, 1, 48, 48)).astype(np.float32)
    est = NEMGAN(n_clusters=2, max_steps=2, batch_size=8, random_state=0, net_width=8, warmup_steps=0).fit(X)
    assert est.sample(3, random_state=0)[0].shape == (3, 1, 48, 48)
    G = next(m for m in est.method_.generator_net.modules() if isinstance(m, ResNetGenerator))  # maybe in ScaledInput
    assert G.out.in_channels == 1  # width / 8
    with pytest.raises(GanclusterError, match="arch=resnet32 needs 32x32 images"):
        NEMGAN(n_clusters=2, max_steps=1, arch="resnet32").fit(X)


@pytest.mark.parametrize("shape,width", [((3, 32, 32), 8), ((1, 48, 48), 32)])
def test_conditional_resnets_for_pgmgan(shape, width) -> None:
    torch.manual_seed(0)
    G, D = build_conditional_gan(shape, 3, 16, resnet_width=width)
    assert isinstance(G, ResNetGenerator) and has_spectral_norm(D) and not has_spectral_norm(G)
    z, y = torch.randn(6, 16), torch.tensor([0, 1, 2, 2, 1, 0])
    with torch.no_grad():
        x = G(z, y)
    assert x.shape == (6, *shape) and float(x.min()) >= 0 and float(x.max()) <= 1
    assert D(x, y).shape == (6,)
    # the partition changes both nets' outputs (per-partition CBN gains and projection embedding)
    with torch.no_grad():
        for m in G.modules():
            if hasattr(m, "gain") and isinstance(m.gain, nn.Embedding):
                m.gain.weight.normal_(1.0, 0.5)
    G.eval()
    zeros, ones = torch.zeros(6, dtype=torch.long), torch.ones(6, dtype=torch.long)
    with torch.no_grad():  # N(0, 0.02) weights make the differences tiny, but not zero
        assert float((G(z, zeros) - G(z, ones)).abs().max()) > 0
        assert float((D(x, zeros) - D(x, ones)).abs().max()) > 0
    with pytest.raises(GanclusterError, match="partition"):
        G(z)
    _, D_off = build_conditional_gan(shape, 3, 16, resnet_width=width, d_spectral_norm=False)
    assert not has_spectral_norm(D_off)
    G_paper, _ = build_conditional_gan((3, 32, 32), 2, 16)  # paper 003 Table 6: ch = 256
    assert G_paper.out.in_channels == 256
