"""scenario-tui: Scenario.com Inpaint + IP-Adapter from the terminal."""

__version__ = "0.1.0"
