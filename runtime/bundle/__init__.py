"""The Darknet training bundle: everything `darknet classifier train` / `detector train` needs, in one folder.

    writer.py   `write_bundle(network, out_dir, BundleOptions)`: cfg with a training [net], .data, lists, images
    data.py     the images in darknet's layout (classifier folders, YOLO label files, digit scenes)
    anchors.py  YOLO anchors from the boxes (k-means on 1 - IoU)
    readme.py   the bundle's README: the exact darknet command and the forks' differences
    check.py    `check_bundle(dir)`: everything darknet would trip over, checked without darknet

The YOLO head itself is an IR edit and lives in the core (designer/yolo_head.py).
"""

from runtime.bundle.writer import BundleOptions, BundleReport, write_bundle

__all__ = ["BundleOptions", "BundleReport", "write_bundle"]
