"""`python -m runtime.train` / `torchrun --nproc_per_node N -m runtime.train`: the arguments of `mixdesign train`."""

import sys

from designer.threads import configure

configure()  # OpenMP waiting before torch loads (designer/threads.py); torchrun runs this module too

from runtime.train.loop import __doc__ as _LOOP_DOC  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """`python -m runtime.train` / `torchrun ... -m runtime.train`: the same arguments as `mixdesign train`."""
    from designer.options import Parser
    from designer.train_command import TrainRequest, add_train_arguments, run_train

    p = Parser(prog="python -m runtime.train", description=_LOOP_DOC.splitlines()[0])
    add_train_arguments(p)
    return run_train(TrainRequest.from_args(p.parse_args(argv)), prog="runtime.train")


if __name__ == "__main__":
    sys.exit(main())
