"""On-device redaction: typed text, titles and screenshots are cleaned before the first write."""
