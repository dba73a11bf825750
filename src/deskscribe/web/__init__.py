"""Local web pages: the shared step viewer, its guard, and the contributor's review app."""
