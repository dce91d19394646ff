from scenario_tui.cli import main

raise SystemExit(main())
