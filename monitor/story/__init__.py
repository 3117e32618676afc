"""The pure story engine: relevance, the hedge and negation lexicon, signals, clustering, the story reducer,
deadlines and extensions. No I/O; every function that needs the time takes ``now``."""
