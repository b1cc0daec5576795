"""Helpers shared by the tests: free loopback ports and real processes started and stopped."""
