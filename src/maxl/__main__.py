"""`python -m maxl` is the `maxl` command."""

import sys

from maxl.cli import main

if __name__ == "__main__":
    sys.exit(main())
