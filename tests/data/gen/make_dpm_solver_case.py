#!/usr/bin/env python3
"""Reference runs of diffusers v0.21.4's DPMSolverMultistepScheduler (DPM-Solver++
2M) configured as MagicAnimate's pipeline would get it, for
tests/unit/dpm_solver_test.cpp (the engine's `--scheduler dpmpp-2m`).

The scheduler is not part of this project: bring diffusers with the `fetch`
tool and unpack v0.21.4, e.g.
  git --git-dir=<diffusers mirror> archive v0.21.4 src/diffusers | tar -x -C /tmp/diffusers-0.21.4
then, from the repository root, with Debian's python3-torch, python3-numpy,
python3-filelock, python3-packaging, python3-regex, python3-requests and
python3-tqdm (diffusers checks those at import; huggingface_hub and
safetensors come from original_shims.py, next to this script):
  /usr/bin/python3 tests/data/gen/make_dpm_solver_case.py /tmp/diffusers-0.21.4/src

Only the two scheduler modules are imported. The configuration is the one the
original would hand over: its animation.py builds
DDIMScheduler(**inference_config.noise_scheduler_kwargs) (beta_start 0.00085,
beta_end 0.012, beta_schedule "linear", every other key at DDIM's default),
AnimationPipeline.__init__ then rewrites steps_offset to 1 and clip_sample to
False (the legacy-config fix-up, re-enacted below), and
DPMSolverMultistepScheduler.from_config(that config) builds the solver. Keys
the DDIM config only holds as defaults (`_use_default_values`: timestep_spacing
"leading", steps_offset, ...) are not carried over, so the solver keeps its own
defaults: "linspace" spacing, solver_order 2, "dpmsolver++", "midpoint",
lower_order_final True, no Karras sigmas, no thresholding, epsilon prediction.
The script prints that config and fails if it is not this one.

Output: tests/data/schedulers/dpmpp_2m.safetensors (float32 unless noted):
- `table.alpha_t`, `table.sigma_t`, `table.lambda_t` [1000]: the scheduler's
  sqrt(alphas_cumprod), sqrt(1 - alphas_cumprod), log(alpha_t) - log(sigma_t);
- `timesteps.n{N}` int64: set_timesteps(N) for several N (1000 gives 999
  steps: linspace rounds two entries to the same timestep and diffusers drops
  the duplicate);
- for each run of N steps: `run{N}.sample0` [2,4,4,4] (torch.randn, seeded),
  `run{N}.model_output{i}` [2,4,4,4] (the fixed "model outputs": torch.randn,
  seeded, one per step), `run{N}.sample{i+1}` (step()'s prev_sample fed back in),
  and `run{N}.order` int64 [N]: which update each step took (1: first order,
  2: second order), read from diffusers' own calls.
"""
import importlib.util
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from original_shims import install_shims  # noqa: E402
from st_write import save  # noqa: E402

TIMESTEP_COUNTS = [1, 2, 3, 4, 5, 7, 10, 14, 15, 20, 25, 30, 50, 100, 333, 500, 999, 1000]
RUN_STEPS = [1, 2, 5, 14, 15, 25]
SHAPE = (2, 4, 4, 4)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "schedulers", "dpmpp_2m.safetensors")

EXPECTED = {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "linear",
            "trained_betas": None, "solver_order": 2, "prediction_type": "epsilon", "thresholding": False,
            "algorithm_type": "dpmsolver++", "solver_type": "midpoint", "lower_order_final": True,
            "use_karras_sigmas": False, "lambda_min_clipped": -float("inf"), "variance_type": None,
            "timestep_spacing": "linspace", "steps_offset": 0}


def solver(diffusers_src):
    install_shims(tempfile.mkdtemp(prefix="ma_shims_"), need_tqdm=importlib.util.find_spec("tqdm") is None)
    sys.path.insert(0, diffusers_src)
    from diffusers.configuration_utils import FrozenDict
    from diffusers.schedulers.scheduling_ddim import DDIMScheduler
    from diffusers.schedulers.scheduling_dpmsolver_multistep import DPMSolverMultistepScheduler

    ddim = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="linear")
    # AnimationPipeline.__init__'s fix-up of a legacy config (pipeline_animation.py:94-113).
    for key, value in (("steps_offset", 1), ("clip_sample", False)):
        config = dict(ddim.config)
        config[key] = value
        ddim._internal_dict = FrozenDict(config)
    s = DPMSolverMultistepScheduler.from_config(ddim.config)
    got = {k: v for k, v in s.config.items() if not k.startswith("_")}
    print("DPMSolverMultistepScheduler config:", got)
    for k, v in EXPECTED.items():
        if got[k] != v:
            sys.exit(f"unexpected config: {k} = {got[k]!r}, expected {v!r}")
    return s


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    s = solver(sys.argv[1])
    import torch
    torch.set_grad_enabled(False)

    # Which update each step takes, from diffusers' own calls.
    taken = []
    first, second = s.dpm_solver_first_order_update, s.multistep_dpm_solver_second_order_update
    s.dpm_solver_first_order_update = lambda *a, **k: (taken.append(1), first(*a, **k))[1]
    s.multistep_dpm_solver_second_order_update = lambda *a, **k: (taken.append(2), second(*a, **k))[1]

    out = {"table.alpha_t": s.alpha_t.numpy(), "table.sigma_t": s.sigma_t.numpy(),
           "table.lambda_t": s.lambda_t.numpy()}
    for n in TIMESTEP_COUNTS:
        s.set_timesteps(n)
        out[f"timesteps.n{n}"] = s.timesteps.numpy().astype(np.int64)
    for n in RUN_STEPS:
        s.set_timesteps(n)
        g = torch.Generator("cpu").manual_seed(1000 + n)
        sample = torch.randn(SHAPE, generator=g)
        out[f"run{n}.sample0"] = sample.numpy()
        taken.clear()
        for i, t in enumerate(s.timesteps):
            model_output = torch.randn(SHAPE, generator=g)
            sample = s.step(model_output, t, sample).prev_sample
            out[f"run{n}.model_output{i}"] = model_output.numpy()
            out[f"run{n}.sample{i + 1}"] = sample.numpy()
        out[f"run{n}.order"] = np.array(taken, dtype=np.int64)
        print(f"run of {n} steps: timesteps {s.timesteps.tolist()[:4]}..., orders {taken}")
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    save(OUT, {k: np.ascontiguousarray(v) for k, v in out.items()})
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
