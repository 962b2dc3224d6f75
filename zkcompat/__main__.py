import sys

from zkcompat.cli import main

sys.exit(main())
