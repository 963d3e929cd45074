import sys

from spendsense.cli import main

sys.exit(main())
