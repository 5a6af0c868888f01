"""The ORIGINAL MagicAnimate pipeline, set up and loaded as its animation.py
does it, on Debian's python3-torch (1.13, CPU). Shared by
make_parity_case.py (the parity goldens) and bench/compare_original.py (the
side-by-side timing).

The original's code is not part of this project: the caller points
`original` at a folder holding its magicanimate/ package and `diffusers` at
diffusers v0.21.4's src/ folder (see make_parity_case.py's docstring).

setup_original() installs the shims of original_shims.py and the CPU
workarounds (Tensor.cuda() is the identity: pipeline_animation.py:652/654
call it; torch.baddbmm with beta=0 is bmm then scale) and returns torch;
load_original_models() builds every model from a pretrained_models folder in
float32, without xformers, as animation.py:75-138 does.
"""
import importlib.util
import os
import sys
import tempfile
import textwrap
from types import SimpleNamespace

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from original_shims import install_shims, install_stable_baddbmm  # noqa: E402

# The original's inference config (configs/inference/inference.yaml), as animation.py reads it.
INFERENCE_YAML = textwrap.dedent("""
    unet_additional_kwargs:
      unet_use_cross_frame_attention: false
      unet_use_temporal_attention: false
      use_motion_module: true
      motion_module_resolutions: [1, 2, 4, 8]
      motion_module_mid_block: false
      motion_module_decoder_only: false
      motion_module_type: Vanilla
      motion_module_kwargs:
        num_attention_heads: 8
        num_transformer_block: 1
        attention_block_types: [Temporal_Self, Temporal_Self]
        temporal_position_encoding: true
        temporal_position_encoding_max_len: 24
        temporal_attention_dim_div: 1
    noise_scheduler_kwargs:
      beta_start: 0.00085
      beta_end: 0.012
      beta_schedule: "linear"
    """)


def setup_original(original, diffusers):
    """Puts the shims, diffusers and the original on sys.path (in that order
    of precedence: original first) and patches torch for the CPU. Returns torch."""
    install_shims(tempfile.mkdtemp(prefix="ma_shims_"), need_tqdm=importlib.util.find_spec("tqdm") is None,
                  need_transformers=True)
    sys.path.insert(0, diffusers)
    sys.path.insert(0, original)
    import torch
    torch.set_grad_enabled(False)
    torch.Tensor.cuda = lambda self, *a, **k: self  # pipeline_animation.py:652/654 (CPU-only here)
    install_stable_baddbmm(torch)  # beta=0 reads torch.empty() on 1.13: see original_shims.py
    return torch


def inference_config():
    from omegaconf import OmegaConf
    return OmegaConf.create(INFERENCE_YAML)


def load_original_models(models):
    """Every model of a pretrained_models folder, as animation.py:75-138 loads
    them (float32, no xformers), in eval mode. Returns a namespace with
    tokenizer, text_encoder, unet, appearance_encoder, vae, controlnet,
    pipeline (the AnimationPipeline) and missing (the UNet keys the motion
    module file did not provide: the 2D UNet's, loaded before)."""
    import torch
    from omegaconf import OmegaConf
    from diffusers import AutoencoderKL, DDIMScheduler
    from transformers import CLIPTextModel, CLIPTokenizer
    from magicanimate.models.unet_controlnet import UNet3DConditionModel
    from magicanimate.models.controlnet import ControlNetModel
    from magicanimate.models.appearance_encoder import AppearanceEncoderModel
    from magicanimate.pipelines.pipeline_animation import AnimationPipeline

    inference = inference_config()
    m = os.path.abspath(models)
    sd = os.path.join(m, "stable-diffusion-v1-5")
    tokenizer = CLIPTokenizer.from_pretrained(sd, subfolder="tokenizer")
    text_encoder = CLIPTextModel.from_pretrained(sd, subfolder="text_encoder")
    unet = UNet3DConditionModel.from_pretrained_2d(
        sd, subfolder="unet", unet_additional_kwargs=OmegaConf.to_container(inference.unet_additional_kwargs))
    appearance_encoder = AppearanceEncoderModel.from_pretrained(os.path.join(m, "MagicAnimate"),
                                                                subfolder="appearance_encoder")
    vae = AutoencoderKL.from_pretrained(os.path.join(m, "sd-vae-ft-mse"))
    controlnet = ControlNetModel.from_pretrained(os.path.join(m, "MagicAnimate", "densepose_controlnet"))
    pipeline = AnimationPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                 controlnet=controlnet,
                                 scheduler=DDIMScheduler(**OmegaConf.to_container(inference.noise_scheduler_kwargs)))
    mm = torch.load(os.path.join(m, "MagicAnimate", "temporal_attention", "temporal_attention.ckpt"),
                    map_location="cpu")
    mm = mm["state_dict"] if "state_dict" in mm else mm
    missing, unexpected = pipeline.unet.load_state_dict(mm, strict=False)
    assert not unexpected, unexpected
    for mod in (vae, unet, text_encoder, appearance_encoder, controlnet):
        mod.eval()
    return SimpleNamespace(tokenizer=tokenizer, text_encoder=text_encoder, unet=unet,
                           appearance_encoder=appearance_encoder, vae=vae, controlnet=controlnet,
                           pipeline=pipeline, missing=missing)
