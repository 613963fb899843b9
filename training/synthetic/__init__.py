# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Synthetic Formula Student scenes: a procedural renderer with exact labels.

A closed track (a smooth closed curve, 3-5 m wide) is lined with cones as the
competition uses them: blue on the left edge, yellow on the right, small orange
around the start zone, large orange at the start/finish line, and a few cones of
no FS colour (``unknown_cone``). A pinhole camera at car height looks along the
track. Everything is drawn by projecting 3D geometry with the pinhole model and
rasterising convex polygons (``cv2.fillConvexPoly``) far to near, and the mask is
written by the very same polygons, so labels are exact by construction:

* ground: grass everywhere, optionally an asphalt apron or shoulder (background),
  and the track surface between the edges (``track``), textured in world
  coordinates; sky with clouds, a tree line at the horizon;
* cones: square darker base plate and a round frustum with the rule stripes
  (blue + white, yellow + black, small orange + white, large orange + two white),
  Lambert + specular shaded, with shadows on the ground; a few boxes (tyre
  stacks, barriers) beside the track, sometimes the car's nose in view;
* camera: exposure, white balance, tone, vignetting, blur, motion blur, noise and
  JPEG artefacts vary per sample.

Sample ``i`` of seed ``s`` depends only on ``(s, i)`` (never on how many samples
are generated), so a training set and a test set rendered with other seeds never
share a scene. Two uses:

* in Python, :class:`SyntheticSource` renders samples on the fly
  (``training.datasets.base.SegmentationSource`` contract);
* on the command line, ``python -m training.synthetic --out DIR --count N``
  writes a folder dataset (``DIR/images/<stem>.jpg|png``, ``DIR/masks/<stem>.png``
  with the class ids, ``DIR/meta.json``), atomically per file and resumable, and
  ``--video OUT.mp4`` / ``--frames DIR`` render a continuous drive around one
  track for the demo.

The pipeline, one module per stage; each module imports only from the ones above it:

* ``textures``: procedural texture tile, sensor noise, vignetting (fixed seeds);
* ``scene``: :class:`_Scene` with its :class:`_Track`, cones, objects, tree line
  and look, and the class ids and materials (world geometry only);
* ``camera``: the pinhole :class:`_Camera`, near-plane clipping, projection of
  ground polygons to fixed-point image polygons;
* ``render``: :func:`_render` draws a scene through a camera into an RGB image and
  its class-id mask, then applies the camera effects;
* ``samples``: :func:`render_sample`, :func:`render_drive` (poses from a drive
  plan), :func:`sample_stem`, :class:`SyntheticSource`, the argument checks and
  :data:`GENERATOR_VERSION`;
* ``write``: :func:`write_dataset` and :func:`write_drive` (files, ``meta.json``,
  resuming, progress bars);
* ``cli``: :func:`get_args_parser` and :func:`main`; ``__main__`` runs them.

The names below are the public API; import them from ``training.synthetic``.
"""

from training.synthetic.cli import get_args_parser, main
from training.synthetic.samples import (drive_frame_count, GENERATOR_VERSION, render_drive,
                                        render_sample, sample_stem, SyntheticSource)
from training.synthetic.write import write_dataset, write_drive

__all__ = [
    'GENERATOR_VERSION',
    'SyntheticSource',
    'render_sample',
    'render_drive',
    'drive_frame_count',
    'sample_stem',
    'write_dataset',
    'write_drive',
    'get_args_parser',
    'main',
]
