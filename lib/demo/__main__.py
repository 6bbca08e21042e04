"""`python -m lib.demo ...`: the demo generator's command line."""

import sys

from lib.demo import main

if __name__ == "__main__":  # importing the package's modules (tests scan lib/) runs nothing
    sys.exit(main())
