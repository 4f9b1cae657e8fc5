"""`python -m keras_bestpractice ...`: the same command line as `keras-bestpractice`."""

import sys

from keras_bestpractice.cli import main

sys.exit(main())
