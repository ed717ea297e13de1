"""`predict`: classify images with a network and its darknet .weights, as darknet's `classifier predict` does
(the top-k classes of each image, with their probabilities)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from designer.api.sources import SourceError
from designer.ir import Network


@dataclass(frozen=True)
class Prediction:
    """One image's `top` classes, most probable first, as (probability 0-1, label)."""

    image: str
    top: tuple[tuple[float, str], ...]


def _labels(path: str | None, n: int) -> list[str]:
    if path is None:
        return [str(i) for i in range(n)]
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SourceError(f"--labels {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SourceError(
            f"--labels {path}: cannot read it ({getattr(e, 'strerror', None) or 'not UTF-8 text'})"
        ) from None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(lines) != n:
        raise SourceError(
            f"--labels {path}: {len(lines)} labels for {n} outputs; give one label per output, in output order"
        )
    return lines


def predict(
    network: Network,
    images: Sequence[str],
    *,
    weights: str | Path,
    labels: str | None = None,
    top: int = 5,
    threads: int | None = None,
) -> Iterator[Prediction]:
    """Each image's prediction in turn (resized to the network's input, RGB or grey as its channels say).
    Checked before anything big loads: `top` at least 1, the network fits in memory, `labels` (a file, one
    label per output; default: the class indices) has one line per output. A file that is not an image is a
    SourceError when its turn comes."""
    import numpy as np

    from designer.cost import count
    from designer.memory import check_fits

    if top < 1:
        raise SourceError(f"--top {top}: show at least 1 class")
    check_fits(network, 1)
    if labels is not None:
        _labels(labels, count(network).layers[-1].shape.outputs)  # before loading anything big
    import torch
    from PIL import Image, UnidentifiedImageError

    from runtime.bench import apply_threads
    from runtime.model import build_model
    from runtime.weights import load_weights

    apply_threads(threads)
    model = load_weights(build_model(network), weights)
    c, h, w = network.input_shape
    for image in images:
        try:
            img = Image.open(image).convert("RGB" if c == 3 else "L").resize((w, h), Image.Resampling.BILINEAR)
        except (UnidentifiedImageError, OSError) as e:
            raise SourceError(f"{image}: cannot read the image ({e})") from None
        arr = np.asarray(img, dtype=np.float32).reshape(h, w, -1).transpose(2, 0, 1) / 255.0
        with torch.no_grad():
            probs = model(torch.from_numpy(np.ascontiguousarray(arr))[None]).flatten()
        names = _labels(labels, probs.numel())
        best = torch.topk(probs, min(top, probs.numel()))
        yield Prediction(str(image), tuple((p, names[i]) for p, i in zip(best.values.tolist(), best.indices.tolist())))
