"""`python -m rolewatch.demo`."""

from rolewatch.demo.main import main

raise SystemExit(main())
