"""Degraded copies of real crops with a known answer, for the judge's yardsticks (yardsticks.py).

Each takes uint8 images (N, H, W, 3) and returns new uint8 images of the same shape.
Shape kept (a good judge scores them close to real): `gaussian_blur` with a small sigma,
`rotate_hue`. Shape destroyed, colours kept (a good judge scores them far from real, worse than
any generator that draws a dog): `gaussian_blur` with a large sigma, `shuffle_tiles`,
`flat_colour`.
"""

import numpy as np
from scipy import ndimage


def _to_uint8(x):
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def gaussian_blur(images, sigma):
    """Each image blurred with a Gaussian of `sigma` pixels (edges mirrored)."""
    return _to_uint8(ndimage.gaussian_filter(images.astype(np.float32), sigma=(0, sigma, sigma, 0), mode="reflect"))


def hue_rotation_matrix(degrees):
    """The 3x3 RGB matrix that turns colours by `degrees` about the grey axis (1, 1, 1)/sqrt(3):
    grey stays grey, brightness (the mean of R, G, B) is unchanged, a hue moves round the wheel."""
    theta = np.deg2rad(degrees)
    axis = np.full(3, 1 / np.sqrt(3))
    cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.cos(theta) * np.eye(3) + np.sin(theta) * cross + (1 - np.cos(theta)) * np.outer(axis, axis)


def rotate_hue(images, rng, low=90.0, high=270.0):
    """Each image's colours turned by its own angle drawn from [low, high] degrees: a brown dog
    becomes a blue or green one of the same shape and brightness."""
    angles = rng.uniform(low, high, len(images))
    out = np.empty_like(images)
    for i, angle in enumerate(angles):
        out[i] = _to_uint8(images[i].astype(np.float32) @ hue_rotation_matrix(angle).T.astype(np.float32))
    return out


def shuffle_tiles(images, rng, tile=16):
    """Each image cut into tile x tile squares, put back in a random order of its own: every
    local texture and colour stays, the dog is gone."""
    n, h, w, c = images.shape
    rows, cols = h // tile, w // tile
    tiles = images[:, : rows * tile, : cols * tile].reshape(n, rows, tile, cols, tile, c).transpose(0, 1, 3, 2, 4, 5)
    tiles = tiles.reshape(n, rows * cols, tile, tile, c)
    order = np.argsort(rng.random((n, rows * cols)), axis=1)
    shuffled = np.take_along_axis(tiles, order[:, :, None, None, None], axis=1)
    out = images.copy()
    out[:, : rows * tile, : cols * tile] = (shuffled.reshape(n, rows, cols, tile, tile, c)
                                           .transpose(0, 1, 3, 2, 4, 5).reshape(n, rows * tile, cols * tile, c))
    return out


def flat_colour(images, rng):
    """Each image replaced by noise with its own per-channel mean and spread: the colours of the
    crop, no shape at all."""
    x = images.astype(np.float32)
    mean, std = x.mean(axis=(1, 2), keepdims=True), x.std(axis=(1, 2), keepdims=True)
    return _to_uint8(mean + std * rng.standard_normal(x.shape, dtype=np.float32))


def uniform_noise(n, rng, size=64):
    """n images of independent uniform pixels."""
    return rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
