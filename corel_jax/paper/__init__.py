"""The paper end to end: its published numbers, and the offline demo that reproduces its effect.

:mod:`~corel_jax.paper.published` holds every number the paper and the
authors' released results publish, written once with its source;
:mod:`~corel_jax.paper.demo` trains COREL and its baseline on data that is on
this machine and runs the one-class protocol on them (``corel-jax demo``).
The experiments (``experiments/``) are made of the same steps.
"""
