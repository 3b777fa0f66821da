import sys

from capture3d.cli import main

sys.exit(main())
