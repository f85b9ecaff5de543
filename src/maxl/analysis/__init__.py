"""What a run's auxiliary labels look like while it trains (metrics, the per-epoch probe, the
final label table that `maxl show` draws from) and what can be read off finished runs (drift,
agreement between runs and with human labels, gradient balance, depth agreement, phase times)."""
