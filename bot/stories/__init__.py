"""What the reader side does with stories (ingest.store.stories): which ones a digest lists
(digest), when a channel's digest is due (schedule), which ones are about a topic (topics), and
which ones a watch is told about (watch_match). Pure code: the Discord side posts them."""
