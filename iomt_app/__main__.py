from iomt_app.cli import main

raise SystemExit(main())
