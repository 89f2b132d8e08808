"""``python main.py ARGS`` is ``fcn-workbench ARGS``; with no arguments it opens the app."""

import sys

from app.entry import main

if __name__ == "__main__":
    sys.exit(main())
