"""Storage of tickets and dead letters behind one contract (stores.base.Store)."""
