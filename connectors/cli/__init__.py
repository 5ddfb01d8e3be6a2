"""The ``wirereport`` command line: one module ``cmd_<group>.py`` per subcommand group."""
