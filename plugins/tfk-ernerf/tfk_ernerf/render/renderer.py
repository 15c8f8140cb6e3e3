"""Rendering an ER-NeRF model: head rays over a background, the torso field, whole frames in chunks."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from tfk_ernerf.models.network import ERNeRF
from tfk_ernerf.render.cameras import bg_coords, get_rays, near_far_from_aabb
from tfk_ernerf.render.march import composite, march_occupancy, march_uniform, step_size


@dataclass
class Conditioning:
    """What a frame's head field is conditioned on: audio code ``[1,32]``, frame code, eye ``[1,1]``."""

    enc_a: torch.Tensor
    code: torch.Tensor | None
    eye: torch.Tensor | None
    code_torso: torch.Tensor | None = None


def test_conditioning(model: ERNeRF, audio_window: torch.Tensor, eye: float) -> Conditioning:
    """Test-time conditioning as the original: frame code 0 (head and torso), the window's audio code."""
    dev = model.aabb_infer.device
    cfg = model.cfg
    code = model.individual_codes[0][None] if cfg.ind_dim else None
    code_t = model.individual_codes_torso[0][None] if cfg.torso and cfg.ind_dim_torso else None
    enc_a = model.encode_audio(audio_window.to(dev))
    return Conditioning(enc_a, code, torch.tensor([[float(eye)]], device=dev), code_t)


def render_rays(
    model: ERNeRF,
    rays_o: torch.Tensor,
    rays_d: torch.Tensor,
    cond: Conditioning,
    bg: torch.Tensor,
    marcher: str = "occupancy",
    jitter: torch.Tensor | None = None,
    max_steps: int | None = None,
) -> dict[str, torch.Tensor]:
    """Head colour over ``bg [N,3]``: ``image``, ``weights_sum``, ``depth``, ``uncertainty``, ambient sums."""
    cfg = model.cfg
    aabb = model.aabb_train if model.training else model.aabb_infer
    near, far = near_far_from_aabb(rays_o, rays_d, aabb, cfg.min_near)
    dt = step_size(cfg.grid_size)
    if marcher == "occupancy":
        s = march_occupancy(
            rays_o,
            rays_d,
            near,
            far,
            model.density_bitfield,
            cfg.grid_size,
            cfg.bound,
            dt,
            max_steps or cfg.max_steps,
            jitter,
        )
    elif marcher == "uniform":
        s = march_uniform(near, far, dt, jitter)
    else:
        raise ValueError("marcher must be 'occupancy' or 'uniform'")
    n, k = s.t.shape
    sel = s.mask
    xyz = (rays_o[:, None] + rays_d[:, None] * s.t[..., None])[sel]
    dirs = rays_d[:, None].expand(n, k, 3)[sel]
    sigma = torch.zeros(n, k, device=rays_o.device)
    rgb = torch.zeros(n, k, 3, device=rays_o.device)
    amb_a = torch.zeros(n, k, device=rays_o.device)
    amb_e = torch.zeros(n, k, device=rays_o.device)
    unc = torch.zeros(n, k, device=rays_o.device)
    if xyz.shape[0]:
        out = model(xyz, dirs, cond.enc_a, cond.code, cond.eye)
        sigma = sigma.masked_scatter(sel, out["sigma"].float())
        rgb = rgb.masked_scatter(sel[..., None].expand(n, k, 3), out["rgb"].float())
        amb_a = amb_a.masked_scatter(sel, out["ambient_aud"][:, 0].float())
        if out["ambient_eye"] is not None:
            amb_e = amb_e.masked_scatter(sel, out["ambient_eye"][:, 0].float())
        unc = unc.masked_scatter(sel, out["uncertainty"].float())
    res = composite(sigma, rgb, s.t, sel, s.dt)
    w = res.pop("weights")
    res["uncertainty"] = (w * unc).sum(dim=1)
    res["ambient_aud"] = amb_a.sum(dim=1)
    res["ambient_eye"] = amb_e.sum(dim=1)
    res["image"] = (res["image"] + (1 - res["weights_sum"])[:, None] * bg).clamp(0, 1)
    res["n_samples"] = torch.tensor(s.count)
    res["xyzs"], res["dirs"] = xyz.detach(), dirs  # the marched samples (the original's ``outputs['rays']``)
    return res


def torso_occupied(model: ERNeRF, coords: torch.Tensor) -> torch.Tensor:
    """Whether the 2-D torso alpha grid (bilinear, corners aligned) exceeds ``min(0.01, mean)`` at ``coords``."""
    g = model.cfg.grid_size
    grid = model.density_grid_torso.reshape(1, 1, g, g)
    # grid index = i0 * G + i1 with i0 from coords[:, 0]: grid_sample's (x, y) = (coords[:, 1], coords[:, 0])
    occ = F.grid_sample(grid, coords[None, :, None, [1, 0]], align_corners=True).reshape(-1)
    return occ > min(model.cfg.density_thresh_torso, model.mean_density_torso)


def render_torso(
    model: ERNeRF, coords: torch.Tensor, pose: torch.Tensor, bg: torch.Tensor, code_torso: torch.Tensor | None
) -> dict[str, torch.Tensor]:
    """Torso over ``bg``: ``bg' = rgb_t alpha_t + bg (1 - alpha_t)`` where the torso grid is occupied."""
    mask = torso_occupied(model, coords)
    alpha = torch.zeros(coords.shape[0], 1, device=coords.device)
    color = torch.zeros(coords.shape[0], 3, device=coords.device)
    deform = torch.zeros(coords.shape[0], 2, device=coords.device)
    if mask.any():
        a, c, d = model.forward_torso(coords[mask], pose[None], code_torso)
        alpha = alpha.masked_scatter(mask[:, None], a)
        color = color.masked_scatter(mask[:, None].expand(-1, 3), c)
        deform = deform.masked_scatter(mask[:, None].expand(-1, 2), d)
    return {"alpha": alpha, "color": color, "deform": deform, "bg": color * alpha + bg * (1 - alpha)}


@torch.no_grad()
def render_frame(
    model: ERNeRF,
    pose: torch.Tensor,
    intrinsics: tuple[float, float, float, float],
    h: int,
    w: int,
    cond: Conditioning,
    bg: torch.Tensor,
    marcher: str = "occupancy",
    chunk: int = 1 << 15,
    max_steps: int | None = None,
) -> dict[str, torch.Tensor]:
    """A whole ``[H, W]`` frame (head + torso when the model has one) over ``bg [H*W, 3]``."""
    out_img = torch.empty(h * w, 3, device=bg.device)
    out_ws = torch.empty(h * w, device=bg.device)
    out_ta = torch.zeros(h * w, device=bg.device)
    for s in range(0, h * w, chunk):
        inds = torch.arange(s, min(s + chunk, h * w), device=bg.device)
        b = bg[inds]
        if model.cfg.torso:
            t = render_torso(model, bg_coords(h, w, inds.cpu()).to(bg.device), pose, b, cond.code_torso)
            b = t["bg"]
            out_ta[inds] = t["alpha"][:, 0]
        o, d = get_rays(pose, intrinsics, h, w, inds.cpu())
        r = render_rays(model, o.to(bg.device), d.to(bg.device), cond, b, marcher, None, max_steps)
        out_img[inds] = r["image"]
        out_ws[inds] = r["weights_sum"]
    return {
        "image": out_img.reshape(h, w, 3),
        "weights_sum": out_ws.reshape(h, w),
        "torso_alpha": out_ta.reshape(h, w),
    }
