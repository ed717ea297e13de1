"""The `mixdesign` command: argument parsing, source resolution (a preset, a design YAML or a cfg) and the
subcommands' handlers.

    main.py     the parser, `presets`, `export`, `stats`, `lint`
    sources.py  what a SOURCE argument names, and the design overrides
    bench.py    `bench`, `predict` (the torch runtime, imported when they run)
    train.py    `train`, `bundle` (runtime.train and runtime.bundle, imported when they run)

Importing this package imports neither torch nor streamlit.
"""

from designer.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
