"""Unit tests of rules/: pure legal rules, each test named after its article."""
