"""`python -m sandbox`: the same as `python -m bot sandbox`."""

import sys

from sandbox import main

sys.exit(main())
