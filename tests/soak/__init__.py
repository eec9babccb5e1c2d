"""The soak: 1,000 held mutual-TLS connections while hostile clients run (issue 12)."""
