"""fp32 islands inside bf16 autocast. A variance, a gradient penalty or a loss reduction computed in
bf16 keeps 8 bits of mantissa: the statistics D reads and the numbers the optimiser follows would
lose most of their digits. Their inputs are cast up and autocast is off inside (a no-op in fp32)."""

import contextlib

import torch


@contextlib.contextmanager
def float32(*tensors):
    """`with float32(a, b) as (a, b):` a and b in fp32, autocast off, on their device."""
    with torch.autocast(tensors[0].device.type, enabled=False):
        yield [t.float() for t in tensors]
