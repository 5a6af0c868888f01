#!/usr/bin/env python3
"""One training step of MagicAnimate's objective run by the ORIGINAL modules
(diffusers v0.21.4 + magic-research/magic-animate) on the tiny models, for
tests/unit/train_test.cpp (TrainStepParity): writes
tests/data/cases/train_step/stage{1,2}.safetensors with the step's inputs
(z0, ref_latents, pose, noise, t, text) and what came out (loss, the global
gradient norm of each trained part, a few gradient tensors).

  git --git-dir=<magic-animate mirror> archive HEAD magicanimate | tar -x -C /tmp/ma
  git --git-dir=<diffusers mirror> archive v0.21.4 src | tar -x -C /tmp/diffusers
  /usr/bin/python3 tests/data/gen/make_train_step_case.py --original /tmp/ma --diffusers /tmp/diffusers/src

The step, as the C++ trainer's objective (src/train/objective.cpp) states it:
  z_t = DDPMScheduler(1000, 0.00085, 0.012, "linear").add_noise(z0, noise, t)
  the appearance encoder runs on ref_latents at t, banking its mid/up
  self-attention inputs (ReferenceAttentionControl "write", fusion "midup");
  the reader gets the bank through update() (the original's fp16 hand-off);
  ControlNet(z_t, t, text, pose) -> residuals; the UNet reads the bank;
  loss = mse(pred, noise); loss.backward().
Stage 1 trains appearance encoder + ControlNet through the base UNet without
temporal layers: the original's reader only hooks magic-animate's own
transformer blocks, so the base UNet is UNet3DConditionModel with
use_motion_module=False over a 1-frame clip (the same function as the 2D
UNet: a 1-frame GroupNorm is the 2D one). Stage 2 trains the motion modules
of the released 3D UNet (inference.yaml's unet_additional_kwargs) on a
2-frame clip, appearance encoder and ControlNet frozen.

The packages Debian lacks come from original_shims.py (next to this script);
transformers is not needed (the text embedding is the public case's recorded
empty-prompt embedding).
"""
import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from original_shims import install_shims, install_stable_baddbmm  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.normpath(os.path.join(HERE, ".."))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--original", required=True, help="folder holding magicanimate/ (the original's code)")
    ap.add_argument("--diffusers", required=True, help="diffusers v0.21.4 src/ folder")
    ap.add_argument("--out", default=os.path.join(DATA, "cases", "train_step"))
    a = ap.parse_args()
    install_shims(tempfile.mkdtemp(prefix="ma-shims-"), need_tqdm=False)
    sys.path.insert(0, a.diffusers)
    sys.path.insert(0, a.original)

    import torch
    import torch.nn.functional as F
    install_stable_baddbmm(torch)  # beta=0 reads torch.empty() on 1.13: see original_shims.py
    from einops import rearrange
    import safetensors.torch  # noqa: F401 (diffusers reads safetensors.torch.load_file)
    from safetensors import read as st_read, write as st_write
    from diffusers import DDPMScheduler
    from magicanimate.models.appearance_encoder import AppearanceEncoderModel
    from magicanimate.models.controlnet import ControlNetModel
    from magicanimate.models.unet_controlnet import UNet3DConditionModel
    from magicanimate.models.mutual_self_attention import ReferenceAttentionControl

    models = os.path.join(DATA, "models")
    sd_unet = os.path.join(models, "stable-diffusion-v1-5", "unet")
    text = torch.from_numpy(st_read(os.path.join(DATA, "cases", "public", "golden.safetensors"))["text.embeddings0"])
    unet_kwargs = dict(
        unet_use_cross_frame_attention=False, unet_use_temporal_attention=False, use_motion_module=True,
        motion_module_resolutions=[1, 2, 4, 8], motion_module_mid_block=False, motion_module_decoder_only=False,
        motion_module_type="Vanilla",
        motion_module_kwargs=dict(num_attention_heads=8, num_transformer_block=1,
                                  attention_block_types=["Temporal_Self", "Temporal_Self"],
                                  temporal_position_encoding=True, temporal_position_encoding_max_len=24,
                                  temporal_attention_dim_div=1))
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="linear")
    os.makedirs(a.out, exist_ok=True)

    for stage, frames, t_value in ((1, 1, 437), (2, 2, 811)):
        g = torch.Generator().manual_seed(stage)
        z0 = torch.randn(frames, 4, 8, 8, generator=g)
        ref_latents = torch.randn(1, 4, 8, 8, generator=g)
        pose = torch.rand(frames, 3, 64, 64, generator=g)
        noise = torch.randn(frames, 4, 8, 8, generator=g)
        t = torch.tensor([t_value], dtype=torch.long)

        appearance = AppearanceEncoderModel.from_pretrained(os.path.join(models, "MagicAnimate", "appearance_encoder"))
        controlnet = ControlNetModel.from_pretrained(os.path.join(models, "MagicAnimate", "densepose_controlnet"))
        kwargs = dict(unet_kwargs, use_motion_module=stage == 2)
        unet = UNet3DConditionModel.from_pretrained_2d(sd_unet, unet_additional_kwargs=kwargs)
        if stage == 2:
            mm = torch.load(os.path.join(models, "MagicAnimate", "temporal_attention", "temporal_attention.ckpt"),
                            map_location="cpu")
            mm = mm["state_dict"] if "state_dict" in mm else mm
            missing, unexpected = unet.load_state_dict({k.replace("module.", ""): v for k, v in mm.items()}, strict=False)
            assert not unexpected, unexpected
        for m in (appearance, controlnet, unet):
            m.train()  # no dropout in these configs; train() only for the record
            m.requires_grad_(False)
        trained = {"appearance_encoder": appearance, "controlnet": controlnet} if stage == 1 else {}
        for m in trained.values():
            m.requires_grad_(True)
        if stage == 2:
            for n, p in unet.named_parameters():
                p.requires_grad_("motion_modules." in n)

        writer = ReferenceAttentionControl(appearance, do_classifier_free_guidance=False, mode="write",
                                           fusion_blocks="midup")
        reader = ReferenceAttentionControl(unet, do_classifier_free_guidance=False, mode="read",
                                           fusion_blocks="midup")
        zt = scheduler.add_noise(z0, noise, t)
        with torch.set_grad_enabled(stage == 1):
            appearance(ref_latents, t, encoder_hidden_states=text, return_dict=False)
            down, mid = controlnet(zt, t, encoder_hidden_states=text.repeat(frames, 1, 1), controlnet_cond=pose,
                                   return_dict=False)  # one text row per frame, as the pipeline
        reader.update(writer)
        down = [rearrange(d, "(b f) c h w -> b c f h w", f=frames) for d in down]
        mid = rearrange(mid, "(b f) c h w -> b c f h w", f=frames)
        pred = unet(rearrange(zt, "(b f) c h w -> b c f h w", f=frames), t, encoder_hidden_states=text,
                    down_block_additional_residuals=down, mid_block_additional_residual=mid, return_dict=False)[0]
        pred = rearrange(pred, "b c f h w -> (b f) c h w")
        loss = F.mse_loss(pred.float(), noise.float(), reduction="mean")
        loss.backward()
        reader.clear()
        writer.clear()

        out = {"in.z0": z0, "in.ref_latents": ref_latents, "in.pose": pose, "in.noise": noise, "in.t": t,
               "in.text": text, "out.loss": loss.detach().reshape(1), "out.zt": zt, "out.pred": pred.detach()}
        parts = dict(trained) if stage == 1 else {"motion_modules": unet}
        for name, m in parts.items():
            grads = [p.grad for n, p in m.named_parameters() if p.grad is not None]
            out["out.grad_norm." + name] = torch.sqrt(sum((g.double() ** 2).sum() for g in grads)).float().reshape(1)
        probes = {
            1: [("appearance_encoder", appearance, "up_blocks.1.attentions.0.transformer_blocks.0.norm1.weight"),
                ("controlnet", controlnet, "controlnet_mid_block.weight"),
                ("controlnet", controlnet, "controlnet_cond_embedding.conv_in.weight")],
            2: [("motion_modules", unet,
                 "up_blocks.1.motion_modules.0.temporal_transformer.transformer_blocks.0.attention_blocks.0.to_q.weight")],
        }[stage]
        params = {}
        for part, m, key in probes:
            params = dict(m.named_parameters())
            out["out.grad.%s.%s" % (part, key)] = params[key].grad.detach().clone()
        path = os.path.join(a.out, "stage%d.safetensors" % stage)
        st_write({k: v.detach().numpy() for k, v in out.items()}, path)
        print("stage %d: loss %.8f, %s -> %s" % (stage, loss.item(),
              ", ".join("%s %.6g" % (k[14:], v.item()) for k, v in out.items() if k.startswith("out.grad_norm")), path))


if __name__ == "__main__":
    main()
