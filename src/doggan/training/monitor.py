"""A cheap FID during training: a few hundred samples vs the real crops, in the featnet's (rotnet) features."""

import torch

from doggan.metrics import frechet_distance, statistics
from doggan.metrics.features import extract_features


class CheapFID:
    """FID of `n_samples` generated images against as many real crops. Conditional samples get
    the breeds of those real crops, so a conditional model is compared with the breed mix it is
    asked for."""

    def __init__(self, feature_net, real_images, real_labels, n_samples, device="cpu", seed=12345):
        self.net, self.n, self.device, self.seed = feature_net.to(device), n_samples, device, seed
        pick = torch.randperm(len(real_images), generator=torch.Generator().manual_seed(seed))[: max(n_samples, 2)]
        self.real_stats = statistics(extract_features(self.net, real_images[pick], device=device))
        self.labels = real_labels[pick].repeat(-(-n_samples // len(pick)))[:n_samples]

    @torch.no_grad()
    def __call__(self, model):
        """FID of model's sampler; draws from its own RNG so training is unaffected."""
        sampler = model.sampler()
        was_training = sampler.training
        sampler.eval()
        z = torch.randn(self.n, model.cfg.nz, generator=torch.Generator().manual_seed(self.seed)).to(self.device)
        y = self.labels.to(self.device)
        images = torch.cat([sampler(z[i : i + 100], y[i : i + 100]) for i in range(0, self.n, 100)])
        sampler.train(was_training)
        features = self.net(images.float()).float().cpu().numpy()
        return frechet_distance(*statistics(features), *self.real_stats)
