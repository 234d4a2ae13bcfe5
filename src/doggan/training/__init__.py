"""The one training loop all variants share, with losses, augmentation and checkpoints."""
