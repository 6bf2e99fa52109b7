"""Helpers shared by the test suites: free ports, real binaries, processes."""
