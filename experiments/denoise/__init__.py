"""Denoising Fashion-MNIST with and without a cubical H0 diagram loss (``run.py``)."""
