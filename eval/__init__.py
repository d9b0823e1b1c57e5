"""newsbot's evaluation: question sets (dev.jsonl, test.jsonl), the sampler that picks their
articles, and `evaluate` (loaded lazily by `newsbot eval`). The answer path never imports this
package; the evaluation reads the engine's Trace."""
