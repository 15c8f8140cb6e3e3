"""tfk's DFRF renderer: the original computation, vectorised, with reference-only work cached across frames.

``exact`` computes what the original computes at test time (32 coarse samples, 64 importance samples, the
fine network on all 96 sorted samples) up to float re-association:

* the reference feature maps, camera matrices and weight slices are computed once per reference set;
* the four references are projected, warped and sampled in one batched call;
* constant inputs are folded into biases: the audio code (per frame) in the first and skip layers of both
  NeRFs and in Position_warp, the view direction (per ray) in the first colour layer, the point encoding
  (shared by the four references) in the slot-attention and warp input layers;
* linear maps that act on a reference tap are applied to the reference maps once (Position_warp's feature
  columns, slot attention's ``fc1``/``fc7`` feature columns), so a tap gathers the product;
* without slot noise every slot starts at ``mu`` and the slots stay equal: the attention is uniform over the
  references, the slot iterations run on one slot, and the NeRFs' fused-feature columns act on it as their sum;
* every linear map is one GEMM on point-major rows with its bias; activations run in place; the first and the
  skip layer's input products come from one GEMM (no concatenation); CPU batches of 256 rays stay in cache;
* the fine pass re-uses the fused reference features of the 32 coarse samples (the fused feature depends
  only on the point, the audio and the references, not on the coarse/fine network).

``fast`` adds approximations, each measured against ``exact`` in ``benchmarks/bench_dfrf.py``: fewer samples,
a lower render resolution for the head layer (the head's colour, its opacity and the background weight are
upsampled, then composited over the *full-resolution* background), and rays whose coarse pass sees no head
(foreground opacity below ``skip_empty``) skip the fine pass.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from tfk_dfrf.models.dfrf import DFRF
from tfk_dfrf.models.embed import posenc
from tfk_dfrf.models.nerf import AUD_DIM, FUSED_DIM, PTS_DIM
from tfk_dfrf.models.reference import WARP_LIMIT, sample_features
from tfk_dfrf.render.geometry import clamp_pixels, intrinsic_matrix, pixel_rays, project, world_to_camera
from tfk_dfrf.render.volume import composite, linear_z, sample_pdf


@dataclass(frozen=True)
class Quality:
    """Sampling plan of a render. ``scale`` < 1 renders the head layer at that fraction of the frame size."""

    n_samples: int = 32
    n_importance: int = 64
    scale: float = 1.0
    skip_empty: float = 0.0
    chunk: int = 0  # rays per batch; 0 = auto (256 on a CPU, where small batches stay in cache; 4096 on a GPU)
    segment: int = 24  # fine samples per front-to-back segment (0 = all at once)
    term_eps: float = 1e-6  # stop a ray once its transmittance is below this (error <= term_eps)
    amp: str = "off"  # bf16 autocast of the networks: on, off, or cuda (only on a GPU)

    def with_chunk(self, chunk: int | None) -> Quality:
        return self if not chunk else replace(self, chunk=int(chunk))


EXACT = Quality()
FAST = Quality(n_samples=16, n_importance=32, scale=0.5, skip_empty=1e-3, amp="cuda")
QUALITIES = {"exact": EXACT, "fast": FAST}


class References:
    """The reference frames and everything that depends only on them (computed once, reused for every frame)."""

    @torch.no_grad()
    def __init__(self, model: DFRF, images: torch.Tensor, poses: torch.Tensor, focal: float):
        self.images = images
        self.poses = poses[:, :3, :4]
        self.h, self.w = int(images.shape[1]), int(images.shape[2])
        self.focal = float(focal)
        fmap = model.feature_extractor.encode(images, self.poses)  # [R, H, W, 128]
        self.fmap_flat = fmap.reshape(-1, fmap.shape[-1]).contiguous()
        self.fmap_chw = fmap.permute(0, 3, 1, 2).contiguous()
        self.w2c = world_to_camera(self.poses)
        self.intrinsic = intrinsic_matrix(self.focal, self.h, self.w, dtype=images.dtype, device=images.device)
        self.offsets = (torch.arange(images.shape[0], device=images.device) * self.h * self.w)[:, None]

    @property
    def count(self) -> int:
        return int(self.poses.shape[0])


class _NeRFSlices:
    """Weight slices of one FaceFeatureNeRF for the folded evaluation.

    The input ``[fused ‖ PE(x)]`` enters the first layer and the skip layer: both products come from one GEMM
    (``w_in``), so the skip layer needs no concatenation; the audio code is folded into the two biases.
    """

    def __init__(self, nerf, tied_slots: int = 0):
        w0, w5 = nerf.pts_linears[0].weight, nerf.pts_linears[5].weight
        a, b = FUSED_DIM + PTS_DIM, FUSED_DIM + PTS_DIM + AUD_DIM
        self.nerf = nerf
        self.width = w0.shape[0]
        w_in = torch.cat((w0[:, :a], w5[:, :a]), 0)  # [2W, 319]
        if tied_slots:  # all slots equal: their columns act on one slot as their sum
            d = FUSED_DIM // tied_slots
            tied = sum(w_in[:, k * d : (k + 1) * d] for k in range(tied_slots))
            w_in = torch.cat((tied, w_in[:, FUSED_DIM:]), 1)
        self.w_in = w_in.T.contiguous()  # [319 or 191, 2W]
        self.w0_aud, self.b0 = w0[:, a:b], nerf.pts_linears[0].bias
        self.w5_h = w5[:, b:].T.contiguous()
        self.w5_aud, self.b5 = w5[:, a:b], nerf.pts_linears[5].bias
        self.mid = {i: (m.weight.T.contiguous(), m.bias) for i, m in enumerate(nerf.pts_linears) if i not in (0, 5)}
        wv = nerf.views_linears[0].weight
        self.wv_h, self.wv_d, self.bv = wv[:, : nerf.W], wv[:, nerf.W :], nerf.views_linears[0].bias
        self.wv_h_t = self.wv_h.T.contiguous()

    def frame_biases(self, aud: torch.Tensor) -> torch.Tensor:
        """``[2W]``: the biases of the first and the skip layer with this frame's audio code folded in."""
        return torch.cat((self.b0 + self.w0_aud @ aud, self.b5 + self.w5_aud @ aud))

    def raw(self, inp: torch.Tensor, bias: torch.Tensor, view_term: torch.Tensor, spr: int) -> torch.Tensor:
        """``inp`` ``[n, 256+63]`` (fused ‖ PE(x)); ``view_term`` ``[rays, 128]``; ``spr`` samples per ray."""
        layers = self.nerf.pts_linears
        pre = torch.addmm(bias, inp, self.w_in)  # [n, 2W]: layer 0 and the skip layer's input part
        h = pre[:, : self.width].relu()
        for i in range(1, len(layers)):
            if i == 5:
                h = torch.addmm(pre[:, self.width :], h, self.w5_h).relu_()
            else:
                w, b = self.mid[i]
                h = torch.addmm(b, h, w).relu_()
        alpha = self.nerf.alpha_linear(h)
        v = torch.mm(h, self.wv_h_t).view(-1, spr, self.wv_h_t.shape[1]).add_(view_term[:, None]).relu_()
        h = v.view(-1, self.wv_h_t.shape[1])
        for layer in self.nerf.views_linears[1:]:
            h = torch.addmm(layer.bias, h, layer.weight.T).relu_()
        return torch.cat((self.nerf.rgb_linear(h), alpha), -1)


class Renderer:
    """Render frames of one subject with fixed references: ``render(c2w, aud_code, bc, frame_index)``.

    ``noise``: draw the slot-attention noise like the original (from a generator seeded with
    ``(seed, frame_index)``, so every frame is reproducible on its own); ``False`` = deterministic slots.
    """

    def __init__(
        self,
        model: DFRF,
        refs: References,
        near: float,
        far: float,
        quality: Quality = EXACT,
        noise: bool = False,
        seed: int = 0,
        white_bkgd: bool = True,
    ):
        self.model = model
        self.refs = refs
        self.near, self.far = float(near), float(far)
        self.q = quality
        self.chunk = quality.chunk or (4096 if refs.images.device.type == "cuda" else 256)
        self.noise = noise
        self.seed = int(seed)
        self.white_bkgd = white_bkgd
        # Without slot noise every slot starts at mu, so the slots stay equal: the softmax over slots gives each
        # slot half of every reference, the attention is uniform over the references, and the fused feature is
        # one slot repeated (what the original computes, up to float rounding of its 1/R weights).
        tied = 0 if noise else model.slot_att.num_slots
        self.tied = bool(tied)
        self.coarse = _NeRFSlices(model.coarse.nerf_model, tied)
        self.fine = _NeRFSlices(model.fine.nerf_model, tied)
        self._fold_slot_attention(model)

    @torch.no_grad()
    def _fold_slot_attention(self, model: DFRF) -> None:
        """Fold the linear maps around the reference taps into precomputed weights and maps.

        The bilinear feature tap enters the slot attention only through ``fc1`` and ``fc7``, and grid sampling
        is linear, so the taps are taken from the reference maps *already projected* by those layers' feature
        columns. ``to_v`` is folded into the GRU input weights (the attention weights over the references sum
        to one), ``to_q``/``to_k`` into one matrix acting on the normalised slots.
        """
        sa = model.slot_att
        c = self.refs.fmap_chw.shape[1]  # 128 feature channels; then 2 pixel channels
        w7, w1 = sa.fc7[0].weight, sa.fc1[0].weight
        ci = sa.input_dim
        proj = torch.cat((w7[:, :c], w1[:, :c]), 0)  # [128 + 32, 128]
        self.proj_chw = torch.einsum("oc,rchw->rohw", proj, self.refs.fmap_chw).contiguous()
        self.n7 = w7.shape[0]
        self.w7_pix, self.w7_pe, self.w7_rel, self.b7 = (
            w7[:, c:ci],
            w7[:, ci : ci + PTS_DIM],
            w7[:, ci + PTS_DIM :],
            sa.fc7[0].bias,
        )
        self.w1_pix, self.b1 = w1[:, c:ci], sa.fc1[0].bias
        wq, bq, wk, bk = sa.to_q.weight, sa.to_q.bias, sa.to_k.weight, sa.to_k.bias
        self.qk_w = wq.T @ wk  # slots_norm @ qk_w + qk_b = to_q(.) @ W_k
        self.qk_b = bq @ wk
        self.qbk_w = wq.T @ bk  # slots_norm @ qbk_w + qbk_b = to_q(.) . b_k
        self.qbk_b = bq @ bk
        self.gi_w = sa.gru.weight_ih @ sa.to_v.weight  # GRU input weights on attn @ x (x before to_v)
        self.gi_b = sa.gru.weight_ih @ sa.to_v.bias + sa.gru.bias_ih
        # the noise-free start of the tied slot: mu and its GRU hidden term, one row each
        self.mu = sa.slots_mu.reshape(1, -1)
        self.gh0 = F.linear(self.mu, sa.gru.weight_hh, sa.gru.bias_hh)  # [1, 3D]
        # point-major evaluation: transposed weights for addmm
        self.w1_pix_t = self.w1_pix.T.contiguous()
        self.fc6_w, self.fc6_b = sa.fc6.weight.T.contiguous(), sa.fc6.bias
        self.w7_pr_t = torch.cat((self.w7_pix, self.w7_rel), 1).T.contiguous()  # [2 + 32, 128]
        self.w7_pe_t = self.w7_pe.T.contiguous()
        self.gi_w_t = self.gi_w.T.contiguous()
        self.whh_t = sa.gru.weight_hh.T.contiguous()
        self.mlp1 = (sa.mlp[0].weight.T.contiguous(), sa.mlp[0].bias)
        self.mlp2 = (sa.mlp[2].weight.T.contiguous(), sa.mlp[2].bias)
        # Position_warp's first layer on [PE(x) ‖ audio ‖ nearest feature]: the feature part is applied to the
        # reference maps once (a gather of the product equals the product of the gather)
        pw = model.position_warp.mlp
        w = pw[0].weight
        self.warp_map = (self.refs.fmap_flat @ w[:, PTS_DIM + AUD_DIM :].T).contiguous()  # [R*H*W, 128]
        self.warp_pe_t = w[:, :PTS_DIM].T.contiguous()
        self.warp_aud, self.warp_b = w[:, PTS_DIM : PTS_DIM + AUD_DIM], pw[0].bias
        self.warp_2 = (pw[2].weight.T.contiguous(), pw[2].bias)
        self.warp_3 = (pw[4].weight.T.contiguous(), pw[4].bias)

    def _amp(self):
        """bf16 autocast around the networks (never around projections, sampling or compositing)."""
        dev = self.refs.fmap_flat.device.type
        if self.q.amp == "on" or (self.q.amp == "cuda" and dev == "cuda"):
            return torch.autocast(device_type=dev, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    # -- per point ---------------------------------------------------------------------------------
    def _taps(self, pts: torch.Tensor, aud: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """PE10 of ``pts`` ``[n, 3]``, the projected feature taps ``[n, R, 160]`` and the truncated pixels
        ``[n, R, 2]`` (point-major, contiguous)."""
        r = self.refs
        pe = posenc(pts, 10)
        pix = project(pts, r.w2c, r.intrinsic, r.h, r.w)  # [R, n, 2]
        idx = torch.round(pix)
        flat = (idx[..., 0].long() * r.w + idx[..., 1].long() + r.offsets).reshape(-1)
        h = self.warp_map.index_select(0, flat).view(r.count, -1, self.warp_map.shape[1])
        h.add_(torch.addmm(self.warp_b + self.warp_aud @ aud, pe, self.warp_pe_t)).relu_()
        w2, b2 = self.warp_2
        w3, b3 = self.warp_3
        h = torch.addmm(b2, h.view(-1, h.shape[-1]), w2).relu_()
        shift = torch.addmm(b3, h, w3).clamp_(-WARP_LIMIT, WARP_LIMIT).view(r.count, -1, 2)
        pix = clamp_pixels(idx + shift, r.h, r.w)
        taps = sample_features(self.proj_chw, pix, r.h)  # [R, n, 160] (a view of [R, 160, n])
        return pe, taps.permute(1, 0, 2).contiguous(), pix.int().to(taps.dtype).permute(1, 0, 2).contiguous()

    def _fuse(
        self, pe: torch.Tensor, taps: torch.Tensor, pixi: torch.Tensor, gen: torch.Generator | None
    ) -> torch.Tensor:
        """Slot attention over the references -> ``[n, 256]`` (SlotAttention.forward with folded weights).

        Everything is point-major and contiguous (``[n * R, .]`` and ``[n * S, .]`` rows), so every linear map
        is one GEMM with its bias and the activations run in place.
        """
        sa = self.model.slot_att
        n, nr, c = taps.shape
        tp = taps.view(n * nr, c)
        pix = pixi.view(n * nr, 2)
        h1 = torch.addmm(tp[:, self.n7 :], pix, self.w1_pix_t).add_(self.b1).relu_()
        rel = torch.addmm(self.fc6_b, h1, self.fc6_w)
        x = torch.addmm(tp[:, : self.n7], torch.cat((pix, rel), 1), self.w7_pr_t).view(n, nr, -1)
        x.add_(torch.addmm(self.b7, pe, self.w7_pe_t)[:, None])
        x = F.layer_norm(F.leaky_relu_(x), (x.shape[-1],), sa.norm_input.weight, sa.norm_input.bias, sa.norm_input.eps)
        if self.tied:
            return self._tied_slots(x.mean(1))
        # with noise every point draws its own slots, as the original does
        d, ns = x.shape[-1], sa.num_slots
        slots = sa.initial_slots(n, True, gen)
        xt = x.transpose(1, 2)
        for _ in range(sa.iters):
            p = slots.reshape(-1, d)
            sn = sa.norm_slots(p)
            q = torch.addmm(self.qk_b, sn, self.qk_w).view(n, ns, d)
            dots = torch.baddbmm(torch.matmul(sn, self.qbk_w).add_(self.qbk_b).view(n, ns, 1), q, xt)
            attn = (dots * sa.scale).softmax(dim=1).add_(sa.eps)  # [n, S, R]
            attn = attn.div_(attn.sum(dim=-1, keepdim=True))
            gi = torch.addmm(self.gi_b, torch.bmm(attn, x).view(-1, d), self.gi_w_t)  # [n*S, 3D]
            slots = self._slot_step(gi, torch.addmm(sa.gru.bias_hh, p, self.whh_t), p).view(n, ns, d)
        return slots.reshape(n, -1)

    def _tied_slots(self, mean_x: torch.Tensor) -> torch.Tensor:
        """The noise-free slot iterations on the one shared slot: the update (mean of the inputs, uniform
        attention) is the same in every iteration, so its GRU input term is computed once. -> ``[n, 128]``."""
        sa = self.model.slot_att
        gi = torch.addmm(self.gi_b, mean_x, self.gi_w_t)  # [n, 3D]
        slot = self._slot_step(gi, self.gh0, self.mu)
        for _ in range(sa.iters - 1):
            slot = self._slot_step(gi, torch.addmm(sa.gru.bias_hh, slot, self.whh_t), slot)
        return slot

    def _slot_step(self, gi: torch.Tensor, gh: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        """GRUCell from its input and hidden terms (``[rows, 3D]``, ``gh`` may be one broadcast row), then the
        residual MLP: one slot-attention iteration after the attention."""
        sa = self.model.slot_att
        d = prev.shape[-1]
        rz = torch.add(gi[:, : 2 * d], gh[:, : 2 * d]).sigmoid_()
        ng = torch.addcmul(gi[:, 2 * d :], rz[:, :d], gh[:, 2 * d :]).tanh_()
        slot = torch.addcmul(ng, rz[:, d:], prev - ng)  # (1 - z) * n + z * h
        w1, b1 = self.mlp1
        w2, b2 = self.mlp2
        ff = torch.addmm(b1, sa.norm_pre_ff(slot), w1).relu_()
        return torch.addmm(slot, ff, w2).add_(b2)

    # -- per ray -----------------------------------------------------------------------------------
    def _rays(self, rays_o, rays_d, bc, aud, biases, gen) -> dict[str, torch.Tensor]:
        q = self.q
        n = rays_o.shape[0]
        viewdirs = rays_d / torch.norm(rays_d, dim=-1, keepdim=True)
        pev = posenc(viewdirs, 4)
        z = linear_z(self.near, self.far, q.n_samples, n, dtype=rays_o.dtype, device=rays_o.device)
        pts = rays_o[:, None] + rays_d[:, None] * z[..., None]
        pe_c, taps_c, pix_c = self._taps(pts.reshape(-1, 3), aud)
        with self._amp():
            fused_c = self._fuse(pe_c, taps_c, pix_c, gen).float()
        inp_c = torch.cat((fused_c, pe_c), -1)
        with self._amp():
            raw = self.coarse.raw(inp_c, biases["coarse"], F.linear(pev, self.coarse.wv_d, self.coarse.bv), q.n_samples)
        raw = raw.float()
        out = composite(raw.view(n, q.n_samples, 4), z, rays_d, bc, self.white_bkgd)
        if q.n_importance <= 0:
            return out
        active = None
        if q.skip_empty > 0:
            active = ((out["acc"] - out["w_last"]) > q.skip_empty).nonzero().squeeze(1)
            if active.numel() == 0:
                return out

        def sel(t: torch.Tensor) -> torch.Tensor:
            return t if active is None else t.index_select(0, active)

        z_a, ro, rd, pev_a, bc_a = sel(z), sel(rays_o), sel(rays_d), sel(pev), sel(bc)
        mids = 0.5 * (z_a[..., 1:] + z_a[..., :-1])
        zs = sample_pdf(mids, sel(out["weights"])[..., 1:-1], q.n_importance, det=True)
        fine = self._fine_pass(sel(inp_c.view(n, q.n_samples, -1)), z_a, zs, ro, rd, pev_a, bc_a, aud, biases, gen)
        if active is None:
            return fine
        merged = {}
        for key in ("rgb", "fg", "w_last", "acc"):
            merged[key] = out[key].index_copy(0, active, fine[key])
        return merged

    def _fine_pass(self, inp_c, z_c, zs, ro, rd, pev, bc, aud, biases, gen) -> dict[str, torch.Tensor]:
        """The fine network on the sorted coarse + importance samples, front to back in segments.

        Rays whose transmittance falls below ``term_eps`` stop: what they would still add is at most
        ``term_eps`` per channel (every colour is in [0, 1]), so ``exact`` stays exact to that bound.
        """
        q = self.q
        ns, na = z_c.shape[1], z_c.shape[0]
        z_all, order = torch.sort(torch.cat([z_c, zs], -1), -1)
        spr = z_all.shape[1]
        dists = torch.cat([z_all[:, 1:] - z_all[:, :-1], torch.full_like(z_all[:, :1], 1e10)], -1)
        dists = dists * torch.norm(rd, dim=-1, keepdim=True)
        view = F.linear(pev, self.fine.wv_d, self.fine.bv)
        trans = torch.ones(na, dtype=z_c.dtype, device=z_c.device)
        fg = torch.zeros(na, 3, dtype=z_c.dtype, device=z_c.device)
        acc = torch.zeros_like(trans)
        w_last = torch.zeros_like(trans)
        seg = q.segment if q.segment > 0 else spr
        alive = torch.arange(na, device=z_c.device)
        for k0 in range(0, spr, seg):
            k1 = min(spr, k0 + seg)
            src = order.index_select(0, alive)[:, k0:k1]  # [m, g] index into (coarse ‖ new)
            m, g = src.shape
            inp = inp_c.new_empty(m, g, inp_c.shape[-1])
            is_new = src >= ns
            old = ~is_new
            if old.any():
                rows = alive[:, None].expand(m, g)[old]
                inp[old] = inp_c[rows, src[old]]
            if is_new.any():
                rows = alive[:, None].expand(m, g)[is_new]
                zn = zs[rows, src[is_new] - ns]
                pts = ro[rows] + rd[rows] * zn[:, None]
                pe, taps, pixi = self._taps(pts, aud)
                with self._amp():
                    fused = self._fuse(pe, taps, pixi, gen).float()
                inp[is_new] = torch.cat((fused, pe), -1)
            with self._amp():
                raw = self.fine.raw(inp.view(m * g, -1), biases["fine"], view.index_select(0, alive), g)
            raw = raw.float().view(m, g, 4)
            alpha = 1.0 - torch.exp(-(F.relu(raw[..., 3]) + 1e-6) * dists[alive, k0:k1])
            keep = torch.cumprod(torch.cat([torch.ones_like(alpha[:, :1]), 1.0 - alpha + 1e-10], -1), -1)
            t0 = trans.index_select(0, alive)
            w = alpha * keep[:, :-1] * t0[:, None]
            rgb = torch.sigmoid(raw[..., :3])
            last = k1 == spr
            body = w[:, :-1] if last else w
            fg.index_add_(0, alive, (body[..., None] * rgb[:, : body.shape[1]]).sum(1))
            acc.index_add_(0, alive, w.sum(1))
            if last:
                w_last.index_copy_(0, alive, w[:, -1])
            trans.index_copy_(0, alive, t0 * keep[:, -1])
            if q.term_eps > 0:
                alive = alive[trans.index_select(0, alive) > q.term_eps]
                if alive.numel() == 0:
                    break
        out = fg + w_last[:, None] * bc
        if self.white_bkgd:
            out = out + (1.0 - acc[:, None])
        return {"rgb": out, "fg": fg, "w_last": w_last, "acc": acc}

    @torch.no_grad()
    def render(
        self,
        c2w: torch.Tensor,
        aud: torch.Tensor,
        bc: torch.Tensor,
        focal: float,
        cx: float,
        cy: float,
        frame_index: int = 0,
    ) -> torch.Tensor:
        """One frame ``[H, W, 3]`` in [0, 1] (not clipped) over the background ``bc`` ``[H, W, 3]``."""
        h, w = bc.shape[:2]
        q = self.q
        gen = None
        if self.noise:
            gen = torch.Generator(device=bc.device)
            gen.manual_seed((self.seed * 1_000_003 + int(frame_index)) % (2**63))
        biases = {"coarse": self.coarse.frame_biases(aud), "fine": self.fine.frame_biases(aud)}
        lh, lw = (h, w) if q.scale >= 1 else (max(1, round(h * q.scale)), max(1, round(w * q.scale)))
        # pixel centres of the (possibly lower-resolution) head layer in full-frame pixel units
        ys = (torch.arange(lh, dtype=bc.dtype, device=bc.device) + 0.5) * (h / lh) - 0.5
        xs = (torch.arange(lw, dtype=bc.dtype, device=bc.device) + 0.5) * (w / lw) - 0.5
        rows, cols = torch.meshgrid(ys, xs, indexing="ij")
        rays_o, rays_d = pixel_rays(c2w, focal, cx, cy, cols.reshape(-1), rows.reshape(-1))
        bc_low = (
            bc
            if (lh, lw) == (h, w)
            else F.interpolate(
                bc.permute(2, 0, 1)[None], size=(lh, lw), mode="bilinear", align_corners=False, antialias=True
            )[0].permute(1, 2, 0)
        )
        bc_flat = bc_low.reshape(-1, 3)
        keys = ("rgb",) if (lh, lw) == (h, w) else ("fg", "w_last", "acc")
        parts: dict[str, list[torch.Tensor]] = {k: [] for k in keys}
        for i in range(0, rays_o.shape[0], self.chunk):
            s = slice(i, i + self.chunk)
            out = self._rays(rays_o[s], rays_d[s], bc_flat[s], aud, biases, gen)
            for k in keys:
                parts[k].append(out[k])
        if (lh, lw) == (h, w):
            return torch.cat(parts["rgb"]).view(h, w, 3)
        layer = torch.cat(
            [torch.cat(parts["fg"]), torch.cat(parts["w_last"])[:, None], torch.cat(parts["acc"])[:, None]], -1
        )
        up = F.interpolate(
            layer.view(lh, lw, 5).permute(2, 0, 1)[None], size=(h, w), mode="bilinear", align_corners=False
        )[0].permute(1, 2, 0)
        rgb = up[..., :3] + up[..., 3:4] * bc
        if self.white_bkgd:
            rgb = rgb + (1.0 - up[..., 4:5])
        return rgb


def rays_per_frame(h: int, w: int, q: Quality) -> int:
    return h * w if q.scale >= 1 else max(1, round(h * q.scale)) * max(1, round(w * q.scale))


def samples_per_frame(h: int, w: int, q: Quality) -> int:
    return rays_per_frame(h, w, q) * (q.n_samples + q.n_importance)


__all__ = ["EXACT", "FAST", "QUALITIES", "Quality", "References", "Renderer"]
