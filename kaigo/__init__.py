"""kaigo-flow platform code shared by the API, the worker and the command line."""
