"""Business services shared by the API and the worker's activities (the caller owns the transaction)."""
