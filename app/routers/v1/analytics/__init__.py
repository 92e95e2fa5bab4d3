"""The analytics context: CLV, retention and reports."""
