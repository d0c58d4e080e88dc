from cloudos_stack.stack import main

raise SystemExit(main())
