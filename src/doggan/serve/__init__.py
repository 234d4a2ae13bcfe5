"""The web app of `doggan serve`: routes (app.py), the page (page.html), the loaded generators
and the worker that batches their forward passes (generators.py)."""
