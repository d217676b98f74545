"""`python -m core`: the headless review CLI."""
import sys

from core.cli import main

sys.exit(main())
