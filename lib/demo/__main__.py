"""`python -m lib.demo ...`: the demo generator's command line."""

import sys

from lib.demo import main

sys.exit(main())
