"""quotestance: quotes, speakers and stance on infrastructure providers' duty toward extremist sites."""

__version__ = "0.1.0"
