"""What every variant shares: the common params (`model:` in params.yaml) and the Model interface.

A variant module defines `Config` (a subclass of TrainConfig adding its own options) and
`Model` (a subclass of GANModel). The training loop in doggan.training.loop drives any Model.
"""

import copy
import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.spectral_norm import SpectralNorm

from doggan.config import option


@dataclass(frozen=True)
class TrainConfig:
    lr: float              = option("Adam learning rate", low=0.0, low_open=True)
    beta1: float           = option("Adam beta1", low=0.0, high=1.0)
    beta2: float           = option("Adam beta2", low=0.0, high=1.0)
    batch_size: int        = option("images per step", low=1)
    nz: int                = option("latent dimension", low=1)
    steps: int             = option("optimisation steps (batch_size real images each) at budget 1", low=1)
    budget: float          = option("factor on every length counted in steps: steps, fid_every, checkpoint_every "
                                    "(progan: resolution_steps)", low=0.0, low_open=True)
    lr_schedule: str       = option("constant, or cosine decay to 0 over the run", choices=("constant", "cosine"))
    flip: bool             = option("random horizontal flips of real images")
    ema: float             = option("EMA decay of G's weights for sampling (0: off)", low=0.0, high=1.0)
    checkpoint_every: int  = option("steps between resumable checkpoints", low=1)
    log_every: int         = option("steps between logged losses", low=1)
    fid_every: int         = option("steps between cheap FIDs on featnet features (0: only at the end)", low=0)
    fid_samples: int       = option("images per cheap FID", low=2)
    keep: str              = option("generator to save: the one with the best cheap FID, or the last",
                                    choices=("best", "last"))
    amp: bool              = option("bf16 autocast when a CUDA GPU is present")
    channels_last: bool    = option("train with images and conv weights in channels-last (NHWC) memory layout: "
                                    "the same sums in another order, faster for some nets (make bench)")
    compile: bool          = option("torch.compile the networks each training step runs, in place (the same "
                                    "state_dict, checkpoints and generator.pt as without); its compile time pays "
                                    "only on long runs (docs/benchmarks.md)")


    STEP_FIELDS = ("steps", "fid_every", "checkpoint_every")  # what `budget` multiplies; a variant may add its own

    def with_budget(self):
        """The config of the run: every field of STEP_FIELDS multiplied by `budget` (at least 1 where it
        was positive; a list field entry by entry). Call it once, where the run's config is built: the
        result keeps `budget`, to say how its lengths were made, and is what the generator saves."""
        def scaled(n):  # rounded half up: 3 steps at budget 2.5 are 8
            return max(1, int(n * self.budget + 0.5)) if n > 0 else n

        changes = {}
        for name in self.STEP_FIELDS:
            value = getattr(self, name)
            changes[name] = [scaled(v) for v in value] if isinstance(value, list) else scaled(value)
        return dataclasses.replace(self, **changes)


class GANModel(nn.Module):
    """Owns the networks and optimisers of one variant and knows how to take one training step.

    Subclasses set `self.generator` (called as G(z, labels) -> images (N, 3, 64, 64) in [-1, 1])
    and `self.optimizers` (name -> torch optimiser), and implement `train_step`. The loop scales
    each optimiser's own learning rate by the schedule, so variants may give G and D different ones.
    """

    conditional = False  # whether G uses the breed label
    truncation_acts = True  # whether truncating z (generate.truncation) changes what G draws

    def __init__(self, cfg, n_classes):
        super().__init__()
        self.cfg, self.n_classes = cfg, n_classes
        self.generator_ema = None
        self.amp_device = None  # the device type train_step autocasts on (set by the loop), None for fp32

    def adam_for_g_and_d(self, d_lr=None):
        """The usual pair of optimisers, {"g", "d"}, with the model's betas; D may get its own LR (TTUR)."""
        betas = (self.cfg.beta1, self.cfg.beta2)
        return {"g": torch.optim.Adam(self.generator.parameters(), self.cfg.lr, betas=betas),
                "d": torch.optim.Adam(self.discriminator.parameters(), d_lr or self.cfg.lr, betas=betas)}

    def autocast(self):
        """bf16 autocast where the training loop turned AMP on (`amp_device`), for forward passes and
        losses only. Never around backward() or an optimiser step: autocast caches its casts of the
        weights for the whole context, so a forward after D's step in the same context would still
        see D's old weights."""
        return torch.autocast(self.amp_device or "cpu", dtype=torch.bfloat16, enabled=self.amp_device is not None)

    def optimize(self, name, loss):
        """One update of optimiser `name` on `loss`; returns the loss, detached (the loop reads its
        value only when it logs: a read is a host sync on a GPU)."""
        self.optimizers[name].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers[name].step()
        return loss.detach()

    def compile_targets(self):
        """The modules whose forward() train_step calls, for compile_networks: G and D. A variant whose
        step runs other modules says so; one whose step calls other methods overrides compile_networks."""
        return [self.generator, self.discriminator]

    def compile_networks(self):
        """torch.compile what train_step runs, in place (nn.Module.compile): the parameters, buffers and
        state_dict keys stay the plain modules' own, so checkpoints and generator.pt load with compile on
        or off, and the optimisers keep their tensors. Called by the loop once the model is on its device
        and in its memory layout. The EMA generator stays eager: it only samples, a few passes per FID."""
        for module in self.compile_targets():
            if module._compiled_call_impl is None:  # once: a second train() on this model compiles nothing new
                module.compile(**COMPILE_OPTIONS)

    def setup_ema(self):
        if self.cfg.ema > 0:
            self.generator_ema = copy.deepcopy(self.generator).eval().requires_grad_(False)

    def ema_decay(self, step):
        """cfg.ema, warmed up as TensorFlow's ExponentialMovingAverage does with num_updates:
        min(ema, (1 + step) / (10 + step)). Without it a short run samples from weights that are
        still a quarter initialisation after 140 steps at 0.99."""
        return min(self.cfg.ema, (1 + step) / (10 + step))

    @torch.no_grad()
    def update_ema(self, step):
        """Average G's weights and its float buffers (BatchNorm statistics) as BigGAN-PyTorch's
        utils.ema does: EMA weights with the live G's batch statistics sample worse. Integer buffers
        (BatchNorm's counter) are copied. Spectral norm's vectors are averaged too, then made unit
        vectors again: in eval mode torch's spectral norm divides by u.W.v as stored, and an average
        of unit vectors is shorter, so the EMA G's layers would run above spectral norm 1."""
        if self.generator_ema is None:
            return
        decay = self.ema_decay(step)
        torch._foreach_lerp_(list(self.generator_ema.parameters()), list(self.generator.parameters()), 1.0 - decay)
        pairs = list(zip(self.generator_ema.buffers(), self.generator.buffers()))
        floats = [(b_ema, b) for b_ema, b in pairs if b.is_floating_point()]
        if floats:
            torch._foreach_lerp_(*map(list, zip(*floats)), 1.0 - decay)
        for b_ema, b in pairs:
            if not b.is_floating_point():
                b_ema.copy_(b)
        for vector in spectral_norm_vectors(self.generator_ema):
            vector.copy_(F.normalize(vector, dim=0, eps=1e-12))  # what torch's power iteration normalises with

    def sampler_is_final(self):
        """Whether the sampler draws what training aims at; only then may `keep: best` choose it
        (a ProGAN still at 8 px scores well on colour alone). Default: always."""
        return True

    def sampler(self):
        """The network used for sampling: the EMA generator when there is one."""
        return self.generator_ema if self.generator_ema is not None else self.generator

    def train_step(self, real, labels, progress):
        """One optimisation step on a batch; `progress` in [0, 1) is the fraction of training done.
        Returns a dict of scalar losses for logging."""
        raise NotImplementedError

    def prepare_sampler(self, images, device):
        """Called before every cheap FID and when training ends, before the generator is saved
        (the autoencoder fits its code distribution here); must be deterministic and leave the
        training RNG alone. Default: the sampler's standing BatchNorm statistics."""
        self.standing_stats(device)

    @torch.no_grad()
    def standing_stats(self, device, batches=16, seed=0):
        """Re-estimate the sampler's BatchNorm statistics as the plain average over `batches`
        batches of its own samples (BigGAN-PyTorch's standing stats). The running averages
        training leaves behind (momentum 0.1) mix the last ~10 steps' weights, and a G that moves
        fast samples worse with them in eval mode. Uses its own RNG and changes nothing training
        reads: only the norms run in training mode."""
        G = self.sampler()
        norms = [m for m in G.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
        if not norms:
            return
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative average
        modes, rng = {m: m.training for m in G.modules()}, torch.Generator().manual_seed(seed)
        G.eval()  # as when sampling (spectral norm keeps its vectors), but for the norms, which collect
        for m in norms:
            m.train()
        for _ in range(batches):
            z = torch.randn(self.cfg.batch_size, self.cfg.nz, generator=rng).to(device)
            G(z, torch.randint(0, self.n_classes, (self.cfg.batch_size,), generator=rng).to(device))
        for m, mode in modes.items():
            m.training = mode
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum


# Keyword arguments of every torch.compile of compile_networks (the tests add a cheaper backend).
# Static shapes: every module compiled in place shares the code of nn.Module._call_impl, and Dynamo's
# automatic dynamic shapes took the decoder's input after the encoder's for a changed shape and
# compiled it for dynamic ones (whose backward inductor then failed to build); a step's shapes are
# fixed anyway (full batches only).
COMPILE_OPTIONS = {"dynamic": False}


def compile_method(module, name, **options):
    """Compile `module.<name>` in place for calls on this instance only (an instance attribute that
    state_dict does not see); for a variant whose train_step calls a method other than forward()."""
    if name not in vars(module):
        setattr(module, name, torch.compile(getattr(module, name), **{**COMPILE_OPTIONS, **options}))


def spectral_norm_vectors(module):
    """The u and v vectors of every torch.nn.utils.spectral_norm in `module`."""
    return [getattr(m, f"{hook.name}_{v}") for m in module.modules() for hook in m._forward_pre_hooks.values()
            if isinstance(hook, SpectralNorm) for v in "uv"]
