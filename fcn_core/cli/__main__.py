"""``python -m fcn_core.cli COMMAND ...``: the core commands without the window, e.g. under torchrun
(``torchrun --nproc-per-node 2 -m fcn_core.cli train ...``)."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
