// What the CPU's vector units let libtorch's kernels do, for choices the
// engine makes per CPU kind (x86: AVX-512 or only AVX2).
#pragma once

namespace ma {

// True when oneDNN may run its AVX-512 kernels here: the CPU has AVX-512
// F/BW/VL/DQ (oneDNN's avx512_core; also ATen's test for native bf16) and
// ONEDNN_MAX_CPU_ISA / DNNL_MAX_CPU_ISA, when set, do not cap it below. On
// other architectures: true (nothing is chosen by it there).
bool cpu_has_avx512_core();

}  // namespace ma
