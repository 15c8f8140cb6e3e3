from tfk.cli.main import main

raise SystemExit(main())
