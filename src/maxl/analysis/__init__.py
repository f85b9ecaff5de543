"""What a run's auxiliary labels look like while it trains: metrics, the per-epoch probe and
the final label table that `maxl show` draws from."""
