#!/usr/bin/env python3
"""Writes a random-weight models folder in the original's pretrained_models layout.

  python3 bench/make_random_models.py --original DIR --diffusers DIR --out DIR [--size full|small]

--size full (the default) has the real checkpoints' configs (SD 1.5 UNet and
CLIP text encoder, sd-vae-ft-mse, MagicAnimate's appearance encoder = the SD 1.5
UNet config, its DensePose ControlNet = the SD 1.5 ControlNet config with
conditioning_embedding_out_channels [16, 32, 96, 256], the motion modules of
configs/inference/inference.yaml): about 11 GB of float32 weights and about
6 GB of memory while it runs (one model at a time). --size small keeps every
layer and key and divides the widths (UNet, appearance encoder and ControlNet
by 10, VAE by 4, CLIP by 8): about 160 MB, for checking the code path.
--dry-run builds the models on the meta device and writes nothing; with
--manifests DIR (per-part {"keys": {name: {dtype, shape}}} files of the real
checkpoints) it checks every key, shape and dtype against them.

The models are built by the original's own classes (diffusers v0.21.4 and
magicanimate/models, loaded as bench/compare_original.py does, through
tests/data/gen/original_pipeline.py), so every key and shape is what those
classes, and the real checkpoints, have; the weights are their random
initialisation (seed --seed). Saved with torch.save as the checkpoints'
.bin / .ckpt files (this engine and the original both read them):
  stable-diffusion-v1-5/{tokenizer,scheduler,text_encoder,unet,vae}
  sd-vae-ft-mse
  MagicAnimate/{appearance_encoder,densepose_controlnet,temporal_attention/temporal_attention.ckpt}
The tokenizer and scheduler files are copied from tests/data/models (the CLIP
vocabulary itself and SD 1.5's scheduler config). Check the result with
`magicanimate check-models DIR`.
"""
import argparse
import copy
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TINY = os.path.join(ROOT, "tests", "data", "models")

DOWN = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"]
UP = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]

# stable-diffusion-v1-5/unet/config.json (and MagicAnimate/appearance_encoder's)
UNET = {
    "_class_name": "UNet2DConditionModel", "_diffusers_version": "0.6.0", "act_fn": "silu",
    "attention_head_dim": 8, "block_out_channels": [320, 640, 1280, 1280], "center_input_sample": False,
    "cross_attention_dim": 768, "down_block_types": DOWN, "downsample_padding": 1, "flip_sin_to_cos": True,
    "freq_shift": 0, "in_channels": 4, "layers_per_block": 2, "mid_block_scale_factor": 1, "norm_eps": 1e-05,
    "norm_num_groups": 32, "out_channels": 4, "sample_size": 64, "up_block_types": UP,
}
# MagicAnimate/densepose_controlnet/config.json
CONTROLNET = {
    "_class_name": "ControlNetModel", "_diffusers_version": "0.6.0", "act_fn": "silu", "attention_head_dim": 8,
    "block_out_channels": [320, 640, 1280, 1280], "cross_attention_dim": 768, "down_block_types": DOWN,
    "downsample_padding": 1, "flip_sin_to_cos": True, "freq_shift": 0, "in_channels": 4, "layers_per_block": 2,
    "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 32,
    "conditioning_embedding_out_channels": [16, 32, 96, 256], "controlnet_conditioning_channel_order": "rgb",
}
# sd-vae-ft-mse/config.json
VAE = {
    "_class_name": "AutoencoderKL", "_diffusers_version": "0.4.0.dev0", "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512], "down_block_types": ["DownEncoderBlock2D"] * 4, "in_channels": 3,
    "latent_channels": 4, "layers_per_block": 2, "norm_num_groups": 32, "out_channels": 3, "sample_size": 256,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
}
# stable-diffusion-v1-5/text_encoder/config.json
CLIP = {
    "architectures": ["CLIPTextModel"], "attention_dropout": 0.0, "bos_token_id": 0, "dropout": 0.0,
    "eos_token_id": 2, "hidden_act": "quick_gelu", "hidden_size": 768, "initializer_factor": 1.0,
    "initializer_range": 0.02, "intermediate_size": 3072, "layer_norm_eps": 1e-05, "max_position_embeddings": 77,
    "model_type": "clip_text_model", "num_attention_heads": 12, "num_hidden_layers": 12, "pad_token_id": 1,
    "projection_dim": 768, "torch_dtype": "float32", "transformers_version": "4.22.0.dev0", "vocab_size": 49408,
}


def configs(size):
    unet, cn, vae, clip = (copy.deepcopy(c) for c in (UNET, CONTROLNET, VAE, CLIP))
    if size == "small":
        for c in (unet, cn):
            c["block_out_channels"] = [w // 10 for w in c["block_out_channels"]]  # 32, 64, 128, 128
            c["cross_attention_dim"] = 96
        vae["block_out_channels"] = [w // 4 for w in vae["block_out_channels"]]  # 32, 64, 128, 128
        clip.update(hidden_size=96, intermediate_size=384, projection_dim=96)  # 12 heads of 8
    appearance = dict(unet, _class_name="AppearanceEncoderModel")
    return unet, appearance, cn, vae, clip


class Writer:
    """Saves each part, or with --dry-run only lists it (and compares it with
    the manifests of --manifests: {"keys": {name: {"dtype", "shape"}}} per part)."""
    def __init__(self, torch, dry_run, manifests):
        self.torch, self.dry_run, self.manifests, self.failed = torch, dry_run, manifests, False

    def __call__(self, state, folder, name, config=None, part=None):
        params = sum(v.numel() for v in state.values())
        print("  %-58s %5d tensors, %8.1f M values" % (os.path.join(os.path.basename(os.path.dirname(folder)),
                                                                   os.path.basename(folder), name),
                                                      len(state), params / 1e6), flush=True)
        if self.manifests and part:
            with open(os.path.join(self.manifests, part + ".json")) as f:
                keys = json.load(f)["keys"]
            bad = sorted(set(keys) ^ set(state))
            bad += [k for k in sorted(set(keys) & set(state))
                    if list(state[k].shape) != keys[k]["shape"] or str(state[k].dtype)[6:] != keys[k]["dtype"]]
            print("    %s: %s" % (part + ".json", "every key, shape and dtype as the manifest" if not bad
                                  else "%d differ, e.g. %s" % (len(bad), bad[0])), flush=True)
            self.failed |= bool(bad)
        if not self.dry_run:
            save(self.torch, state, folder, name, config)


def save(torch, state, folder, name, config=None):
    os.makedirs(folder, exist_ok=True)
    torch.save({k: v.detach().contiguous() for k, v in state.items()}, os.path.join(folder, name))
    if config is not None:
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
            f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--original", required=True, help="magic-animate checkout (the folder holding magicanimate/)")
    ap.add_argument("--diffusers", required=True, help="diffusers v0.21.4 src/ folder (holding diffusers/)")
    ap.add_argument("--out", required=True, help="folder to write (the pretrained_models layout)")
    ap.add_argument("--size", choices=["full", "small"], default="full")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dry-run", action="store_true",
                    help="build every model on the meta device (no memory, no weights) and write nothing")
    ap.add_argument("--manifests", help="folder of <part>.json key manifests of the real checkpoints to compare with "
                                        "(unet, text_encoder, vae, appearance_encoder, densepose_controlnet, "
                                        "temporal_attention)")
    args = ap.parse_args()
    if not os.path.isdir(os.path.join(args.original, "magicanimate")):
        sys.exit("make_random_models: --original %s: no magicanimate/ folder in it" % args.original)
    if not os.path.isfile(os.path.join(args.diffusers, "diffusers", "__init__.py")):
        sys.exit("make_random_models: --diffusers %s: no diffusers/__init__.py in it" % args.diffusers)

    sys.path.insert(0, os.path.join(ROOT, "tests", "data", "gen"))
    from original_pipeline import inference_config, setup_original
    torch = setup_original(args.original, args.diffusers)
    torch.manual_seed(args.seed)
    if args.dry_run:  # every parameter is made by torch.empty, then initialised in place
        empty = torch.empty
        torch.empty = lambda *a, **k: empty(*a, **dict(k, device=k.get("device") or "meta"))
    save = Writer(torch, args.dry_run, args.manifests)
    from omegaconf import OmegaConf
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel
    from magicanimate.models.appearance_encoder import AppearanceEncoderModel
    from magicanimate.models.controlnet import ControlNetModel
    from magicanimate.models.unet_controlnet import UNet3DConditionModel

    unet_cfg, app_cfg, cn_cfg, vae_cfg, clip_cfg = configs(args.size)
    out = os.path.abspath(args.out)
    sd = os.path.join(out, "stable-diffusion-v1-5")
    ma = os.path.join(out, "MagicAnimate")
    say = lambda what: print("make_random_models: " + what, flush=True)  # noqa: E731

    for part in ("tokenizer", "scheduler") if not args.dry_run else ():
        shutil.copytree(os.path.join(TINY, "stable-diffusion-v1-5", part), os.path.join(sd, part), dirs_exist_ok=True)

    say("text encoder")
    clip = CLIPTextModel(clip_cfg)
    state = {"text_model." + k: v for k, v in clip.state_dict().items()}
    state["text_model.embeddings.position_ids"] = torch.arange(clip_cfg["max_position_embeddings"])[None]
    save(state, os.path.join(sd, "text_encoder"), "pytorch_model.bin", clip_cfg, "text_encoder")
    del clip, state

    say("UNet (SD 1.5)")
    model = UNet2DConditionModel.from_config(unet_cfg)
    save(model.state_dict(), os.path.join(sd, "unet"), "diffusion_pytorch_model.bin", unet_cfg, "unet")
    del model

    say("motion modules (temporal_attention.ckpt)")
    cfg3d = dict(unet_cfg, _class_name="UNet3DConditionModel",
                 down_block_types=["CrossAttnDownBlock3D"] * 3 + ["DownBlock3D"],
                 up_block_types=["UpBlock3D"] + ["CrossAttnUpBlock3D"] * 3)  # as from_pretrained_2d does
    kwargs = OmegaConf.to_container(inference_config().unet_additional_kwargs)
    model = UNet3DConditionModel.from_config(cfg3d, **kwargs)
    state = {k: v for k, v in model.state_dict().items() if "motion_modules." in k}
    save(state, os.path.join(ma, "temporal_attention"), "temporal_attention.ckpt", None, "temporal_attention")
    del model, state

    say("appearance encoder")
    model = AppearanceEncoderModel.from_config(app_cfg)
    save(model.state_dict(), os.path.join(ma, "appearance_encoder"), "diffusion_pytorch_model.bin", app_cfg,
         "appearance_encoder")
    del model

    say("DensePose ControlNet")
    model = ControlNetModel.from_config(cn_cfg)
    save(model.state_dict(), os.path.join(ma, "densepose_controlnet"), "diffusion_pytorch_model.bin", cn_cfg,
         "densepose_controlnet")
    del model

    say("VAE (sd-vae-ft-mse, also stable-diffusion-v1-5/vae)")
    model = AutoencoderKL.from_config(vae_cfg)
    save(model.state_dict(), os.path.join(out, "sd-vae-ft-mse"), "diffusion_pytorch_model.bin", vae_cfg, "vae")
    if not args.dry_run:
        os.makedirs(os.path.join(sd, "vae"), exist_ok=True)
        for name in ("diffusion_pytorch_model.bin", "config.json"):
            shutil.copyfile(os.path.join(out, "sd-vae-ft-mse", name), os.path.join(sd, "vae", name))
    del model
    say("nothing written (--dry-run)" if args.dry_run else "wrote " + out)
    if save.failed:
        sys.exit("make_random_models: a part differs from its manifest (see above)")


if __name__ == "__main__":
    main()
