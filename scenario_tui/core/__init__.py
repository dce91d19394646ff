"""Pure logic shared by the CLI, the TUI and the sandbox. Never imports Textual."""
