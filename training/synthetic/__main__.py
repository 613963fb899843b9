# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""Entry point of ``python -m training.synthetic`` (see :mod:`training.synthetic.cli`)."""

import sys

from training.synthetic.cli import main

if __name__ == '__main__':
    sys.exit(main())
