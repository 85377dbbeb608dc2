"""quotestance: quotes, speakers and stance on infrastructure providers' duty toward extremist sites."""

__version__ = "0.1.0"

from quotestance.cpu import clamp_torch_isa as _clamp_torch_isa

# before anything imports torch: QUOTESTANCE_CPU_FLAGS=avx2 must emulate a smaller CPU in torch's kernels too
_clamp_torch_isa()
