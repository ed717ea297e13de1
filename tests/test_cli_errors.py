"""One handler turns user errors into one line (designer/commands.py): MixdesignError and OSError on a user's
path; anything else is a bug and keeps its traceback. Plus the errors that used to be bare ValueError/KeyError."""

from __future__ import annotations

import pytest

import designer
from designer.cfg import DESIGN_BEGIN
from designer.cli import main
from designer.commands import run_command
from designer.edits import IMAGENET_RECIPE, TrainingRecipe, training_net
from designer.errors import EditError, MixdesignError


def test_user_errors_are_one_line_and_bugs_propagate(capsys):
    def missing():
        open("/no/such/dir/labels.txt")  # noqa: SIM115 - the OSError is the point

    assert run_command("mixdesign x", missing) == 2
    err = capsys.readouterr().err
    assert err == "mixdesign x: error: /no/such/dir/labels.txt: No such file or directory\n"
    assert run_command("mixdesign x", lambda: (_ for _ in ()).throw(EditError("no classifier", layer=3))) == 2
    assert capsys.readouterr().err == "mixdesign x: error: layer 3: no classifier\n"
    with pytest.raises(KeyError):  # a bug, not the user's input: not swallowed into a one-liner
        run_command("mixdesign x", lambda: {}["k"])
    with pytest.raises(ValueError):
        run_command("mixdesign x", lambda: int("x"))


def test_unclosed_design_block_names_its_opening_line(tmp_path, capsys):
    text = "\n\n" + DESIGN_BEGIN + "\n# name: x\n[net]\nwidth=8\nheight=8\nchannels=3\n[convolutional]\nfilters=2\n"
    with pytest.raises(designer.CfgError) as e:
        designer.parse_cfg(text)
    assert e.value.line == 3 and "never closed" in str(e.value)
    (tmp_path / "open.cfg").write_text(text)
    assert main(["stats", str(tmp_path / "open.cfg")]) == 2
    assert "line 3: design block opened by" in capsys.readouterr().err


def test_unknown_preset_is_a_mixdesign_error():
    with pytest.raises(MixdesignError, match="unknown preset 'nope'"):
        designer.load_preset("nope")


def test_training_recipe_errors_are_mixdesign_errors():
    net = designer.lower(designer.load_preset("mixnet-s"))
    with pytest.raises(EditError, match="multiple of subdivisions"):
        training_net(net, TrainingRecipe(batch=100, subdivisions=8, max_batches=10))
    with pytest.raises(EditError, match="max_batches must be positive"):
        training_net(net, TrainingRecipe())  # a classifier recipe needs max_batches or the image count
    keys = training_net(net, IMAGENET_RECIPE).net
    assert (keys["batch"], keys["subdivisions"], keys["max_batches"], keys["policy"], keys["burn_in"]) == (
        128,
        4,
        800000,
        "poly",
        1000,
    )
    assert keys["min_crop"] is None and keys["flip"] == 1  # the ImageNet recipe keeps darknet's augmentation
    small = training_net(net, TrainingRecipe(flip=0, crop_to_input=True), train_images=640)
    assert small.net["max_batches"] == 300 and small.net["min_crop"] == small.net["max_crop"] == 224
    assert small.layers == net.layers and small.design == net.design


def test_an_unwritable_output_names_the_users_path(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    target = tmp_path / "afile" / "x.cfg"  # its folder is a file
    assert main(["export", "mixnet-s", "-o", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mixdesign export: error: cannot write {target}:") and ".tmp" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]
