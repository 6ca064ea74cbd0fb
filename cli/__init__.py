"""The `hotline` command: settings, run state and subcommands wiring the layers together."""
