"""Members, contributions, importers, tiers, segments and leaderboards."""
