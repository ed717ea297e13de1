"""The Darknet section table: every section type, its aliases, and the keys its parser reads.

One table used by the reader (which keys are read, their types and defaults), the writer (which keys to
write and in what order) and the UI. Defaults come from AlexeyAB darknet's src/parser.c as summarised in
../shared/darknet/NOTES.md; `hank` marks what the strict hank-ai fork also accepts (DIALECTS.md and
hank_allowed_keys.json), so the writer can stay inside what both forks read.

A key spec is written `name:kind=default`, kinds: int, float, str, ints (comma list), floats (comma list).
A default of `~` means "absent": the value is derived from other keys (e.g. maxpool size=stride) or unused.
A trailing `!` means the writer always writes the key, even at its default (e.g. activation=, whose
default is logistic and whose absence surprises everyone).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["int", "float", "str", "ints", "floats"]
Value = int | float | str | tuple | None


@dataclass(frozen=True)
class KeySpec:
    name: str
    kind: Kind
    default: Value
    always: bool = False  # the writer writes it even at its default


@dataclass(frozen=True)
class SectionDef:
    type: str  # canonical name, also what the writer emits
    aliases: tuple[str, ...]  # every header name darknet accepts, canonical first
    keys: tuple[KeySpec, ...]
    hank: bool = True  # hank-ai darknet has this section

    @property
    def all_keys(self) -> tuple[KeySpec, ...]:
        """Every key the section reads, in writer order: its own, then COMMON_KEYS for a layer (not [net])."""
        return self.keys + (COMMON_KEYS if self.type != "net" else ())

    def key(self, name: str) -> KeySpec | None:
        for k in self.keys:
            if k.name == name:
                return k
        return None


def _parse_default(kind: Kind, text: str) -> Value:
    if text == "~":
        return None
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "ints":
        return tuple(int(t) for t in text.split(",") if t)
    if kind == "floats":
        return tuple(float(t) for t in text.split(",") if t)
    return text


def _keys(spec: str) -> tuple[KeySpec, ...]:
    out = []
    for item in spec.split():
        always = item.endswith("!")
        item = item.rstrip("!")
        name, rest = item.split(":", 1)
        kind, default = rest.split("=", 1)
        out.append(KeySpec(name, kind, _parse_default(kind, default), always))  # type: ignore[arg-type]
    return tuple(out)


# Keys every layer section accepts (parser.c parse_network_cfg, after the per-type parse).
COMMON_KEYS = _keys(
    "clip:float=0 onlyforward:int=0 dont_update:int=0 burnin_update:int=0 stopbackward:int=0 "
    "train_only_bn:int=0 dontload:int=0 dontloadscales:int=0 learning_rate:float=1"
)

_NET = (
    "width:int=0! height:int=0! channels:int=0! inputs:int=~ batch:int=1! subdivisions:int=1! "
    "max_crop:int=~ min_crop:int=~ "
    "learning_rate:float=0.001 momentum:float=0.9 decay:float=0.0001 max_batches:int=0 burn_in:int=0 "
    "power:float=4 policy:str=constant step:int=1 scale:float=1 steps:ints=~ scales:floats=~ seq_scales:floats=~ "
    "gamma:float=1 learning_rate_min:float=0.00001 sgdr_cycle:int=~ sgdr_mult:int=2 "
    "adam:int=0 B1:float=0.9 B2:float=0.999 eps:float=0.000001 "
    "time_steps:int=1 track:int=0 augment_speed:int=2 sequential_subdivisions:int=~ try_fix_nan:int=0 "
    "flip:int=1 blur:int=0 gaussian_noise:int=0 mixup:int=0 cutmix:int=0 mosaic:int=0 letter_box:int=0 "
    "mosaic_bound:int=0 contrastive:int=0 contrastive_jit_flip:int=0 contrastive_color:int=0 unsupervised:int=0 "
    "label_smooth_eps:float=0 resize_step:int=32 attention:int=0 adversarial_lr:float=0 max_chart_loss:float=20 "
    "angle:float=0 aspect:float=1 saturation:float=1 exposure:float=1 hue:float=0 "
    "weights_reject_freq:int=0 equidistant_point:int=0 badlabels_rejection_percentage:float=0 "
    "num_sigmas_reject_badlabels:float=0 ema_alpha:float=0 use_cuda_graph:int=0 loss_scale:float=128 "
    "dynamic_minibatch:int=0 optimized_memory:int=0 workspace_size_limit_MB:float=1024 show_receptive_field:int=0"
)

_CONV = (
    "batch_normalize:int=0 filters:int=1! size:int=1! stride:int=1! stride_x:int=~ stride_y:int=~ pad:int=0! "
    "padding:int=0 groups:int=1 dilation:int=1 activation:str=logistic! "
    "cbn:int=0 binary:int=0 xnor:int=0 bin_output:int=0 antialiasing:int=0 share_index:int=~ flipped:int=0 "
    "assisted_excitation:float=0 sway:int=0 rotate:int=0 stretch:int=0 stretch_sway:int=0 coordconv:int=0 "
    "stream:int=-1 wait_stream:int=-1 dot:float=0 angle:float=15 grad_centr:int=0 reverse:int=0"
)

_YOLO = (
    "mask:ints=~ anchors:floats=~ classes:int=20! num:int=1! max:int=200 jitter:float=0.2 ignore_thresh:float=0.5 "
    "truth_thresh:float=1 random:float=0 resize:float=1 scale_x_y:float=1 new_coords:int=0 iou_loss:str=mse "
    "iou_normalizer:float=0.75 obj_normalizer:float=1 cls_normalizer:float=1 delta_normalizer:float=1 "
    "iou_thresh:float=1 iou_thresh_kind:str=iou beta_nms:float=0.6 nms_kind:str=default label_smooth_eps:float=0 "
    "max_delta:float=~ counters_per_class:ints=~ focal_loss:int=0 objectness_smooth:int=0 map:str=~ "
    "embedding_layer:int=~ track_history_size:int=5 sim_thresh:float=0.8 dets_for_track:int=1 dets_for_show:int=1 "
    "track_ciou_norm:float=0.01"
)

_SECTIONS: tuple[SectionDef, ...] = (
    SectionDef("net", ("net", "network"), _keys(_NET)),
    SectionDef("convolutional", ("convolutional", "conv"), _keys(_CONV)),
    SectionDef(
        "connected",
        ("connected", "conn"),
        _keys("output:int=1! batch_normalize:int=0 activation:str=logistic!"),
    ),
    SectionDef(
        "local",
        ("local",),
        _keys("filters:int=1! size:int=1! stride:int=1! pad:int=0 activation:str=logistic!"),
        hank=False,
    ),
    SectionDef(
        "maxpool",
        ("maxpool", "max"),
        _keys(
            "size:int=~! stride:int=1! stride_x:int=~ stride_y:int=~ padding:int=~ maxpool_depth:int=0 "
            "out_channels:int=1 antialiasing:int=0 maxpool_zero_nonmax:int=0"
        ),
    ),
    SectionDef(
        "local_avgpool",
        ("local_avgpool", "local_avg"),
        _keys("size:int=~! stride:int=1! stride_x:int=~ stride_y:int=~ padding:int=~"),
    ),
    SectionDef("avgpool", ("avgpool", "avg"), ()),
    SectionDef(
        "dropout",
        ("dropout",),
        _keys("probability:float=0.2! dropblock:int=0 dropblock_size_rel:float=0 dropblock_size_abs:int=0"),
    ),
    SectionDef("batchnorm", ("batchnorm",), (), hank=False),
    SectionDef(
        "normalization",
        ("normalization", "lrn"),
        _keys("alpha:float=0.0001 beta:float=0.75 kappa:float=1 size:int=5"),
        hank=False,
    ),
    SectionDef(
        "softmax",
        ("softmax", "soft"),
        _keys("groups:int=1 temperature:float=1 tree:str=~ spatial:int=0 noloss:int=0"),
    ),
    SectionDef("cost", ("cost",), _keys("type:str=sse scale:float=1 ratio:float=0")),
    SectionDef(
        "contrastive",
        ("contrastive",),
        _keys(
            "classes:int=1000 temperature:float=1 cls_normalizer:float=1 max_delta:float=~ "
            "contrastive_neg_max:int=3 yolo_layer:int=0"
        ),
    ),
    SectionDef(
        "route",
        ("route",),
        _keys("layers:ints=~! groups:int=1 group_id:int=0 stream:int=-1 wait_stream:int=-1"),
    ),
    SectionDef(
        "shortcut",
        ("shortcut",),
        _keys("from:ints=~! activation:str=linear! weights_type:str=none weights_normalization:str=none"),
    ),
    SectionDef(
        "scale_channels",
        ("scale_channels",),
        _keys("from:int=~! scale_wh:int=0 activation:str=linear!"),
    ),
    SectionDef("sam", ("sam",), _keys("from:int=~! activation:str=linear!")),
    SectionDef("upsample", ("upsample",), _keys("stride:int=2! scale:float=1")),
    SectionDef("yolo", ("yolo",), _keys(_YOLO)),
    SectionDef(
        "Gaussian_yolo",
        ("Gaussian_yolo",),
        _keys(_YOLO.replace("new_coords:int=0 ", "") + " uc_normalizer:float=1 yolo_point:str=center"),
    ),
    SectionDef(
        "region",
        ("region",),
        _keys(
            "anchors:floats=~ classes:int=20! coords:int=4! num:int=1! log:int=0 sqrt:int=0 softmax:int=0 "
            "max:int=30 jitter:float=0.2 resize:float=1 rescore:int=0 thresh:float=0.5 classfix:int=0 "
            "absolute:int=0 random:int=0 coord_scale:float=1 object_scale:float=1 noobject_scale:float=1 "
            "mask_scale:float=1 class_scale:float=1 bias_match:int=0 focal_loss:int=0 tree:str=~ map:str=~ mask:int=0"
        ),
    ),
    SectionDef(
        "detection",
        ("detection",),
        _keys(
            "coords:int=1 classes:int=1 rescore:int=0 num:int=1 side:int=7 softmax:int=0 sqrt:int=0 max:int=30 "
            "coord_scale:float=1 forced:int=0 object_scale:float=1 noobject_scale:float=1 class_scale:float=1 "
            "jitter:float=0.2 random:int=0 reorg:int=0"
        ),
        hank=False,
    ),
    SectionDef("reorg3d", ("reorg3d",), _keys("stride:int=1! reverse:int=0")),
    SectionDef("reorg", ("reorg",), _keys("stride:int=1! reverse:int=0"), hank=False),
    SectionDef(
        "crop",
        ("crop",),
        _keys(
            "crop_height:int=1! crop_width:int=1! flip:int=0 angle:float=0 saturation:float=1 exposure:float=1 "
            "noadjust:int=0 shift:float=0"
        ),
        hank=False,
    ),
    SectionDef("activation", ("activation",), _keys("activation:str=linear!"), hank=False),
    SectionDef(
        "rnn",
        ("rnn",),
        _keys(
            "output:int=1! hidden:int=1 activation:str=logistic! batch_normalize:int=0 logistic:int=0 shortcut:int=0"
        ),
    ),
    SectionDef("gru", ("gru",), _keys("output:int=1! batch_normalize:int=0 tanh:int=0"), hank=False),
    SectionDef("lstm", ("lstm",), _keys("output:int=1! batch_normalize:int=0")),
    SectionDef(
        "conv_lstm",
        ("conv_lstm",),
        _keys(
            "output:int=1! size:int=3 stride:int=1 dilation:int=1 pad:int=0 padding:int=0 groups:int=1 "
            "batch_normalize:int=0 xnor:int=0 peephole:int=0 bottleneck:int=0 lstm_activation:str=tanh "
            "activation:str=linear state_constrain:int=~ shortcut:int=0 time_normalizer:float=1"
        ),
        hank=False,
    ),
    SectionDef("history", ("history",), _keys("history_size:int=4"), hank=False),
    SectionDef(
        "crnn",
        ("crnn",),
        _keys(
            "output:int=1! hidden:int=1 size:int=3 stride:int=1 dilation:int=1 pad:int=0 padding:int=0 groups:int=1 "
            "activation:str=logistic! batch_normalize:int=0 xnor:int=0 shortcut:int=0"
        ),
    ),
    SectionDef("empty", ("empty", "silence"), (), hank=False),
    SectionDef(
        "implicit",
        ("implicit",),
        _keys("filters:int=128! atoms:int=1 mean:float=0 std:float=0.2"),  # parse_implicit reads mean=, std=
        hank=False,
    ),
)

SECTIONS: dict[str, SectionDef] = {s.type: s for s in _SECTIONS}
# header name as written in a cfg -> canonical type
ALIASES: dict[str, str] = {alias: s.type for s in _SECTIONS for alias in s.aliases}

# Sections that take layer references, and the key holding them.
REFERENCE_KEYS = {"route": "layers", "shortcut": "from", "scale_channels": "from", "sam": "from"}
