"""The home-services marketplace (seed 002): providers, diagnostics, requests, quotes, projects, chat, ratings."""
