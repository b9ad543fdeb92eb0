from mediacdn.cli import main

raise SystemExit(main())
