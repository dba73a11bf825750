"""deskscribe: consent-first recording of work-app interaction for computer-use agents."""

__version__ = "0.1.0"
