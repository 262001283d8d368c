import sys

from rolewatch.cli import main

sys.exit(main())
