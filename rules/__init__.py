"""Legal rules as pure functions: no database, no Temporal, no clock. Each test names its article."""
