"""Random-initialised networks in the published file layouts (tiny widths for tests and the demo)."""

from __future__ import annotations

from pathlib import Path

import torch


def init_weights(net: torch.nn.Module, gain: float = 0.02) -> torch.nn.Module:
    """The originals' ``init_weights('normal', 0.02)``: N(0, 0.02) conv/linear weights, zero biases,
    BatchNorm2d weights N(1, 0.02)."""
    for m in net.modules():
        name = type(m).__name__
        if hasattr(m, "weight") and isinstance(m.weight, torch.Tensor) and ("Conv" in name or "Linear" in name):
            torch.nn.init.normal_(m.weight, 0.0, gain)
            if getattr(m, "bias", None) is not None:
                torch.nn.init.zeros_(m.bias)
        elif name == "BatchNorm2d":
            torch.nn.init.normal_(m.weight, 1.0, gain)
            torch.nn.init.zeros_(m.bias)
    return net


def write_tiny_weights(out: str | Path, width: int = 16, seed: int = 0, mem_size: int = 64) -> dict[str, Path]:
    """Write ATC_net, G, D, memory and ArcFace (r18) checkpoints at ``1/width`` of the published widths.

    These are random networks: they exercise every code path, they do not make a talking face.
    """
    from tfk_phadtf.models import checkpoint as ck
    from tfk_phadtf.models.arcface import IResNet
    from tfk_phadtf.models.atcnet import ATCNet
    from tfk_phadtf.models.gan import Discriminator, Generator
    from tfk_phadtf.models.memory import MemoryNetwork

    out = Path(out)
    torch.manual_seed(seed)
    atc = init_weights(ATCNet(width=width))
    g = init_weights(Generator(width=width))
    d = init_weights(Discriminator(width=width))
    mem = MemoryNetwork(mem_size=mem_size, top_k=min(256, mem_size), width=width)
    arc = IResNet("r18", width=width)
    return {
        "atcnet": ck.save(atc.state_dict(), out / "atcnet_lstm_general.pth"),
        "net_g": ck.save(g.state_dict(), out / "0_net_G.pth"),
        "net_d": ck.save(d.state_dict(), out / "0_net_D.pth"),
        "net_mem": ck.save(mem.checkpoint(), out / "0_net_mem.pth"),
        "arcface": ck.save(arc.state_dict(), out / "arcface_backbone.pth"),
    }
