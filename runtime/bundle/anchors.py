"""YOLO anchors from a data set's boxes: darknet's calc_anchors idea (k-means with 1 - IoU as the distance)."""

from __future__ import annotations

import numpy as np


def kmeans_anchors(wh: np.ndarray, k: int = 6, seed: int = 0, iters: int = 50) -> tuple[tuple[int, int], ...]:
    """Darknet's calc_anchors idea: k-means on box (w, h) in pixels with 1 - IoU as the distance."""
    wh = np.asarray(wh, dtype=np.float64)
    if len(wh) < k:
        raise ValueError(f"{len(wh)} boxes are too few for {k} anchors")
    rng = np.random.default_rng(seed)
    centers = wh[rng.choice(len(wh), k, replace=False)]
    for _ in range(iters):
        inter = np.minimum(wh[:, None, 0], centers[None, :, 0]) * np.minimum(wh[:, None, 1], centers[None, :, 1])
        iou = inter / (wh[:, None, 0] * wh[:, None, 1] + centers[None, :, 0] * centers[None, :, 1] - inter)
        assign = iou.argmax(1)
        new = np.array([wh[assign == j].mean(0) if np.any(assign == j) else centers[j] for j in range(k)])
        if np.allclose(new, centers):
            break
        centers = new
    order = np.argsort(centers[:, 0] * centers[:, 1])
    return tuple((max(1, int(round(w))), max(1, int(round(h)))) for w, h in centers[order])
