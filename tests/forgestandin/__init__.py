"""Loopback stand-ins for the GitHub and GitLab APIs (real HTTP servers that record requests)."""
