"""The web app: pages for the three user groups and the JSON API behind them."""
