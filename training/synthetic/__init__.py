# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Synthetic Formula Student scenes: a procedural renderer with exact labels.

Every sample draws an FS layout: the closed trackdrive loop (a smooth closed
curve, 3-5 m wide), an autocross (hairpins, slaloms, chicanes), the acceleration
straight (75 m, large orange cones at both timekeeping lines, an orange braking
zone) or the skidpad (two circles in a figure of eight). Cones line it as the
competition uses them: blue on the left edge, yellow on the right, small orange
around the start and in lanes, large orange at the timekeeping lines, a few
knocked over, and a few cones of no FS colour (``unknown_cone``). A camera on the
car (nose mount 0.3 m up to the main hoop at 1.3 m, 50-100 degrees horizontal
field of view, pitch and roll jitter, a plumb_bob or fisheye-like lens) looks
along the track. Everything is drawn by projecting 3D geometry and rasterising
convex polygons (``cv2.fillConvexPoly``) far to near, and the mask and the
instance map are written by the very same polygons, so labels are exact by
construction:

* ground: grass everywhere, optionally an asphalt apron or shoulder (background),
  and the track surface between the edges (``track``), textured in world
  coordinates; sky with clouds, a tree line at the horizon;
* cones: square darker base plate and a round frustum with the rule stripes
  (blue + white, yellow + black, small orange + white, large orange + two white),
  Lambert + specular shaded, with shadows on the ground; a few boxes (tyre
  stacks, barriers) beside the track, the car's nose in view from the main hoop;
* anti-aliasing: the geometry is rasterised at ``supersample`` x the resolution
  (default 2) and resampled: the image averaged over each pixel, the labels
  taken from the sample at the pixel centre (exact classes, never blends);
* lens: the distortion maps image, mask and instances together, before the
  camera effects: exposure, white balance, tone, vignetting, blur, motion blur,
  noise and JPEG artefacts vary per sample;
* learnable labels: a cone projected under ``min_cone_px`` pixels high (default
  8) is 255 (ignore) in the mask and ``ignored`` in the scene JSON.

Sample ``i`` of seed ``s`` depends only on ``(s, i)`` (never on how many samples
are generated), so a training set and a test set rendered with other seeds never
share a scene. Two uses:

* in Python, :class:`SyntheticSource` renders samples on the fly
  (``training.datasets.base.SegmentationSource`` contract), and
  ``render_sample(..., truth=True)`` also returns the instance map and the scene
  JSON (:func:`scene_json` documents its fields);
* on the command line, ``python -m training.synthetic --out DIR --count N``
  writes a folder dataset (``DIR/images/<stem>.jpg|png``, ``DIR/masks/<stem>.png``
  with the class ids, ``DIR/instances/<stem>.png`` uint16 cone instances,
  ``DIR/scene/<stem>.json`` camera and cones, ``DIR/meta.json``), atomically per
  file and resumable, and ``--video OUT.mp4`` / ``--frames DIR`` render a
  continuous drive around one loop for the demo (frames with
  ``<stem>_instances.png`` and ``<stem>.json``). ``--min-cone-px PX`` (0
  disables) and ``--supersample N`` set the label options, recorded in
  ``meta.json``.

The pipeline, one module per stage; each module imports only from the ones above it:

* ``textures``: procedural texture tile, sensor noise, vignetting (fixed seeds);
* ``scene``: :class:`_Scene` with its :class:`_Track` (the layouts), cones,
  objects, tree line and look, and the class ids and materials (world geometry only);
* ``camera``: the pinhole canvas :class:`_Camera`, the :class:`_Lens` models, the
  :class:`_View` of a frame (pose in base_link, K, lens; supersampled canvas and
  resampling), near-plane clipping, projection of ground polygons;
* ``render``: :func:`_render` draws a scene through a view: geometry on the
  canvas, resampling (anti-aliasing, distortion), camera effects, cone ground truth;
* ``materials``, ``distractors``, ``shading`` (used by ``render``): per-cone colour,
  wear and stickers; people in hi-vis, tents, banners, barriers, paint, autumn
  foliage; ground and sky shading with the sun's shadow map, wet asphalt, glare;
* ``samples``: :func:`render_sample`, :func:`render_drive` (poses from a drive
  plan), :func:`scene_json`, :func:`sample_stem`, :class:`SyntheticSource`, the
  argument checks and :data:`GENERATOR_VERSION`;
* ``write``: :func:`write_dataset` and :func:`write_drive` (files, ``meta.json``,
  resuming, progress bars);
* ``cli``: :func:`get_args_parser` and :func:`main`; ``__main__`` runs them.

The names below are the public API; import them from ``training.synthetic``.
"""

from training.synthetic.cli import get_args_parser, main
from training.synthetic.samples import (drive_frame_count, GENERATOR_VERSION, MIN_CONE_PX,
                                        render_drive, render_sample, sample_stem, scene_json,
                                        SUPERSAMPLE, SyntheticSource)
from training.synthetic.write import write_dataset, write_drive

__all__ = [
    'GENERATOR_VERSION',
    'MIN_CONE_PX',
    'SUPERSAMPLE',
    'SyntheticSource',
    'render_sample',
    'render_drive',
    'drive_frame_count',
    'sample_stem',
    'scene_json',
    'write_dataset',
    'write_drive',
    'get_args_parser',
    'main',
]
