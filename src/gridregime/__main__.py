import sys

from gridregime.cli import main

sys.exit(main())
