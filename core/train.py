"""Training entry point for every RadLens task.

Usage::

    python -m core.train TASK [task options]          # e.g. python -m core.train brain-tumor --help

Each task's trainer lives in ``core/training/<task>.py`` and exposes
``add_arguments(parser)`` and ``run(args) -> dict`` (the metrics written to the model's
metadata). Without ``--data`` a trainer uses phantoms from :mod:`core.synth`; with
``--data`` it reads the real dataset layout its ``--help`` describes.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

# task name -> trainer module
TRAINERS: dict[str, str] = {
    "brain-tumor": "core.training.brain_tumor",
    "chest-xray": "core.training.chest_xray",
    "spine-xray": "core.training.spine_xray",
    "spine-detector": "core.training.spine_detector",
    "alzheimers": "core.training.alzheimers",
    "input-gate": "core.training.input_gate",
}


def main(argv: list[str] | None = None) -> int:
    """Parse ``TASK`` and hand the remaining options to that task's trainer."""
    parser = argparse.ArgumentParser(prog="python -m core.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="task", required=True, metavar="TASK")
    modules = {}
    for name, module_name in TRAINERS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name != module_name:
                raise
            continue  # trainer not part of this installation
        modules[name] = module
        task_parser = sub.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else name)
        module.add_arguments(task_parser)
    args = parser.parse_args(argv)
    metrics = modules[args.task].run(args)
    json.dump(metrics, sys.stdout, indent=2, default=str)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
