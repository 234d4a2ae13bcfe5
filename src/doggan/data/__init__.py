"""Data: reading Kaggle/Stanford inputs, parsing annotations, cropping dogs, the demo generator."""
