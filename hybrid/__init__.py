"""qhybrid's hybrid models, comparison runner, reports and command line."""
