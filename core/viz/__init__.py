"""Rendering helpers: 2D slices and overlays (:mod:`core.viz.slices`), 3D scenes (:mod:`core.viz.scene3d`), charts."""
